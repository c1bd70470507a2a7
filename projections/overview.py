"""The overview's per-member marks: when each staff member last opened a client's overview."""

from __future__ import annotations

import sqlalchemy as sa

from domain.overview_seen import OverviewSeen
from projections.base import Projection, handles
from projections.tables import FIRM, ID, UTCDateTime, metadata

overview_seen = sa.Table(
    "rm_overview_seen",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("user_id", sa.String(200), nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("seen_at", UTCDateTime),
    sa.Index("ix_rm_overview_seen_member", "firm_id", "user_id", "client_id", unique=True),
)


class OverviewProjection(Projection):
    """Keeps rm_overview_seen."""

    name = "overview"
    tables = (overview_seen,)

    @handles(OverviewSeen.Started)
    def started(self, conn: sa.Connection, e: OverviewSeen.Started, position: int) -> None:
        conn.execute(
            sa.insert(overview_seen).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                user_id=e.user_id,
                client_id=str(e.client_id),
                seen_at=None,
            )
        )

    @handles(OverviewSeen.Marked)
    def marked(self, conn: sa.Connection, e: OverviewSeen.Marked, position: int) -> None:
        conn.execute(
            sa.update(overview_seen)
            .where(overview_seen.c.id == str(e.originator_id))
            .values(seen_at=e.timestamp)
        )
