"""The activity history: one row per event, in global order, with a readable summary.

The summary is the event's sentence from `projections.sentences.SENTENCES`; each feature
registers its sentences in its own projection module, and `projections/registry.py` imports
them all (build this projection through `all_projections()`). The core events' sentences
(clients, contacts, comments, staff) are registered below.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from domain.base import Bookkeeping, DossierEvent
from domain.client import Client
from domain.comment import Comment
from domain.contact import Contact
from domain.email import EmailEvent, EmailKind
from domain.staff import StaffMember
from projections.base import Projection, event_data
from projections.sentences import (
    Said,
    join_words,
    names,
    says,
    sentence_of,
    staff_subject,
    subject_of,
)
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
        """Every Dossier event is activity except record-keeping ones (idempotency, indexes)
        and the emails that notify staff (the comment or hold that caused them is the entry;
        they stay in the profile's email log)."""
        if isinstance(event, EmailEvent) and event.kind == EmailKind.NOTIFICATION:
            return False
        return not isinstance(event, Bookkeeping)

    def _remember_subject(self, conn: sa.Connection, e: DossierEvent) -> None:
        named = subject_of(e)
        if named is None:
            return
        subject, label = named
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

    def summary(self, conn: sa.Connection, e: DossierEvent) -> str:
        """One human-readable sentence describing what happened (see projections.sentences)."""
        said = Said(
            who=actor_label(e.actor),
            label=lambda subject, fallback: self._label(conn, subject, fallback),
        )
        return sentence_of(e, said)


# The core events' subjects and sentences ------------------------------------------------


@names(Client.ClientRegistered)
def _client_registered_names(e: Client.ClientRegistered) -> tuple[str, str]:
    return str(e.originator_id), e.name


@names(Client.ClientDetailsUpdated)
def _client_renamed(e: Client.ClientDetailsUpdated) -> tuple[str, str] | None:
    if "name" not in e.changes:
        return None
    return str(e.originator_id), e.changes["name"]


@names(Contact.ContactCreated)
def _contact_names(e: Contact.ContactCreated) -> tuple[str, str]:
    return str(e.originator_id), f"{e.first_name} {e.last_name}"


@names(StaffMember.StaffMemberAdded)
def _staff_names(e: StaffMember.StaffMemberAdded) -> tuple[str, str]:
    return staff_subject(e.firm_id, e.user_id), e.name


@says(Client.ClientRegistered)
def _client_registered(e: Client.ClientRegistered, said: Said) -> str:
    return f"{said.who} registered the {e.client_type.lower()} client {e.name}."


@says(Client.ClientDetailsUpdated)
def _client_details_updated(e: Client.ClientDetailsUpdated, said: Said) -> str:
    fields = join_words([_FIELD_LABELS.get(k, k) for k in e.changes])
    return f"{said.who} updated the {fields} of {said.client(e)}."


@says(Client.ContactLinked)
def _contact_linked(e: Client.ContactLinked, said: Said) -> str:
    contact = said.name_of(e.contact_id, "a contact")
    role = f" as {e.description}" if e.description else ""
    return f"{said.who} linked {contact} to {said.client(e)}{role}."


@says(Client.ContactUnlinked)
def _contact_unlinked(e: Client.ContactUnlinked, said: Said) -> str:
    contact = said.name_of(e.contact_id, "a contact")
    return f"{said.who} unlinked {contact} from {said.client(e)}."


@says(Client.TeamMemberAssigned)
def _team_member_assigned(e: Client.TeamMemberAssigned, said: Said) -> str:
    member = said.staff(e, e.user_id)
    return f"{said.who} assigned {member} to the team of {said.client(e)}."


@says(Client.TeamMemberRemoved)
def _team_member_removed(e: Client.TeamMemberRemoved, said: Said) -> str:
    member = said.staff(e, e.user_id)
    return f"{said.who} removed {member} from the team of {said.client(e)}."


@says(Client.ClientPutOnHold)
def _put_on_hold(e: Client.ClientPutOnHold, said: Said) -> str:
    reason = f": {e.reason}" if e.reason else ""
    return f"{said.who} put {said.client(e)} on hold{reason}."


@says(Client.ClientHoldReleased)
def _hold_released(e: Client.ClientHoldReleased, said: Said) -> str:
    return f"{said.who} released the hold on {said.client(e)}."


@says(Comment.CommentAdded)
def _comment_added(e: Comment.CommentAdded, said: Said) -> str:
    return f"{said.who} commented on {said.client(e)}."


@says(Contact.ContactCreated)
def _contact_created(e: Contact.ContactCreated, said: Said) -> str:
    return f"{said.who} created the contact {e.first_name} {e.last_name}."


@says(StaffMember.StaffMemberAdded)
def _staff_member_added(e: StaffMember.StaffMemberAdded, said: Said) -> str:
    return f"{said.who} added {e.name} to the staff as {e.role.lower()}."
