"""The audit chain: one hash link per event about a client, over the event's stored form.

The links cover exactly the events of the activity history that name a client (so a chain's
length equals the client's activity totalCount). Each link hashes the event as stored, not
the domain event handed to projections (which may have been upcast since), so the handler
reads the stored row from the event store's table through the projection's own connection:
the event store and the read models share one database by design (DOSSIER_DATABASE_URL).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from domain.audit import GENESIS, ChainLink, StoredEvent, link_hash
from domain.base import DossierEvent
from projections.activity import ActivityProjection
from projections.base import Projection
from projections.tables import FIRM, ID, metadata

# The eventsourcing recorders' table of stored events: the PostgreSQL one is named after the
# application ("Dossier"), the SQLite one keeps the library's default name.
EVENTS_TABLES = ("dossier_events", "stored_events")
PREFETCH = 500

audit_links = sa.Table(
    "rm_audit_links",
    metadata,
    sa.Column("client_id", ID, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("originator_id", ID, nullable=False),
    sa.Column("originator_version", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

audit_heads = sa.Table(
    "rm_audit_heads",
    metadata,
    sa.Column("client_id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("event_count", sa.Integer, nullable=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_audit_heads_firm", "firm_id", "client_id"),
)


def events_table_name(conn: sa.Connection) -> str:
    """The name of the event store's table in this database."""
    inspector = sa.inspect(conn)
    for name in EVENTS_TABLES:
        if inspector.has_table(name):
            return name
    raise LookupError(f"none of the event tables {EVENTS_TABLES} exists")


def stored_events_query(
    conn: sa.Connection, start: int, stop: int, table: str | None = None
) -> sa.Select[Any]:
    """Stored rows with start <= position <= stop (SQLite numbers them by rowid)."""
    position = "rowid" if conn.dialect.name == "sqlite" else "notification_id"
    events = sa.table(
        table or events_table_name(conn),
        sa.column(position),
        sa.column("originator_id"),
        sa.column("originator_version"),
        sa.column("topic"),
        sa.column("state"),
    )
    pos = events.c[position]
    return (
        sa.select(
            pos.label("position"),
            events.c.originator_id,
            events.c.originator_version,
            events.c.topic,
            events.c.state,
        )
        .where(pos >= start, pos <= stop)
        .order_by(pos)
    )


def read_stored(
    conn: sa.Connection, start: int, stop: int, table: str | None = None
) -> dict[int, StoredEvent]:
    rows = conn.execute(stored_events_query(conn, start, stop, table)).all()
    return {
        int(r.position): StoredEvent.of(
            r.position, r.originator_id, r.originator_version, r.topic, r.state
        )
        for r in rows
    }


def chain_links(conn: sa.Connection, client_id: str, limit: int | None = None) -> list[ChainLink]:
    """A client's recorded links, oldest first (the first `limit` of them if given)."""
    query = (
        sa.select(audit_links)
        .where(audit_links.c.client_id == client_id)
        .order_by(audit_links.c.seq)
    )
    if limit is not None:
        query = query.where(audit_links.c.seq <= limit)
    return [
        ChainLink(
            position=int(r.position),
            originator_id=r.originator_id,
            originator_version=int(r.originator_version),
            hash=r.hash,
        )
        for r in conn.execute(query).all()
    ]


class AuditChainProjection(Projection):
    """Keeps rm_audit_links and rm_audit_heads: each client's hash chain and its head."""

    name = "audit_chain"
    tables = (audit_links, audit_heads)

    def __init__(self) -> None:
        self._prefetched: dict[int, StoredEvent] = {}
        self._table: str | None = None

    def process(
        self, conn: sa.Connection, event: Any, position: int, stored: Notification | None = None
    ) -> None:
        if not isinstance(event, DossierEvent) or not ActivityProjection.is_activity(event):
            return
        about = event.about_client()
        if about is None:
            return
        client_id = str(about)
        recorded = (
            StoredEvent.of(
                stored.id,
                stored.originator_id,
                stored.originator_version,
                stored.topic,
                stored.state,
            )
            if stored is not None
            else self._stored(conn, position)
        )
        head = conn.execute(
            sa.select(audit_heads.c.event_count, audit_heads.c.head_hash).where(
                audit_heads.c.client_id == client_id
            )
        ).first()
        count, previous = (0, GENESIS) if head is None else (int(head[0]), str(head[1]))
        digest = link_hash(previous, recorded)
        conn.execute(
            sa.insert(audit_links).values(
                client_id=client_id,
                seq=count + 1,
                position=position,
                originator_id=recorded.originator_id,
                originator_version=recorded.originator_version,
                hash=digest,
            )
        )
        values = {"event_count": count + 1, "head_hash": digest, "position": position}
        if head is None:
            conn.execute(
                sa.insert(audit_heads).values(client_id=client_id, firm_id=event.firm_id, **values)
            )
        else:
            conn.execute(
                sa.update(audit_heads).where(audit_heads.c.client_id == client_id).values(**values)
            )

    def _stored(self, conn: sa.Connection, position: int) -> StoredEvent:
        """The stored form of the event at `position`, read ahead in windows."""
        stored = self._prefetched.pop(position, None)
        if stored is None:
            if self._table is None:
                self._table = events_table_name(conn)
            self._prefetched = read_stored(conn, position, position + PREFETCH - 1, self._table)
            stored = self._prefetched.pop(position, None)
        if stored is None:
            raise LookupError(f"no stored event at position {position}")
        # Drop anything behind us (a rebuild or another runner moved on).
        if self._prefetched and min(self._prefetched) < position:
            self._prefetched = {p: e for p, e in self._prefetched.items() if p > position}
        return stored

    def clear(self, conn: sa.Connection) -> None:
        self._prefetched = {}
        super().clear(conn)
