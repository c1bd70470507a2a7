"""Reads of tasks: filters, due-date order, pages, checklists and comments (DataLoaders).

Every list is one windowed statement per distinct (page size, offset, filter, order) under
any number of clients: rows are ranked in their partition (a client, or the viewer's whole
firm for "my tasks") and cut to the page, with the partition's total alongside. Cursors are
ranks (offsets), so "after" is the rank of the last row seen. Tasks are read only for clients
the viewer may see. "Today" is the UTC date; a week runs Monday to Sunday.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from domain.task import UNFINISHED
from projections.tables import clients
from projections.tasks import task_checklist, task_comments, tasks
from resolvers.errors import bad_input
from resolvers.ids import uuid_of
from resolvers.loaders import Loaders, Row
from resolvers.pages import MAX_FILTER_VALUES, Page
from resolvers.visibility import visible_clients

OVERDUE = "OVERDUE"
DUE_THIS_WEEK = "DUE_THIS_WEEK"
DUE_ASC = "DUE_DATE_ASC"
DUE_DESC = "DUE_DATE_DESC"
NEWEST = "NEWEST"
LATEST_WORK = 5
"""Items of each kind on a client's overview."""


def today() -> date:
    return datetime.now(UTC).date()


def week_of(day: date) -> tuple[date, date]:
    """Monday and Sunday of the week of `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def due_condition(
    due: str | None, due_on: sa.ColumnElement[Any], open_: sa.ColumnElement[bool], on: date
) -> list[sa.ColumnElement[bool]]:
    """OVERDUE: unfinished and due before `on`; DUE_THIS_WEEK: unfinished and due this week."""
    if due is None:
        return []
    if due == OVERDUE:
        return [open_, due_on < on]
    monday, sunday = week_of(on)
    return [open_, due_on >= monday, due_on <= sunday]


def order_of(
    order: str, due_on: sa.ColumnElement[Any], created: sa.ColumnElement[Any]
) -> list[sa.ColumnElement[Any]]:
    """Due date first (no due date last), ties by creation; or newest first."""
    undated = sa.case((due_on.is_(None), 1), else_=0)
    if order == DUE_ASC:
        return [undated, due_on.asc(), created.asc()]
    if order == DUE_DESC:
        return [undated, due_on.desc(), created.desc()]
    return [created.desc()]


def local_ids(values: Sequence[str] | None, kind: str, field: str) -> tuple[str, ...] | None:
    """Global ids of `kind` as local ids (unknown ones match nothing)."""
    if values is None:
        return None
    if len(values) > MAX_FILTER_VALUES:
        raise bad_input(f"{field} lists at most {MAX_FILTER_VALUES} values", field)
    return tuple(str(u) for v in values if (u := uuid_of(v, kind)) is not None)


@dataclass(frozen=True)
class TaskArgs:
    """Hashable task filter: statuses, assignee user id, due window, job (local id)."""

    statuses: tuple[str, ...] | None = None
    assignee: str | None = None
    due: str | None = None
    job_ids: tuple[str, ...] | None = None

    def conditions(self, on: date) -> list[sa.ColumnElement[bool]]:
        t = tasks.c
        conds: list[sa.ColumnElement[bool]] = []
        if self.statuses is not None:
            conds.append(t.status.in_(self.statuses))
        if self.assignee is not None:
            conds.append(t.assignee == self.assignee)
        if self.job_ids is not None:
            conds.append(t.job_id.in_(self.job_ids))
        conds += due_condition(self.due, t.due_on, t.status.in_(UNFINISHED), on)
        return conds


PageKey = tuple[str, int, int, Any, str]
"""(partition id, first, offset, filter, order)."""


def ranked_pages(
    conn: sa.Connection,
    table: sa.Table,
    partition: sa.ColumnElement[Any],
    keys: Sequence[PageKey],
    visible: Sequence[sa.ColumnElement[bool]],
    conditions: Any,
) -> dict[PageKey, Page]:
    """Pages of `table` for many partitions: one statement per (first, offset, filter, order),
    plus a count for pages past the end."""
    groups: dict[tuple[int, int, Any, str], list[str]] = defaultdict(list)
    for part, first, offset, args, order in keys:
        groups[(first, offset, args, order)].append(part)
    on = today()
    pages: dict[PageKey, Page] = {}
    for (first, offset, args, order), parts in groups.items():
        conds = [partition.in_(parts), *visible, *conditions(args, on)]
        ordering = order_of(order, table.c.due_on, table.c.created_position)
        ranked = (
            sa.select(
                table,
                partition.label("part"),
                sa.func.row_number().over(partition_by=partition, order_by=ordering).label("rank"),
                sa.func.count().over(partition_by=partition).label("total"),
            )
            .where(*conds)
            .subquery()
        )
        rows = conn.execute(
            sa.select(ranked)
            .where(ranked.c.rank > offset, ranked.c.rank <= offset + first + 1)
            .order_by(ranked.c.part, ranked.c.rank)
        ).all()
        grouped = Loaders._group(rows, "part")
        totals = {part: int(found[0].total) for part, found in grouped.items()}
        if offset and len(totals) < len(parts):
            counted = conn.execute(
                sa.select(partition, sa.func.count()).where(*conds).group_by(partition)
            ).all()
            totals.update({str(part): int(n) for part, n in counted})
        after = None if not offset else str(offset)
        for part in parts:
            pages[(part, first, offset, args, order)] = Page.of(
                grouped.get(part, []),
                first,
                lambda r: r.rank,
                after=after,
                total=totals.get(part, 0),
            )
    return pages


class TaskLoaders:
    """The task loaders of one request, for one viewer."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        self.viewer = loaders.viewer
        self.task: DataLoader[str, Row | None] = loaders._loader(self._by_id)
        self.checklist: DataLoader[str, list[Row]] = loaders._grouped(self._checklist)
        self.comments: DataLoader[str, list[Row]] = loaders._grouped(self._comments)
        self.comment: DataLoader[str, Row | None] = loaders._loader(self._comment)
        self.by_job: DataLoader[str, list[Row]] = loaders._grouped(self._by_job)
        self.client_pages: DataLoader[PageKey, Page] = loaders._loader(self._client_pages)
        self.my_pages: DataLoader[PageKey, Page] = loaders._loader(self._my_pages)

    def visible(self) -> list[sa.ColumnElement[bool]]:
        t = tasks.c
        seen = sa.select(clients.c.id).where(visible_clients(self.viewer))
        return [t.firm_id == self.viewer.firm_id, t.client_id.in_(seen)]

    def _by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(sa.select(tasks).where(tasks.c.id.in_(ids), *self.visible()))
        return {row.id: row for row in rows}

    def _checklist(self, conn: sa.Connection, task_ids: list[str]) -> dict[str, list[Row]]:
        c = task_checklist.c
        query = (
            sa.select(task_checklist)
            .where(c.firm_id == self.viewer.firm_id, c.task_id.in_(task_ids))
            .order_by(c.task_id, c.seq)
        )
        return Loaders._group(conn.execute(query).all(), "task_id")

    def _comments_visible(self) -> list[sa.ColumnElement[bool]]:
        c = task_comments.c
        seen = sa.select(clients.c.id).where(visible_clients(self.viewer))
        return [c.firm_id == self.viewer.firm_id, c.client_id.in_(seen)]

    def _comments(self, conn: sa.Connection, task_ids: list[str]) -> dict[str, list[Row]]:
        c = task_comments.c
        query = (
            sa.select(task_comments)
            .where(c.task_id.in_(task_ids), *self._comments_visible())
            .order_by(c.task_id, c.position.desc())
        )
        return Loaders._group(conn.execute(query).all(), "task_id")

    def _comment(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        query = sa.select(task_comments).where(
            task_comments.c.id.in_(ids), *self._comments_visible()
        )
        return {row.id: row for row in conn.execute(query)}

    def _by_job(self, conn: sa.Connection, job_ids: list[str]) -> dict[str, list[Row]]:
        t = tasks.c
        query = (
            sa.select(tasks)
            .where(t.job_id.in_(job_ids), *self.visible())
            .order_by(t.job_id, *order_of(DUE_ASC, t.due_on, t.created_position))
        )
        return Loaders._group(conn.execute(query).all(), "job_id")

    @staticmethod
    def _conditions(args: TaskArgs, on: date) -> list[sa.ColumnElement[bool]]:
        return args.conditions(on)

    def _client_pages(self, conn: sa.Connection, keys: list[PageKey]) -> dict[PageKey, Page]:
        return ranked_pages(conn, tasks, tasks.c.client_id, keys, self.visible(), self._conditions)

    def _my_pages(self, conn: sa.Connection, keys: list[PageKey]) -> dict[PageKey, Page]:
        mine = [*self.visible(), tasks.c.assignee == self.viewer.user_id]
        return ranked_pages(conn, tasks, tasks.c.firm_id, keys, mine, self._conditions)
