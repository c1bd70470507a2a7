"""Analyst queries: activity counts per type per day or week."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from resolvers.analytics import activity_counts_for
from schema.common import Info


@strawberry.enum(description="The length of the periods activity is counted in.")
class ActivityInterval(Enum):
    DAY = "DAY"
    WEEK = "WEEK"


@strawberry.type(description="How many activity entries of one type a period brought.")
class ActivityCount:
    period: datetime = strawberry.field(
        description="Start of the period (00:00 UTC; weeks start on Monday)."
    )
    type: str
    count: int


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        description="Activity the viewer may see, counted per type per day or ISO week (UTC), "
        "for the firm or one client. Covers the days from since to until (default: today); "
        "with WEEK, the whole weeks containing them. Periods without activity are left out."
    )
    async def activity_counts(
        self,
        info: Info,
        since: datetime,
        until: datetime | None = None,
        interval: ActivityInterval = ActivityInterval.DAY,
        client_id: strawberry.ID | None = None,
    ) -> list[ActivityCount]:
        info.context.require_viewer()
        counts = await activity_counts_for(
            info.context.loaders,
            weekly=interval is ActivityInterval.WEEK,
            since=since,
            until=until,
            client_id=None if client_id is None else str(client_id),
        )
        return [ActivityCount(period=c.period, type=c.type, count=c.count) for c in counts]
