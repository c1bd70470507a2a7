"""Per-request loaders of a client's overview: what is new for the viewer, what needs attention.

- `seen_at`: when the viewer last opened each client's overview (None: never), so an item
  added after that by someone else is new for them (`is_new`).
- `attention`: per client, the tasks that are overdue, the client requests awaiting the firm
  (ANSWERED: a contact replied) and the active jobs past their due date, in one statement for
  every client of the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from projections.client_requests import client_requests
from projections.jobs import jobs
from projections.overview import overview_seen
from projections.tasks import tasks
from resolvers.context import RequestContext
from resolvers.loaders import Loaders

UNFINISHED_TASK = ("OPEN", "IN_PROGRESS")
NEW_DESCRIPTION = (
    "Added by someone else since you last marked this client's overview seen "
    "(markOverviewSeen); always false for what you added."
)


@dataclass(frozen=True)
class Attention:
    """What on a client waits for the firm."""

    overdue_tasks: int = 0
    requests_awaiting_firm: int = 0
    jobs_past_due: int = 0

    @property
    def total(self) -> int:
        return self.overdue_tasks + self.requests_awaiting_firm + self.jobs_past_due


def today() -> date:
    return datetime.now(UTC).date()


class OverviewLoaders:
    """The overview's loaders for one request (see the module docstring)."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        self.seen_at: DataLoader[str, datetime | None] = DataLoader(load_fn=self._seen_at)
        self.attention: DataLoader[str, Attention] = DataLoader(load_fn=self._attention)

    async def _seen_at(self, client_ids: list[str]) -> list[datetime | None]:
        viewer = self.loaders.viewer
        s = overview_seen.c

        def work(conn: sa.Connection) -> dict[str, datetime | None]:
            rows = conn.execute(
                sa.select(s.client_id, s.seen_at).where(
                    s.firm_id == viewer.firm_id,
                    s.user_id == viewer.user_id,
                    s.client_id.in_(client_ids),
                )
            )
            return {row.client_id: row.seen_at for row in rows}

        found = await self.loaders.run(work)
        return [found.get(client_id) for client_id in client_ids]

    async def _attention(self, client_ids: list[str]) -> list[Attention]:
        firm = self.loaders.viewer.firm_id
        on = today()
        t, r, j = tasks.c, client_requests.c, jobs.c

        def counted(kind: str, table: sa.Table, *where: Any) -> sa.Select[Any]:
            return (
                sa.select(table.c.client_id, sa.literal(kind).label("kind"), sa.func.count())
                .where(table.c.firm_id == firm, table.c.client_id.in_(client_ids), *where)
                .group_by(table.c.client_id)
            )

        query = sa.union_all(
            counted("tasks", tasks, t.status.in_(UNFINISHED_TASK), t.due_on < on),
            counted("requests", client_requests, r.status == "ANSWERED"),
            counted("jobs", jobs, j.status == "ACTIVE", j.due_on < on),
        )

        def work(conn: sa.Connection) -> dict[str, dict[str, int]]:
            found: dict[str, dict[str, int]] = {}
            for client_id, kind, count in conn.execute(query):
                found.setdefault(client_id, {})[kind] = int(count)
            return found

        found = await self.loaders.run(work)
        return [
            Attention(
                overdue_tasks=found.get(cid, {}).get("tasks", 0),
                requests_awaiting_firm=found.get(cid, {}).get("requests", 0),
                jobs_past_due=found.get(cid, {}).get("jobs", 0),
            )
            for cid in client_ids
        ]


async def is_new(
    context: RequestContext, client_id: str, added_at: datetime, added_by: str | None
) -> bool:
    """`isNew` of an item of a client's profile: added by someone other than the viewer after
    the viewer last marked the client's overview seen (or ever, if they never did)."""
    overview = context.loaders_of(OverviewLoaders)
    if added_by is not None and added_by == overview.loaders.viewer.user_id:
        return False
    seen = await overview.seen_at.load(client_id)
    return seen is None or added_at > seen
