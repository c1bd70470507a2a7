"""Per-request DataLoaders: each batches one kind of read into one SQL statement."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol, TypeVar

import anyio.to_thread
import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from projections.tables import (
    activity,
    client_contacts,
    client_holds,
    clients,
    comments,
    contacts,
    staff,
    team,
    team_history,
)
from resolvers.ports import Ports
from resolvers.viewer import Viewer
from resolvers.visibility import assigned_client_ids, visible_activity, visible_clients

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
Row = sa.Row[Any]

LATEST_ITEMS = 5


class FeatureLoaders(Protocol):
    """A feature's per-request loaders: built from the core `Loaders` by
    `RequestContext.loaders_of(Kind)` (resolvers/context.py), once per request."""

    def __init__(self, loaders: Loaders) -> None: ...


class Loaders:
    """The loaders of one request, for one viewer."""

    def __init__(self, ports: Ports, viewer: Viewer) -> None:
        self.ports = ports
        self.engine = ports.engine
        self.viewer = viewer
        self.client = self._loader(self._clients_by_id)
        self.client_in_firm = self._loader(self._clients_in_firm)
        self.contact = self._loader(self._contacts_by_id)
        self.staff_by_user = self._loader(self._staff_by_user)
        self.staff_by_id = self._loader(self._staff_by_id)
        self.comment = self._loader(self._comments_by_id)
        self.activity_entry = self._loader(self._activity_by_position)
        self.client_contacts = self._grouped(self._client_contacts)
        self.contact_clients = self._grouped(self._contact_clients)
        self.team = self._grouped(self._team)
        self.team_history = self._grouped(self._team_history)
        self.holds = self._grouped(self._holds)
        self.related_clients = self._grouped(self._related_clients)
        self.latest_comments = self._grouped(self._latest_comments)
        self.latest_activity = self._grouped(self._latest_activity)

    # Plumbing ---------------------------------------------------------------

    async def run(self, query: Callable[[sa.Connection], V]) -> V:
        """Run a read in a worker thread, keeping the event loop free."""

        def work() -> V:
            with self.engine.connect() as conn:
                return query(conn)

        return await anyio.to_thread.run_sync(work)

    def _loader(
        self, fetch: Callable[[sa.Connection, list[Any]], dict[Any, Any]]
    ) -> DataLoader[Any, Any]:
        async def load(keys: list[Any]) -> Sequence[Any]:
            found = await self.run(lambda conn: fetch(conn, keys))
            return [found.get(key) for key in keys]

        return DataLoader(load_fn=load)

    def _grouped(
        self, fetch: Callable[[sa.Connection, list[Any]], dict[Any, list[Any]]]
    ) -> DataLoader[Any, list[Any]]:
        async def load(keys: list[Any]) -> Sequence[list[Any]]:
            found = await self.run(lambda conn: fetch(conn, keys))
            return [found.get(key, []) for key in keys]

        return DataLoader(load_fn=load)

    @staticmethod
    def _group(rows: Sequence[Any], key: str) -> dict[Any, list[Row]]:
        grouped: dict[Any, list[Row]] = defaultdict(list)
        for row in rows:
            grouped[row._mapping[key]].append(row)
        return grouped

    # Batches ----------------------------------------------------------------

    def _clients_by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(
            sa.select(clients).where(clients.c.id.in_(ids), visible_clients(self.viewer))
        ).all()
        return {row.id: row for row in rows}

    def _clients_in_firm(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        """Clients of the viewer's firm whatever the team (for a mutation's own payload)."""
        rows = conn.execute(
            sa.select(clients).where(
                clients.c.id.in_(ids), clients.c.firm_id == self.viewer.firm_id
            )
        ).all()
        return {row.id: row for row in rows}

    def _contacts_by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        """Contacts of the firm; agents and watchers see only their clients' contacts."""
        conds = [contacts.c.id.in_(ids), contacts.c.firm_id == self.viewer.firm_id]
        if not self.viewer.sees_all_clients:
            linked = sa.select(client_contacts.c.contact_id).where(
                client_contacts.c.client_id.in_(assigned_client_ids(self.viewer))
            )
            conds.append(contacts.c.id.in_(linked))
        rows = conn.execute(sa.select(contacts).where(*conds)).all()
        return {row.id: row for row in rows}

    def _staff_by_user(self, conn: sa.Connection, user_ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(
            sa.select(staff).where(
                staff.c.firm_id == self.viewer.firm_id, staff.c.user_id.in_(user_ids)
            )
        ).all()
        return {row.user_id: row for row in rows}

    def _staff_by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(
            sa.select(staff).where(staff.c.firm_id == self.viewer.firm_id, staff.c.id.in_(ids))
        ).all()
        return {row.id: row for row in rows}

    def _comments_by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        visible = sa.select(clients.c.id).where(visible_clients(self.viewer))
        rows = conn.execute(
            sa.select(comments).where(comments.c.id.in_(ids), comments.c.client_id.in_(visible))
        ).all()
        return {row.id: row for row in rows}

    def _activity_by_position(self, conn: sa.Connection, positions: list[int]) -> dict[int, Row]:
        rows = conn.execute(
            sa.select(activity).where(
                activity.c.position.in_(positions), visible_activity(self.viewer)
            )
        ).all()
        return {row.position: row for row in rows}

    def _client_contacts(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        """Each client's links, oldest first, joined with the contacts."""
        query = (
            sa.select(
                client_contacts.c.client_id,
                client_contacts.c.description,
                client_contacts.c.linked_at,
                client_contacts.c.position,
                contacts,
            )
            .join(contacts, contacts.c.id == client_contacts.c.contact_id)
            .where(
                client_contacts.c.client_id.in_(client_ids),
                client_contacts.c.firm_id == self.viewer.firm_id,
            )
            .order_by(client_contacts.c.client_id, client_contacts.c.position)
        )
        return self._group(conn.execute(query).all(), "client_id")

    def _contact_clients(self, conn: sa.Connection, contact_ids: list[str]) -> dict[str, list[Row]]:
        query = (
            sa.select(client_contacts.c.contact_id, clients)
            .join(clients, clients.c.id == client_contacts.c.client_id)
            .where(client_contacts.c.contact_id.in_(contact_ids), visible_clients(self.viewer))
            .order_by(client_contacts.c.contact_id, clients.c.name_key, clients.c.id)
        )
        return self._group(conn.execute(query).all(), "contact_id")

    def _team(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        query = (
            sa.select(
                team.c.client_id,
                team.c.assigned_at,
                team.c.assigned_by,
                staff.c.id,
                staff.c.user_id,
                staff.c.name,
                staff.c.email,
                staff.c.role,
            )
            .join(
                staff, sa.and_(staff.c.firm_id == team.c.firm_id, staff.c.user_id == team.c.user_id)
            )
            .where(team.c.client_id.in_(client_ids), team.c.firm_id == self.viewer.firm_id)
            .order_by(team.c.client_id, team.c.position)
        )
        return self._group(conn.execute(query).all(), "client_id")

    def _team_history(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        query = (
            sa.select(
                team_history.c.client_id,
                team_history.c.change,
                team_history.c.at,
                team_history.c.by,
                staff.c.id,
                staff.c.user_id,
                staff.c.name,
                staff.c.email,
                staff.c.role,
            )
            .join(clients, clients.c.id == team_history.c.client_id)
            .join(
                staff,
                sa.and_(
                    staff.c.firm_id == clients.c.firm_id, staff.c.user_id == team_history.c.user_id
                ),
            )
            .where(
                team_history.c.client_id.in_(client_ids), clients.c.firm_id == self.viewer.firm_id
            )
            .order_by(team_history.c.client_id, team_history.c.position)
        )
        return self._group(conn.execute(query).all(), "client_id")

    def _holds(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        query = (
            sa.select(client_holds)
            .where(client_holds.c.client_id.in_(client_ids))
            .order_by(client_holds.c.client_id, client_holds.c.seq)
        )
        return self._group(conn.execute(query).all(), "client_id")

    def _related_clients(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        """Other visible clients sharing at least one contact, by name."""
        mine = client_contacts.alias("mine")
        theirs = client_contacts.alias("theirs")
        related = (
            sa.select(mine.c.client_id.label("for_client"), theirs.c.client_id.label("related_id"))
            .join(theirs, theirs.c.contact_id == mine.c.contact_id)
            .where(mine.c.client_id.in_(client_ids), theirs.c.client_id != mine.c.client_id)
            .distinct()
            .subquery()
        )
        query = (
            sa.select(related.c.for_client, clients)
            .join(clients, clients.c.id == related.c.related_id)
            .where(visible_clients(self.viewer))
            .order_by(related.c.for_client, clients.c.name_key, clients.c.id)
        )
        return self._group(conn.execute(query).all(), "for_client")

    def _latest_comments(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        query = newest_per_client(
            comments, client_ids, LATEST_ITEMS, [comments.c.firm_id == self.viewer.firm_id]
        )
        return self._group(conn.execute(query).all(), "client_id")

    def _latest_activity(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        query = newest_per_client(
            activity, client_ids, LATEST_ITEMS, [activity.c.firm_id == self.viewer.firm_id]
        )
        return self._group(conn.execute(query).all(), "client_id")


def newest_per_client(
    table: sa.Table,
    client_ids: list[str],
    limit: int,
    conditions: Sequence[sa.ColumnElement[bool]],
) -> sa.Select[Any]:
    """The newest `limit` rows (by position) of each client, in one statement.

    Each row also carries `total`: how many rows of its client match the conditions.
    """
    ranked = (
        sa.select(
            table,
            sa.func.row_number()
            .over(partition_by=table.c.client_id, order_by=table.c.position.desc())
            .label("rank"),
            sa.func.count().over(partition_by=table.c.client_id).label("total"),
        )
        .where(table.c.client_id.in_(client_ids), *conditions)
        .subquery()
    )
    return (
        sa.select(ranked)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.client_id, ranked.c.position.desc())
    )
