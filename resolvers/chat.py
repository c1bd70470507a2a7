"""Reads of chat threads and messages: per-request DataLoaders, one statement per batch.

Threads are readable by staff who may see their client (internal or not); the viewer's
unread count comes from their read mark as a participant (None when they are not one).
A page of messages under any number of threads is one windowed statement per distinct
(first, after) pair.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from domain.chat import staff_key
from projections.chat import chat_messages, chat_participants, chat_threads
from projections.tables import clients
from resolvers.context import RequestContext
from resolvers.loaders import LATEST_ITEMS, Loaders, Row, newest_per_client
from resolvers.visibility import visible_clients

MessagesKey = tuple[str, int, int | None]
"""(thread id, first, position the page starts after)."""


class ChatLoaders:
    """The chat loaders of one request, for one viewer."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        self.viewer = loaders.viewer
        self.thread: DataLoader[str, Row | None] = loaders._loader(self._threads_by_id)
        self.threads_by_client: DataLoader[str, list[Row]] = loaders._grouped(self._by_client)
        self.participants: DataLoader[str, list[Row]] = loaders._grouped(self._participants)
        self.unread: DataLoader[str, int | None] = loaders._loader(self._unread)
        self.message: DataLoader[str, Row | None] = loaders._loader(self._message_by_id)
        self.messages: DataLoader[MessagesKey, list[Row]] = loaders._grouped(self._messages)
        self.latest_messages: DataLoader[str, list[Row]] = loaders._grouped(self._latest)

    def _visible_client_ids(self) -> sa.Select[tuple[str]]:
        return sa.select(clients.c.id).where(visible_clients(self.viewer))

    def _threads(self) -> sa.Select[Any]:
        t = chat_threads.c
        return sa.select(chat_threads).where(
            t.firm_id == self.viewer.firm_id, t.client_id.in_(self._visible_client_ids())
        )

    def _threads_by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(self._threads().where(chat_threads.c.id.in_(ids)))
        return {row.id: row for row in rows}

    def _by_client(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        t = chat_threads.c
        query = (
            self._threads()
            .where(t.client_id.in_(client_ids))
            .order_by(t.client_id, t.position.desc())
        )
        return Loaders._group(conn.execute(query).all(), "client_id")

    def _participants(self, conn: sa.Connection, thread_ids: list[str]) -> dict[str, list[Row]]:
        p = chat_participants.c
        query = (
            sa.select(chat_participants)
            .where(p.firm_id == self.viewer.firm_id, p.thread_id.in_(thread_ids))
            .order_by(p.thread_id, p.seq, p.participant)
        )
        return Loaders._group(conn.execute(query).all(), "thread_id")

    def _unread(self, conn: sa.Connection, thread_ids: list[str]) -> dict[str, int]:
        p, t = chat_participants.c, chat_threads.c
        query = (
            sa.select(p.thread_id, (t.message_count - p.last_read_seq).label("unread"))
            .select_from(chat_participants.join(chat_threads, t.id == p.thread_id))
            .where(
                p.firm_id == self.viewer.firm_id,
                p.participant == staff_key(self.viewer.user_id),
                p.thread_id.in_(thread_ids),
            )
        )
        return {row.thread_id: max(0, int(row.unread)) for row in conn.execute(query)}

    def _messages_of_visible(self) -> sa.ColumnElement[bool]:
        m = chat_messages.c
        return sa.and_(
            m.firm_id == self.viewer.firm_id, m.client_id.in_(self._visible_client_ids())
        )

    def _message_by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        query = sa.select(chat_messages).where(
            chat_messages.c.id.in_(ids), self._messages_of_visible()
        )
        return {row.id: row for row in conn.execute(query)}

    def _messages(
        self, conn: sa.Connection, keys: list[MessagesKey]
    ) -> dict[MessagesKey, list[Row]]:
        """Newest first: up to first + 1 messages of each thread before the given position."""
        m = chat_messages.c
        wanted: dict[tuple[int, int | None], list[str]] = defaultdict(list)
        for thread_id, first, after in keys:
            wanted[(first, after)].append(thread_id)
        found: dict[MessagesKey, list[Row]] = {}
        for (first, after), thread_ids in wanted.items():
            conditions = [m.thread_id.in_(thread_ids), self._messages_of_visible()]
            if after is not None:
                conditions.append(m.position < after)
            ranked = (
                sa.select(
                    chat_messages,
                    sa.func.row_number()
                    .over(partition_by=m.thread_id, order_by=m.position.desc())
                    .label("rank"),
                )
                .where(*conditions)
                .subquery()
            )
            query = (
                sa.select(ranked)
                .where(ranked.c.rank <= first + 1)
                .order_by(ranked.c.thread_id, ranked.c.position.desc())
            )
            for thread_id, rows in Loaders._group(conn.execute(query).all(), "thread_id").items():
                found[(thread_id, first, after)] = rows
        return found

    def _latest(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        query = newest_per_client(
            chat_messages, client_ids, LATEST_ITEMS, [self._messages_of_visible()]
        )
        return Loaders._group(conn.execute(query).all(), "client_id")


_attached: WeakKeyDictionary[Loaders, ChatLoaders] = WeakKeyDictionary()


def chat_loaders(context: RequestContext) -> ChatLoaders:
    """The request's chat loaders (created on first use, dropped with its Loaders)."""
    loaders = context.loaders
    found = _attached.get(loaders)
    if found is None:
        found = _attached[loaders] = ChatLoaders(loaders)
    return found
