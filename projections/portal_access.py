"""The portal access read model: each contact's portal status and the sessions it was issued,
and how portal access events read in the activity history.

`rm_portal_access` holds one row per contact whose access was ever recorded (no row: status
NONE); `revoked_at` is what the API compares a contact token's issue time with
(resolvers.portal_sessions). `rm_portal_sessions` lists every session issued.
"""

from __future__ import annotations

import sqlalchemy as sa

from domain.portal_access import ACTIVE, INVITED, NONE, REVOKED, PortalAccess, PortalEvent
from projections.base import Projection, handles
from projections.sentences import Said, says
from projections.tables import FIRM, ID, UTCDateTime, metadata

portal_access = sa.Table(
    "rm_portal_access",
    metadata,
    sa.Column("contact_id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("email", sa.Text),
    sa.Column("invited_at", UTCDateTime),
    sa.Column("invitation_expires_at", UTCDateTime),
    sa.Column("accepted_at", UTCDateTime),
    sa.Column("last_login_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("position", sa.BigInteger, nullable=False),
)

portal_sessions = sa.Table(
    "rm_portal_sessions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("contact_id", ID, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("via", sa.String(40), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_portal_sessions_contact", "contact_id", "started_at"),
)


class PortalAccessProjection(Projection):
    """Keeps rm_portal_access and rm_portal_sessions."""

    name = "portal_access"
    tables = (portal_access, portal_sessions)

    def _update(self, conn: sa.Connection, e: PortalEvent, **values: object) -> None:
        conn.execute(
            sa.update(portal_access)
            .where(portal_access.c.contact_id == str(e.contact_id))
            .values(**values)
        )

    @handles(PortalAccess.Opened)
    def opened(self, conn: sa.Connection, e: PortalAccess.Opened, position: int) -> None:
        conn.execute(
            sa.insert(portal_access).values(
                contact_id=str(e.contact_id),
                firm_id=e.firm_id,
                client_id=None if e.client_id is None else str(e.client_id),
                status=NONE,
                position=position,
            )
        )

    @handles(PortalAccess.Invited)
    def invited(self, conn: sa.Connection, e: PortalAccess.Invited, position: int) -> None:
        self._update(
            conn,
            e,
            status=INVITED,
            email=e.email,
            invited_at=e.timestamp,
            invitation_expires_at=e.expires_at,
            position=position,
        )

    @handles(PortalAccess.Accepted)
    def accepted(self, conn: sa.Connection, e: PortalAccess.Accepted, position: int) -> None:
        self._update(
            conn,
            e,
            status=ACTIVE,
            accepted_at=e.timestamp,
            invitation_expires_at=None,
            position=position,
        )

    @handles(PortalAccess.SessionStarted)
    def session_started(
        self, conn: sa.Connection, e: PortalAccess.SessionStarted, position: int
    ) -> None:
        conn.execute(
            sa.insert(portal_sessions).values(
                id=str(e.session_id),
                firm_id=e.firm_id,
                contact_id=str(e.contact_id),
                started_at=e.timestamp,
                expires_at=e.expires_at,
                via=e.via,
                position=position,
            )
        )
        self._update(conn, e, last_login_at=e.timestamp, position=position)

    @handles(PortalAccess.Revoked)
    def revoked(self, conn: sa.Connection, e: PortalAccess.Revoked, position: int) -> None:
        self._update(
            conn,
            e,
            status=REVOKED,
            revoked_at=e.timestamp,
            invitation_expires_at=None,
            position=position,
        )


# Sentences ---------------------------------------------------------------------------------


@says(PortalAccess.Invited)
def _invited(e: PortalAccess.Invited, said: Said) -> str:
    contact = said.name_of(e.contact_id, "a contact")
    if e.resent:
        return f"{said.who} sent {contact} a new portal invitation at {e.email}."
    return f"{said.who} invited {contact} to the client portal at {e.email}."


@says(PortalAccess.Accepted)
def _accepted(e: PortalAccess.Accepted, said: Said) -> str:
    return f"{said.who} accepted the portal invitation sent to {e.email}."


@says(PortalAccess.SessionStarted)
def _session(e: PortalAccess.SessionStarted, said: Said) -> str:
    return f"{said.who} signed in to the client portal."


@says(PortalAccess.Revoked)
def _revoked(e: PortalAccess.Revoked, said: Said) -> str:
    contact = said.name_of(e.contact_id, "a contact")
    return f"{said.who} revoked {contact}'s portal access."
