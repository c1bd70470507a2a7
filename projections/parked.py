"""Parked events: events a projection could not apply, set aside so that nothing else stops.

When a projection raises on an event, the runner records the event here for that projection
and goes on with later events. Later events about the same subject (the client the event is
about, else its aggregate) are parked behind it for that projection, so the subject's rows in
that read model stay as they were before the failing event: stale, never half-applied. An
operator retries parked events after a fix; they are then applied in their original order
and with their original positions, which gives the rows a rebuild would give.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from projections.tables import metadata

MESSAGE_MAX = 2000

parked_events = sa.Table(
    "rm_parked_events",
    metadata,
    sa.Column("projection", sa.String(100), primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("aggregate_id", sa.String(36), nullable=False),
    sa.Column("subject_id", sa.String(36), nullable=False),
    sa.Column("firm_id", sa.Text, nullable=True),
    sa.Column("error_class", sa.Text, nullable=False),
    sa.Column("error_message", sa.Text, nullable=False),
    sa.Column("held_behind", sa.BigInteger, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_rm_parked_events_subject", "projection", "subject_id"),
    sa.Index("ix_rm_parked_events_position", "position"),
)


@dataclass(frozen=True)
class ParkedEvent:
    """One event a projection has set aside, and why."""

    projection: str
    position: int
    event_type: str
    aggregate_id: str
    subject_id: str
    firm_id: str | None
    error_class: str
    error_message: str
    held_behind: int | None
    attempts: int
    parked_at: datetime
    last_attempt_at: datetime

    @property
    def held(self) -> bool:
        """True when the event did not fail itself but waits behind an earlier one."""
        return self.held_behind is not None


def _clean(message: str) -> str:
    """A bounded, storable error message (no NUL, which PostgreSQL text cannot hold, and no
    lone surrogate, which no database encoding can)."""
    text = message.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def _reason(error: BaseException | None, held_behind: int | None) -> tuple[str, str]:
    """(error class, message) stored for an event that failed, or that waits behind one."""
    if error is not None:
        return type(error).__name__, _clean(str(error))
    return "HeldBehind", f"waiting behind parked position {held_behind}"


def park(
    conn: sa.Connection,
    *,
    projection: str,
    position: int,
    event_type: str,
    aggregate_id: str,
    subject_id: str,
    firm_id: str | None,
    error: BaseException | None,
    held_behind: int | None = None,
) -> None:
    """Record that `projection` set the event at `position` aside."""
    now = datetime.now(UTC)
    error_class, message = _reason(error, held_behind)
    conn.execute(
        sa.insert(parked_events).values(
            projection=projection,
            position=position,
            event_type=event_type,
            aggregate_id=aggregate_id,
            subject_id=subject_id,
            firm_id=firm_id,
            error_class=error_class,
            error_message=message,
            held_behind=held_behind,
            attempts=1,
            parked_at=now,
            last_attempt_at=now,
        )
    )


def still_failing(
    conn: sa.Connection,
    projection: str,
    position: int,
    error: BaseException | None,
    held_behind: int | None,
) -> None:
    """A retried parked event failed again (or waits behind one that did)."""
    error_class, message = _reason(error, held_behind)
    conn.execute(
        sa.update(parked_events)
        .where(parked_events.c.projection == projection)
        .where(parked_events.c.position == position)
        .values(
            error_class=error_class,
            error_message=message,
            held_behind=held_behind,
            attempts=parked_events.c.attempts + 1,
            last_attempt_at=datetime.now(UTC),
        )
    )


def unpark(conn: sa.Connection, projection: str, position: int) -> None:
    conn.execute(
        sa.delete(parked_events)
        .where(parked_events.c.projection == projection)
        .where(parked_events.c.position == position)
    )


def held_subjects(conn: sa.Connection, projections: Iterable[str]) -> dict[str, dict[str, int]]:
    """For each projection, the subjects (clients) and streams (aggregates) with parked events,
    and the first parked position of each: later events of either wait behind it."""
    names = list(projections)
    by = [
        sa.select(
            parked_events.c.projection,
            column.label("key"),
            sa.func.min(parked_events.c.position).label("first"),
        )
        .where(parked_events.c.projection.in_(names))
        .group_by(parked_events.c.projection, column)
        for column in (parked_events.c.subject_id, parked_events.c.aggregate_id)
    ]
    found: dict[str, dict[str, int]] = {}
    for name, key, first in conn.execute(sa.union_all(*by)).all():
        held = found.setdefault(str(name), {})
        held[str(key)] = min(int(first), held.get(str(key), int(first)))
    return found


def parked_list(
    conn: sa.Connection, projection: str | None = None, *, limit: int | None = None
) -> list[ParkedEvent]:
    """Parked events in the order they must be retried (by projection, then position)."""
    query = sa.select(parked_events).order_by(parked_events.c.projection, parked_events.c.position)
    if projection is not None:
        query = query.where(parked_events.c.projection == projection)
    if limit is not None:
        query = query.limit(limit)
    return [_from_row(row._mapping) for row in conn.execute(query)]


def parked_counts_in(conn: sa.Connection) -> dict[str, int]:
    """Projection name → number of parked events (only projections that have some)."""
    rows = conn.execute(
        sa.select(parked_events.c.projection, sa.func.count()).group_by(parked_events.c.projection)
    ).all()
    return {str(name): int(count) for name, count in rows}


def parked_among(
    conn: sa.Connection, positions: Sequence[int], aggregates: Sequence[str] = ()
) -> list[int]:
    """Which of these positions some projection has parked, and the parked positions of events
    of these aggregates (or about these clients)."""
    if not positions and not aggregates:
        return []
    ids = list(aggregates)
    rows = conn.execute(
        sa.select(parked_events.c.position)
        .where(
            sa.or_(
                parked_events.c.position.in_(list(positions)),
                parked_events.c.aggregate_id.in_(ids),
                parked_events.c.subject_id.in_(ids),
            )
        )
        .distinct()
        .order_by(parked_events.c.position)
    ).all()
    return [int(row[0]) for row in rows]


def clear_parked(conn: sa.Connection, projection: str) -> None:
    """Forget a projection's parked events (before it is rebuilt from position 0)."""
    conn.execute(sa.delete(parked_events).where(parked_events.c.projection == projection))


def _from_row(row: Any) -> ParkedEvent:
    def aware(value: datetime) -> datetime:
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    return ParkedEvent(
        projection=row["projection"],
        position=int(row["position"]),
        event_type=row["event_type"],
        aggregate_id=row["aggregate_id"],
        subject_id=row["subject_id"],
        firm_id=row["firm_id"],
        error_class=row["error_class"],
        error_message=row["error_message"],
        held_behind=None if row["held_behind"] is None else int(row["held_behind"]),
        attempts=int(row["attempts"]),
        parked_at=aware(row["parked_at"]),
        last_attempt_at=aware(row["last_attempt_at"]),
    )
