"""Whether a client's details are complete, by the fields its firm requires.

The client profile projection (projections/client_profile.py) keeps `rm_clients.details_complete`
with this mixin, so that one projection, from events, decides it exactly once (and a rebuild of
that projection alone gives the same rows): the firm's REQUIRED fields (`rm_portal_required`,
from its portal preferences; REQUIRED_DETAILS while it has set none) and, per client, the
required fields it misses (`rm_client_missing_fields`). When the preferences change, every
client of the firm is recomputed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from domain.contact import Contact
from domain.portal_preferences import PortalPreferences, missing_fields, required_fields
from projections.base import Projection, handles
from projections.tables import (
    client_contacts,
    client_missing_fields,
    client_search,
    clients,
    contacts,
    portal_required,
)


def firm_required(conn: sa.Connection, firm_id: str) -> tuple[str, ...]:
    """The fields the firm requires (REQUIRED_DETAILS while it set no preferences)."""
    row = conn.execute(
        sa.select(portal_required.c.required).where(portal_required.c.firm_id == firm_id)
    ).first()
    return required_fields(None) if row is None else tuple(row[0])


def store_completeness(
    conn: sa.Connection,
    client_id: str,
    firm_id: str,
    details: dict[str, Any],
    required: tuple[str, ...] | None = None,
) -> bool:
    """Record what the client misses; whether its details are complete."""
    wanted = firm_required(conn, firm_id) if required is None else required
    missing = missing_fields(
        wanted,
        name=details["name"],
        client_type=details["client_type"],
        tags=details["tags"],
        address=details["address"],
        custom_fields=details["custom_fields"],
    )
    conn.execute(
        sa.delete(client_missing_fields).where(client_missing_fields.c.client_id == client_id)
    )
    conn.execute(
        sa.insert(client_missing_fields).values(
            client_id=client_id, firm_id=firm_id, missing=missing
        )
    )
    return not missing


class PortalCompleteness(Projection):
    """Handlers of the client profile projection (its base) for the firm's required fields
    and the contact's own details changed through the portal."""

    @handles(PortalPreferences.PreferencesCreated, PortalPreferences.PreferencesChanged)
    def portal_preferences_set(
        self,
        conn: sa.Connection,
        e: PortalPreferences.PreferencesCreated | PortalPreferences.PreferencesChanged,
        position: int,
    ) -> None:
        required = required_fields(dict(e.fields))
        conn.execute(sa.delete(portal_required).where(portal_required.c.firm_id == e.firm_id))
        conn.execute(sa.insert(portal_required).values(firm_id=e.firm_id, required=list(required)))
        c = clients.c
        rows = conn.execute(
            sa.select(
                c.id, c.name, c.client_type, c.tags, c.address, c.custom_fields, c.details_complete
            )
            .where(c.firm_id == e.firm_id)
            .order_by(c.id)
        ).all()
        for row in rows:
            complete = store_completeness(conn, row.id, e.firm_id, row._asdict(), required)
            if complete != row.details_complete:
                conn.execute(
                    sa.update(clients).where(c.id == row.id).values(details_complete=complete)
                )

    @handles(Contact.ContactDetailsChanged)
    def contact_details_changed(
        self, conn: sa.Connection, e: Contact.ContactDetailsChanged, position: int
    ) -> None:
        contact_id = str(e.originator_id)
        values = {k: v for k, v in e.changes.items() if k in ("first_name", "last_name", "phone")}
        if "emails" in e.changes:
            values["emails"] = e.changes["emails"]
        conn.execute(sa.update(contacts).where(contacts.c.id == contact_id).values(**values))
        if "emails" not in e.changes:
            return
        terms = sorted({str(m["address"]).lower() for m in e.changes["emails"]})
        linked = conn.execute(
            sa.select(client_contacts.c.client_id).where(client_contacts.c.contact_id == contact_id)
        ).scalars()
        for client_id in linked.all():
            conn.execute(
                sa.delete(client_search).where(
                    client_search.c.client_id == client_id, client_search.c.source == contact_id
                )
            )
            if terms:
                conn.execute(
                    sa.insert(client_search),
                    [
                        {
                            "client_id": client_id,
                            "firm_id": e.firm_id,
                            "source": contact_id,
                            "term": t,
                        }
                        for t in terms
                    ],
                )
