"""Activity counts per type per day or ISO week, read from the activity_stats projection."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from projections.activity_stats import activity_counts
from resolvers.errors import bad_input
from resolvers.ids import uuid_of
from resolvers.loaders import Loaders
from resolvers.viewer import Viewer
from resolvers.visibility import assigned_client_ids

MAX_DAYS = 3700


@dataclass(frozen=True)
class Count:
    """How many entries of one type a period brought."""

    period: datetime
    type: str
    count: int


def _day(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC).date()
    except OverflowError:
        raise bad_input("the moment is beyond the calendar", "since") from None


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def visible_counts(viewer: Viewer) -> sa.ColumnElement[bool]:
    """Counts of the viewer's firm; agents and watchers see only their clients' counts."""
    condition = activity_counts.c.firm_id == viewer.firm_id
    if not viewer.sees_all_clients:
        condition = sa.and_(condition, activity_counts.c.client_id.in_(assigned_client_ids(viewer)))
    return condition


async def activity_counts_for(
    loaders: Loaders,
    *,
    weekly: bool,
    since: datetime,
    until: datetime | None,
    client_id: str | None,
) -> list[Count]:
    """Counts per (period, type), oldest period first; weeks start on Monday (ISO)."""
    first = _day(since)
    last = _day(until) if until is not None else _day(datetime.now(UTC))
    if last < first:
        raise bad_input("until must not be before since", "until")
    if (last - first).days > MAX_DAYS:
        raise bad_input(f"the range may cover at most {MAX_DAYS} days", "since")
    if weekly:
        try:
            first -= timedelta(days=first.weekday())
            last += timedelta(days=6 - last.weekday())
        except OverflowError:
            raise bad_input("the range reaches beyond the calendar", "since") from None
    conds = [
        visible_counts(loaders.viewer),
        activity_counts.c.day >= first,
        activity_counts.c.day <= last,
    ]
    if client_id is not None:
        local = uuid_of(client_id, "Client")
        if local is None:
            return []
        conds.append(activity_counts.c.client_id == str(local))

    def fetch(conn: sa.Connection) -> list[tuple[date, str, int]]:
        rows = conn.execute(
            sa.select(
                activity_counts.c.day,
                activity_counts.c.type,
                sa.func.sum(activity_counts.c["count"]),
            )
            .where(*conds)
            .group_by(activity_counts.c.day, activity_counts.c.type)
        ).all()
        return [(day, str(kind), int(total)) for day, kind, total in rows]

    totals: dict[tuple[date, str], int] = defaultdict(int)
    for day, kind, total in await loaders.run(fetch):
        period = day - timedelta(days=day.weekday()) if weekly else day
        totals[(period, kind)] += total
    return [
        Count(period=_start(period), type=kind, count=total)
        for (period, kind), total in sorted(totals.items())
    ]
