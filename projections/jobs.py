"""The pipelines and jobs read model, and how their events read in the activity history.

rm_pipeline_stages keeps each stage's place (`seq`, 0-based, rewritten on a reorder or an
insertion); rm_jobs keeps the job's current stage id (its name comes from the stage row, so a
renamed stage shows its new name); rm_job_managers lists each job's managers (for "my jobs");
rm_job_moves is the history of moves with the stage names as they were then.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from domain.base import DossierEvent
from domain.job import Job, Pipeline
from projections.base import Projection, handles
from projections.sentences import Said, join_words, names, says
from projections.tables import FIRM, ID, UTCDateTime, metadata

pipelines = sa.Table(
    "rm_pipelines",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_by", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_pipelines_firm", "firm_id", "position"),
)

pipeline_stages = sa.Table(
    "rm_pipeline_stages",
    metadata,
    sa.Column("pipeline_id", ID, primary_key=True),
    sa.Column("stage_id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Index("ix_rm_pipeline_stages_pipeline", "pipeline_id", "seq"),
)

jobs = sa.Table(
    "rm_jobs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("pipeline_id", ID, nullable=False),
    sa.Column("stage_id", ID, nullable=False),
    sa.Column("manager_user_ids", sa.JSON, nullable=False),
    sa.Column("starts_on", sa.Date),
    sa.Column("due_on", sa.Date),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_by", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("created_position", sa.BigInteger, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_jobs_client", "client_id", "due_on", "created_position"),
)

job_managers = sa.Table(
    "rm_job_managers",
    metadata,
    sa.Column("job_id", ID, primary_key=True),
    sa.Column("user_id", sa.String(200), primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Index("ix_rm_job_managers_user", "firm_id", "user_id"),
)

job_moves = sa.Table(
    "rm_job_moves",
    metadata,
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("job_id", ID, nullable=False),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("from_stage_id", ID, nullable=False),
    sa.Column("from_stage_name", sa.String(200), nullable=False),
    sa.Column("to_stage_id", ID, nullable=False),
    sa.Column("to_stage_name", sa.String(200), nullable=False),
    sa.Column("moved_by", sa.JSON, nullable=False),
    sa.Column("moved_at", UTCDateTime, nullable=False),
    sa.Index("ix_rm_job_moves_job", "job_id", "position"),
)

PipelineCreated = Pipeline.PipelineCreated
StageAdded = Pipeline.PipelineStageAdded
StageRenamed = Pipeline.PipelineStageRenamed
StagesReordered = Pipeline.PipelineStagesReordered
JobCreated = Job.JobCreated
JobMoved = Job.JobMoved
JobEdited = Job.JobDetailsEdited
JobStatusChanged = Job.JobStatusChanged


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


class JobsProjection(Projection):
    """Keeps rm_pipelines, rm_pipeline_stages, rm_jobs, rm_job_managers and rm_job_moves."""

    name = "jobs"
    tables = (pipelines, pipeline_stages, jobs, job_managers, job_moves)

    # Pipelines ----------------------------------------------------------------

    @handles(PipelineCreated)
    def pipeline_created(self, conn: sa.Connection, e: PipelineCreated, position: int) -> None:
        conn.execute(
            sa.insert(pipelines).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                name=e.name,
                created_by=e.actor,
                created_at=e.timestamp,
                position=position,
            )
        )
        for seq, stage in enumerate(e.stages):
            self._stage(conn, e, stage["id"], stage["name"], seq)

    @staticmethod
    def _stage(conn: sa.Connection, e: DossierEvent, stage_id: str, name: str, seq: int) -> None:
        conn.execute(
            sa.insert(pipeline_stages).values(
                pipeline_id=str(e.originator_id),
                stage_id=stage_id,
                firm_id=e.firm_id,
                name=name,
                seq=seq,
            )
        )

    @handles(StageAdded)
    def stage_added(self, conn: sa.Connection, e: StageAdded, position: int) -> None:
        s = pipeline_stages.c
        conn.execute(
            sa.update(pipeline_stages)
            .where(s.pipeline_id == str(e.originator_id), s.seq >= e.index)
            .values(seq=s.seq + 1)
        )
        self._stage(conn, e, e.stage_id, e.name, e.index)

    @handles(StageRenamed)
    def stage_renamed(self, conn: sa.Connection, e: StageRenamed, position: int) -> None:
        s = pipeline_stages.c
        conn.execute(
            sa.update(pipeline_stages)
            .where(s.pipeline_id == str(e.originator_id), s.stage_id == e.stage_id)
            .values(name=e.name)
        )

    @handles(StagesReordered)
    def stages_reordered(self, conn: sa.Connection, e: StagesReordered, position: int) -> None:
        s = pipeline_stages.c
        for seq, stage_id in enumerate(e.stage_ids):
            conn.execute(
                sa.update(pipeline_stages)
                .where(s.pipeline_id == str(e.originator_id), s.stage_id == stage_id)
                .values(seq=seq)
            )

    # Jobs ---------------------------------------------------------------------

    @staticmethod
    def _managers(conn: sa.Connection, e: DossierEvent, user_ids: list[str]) -> None:
        job_id = str(e.originator_id)
        conn.execute(sa.delete(job_managers).where(job_managers.c.job_id == job_id))
        for user_id in user_ids:
            conn.execute(
                sa.insert(job_managers).values(job_id=job_id, user_id=user_id, firm_id=e.firm_id)
            )

    @staticmethod
    def _touch(conn: sa.Connection, e: DossierEvent, position: int, **values: object) -> None:
        conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == str(e.originator_id))
            .values(updated_at=e.timestamp, position=position, **values)
        )

    @handles(JobCreated)
    def job_created(self, conn: sa.Connection, e: JobCreated, position: int) -> None:
        conn.execute(
            sa.insert(jobs).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                name=e.name,
                pipeline_id=str(e.pipeline_id),
                stage_id=e.stage_id,
                manager_user_ids=list(e.manager_user_ids),
                starts_on=_day(e.starts_on),
                due_on=_day(e.due_on),
                status="ACTIVE",
                created_by=e.actor,
                created_at=e.timestamp,
                updated_at=e.timestamp,
                created_position=position,
                position=position,
            )
        )
        self._managers(conn, e, e.manager_user_ids)

    @handles(JobMoved)
    def job_moved(self, conn: sa.Connection, e: JobMoved, position: int) -> None:
        conn.execute(
            sa.insert(job_moves).values(
                position=position,
                job_id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                from_stage_id=e.from_stage_id,
                from_stage_name=e.from_stage_name,
                to_stage_id=e.to_stage_id,
                to_stage_name=e.to_stage_name,
                moved_by=e.actor,
                moved_at=e.timestamp,
            )
        )
        self._touch(conn, e, position, stage_id=e.to_stage_id)

    @handles(JobEdited)
    def job_edited(self, conn: sa.Connection, e: JobEdited, position: int) -> None:
        self._touch(
            conn,
            e,
            position,
            name=e.name,
            manager_user_ids=list(e.manager_user_ids),
            starts_on=_day(e.starts_on),
            due_on=_day(e.due_on),
        )
        self._managers(conn, e, e.manager_user_ids)

    @handles(JobStatusChanged)
    def job_status(self, conn: sa.Connection, e: JobStatusChanged, position: int) -> None:
        self._touch(conn, e, position, status=e.status)


# Sentences ------------------------------------------------------------------------------


@names(PipelineCreated)
def _pipeline_name(e: PipelineCreated) -> tuple[str, str]:
    return str(e.originator_id), e.name


@names(JobCreated, JobEdited)
def _job_name(e: JobCreated | JobEdited) -> tuple[str, str]:
    return str(e.originator_id), e.name


def _pipeline(e: DossierEvent, said: Said) -> str:
    return f'the pipeline "{said.name_of(e.originator_id, "unnamed")}"'


def _job(e: DossierEvent, said: Said) -> str:
    return f'the job "{said.name_of(e.originator_id, "unnamed")}"'


@says(PipelineCreated)
def _pipeline_created(e: PipelineCreated, said: Said) -> str:
    stages = join_words([f'"{s["name"]}"' for s in e.stages])
    return f'{said.who} created the pipeline "{e.name}" with the stages {stages}.'


@says(StageAdded)
def _stage_added(e: StageAdded, said: Said) -> str:
    return f'{said.who} added the stage "{e.name}" to {_pipeline(e, said)}.'


@says(StageRenamed)
def _stage_renamed(e: StageRenamed, said: Said) -> str:
    return f'{said.who} renamed the stage "{e.previous}" of {_pipeline(e, said)} to "{e.name}".'


@says(StagesReordered)
def _stages_reordered(e: StagesReordered, said: Said) -> str:
    return f"{said.who} reordered the stages of {_pipeline(e, said)}."


@says(JobCreated)
def _job_created(e: JobCreated, said: Said) -> str:
    return (
        f'{said.who} created the job "{e.name}" on {said.client(e)} in the pipeline '
        f'"{e.pipeline_name}", stage "{e.stage_name}".'
    )


@says(JobMoved)
def _job_moved(e: JobMoved, said: Said) -> str:
    return (
        f"{said.who} moved {_job(e, said)} on {said.client(e)} from "
        f'"{e.from_stage_name}" to "{e.to_stage_name}".'
    )


@says(JobEdited)
def _job_edited(e: JobEdited, said: Said) -> str:
    return f'{said.who} edited the job "{e.name}" on {said.client(e)}.'


_JOB_VERBS = {"ACTIVE": "reopened", "DONE": "completed", "CANCELLED": "cancelled"}


@says(JobStatusChanged)
def _job_status(e: JobStatusChanged, said: Said) -> str:
    verb = _JOB_VERBS.get(e.status, "changed")
    return f"{said.who} {verb} {_job(e, said)} on {said.client(e)}."
