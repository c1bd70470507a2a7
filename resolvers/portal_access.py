"""Reads of portal access: whether a contact's session is still valid, what a contact's
session shows, each contact's portal status for staff, and accepting an invitation.

A contact token (role `contact`, claim `contact`) is valid while the contact's portal access
is not revoked and the token was issued after the last revocation (`rm_portal_access`; no row
means never invited, so a token from an identity provider signed with the server's key stays
valid). `RequestContext` asks `session_refusal` once per request, like the staff standing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from domain.errors import DomainError
from domain.portal_access import REVOKED
from projections.portal_access import portal_access
from projections.tables import client_contacts, contacts
from resolvers.commands import failure_of
from resolvers.errors import unavailable
from resolvers.loaders import Loaders, Row
from resolvers.ports import Outcome, Ports
from resolvers.viewer import Viewer


def session_refusal(engine: sa.Engine, viewer: Viewer) -> str | None:
    """Why a contact's token no longer opens a session (None while it does)."""
    if viewer.contact_id is None:
        return "a contact's token must name its contact"
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(portal_access.c.status, portal_access.c.revoked_at).where(
                portal_access.c.contact_id == viewer.contact_id,
                portal_access.c.firm_id == viewer.firm_id,
            )
        ).first()
    if row is None:
        return None
    if row.status == REVOKED:
        return "the contact's portal access was revoked"
    issued = viewer.issued_at
    if row.revoked_at is not None and issued is not None and issued < row.revoked_at.timestamp():
        return "this session ended when the contact's portal access was revoked"
    return None


@dataclass(frozen=True)
class SessionView:
    """What a contact's session shows of itself."""

    contact: Row
    client_ids: list[str]


def session_view(engine: sa.Engine, viewer: Viewer) -> SessionView | None:
    """The session's contact (in the token's firm) and the clients it is linked to."""
    with engine.connect() as conn:
        contact = conn.execute(
            sa.select(contacts).where(
                contacts.c.id == viewer.contact_id, contacts.c.firm_id == viewer.firm_id
            )
        ).first()
        if contact is None:
            return None
        linked = conn.execute(
            sa.select(client_contacts.c.client_id)
            .where(
                client_contacts.c.contact_id == contact.id,
                client_contacts.c.firm_id == viewer.firm_id,
            )
            .order_by(client_contacts.c.position)
        ).scalars()
        return SessionView(contact, [str(c) for c in linked])


class PortalLoaders:
    """Each contact's portal access row, for staff reading contacts (one statement)."""

    def __init__(self, loaders: Loaders) -> None:
        self.core = loaders
        viewer = loaders.viewer

        async def load(keys: list[str]) -> Sequence[Row | None]:
            def fetch(conn: sa.Connection) -> dict[str, Row]:
                rows = conn.execute(
                    sa.select(portal_access).where(
                        portal_access.c.contact_id.in_(keys),
                        portal_access.c.firm_id == viewer.firm_id,
                    )
                ).all()
                return {str(row.contact_id): row for row in rows}

            found = await loaders.run(fetch)
            return [found.get(key) for key in keys]

        self.access: DataLoader[str, Row | None] = DataLoader(load_fn=load)


async def accept_invitation(ports: Ports, token: str) -> tuple[Outcome, Any]:
    """Accept an invitation (no viewer: the token names the contact), then wait until the
    read models include it. A refused token is a `Failure` (RULE_VIOLATION with its code)."""

    def work() -> tuple[Outcome, Any]:
        done, session = ports.services.portal_access.accept(token)
        try:
            ports.wait_for(done.position, done.positions, ())
        except TimeoutError:
            raise unavailable(
                "the invitation was accepted but the read models have not caught up yet"
            ) from None
        return done, session

    try:
        return await anyio.to_thread.run_sync(work)
    except DomainError as error:
        raise failure_of(error, {}) from None
