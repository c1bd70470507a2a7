"""The portal preferences read model: each firm's field preferences and the pending changes
contacts proposed, with how every one of these events reads in the activity history.

(Whether a client's details are complete by the firm's REQUIRED fields is kept by the client
profile projection: projections/portal_completeness.py.)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from domain.contact import Contact
from domain.portal_preferences import CUSTOM_PREFIX, PendingClientChange, PortalPreferences
from projections.base import Projection, handles
from projections.sentences import Said, join_words, names, says
from projections.tables import pending_changes, portal_preferences

_LABELS = {
    "name": "name",
    "type": "type",
    "tags": "tags",
    "contact.firstName": "first name",
    "contact.lastName": "last name",
    "contact.phone": "phone",
    "contact.emails": "emails",
    "first_name": "first name",
    "last_name": "last name",
    "phone": "phone",
    "emails": "emails",
}


def field_label(key: str) -> str:
    """How a field key reads in a sentence ("address.city" → "address (city)")."""
    if key.startswith("address."):
        return f"address ({key[len('address.') :].replace('_', ' ')})"
    if key.startswith(CUSTOM_PREFIX):
        return f"custom field {key[len(CUSTOM_PREFIX) :]}"
    return _LABELS.get(key, key)


def fields_said(keys: Any) -> str:
    return join_words([field_label(str(k)) for k in keys])


class PortalPreferencesProjection(Projection):
    """Keeps rm_portal_preferences (one row per firm) and rm_pending_changes."""

    name = "portal_preferences"
    tables = (portal_preferences, pending_changes)

    @handles(PortalPreferences.PreferencesCreated, PortalPreferences.PreferencesChanged)
    def preferences_set(
        self,
        conn: sa.Connection,
        e: PortalPreferences.PreferencesCreated | PortalPreferences.PreferencesChanged,
        position: int,
    ) -> None:
        conn.execute(sa.delete(portal_preferences).where(portal_preferences.c.firm_id == e.firm_id))
        conn.execute(
            sa.insert(portal_preferences).values(
                firm_id=e.firm_id,
                fields=[{"field": k, "access": v} for k, v in e.fields.items()],
                require_approval=e.require_approval,
                updated_at=e.timestamp,
                updated_by=e.actor,
            )
        )

    @handles(PendingClientChange.ChangeProposed)
    def change_proposed(
        self, conn: sa.Connection, e: PendingClientChange.ChangeProposed, position: int
    ) -> None:
        conn.execute(
            sa.insert(pending_changes).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                contact_id=str(e.contact_id),
                changes=[{"field": k, "value": v} for k, v in e.changes.items()],
                status="PENDING",
                proposed_at=e.timestamp,
                proposed_by=e.actor,
                position=position,
            )
        )

    @handles(PendingClientChange.ChangeApproved)
    def change_approved(
        self, conn: sa.Connection, e: PendingClientChange.ChangeApproved, position: int
    ) -> None:
        self._decide(conn, e, "APPROVED", None)

    @handles(PendingClientChange.ChangeRejected)
    def change_rejected(
        self, conn: sa.Connection, e: PendingClientChange.ChangeRejected, position: int
    ) -> None:
        self._decide(conn, e, "REJECTED", e.reason)

    @staticmethod
    def _decide(
        conn: sa.Connection,
        e: PendingClientChange.ChangeApproved | PendingClientChange.ChangeRejected,
        status: str,
        reason: str | None,
    ) -> None:
        conn.execute(
            sa.update(pending_changes)
            .where(pending_changes.c.id == str(e.originator_id))
            .values(status=status, decided_at=e.timestamp, decided_by=e.actor, reason=reason)
        )


# Activity sentences -------------------------------------------------------------------------


@says(PortalPreferences.PreferencesCreated, PortalPreferences.PreferencesChanged)
def _preferences_set(
    e: PortalPreferences.PreferencesCreated | PortalPreferences.PreferencesChanged, said: Said
) -> str:
    editable = [k for k, v in e.fields.items() if v in ("EDITABLE", "REQUIRED")]
    required = [k for k, v in e.fields.items() if v == "REQUIRED"]
    parts = [f"contacts may edit {fields_said(editable)}" if editable else "contacts edit nothing"]
    if required:
        parts.append(f"{fields_said(required)} required")
    approval = "staff approve client edits" if e.require_approval else "client edits apply at once"
    return f"{said.who} set the client portal's field preferences: {'; '.join(parts)}; {approval}."


@names(PendingClientChange.ChangeProposed)
def _proposed_names(e: PendingClientChange.ChangeProposed) -> tuple[str, str]:
    return str(e.originator_id), f"the change to the {fields_said(e.changes)}"


@says(PendingClientChange.ChangeProposed)
def _proposed(e: PendingClientChange.ChangeProposed, said: Said) -> str:
    return (
        f"{said.who} (client contact) asked to change the {fields_said(e.changes)} of "
        f"{said.client(e)}; the change awaits approval."
    )


@says(PendingClientChange.ChangeApproved)
def _approved(e: PendingClientChange.ChangeApproved, said: Said) -> str:
    what = said.name_of(e.originator_id, "a change")
    return f"{said.who} approved {what} of {said.client(e)} asked by its contact."


@says(PendingClientChange.ChangeRejected)
def _rejected(e: PendingClientChange.ChangeRejected, said: Said) -> str:
    what = said.name_of(e.originator_id, "a change")
    because = f" ({e.reason})" if e.reason else ""
    return f"{said.who} rejected {what} of {said.client(e)} asked by its contact{because}."


@says(Contact.ContactDetailsChanged)
def _contact_details_changed(e: Contact.ContactDetailsChanged, said: Said) -> str:
    return (
        f"{said.who} (client contact) changed their own {fields_said(e.changes)} "
        f"as a contact of {said.client(e)}."
    )
