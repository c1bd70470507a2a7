"""Reads of portal preferences and pending changes, and the one path for a contact's command.

`PortalPreferencesLoaders` reads the firm's preferences row, the pending changes of the clients
the (staff) viewer may see and each client's missing required fields, batched per request.
`ContactOnly` is the permission of the two contact-side mutations (role `contact` with a
`contact` claim; every other field keeps refusing contacts), and `run_as_contact` runs their
command as the contact: the service checks the contact is linked to the client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from strawberry.dataloader import DataLoader
from strawberry.permission import BasePermission

from domain.errors import DomainError, NotFound
from projections.tables import client_missing_fields, clients, pending_changes, portal_preferences
from resolvers.commands import failure_of
from resolvers.context import RequestContext
from resolvers.errors import forbidden
from resolvers.loaders import Loaders, Row
from resolvers.ports import Outcome, Ports
from resolvers.viewer import Viewer
from resolvers.visibility import visible_clients


class PortalPreferencesLoaders:
    """The portal preference loaders of one request, for one staff viewer."""

    def __init__(self, loaders: Loaders) -> None:
        self.viewer = loaders.viewer
        self.engine = loaders.engine
        self.pending_by_client: DataLoader[str, list[Row]] = loaders._grouped(self._by_client)
        self.pending: DataLoader[str, Row | None] = loaders._loader(self._by_id)
        self.missing: DataLoader[str, Row | None] = loaders._loader(self._missing)

    def preferences(self) -> Row | None:
        """The firm's preferences row (None while the firm has set none)."""
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(portal_preferences).where(
                    portal_preferences.c.firm_id == self.viewer.firm_id
                )
            ).first()

    def _changes(self) -> sa.Select[Any]:
        p = pending_changes.c
        return (
            sa.select(pending_changes)
            .join(clients, clients.c.id == p.client_id)
            .where(p.firm_id == self.viewer.firm_id, visible_clients(self.viewer))
        )

    def _by_client(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        p = pending_changes.c
        query = self._changes().where(p.client_id.in_(client_ids)).order_by(p.position.desc())
        return Loaders._group(conn.execute(query).all(), "client_id")

    def _by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(self._changes().where(pending_changes.c.id.in_(ids)))
        return {row.id: row for row in rows}

    def _missing(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, Row]:
        m = client_missing_fields.c
        rows = conn.execute(
            sa.select(client_missing_fields).where(
                m.client_id.in_(client_ids), m.firm_id == self.viewer.firm_id
            )
        )
        return {row.client_id: row for row in rows}


class ContactOnly(BasePermission):
    """Only a client's contact (role `contact` with a `contact` claim); UNAUTHENTICATED
    without a valid token, FORBIDDEN for staff."""

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        contact_viewer(info.context)
        return True


def contact_viewer(context: RequestContext) -> Viewer:
    """The contact acting through the portal, while its session is valid (a revoked contact's
    token is UNAUTHENTICATED: `RequestContext.require_contact`)."""
    viewer = context.require_contact()
    if not viewer.contact_id:
        raise forbidden("only a client's contact edits its details through the portal")
    return viewer


async def run_as_contact(
    context: RequestContext,
    call: Callable[[Ports, UUID], Outcome],
    *,
    given: Mapping[str, str | None] | None = None,
) -> Outcome:
    """Run a contact's command as the contact (see `RequestContext.execute`), given the uuid
    of the contact its token names; an expected failure becomes a `Failure` naming the
    caller's ids (a claim that names no contact finds no client)."""
    viewer = contact_viewer(context)

    def command() -> Outcome:
        try:
            contact_id = UUID(str(viewer.contact_id))
        except ValueError:
            raise NotFound("Client", "") from None
        return call(context.ports, contact_id)

    try:
        return await context.execute(viewer, command)
    except DomainError as error:
        raise failure_of(error, given or {}) from None
