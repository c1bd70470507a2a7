"""Reads of the email log: per-request DataLoaders, one statement per batch.

An email is readable by staff who may see its client (agents and watchers only on their
clients; never across firms). Emails about no client (notices to staff) are on no profile
and are not readable here. Lists load every column but the body (a list under a list is one
statement); a body is loaded by id only when it is asked for, batched too.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from projections.emails import emails
from projections.tables import clients
from resolvers.loaders import LATEST_ITEMS, Loaders, Row
from resolvers.visibility import visible_clients

LATEST_EMAILS = LATEST_ITEMS

_LIST_COLUMNS = [c for c in emails.c if c.name != "body"]


class EmailLoaders:
    """The email loaders of one request, for one viewer."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        self.viewer = loaders.viewer
        self.email: DataLoader[str, Row | None] = loaders._loader(self._by_id)
        self.body: DataLoader[str, str | None] = loaders._loader(self._bodies)
        self.emails_by_client: DataLoader[str, list[Row]] = loaders._grouped(self._by_client)

    def _visible(self, *columns: Any) -> sa.Select[Any]:
        e = emails.c
        return (
            sa.select(*columns)
            .select_from(emails.join(clients, clients.c.id == e.client_id))
            .where(e.firm_id == self.viewer.firm_id, visible_clients(self.viewer))
        )

    def _by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(self._visible(*_LIST_COLUMNS).where(emails.c.id.in_(ids)))
        return {row.id: row for row in rows}

    def _bodies(self, conn: sa.Connection, ids: list[str]) -> dict[str, str]:
        e = emails.c
        rows = conn.execute(self._visible(e.id, e.body).where(e.id.in_(ids)))
        return {row.id: row.body for row in rows}

    def _by_client(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        """Every email of each client, newest first (by the position it was queued at)."""
        e = emails.c
        query = (
            self._visible(*_LIST_COLUMNS)
            .where(e.client_id.in_(client_ids))
            .order_by(e.client_id, e.position.desc())
        )
        return Loaders._group(conn.execute(query).all(), "client_id")
