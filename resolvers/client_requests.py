"""Reads of client requests: per-request DataLoaders over the requests read model.

`requests_by_client` answers any number of clients with one statement (the profile's
connection and the overview's latest five share it); messages are batched per request the same
way. Every loader is restricted to clients the viewer may see.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from projections.client_requests import client_request_messages, client_requests
from projections.tables import clients
from resolvers.loaders import Loaders, Row
from resolvers.visibility import visible_clients

LATEST_REQUESTS = 5


class ClientRequestLoaders:
    """The client request loaders of one request, for one viewer."""

    def __init__(self, loaders: Loaders) -> None:
        self.viewer = loaders.viewer
        self.requests_by_client: DataLoader[str, list[Row]] = loaders._grouped(self._by_client)
        self.request: DataLoader[str, Row | None] = loaders._loader(self._by_id)
        self.messages: DataLoader[str, list[Row]] = loaders._grouped(self._messages)

    def _requests(self) -> sa.Select[Any]:
        r = client_requests.c
        return (
            sa.select(client_requests)
            .join(clients, clients.c.id == r.client_id)
            .where(r.firm_id == self.viewer.firm_id, visible_clients(self.viewer))
        )

    def _by_client(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        r = client_requests.c
        query = self._requests().where(r.client_id.in_(client_ids)).order_by(r.position.desc())
        return Loaders._group(conn.execute(query).all(), "client_id")

    def _by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(self._requests().where(client_requests.c.id.in_(ids)))
        return {row.id: row for row in rows}

    def _messages(self, conn: sa.Connection, request_ids: list[str]) -> dict[str, list[Row]]:
        m = client_request_messages.c
        query = (
            sa.select(client_request_messages)
            .join(clients, clients.c.id == m.client_id)
            .where(m.request_id.in_(request_ids), m.firm_id == self.viewer.firm_id)
            .where(visible_clients(self.viewer))
            .order_by(m.request_id, m.number)
        )
        return Loaders._group(conn.execute(query).all(), "request_id")
