"""The activity history: one row per event, in global order, with a readable summary."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from domain.base import Bookkeeping, DossierEvent
from domain.client import Client, ClientEvent
from domain.comment import Comment
from domain.contact import Contact
from domain.staff import StaffMember
from projections.base import Projection, event_data
from projections.tables import activity, activity_subjects

_FIELD_LABELS = {
    "name": "name",
    "client_type": "type",
    "tags": "tags",
    "address": "address",
    "custom_fields": "custom fields",
}


def actor_label(actor: dict[str, Any]) -> str:
    label = str(actor.get("name") or actor.get("id"))
    if actor.get("impersonated_by"):
        label += f" (impersonated by {actor['impersonated_by']})"
    return label


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class ActivityProjection(Projection):
    """Keeps rm_activity: every recorded Dossier event, indexed by firm and client."""

    name = "activity"
    tables = (activity, activity_subjects)

    def process(
        self, conn: sa.Connection, event: Any, position: int, stored: Notification | None = None
    ) -> None:
        if not isinstance(event, DossierEvent) or not self.is_activity(event):
            return
        self._remember_subject(conn, event)
        client_id = event.about_client()
        conn.execute(
            sa.insert(activity).values(
                position=position,
                firm_id=event.firm_id,
                client_id=None if client_id is None else str(client_id),
                occurred_at=event.timestamp,
                type=type(event).__name__,
                actor=event.actor,
                actor_id=str(event.actor["id"]),
                summary=self.summary(conn, event),
                data=event_data(event),
            )
        )

    @staticmethod
    def is_activity(event: DossierEvent) -> bool:
        """Every Dossier event is activity except record-keeping ones (idempotency, indexes)."""
        return not isinstance(event, Bookkeeping)

    def _remember_subject(self, conn: sa.Connection, e: Any) -> None:
        label: str | None = None
        subject = str(e.originator_id)
        if isinstance(e, Client.ClientRegistered):
            label = e.name
        elif isinstance(e, Client.ClientDetailsUpdated) and "name" in e.changes:
            label = e.changes["name"]
        elif isinstance(e, Contact.ContactCreated):
            label = f"{e.first_name} {e.last_name}"
        elif isinstance(e, StaffMember.StaffMemberAdded):
            subject, label = f"staff:{e.firm_id}:{e.user_id}", e.name
        if label is None and (own := e.subject_label()) is not None:
            subject, label = own
        if label is None:
            return
        updated = conn.execute(
            sa.update(activity_subjects)
            .where(activity_subjects.c.id == subject)
            .values(label=label)
        )
        if updated.rowcount == 0:
            conn.execute(sa.insert(activity_subjects).values(id=subject, label=label))

    @staticmethod
    def _label(conn: sa.Connection, subject: str, fallback: str) -> str:
        row = conn.execute(
            sa.select(activity_subjects.c.label).where(activity_subjects.c.id == subject)
        ).first()
        return fallback if row is None else str(row[0])

    def summary(self, conn: sa.Connection, e: Any) -> str:
        """One human-readable sentence describing what happened."""
        who = actor_label(e.actor)
        custom = e.summarize(who, lambda subject, fallback: self._label(conn, subject, fallback))
        if custom is not None:
            return str(custom)
        client = ""
        if isinstance(e, ClientEvent | Comment.CommentAdded):
            cid = str(e.about_client())
            client = self._label(conn, cid, "a client")
        if isinstance(e, Client.ClientRegistered):
            return f"{who} registered the {e.client_type.lower()} client {e.name}."
        if isinstance(e, Client.ClientDetailsUpdated):
            fields = _join([_FIELD_LABELS.get(k, k) for k in e.changes])
            return f"{who} updated the {fields} of {client}."
        if isinstance(e, Client.ContactLinked | Client.ContactUnlinked):
            contact = self._label(conn, str(e.contact_id), "a contact")
            if isinstance(e, Client.ContactUnlinked):
                return f"{who} unlinked {contact} from {client}."
            role = f" as {e.description}" if e.description else ""
            return f"{who} linked {contact} to {client}{role}."
        if isinstance(e, Client.TeamMemberAssigned | Client.TeamMemberRemoved):
            member = self._label(conn, f"staff:{e.firm_id}:{e.user_id}", e.user_id)
            if isinstance(e, Client.TeamMemberAssigned):
                return f"{who} assigned {member} to the team of {client}."
            return f"{who} removed {member} from the team of {client}."
        if isinstance(e, Client.ClientPutOnHold):
            reason = f": {e.reason}" if e.reason else ""
            return f"{who} put {client} on hold{reason}."
        if isinstance(e, Client.ClientHoldReleased):
            return f"{who} released the hold on {client}."
        if isinstance(e, Comment.CommentAdded):
            return f"{who} commented on {client}."
        if isinstance(e, Contact.ContactCreated):
            return f"{who} created the contact {e.first_name} {e.last_name}."
        if isinstance(e, StaffMember.StaffMemberAdded):
            return f"{who} added {e.name} to the staff as {e.role.lower()}."
        return f"{who} recorded {type(e).__name__}."
