"""Activity counts for analysts: one row per firm, client, event type and day (UTC)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from domain.base import DossierEvent
from projections.activity import ActivityProjection
from projections.base import Projection
from projections.tables import FIRM, ID, metadata

NO_CLIENT = ""
"""The client_id of counts of events that are about no client (staff, contacts)."""

activity_counts = sa.Table(
    "rm_activity_counts",
    metadata,
    sa.Column("firm_id", FIRM, primary_key=True),
    sa.Column("client_id", ID, primary_key=True),
    sa.Column("type", sa.String(100), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_activity_counts_firm_day", "firm_id", "day"),
)


class ActivityStatsProjection(Projection):
    """Keeps rm_activity_counts: how many activity entries of each type a day brought."""

    name = "activity_stats"
    tables = (activity_counts,)

    def process(
        self, conn: sa.Connection, event: Any, position: int, stored: Notification | None = None
    ) -> None:
        if not isinstance(event, DossierEvent) or not ActivityProjection.is_activity(event):
            return
        client = event.about_client()
        key = {
            "firm_id": event.firm_id,
            "client_id": NO_CLIENT if client is None else str(client),
            "type": type(event).__name__,
            "day": event.timestamp.astimezone(UTC).date(),
        }
        where = [activity_counts.c[name] == value for name, value in key.items()]
        updated = conn.execute(
            sa.update(activity_counts).where(*where).values(count=activity_counts.c["count"] + 1)
        )
        if updated.rowcount == 0:
            conn.execute(sa.insert(activity_counts).values(**key, count=1))
