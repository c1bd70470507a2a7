"""Reads of pipelines and jobs: pages with filters, stages, moves and progress (DataLoaders).

Pipelines are the firm's (any staff member reads them). Jobs are read only for clients the
viewer may see; their lists page like tasks' (resolvers.tasks.ranked_pages). A job's progress
counts its tasks: done ones over those not cancelled, in one grouped statement per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from domain.job import ACTIVE
from domain.task import CANCELLED, DONE
from projections.jobs import job_managers, job_moves, jobs, pipeline_stages, pipelines
from projections.tables import clients
from projections.tasks import tasks
from resolvers.loaders import Loaders, Row
from resolvers.pages import Page
from resolvers.tasks import PageKey, due_condition, ranked_pages
from resolvers.visibility import visible_clients

PIPELINES_MAX = 200
"""Pipelines `Query.pipelines` lists (oldest first)."""


@dataclass(frozen=True)
class JobArgs:
    """Hashable job filter: statuses, manager user id, due window, pipelines, stages."""

    statuses: tuple[str, ...] | None = None
    manager: str | None = None
    due: str | None = None
    pipeline_ids: tuple[str, ...] | None = None
    stage_ids: tuple[str, ...] | None = None

    def conditions(self, firm_id: str, on: date) -> list[sa.ColumnElement[bool]]:
        j = jobs.c
        conds: list[sa.ColumnElement[bool]] = []
        if self.statuses is not None:
            conds.append(j.status.in_(self.statuses))
        if self.manager is not None:
            managed = sa.select(job_managers.c.job_id).where(
                job_managers.c.firm_id == firm_id, job_managers.c.user_id == self.manager
            )
            conds.append(j.id.in_(managed))
        if self.pipeline_ids is not None:
            conds.append(j.pipeline_id.in_(self.pipeline_ids))
        if self.stage_ids is not None:
            conds.append(j.stage_id.in_(self.stage_ids))
        conds += due_condition(self.due, j.due_on, j.status == ACTIVE, on)
        return conds


@dataclass(frozen=True)
class Progress:
    done: int
    total: int


class JobLoaders:
    """The pipeline and job loaders of one request, for one viewer."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        self.viewer = loaders.viewer
        self.pipeline: DataLoader[str, Row | None] = loaders._loader(self._pipelines)
        self.stages: DataLoader[str, list[Row]] = loaders._grouped(self._stages)
        self.job: DataLoader[str, Row | None] = loaders._loader(self._by_id)
        self.moves: DataLoader[str, list[Row]] = loaders._grouped(self._moves)
        self.progress: DataLoader[str, Progress | None] = loaders._loader(self._progress)
        self.client_pages: DataLoader[PageKey, Page] = loaders._loader(self._client_pages)
        self.my_pages: DataLoader[PageKey, Page] = loaders._loader(self._my_pages)

    def all_pipelines(self, conn: sa.Connection) -> list[Row]:
        p = pipelines.c
        query = (
            sa.select(pipelines)
            .where(p.firm_id == self.viewer.firm_id)
            .order_by(p.position)
            .limit(PIPELINES_MAX)
        )
        return list(conn.execute(query).all())

    def _pipelines(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        p = pipelines.c
        query = sa.select(pipelines).where(p.firm_id == self.viewer.firm_id, p.id.in_(ids))
        return {row.id: row for row in conn.execute(query)}

    def _stages(self, conn: sa.Connection, pipeline_ids: list[str]) -> dict[str, list[Row]]:
        s = pipeline_stages.c
        query = (
            sa.select(pipeline_stages)
            .where(s.firm_id == self.viewer.firm_id, s.pipeline_id.in_(pipeline_ids))
            .order_by(s.pipeline_id, s.seq)
        )
        return Loaders._group(conn.execute(query).all(), "pipeline_id")

    def visible(self) -> list[sa.ColumnElement[bool]]:
        seen = sa.select(clients.c.id).where(visible_clients(self.viewer))
        return [jobs.c.firm_id == self.viewer.firm_id, jobs.c.client_id.in_(seen)]

    def _by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(sa.select(jobs).where(jobs.c.id.in_(ids), *self.visible()))
        return {row.id: row for row in rows}

    def _moves(self, conn: sa.Connection, job_ids: list[str]) -> dict[str, list[Row]]:
        m = job_moves.c
        query = (
            sa.select(job_moves)
            .where(m.firm_id == self.viewer.firm_id, m.job_id.in_(job_ids))
            .order_by(m.job_id, m.position)
        )
        return Loaders._group(conn.execute(query).all(), "job_id")

    def _progress(self, conn: sa.Connection, job_ids: list[str]) -> dict[str, Progress]:
        t = tasks.c
        counted = sa.func.sum(sa.case((t.status != CANCELLED, 1), else_=0))
        done = sa.func.sum(sa.case((t.status == DONE, 1), else_=0))
        query = (
            sa.select(t.job_id, counted.label("total"), done.label("done"))
            .where(t.firm_id == self.viewer.firm_id, t.job_id.in_(job_ids))
            .group_by(t.job_id)
        )
        found = {
            row.job_id: Progress(done=int(row.done or 0), total=int(row.total or 0))
            for row in conn.execute(query)
        }
        return {job_id: found.get(job_id, Progress(0, 0)) for job_id in job_ids}

    def _conditions(self, args: JobArgs, on: date) -> list[sa.ColumnElement[bool]]:
        return args.conditions(self.viewer.firm_id, on)

    def _client_pages(self, conn: sa.Connection, keys: list[PageKey]) -> dict[PageKey, Page]:
        return ranked_pages(conn, jobs, jobs.c.client_id, keys, self.visible(), self._conditions)

    def _my_pages(self, conn: sa.Connection, keys: list[PageKey]) -> dict[PageKey, Page]:
        managed = sa.select(job_managers.c.job_id).where(
            job_managers.c.firm_id == self.viewer.firm_id,
            job_managers.c.user_id == self.viewer.user_id,
        )
        mine = [*self.visible(), jobs.c.id.in_(managed)]
        return ranked_pages(conn, jobs, jobs.c.firm_id, keys, mine, self._conditions)
