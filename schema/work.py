"""The firm's work on a client: tasks (checklists, comments, recurrence) and jobs on pipelines.

Types built from the read models (projections/tasks.py, projections/jobs.py), the fields this
work adds to `Client`, its overview and the viewer (composed in schema/client.py), and the
`node(id:)` loaders. Lists filter by status, assignee or manager, due window (OVERDUE: not
finished and due before today; DUE_THIS_WEEK: not finished and due Monday to Sunday of this
week, UTC) and job or pipeline, sorted by due date (no due date last) or newest first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry

from resolvers.errors import bad_input
from resolvers.ids import to_global_id
from resolvers.jobs import JobArgs, JobLoaders
from resolvers.overview import NEW_DESCRIPTION, is_new
from resolvers.pages import MAX_FILTER_VALUES, Page, check_first, position_after
from resolvers.tasks import LATEST_WORK, NEWEST, TaskArgs, TaskLoaders, local_ids, today
from schema.common import Actor, Info, Node, PageInfo, connection_of
from schema.types import ClientCore, ClientRef, StaffMember


@strawberry.enum
class TaskStatus(Enum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


@strawberry.enum
class TaskPriority(Enum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"


@strawberry.enum
class Recurrence(Enum):
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    YEARLY = "YEARLY"


@strawberry.enum
class JobStatus(Enum):
    ACTIVE = "ACTIVE"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


@strawberry.enum(description="Which work is due: OVERDUE or DUE_THIS_WEEK (unfinished only).")
class DueWindow(Enum):
    OVERDUE = "OVERDUE"
    DUE_THIS_WEEK = "DUE_THIS_WEEK"


@strawberry.enum(description="Due date first (no due date last), or newest first.")
class WorkOrder(Enum):
    DUE_DATE_ASC = "DUE_DATE_ASC"
    DUE_DATE_DESC = "DUE_DATE_DESC"
    NEWEST = "NEWEST"


async def _staff(info: Info, user_id: str) -> StaffMember | None:
    row = await info.context.loaders.staff_by_user.load(user_id)
    return None if row is None else StaffMember.from_row(row)


async def _client(info: Info, client_id: str) -> ClientRef | None:
    row = await info.context.loaders.client.load(client_id)
    return None if row is None else ClientCore.from_row(row)


def _overdue(due_on: date | None, unfinished: bool) -> bool:
    return unfinished and due_on is not None and due_on < today()


# Pipelines ----------------------------------------------------------------------------------


@strawberry.type(description="A stage of a pipeline; its id is the stage's own (not global).")
class PipelineStage:
    id: strawberry.ID
    name: str
    position: int = strawberry.field(description="0-based place in the pipeline's order.")

    @classmethod
    def from_row(cls, row: Any) -> PipelineStage:
        return cls(id=strawberry.ID(row.stage_id), name=row.name, position=row.seq)


@strawberry.type(description="A firm's pipeline: ordered stages that jobs move through.")
class Pipeline(Node):
    id: strawberry.ID
    name: str
    created_at: datetime
    created_by: Actor
    local_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Any) -> Pipeline:
        return cls(
            id=strawberry.ID(to_global_id("Pipeline", row.id)),
            name=row.name,
            created_at=row.created_at,
            created_by=Actor.from_dict(row.created_by),
            local_id=row.id,
        )

    @classmethod
    async def load(cls, info: Info, pipeline_id: str) -> Pipeline | None:
        row = await info.context.loaders_of(JobLoaders).pipeline.load(pipeline_id)
        return None if row is None else cls.from_row(row)

    @strawberry.field
    async def stages(self, info: Info) -> list[PipelineStage]:
        rows = await info.context.loaders_of(JobLoaders).stages.load(self.local_id)
        return [PipelineStage.from_row(r) for r in rows]


# Tasks --------------------------------------------------------------------------------------


@strawberry.type
class TaskChecklistItem:
    id: strawberry.ID
    text: str
    checked: bool
    checked_at: datetime | None
    checked_by: Actor | None

    @classmethod
    def from_row(cls, row: Any) -> TaskChecklistItem:
        return cls(
            id=strawberry.ID(row.item_id),
            text=row.text,
            checked=row.checked,
            checked_at=row.checked_at,
            checked_by=None if row.checked_by is None else Actor.from_dict(row.checked_by),
        )


@strawberry.type(description="A comment on a task.")
class TaskComment(Node):
    id: strawberry.ID
    body: str
    author: Actor
    posted_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> TaskComment:
        return cls(
            id=strawberry.ID(to_global_id("TaskComment", row.id)),
            body=row.body,
            author=Actor.from_dict(row.author),
            posted_at=row.posted_at,
        )


@strawberry.type(description="A task on a client.")
class Task(Node):
    id: strawberry.ID
    title: str
    description: str | None
    assignee_user_id: strawberry.ID
    due_on: date | None
    priority: TaskPriority
    status: TaskStatus
    recurrence: Recurrence | None
    completed_at: datetime | None = strawberry.field(description="Set while the task is done.")
    completed_by: Actor | None
    overdue: bool = strawberry.field(description="Not finished and due before today (UTC).")
    checklist_total: int
    checklist_done: int
    comment_count: int
    created_at: datetime
    created_by: Actor
    updated_at: datetime
    local_id: strawberry.Private[str]
    client_id: strawberry.Private[str]
    job_id: strawberry.Private[str | None]
    previous_id: strawberry.Private[str | None]
    next_id: strawberry.Private[str | None]

    @strawberry.field(description=NEW_DESCRIPTION)
    async def is_new(self, info: Info) -> bool:
        return await is_new(info.context, self.client_id, self.created_at, self.created_by.id)

    @classmethod
    def from_row(cls, row: Any) -> Task:
        return cls(
            id=strawberry.ID(to_global_id("Task", row.id)),
            title=row.title,
            description=row.description,
            assignee_user_id=strawberry.ID(row.assignee),
            due_on=row.due_on,
            priority=TaskPriority(row.priority),
            status=TaskStatus(row.status),
            recurrence=None if row.recurrence is None else Recurrence(row.recurrence),
            completed_at=row.completed_at,
            completed_by=None if row.completed_by is None else Actor.from_dict(row.completed_by),
            overdue=_overdue(row.due_on, row.status in ("OPEN", "IN_PROGRESS")),
            checklist_total=row.checklist_total,
            checklist_done=row.checklist_done,
            comment_count=row.comment_count,
            created_at=row.created_at,
            created_by=Actor.from_dict(row.created_by),
            updated_at=row.updated_at,
            local_id=row.id,
            client_id=row.client_id,
            job_id=row.job_id,
            previous_id=row.previous_task_id,
            next_id=row.next_task_id,
        )

    @classmethod
    async def load(cls, info: Info, task_id: str) -> Task | None:
        row = await info.context.loaders_of(TaskLoaders).task.load(task_id)
        return None if row is None else cls.from_row(row)

    @strawberry.field(description="The assignee's staff record.")
    async def assignee(self, info: Info) -> StaffMember | None:
        return await _staff(info, str(self.assignee_user_id))

    @strawberry.field
    async def checklist(self, info: Info) -> list[TaskChecklistItem]:
        rows = await info.context.loaders_of(TaskLoaders).checklist.load(self.local_id)
        return [TaskChecklistItem.from_row(r) for r in rows]

    @strawberry.field(description="Comments, newest first.")
    async def comments(self, info: Info) -> list[TaskComment]:
        rows = await info.context.loaders_of(TaskLoaders).comments.load(self.local_id)
        return [TaskComment.from_row(r) for r in rows]

    @strawberry.field(description="The job this task belongs to.")
    async def job(self, info: Info) -> Job | None:
        return None if self.job_id is None else await Job.load(info, self.job_id)

    @strawberry.field(description="The recurring task whose completion created this one.")
    async def previous_task(self, info: Info) -> Task | None:
        return None if self.previous_id is None else await Task.load(info, self.previous_id)

    @strawberry.field(description="The task completing this recurring one created.")
    async def next_task(self, info: Info) -> Task | None:
        return None if self.next_id is None else await Task.load(info, self.next_id)

    @strawberry.field
    async def client(self, info: Info) -> ClientRef | None:
        return await _client(info, self.client_id)


@strawberry.type
class TaskEdge:
    cursor: str
    node: Task


@strawberry.type
class TaskConnection:
    edges: list[TaskEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Page) -> TaskConnection:
        return connection_of(cls, page, TaskEdge, Task.from_row)


@strawberry.input
class TaskFilter:
    statuses: list[TaskStatus] | None = None
    assignee_user_id: strawberry.ID | None = None
    due: DueWindow | None = None
    job_ids: list[strawberry.ID] | None = None


def task_args(flt: TaskFilter | None) -> TaskArgs:
    if flt is None:
        return TaskArgs()
    return TaskArgs(
        statuses=None if flt.statuses is None else tuple(sorted({s.value for s in flt.statuses})),
        assignee=None if flt.assignee_user_id is None else str(flt.assignee_user_id),
        due=None if flt.due is None else flt.due.value,
        job_ids=local_ids(flt.job_ids, "Job", "filter.jobIds"),
    )


# Jobs ---------------------------------------------------------------------------------------


@strawberry.type(description="A move of a job from one stage to another.")
class JobStageMove:
    from_stage_id: strawberry.ID
    from_stage_name: str = strawberry.field(description="The stage's name at the time.")
    to_stage_id: strawberry.ID
    to_stage_name: str
    moved_at: datetime
    moved_by: Actor

    @classmethod
    def from_row(cls, row: Any) -> JobStageMove:
        return cls(
            from_stage_id=strawberry.ID(row.from_stage_id),
            from_stage_name=row.from_stage_name,
            to_stage_id=strawberry.ID(row.to_stage_id),
            to_stage_name=row.to_stage_name,
            moved_at=row.moved_at,
            moved_by=Actor.from_dict(row.moved_by),
        )


@strawberry.type(description="A job's done tasks over its tasks that are not cancelled.")
class JobProgress:
    done: int
    total: int

    @strawberry.field(description="done / total as a whole percentage (0 without tasks).")
    def percent(self) -> int:
        return 0 if self.total == 0 else (100 * self.done) // self.total


@strawberry.type(description="A job on a client, moving through a pipeline's stages.")
class Job(Node):
    id: strawberry.ID
    name: str
    manager_user_ids: list[strawberry.ID]
    starts_on: date | None
    due_on: date | None
    status: JobStatus
    overdue: bool = strawberry.field(description="Active and due before today (UTC).")
    created_at: datetime
    created_by: Actor
    updated_at: datetime
    local_id: strawberry.Private[str]
    client_id: strawberry.Private[str]
    pipeline_id: strawberry.Private[str]
    stage_id: strawberry.Private[str]

    @strawberry.field(description=NEW_DESCRIPTION)
    async def is_new(self, info: Info) -> bool:
        return await is_new(info.context, self.client_id, self.created_at, self.created_by.id)

    @classmethod
    def from_row(cls, row: Any) -> Job:
        return cls(
            id=strawberry.ID(to_global_id("Job", row.id)),
            name=row.name,
            manager_user_ids=[strawberry.ID(u) for u in row.manager_user_ids],
            starts_on=row.starts_on,
            due_on=row.due_on,
            status=JobStatus(row.status),
            overdue=_overdue(row.due_on, row.status == "ACTIVE"),
            created_at=row.created_at,
            created_by=Actor.from_dict(row.created_by),
            updated_at=row.updated_at,
            local_id=row.id,
            client_id=row.client_id,
            pipeline_id=row.pipeline_id,
            stage_id=row.stage_id,
        )

    @classmethod
    async def load(cls, info: Info, job_id: str) -> Job | None:
        row = await info.context.loaders_of(JobLoaders).job.load(job_id)
        return None if row is None else cls.from_row(row)

    @strawberry.field
    async def pipeline(self, info: Info) -> Pipeline | None:
        return await Pipeline.load(info, self.pipeline_id)

    @strawberry.field(description="The stage the job is in.")
    async def stage(self, info: Info) -> PipelineStage | None:
        rows = await info.context.loaders_of(JobLoaders).stages.load(self.pipeline_id)
        found = next((r for r in rows if r.stage_id == self.stage_id), None)
        return None if found is None else PipelineStage.from_row(found)

    @strawberry.field
    async def managers(self, info: Info) -> list[StaffMember]:
        found = [await _staff(info, str(u)) for u in self.manager_user_ids]
        return [m for m in found if m is not None]

    @strawberry.field(description="Moves from stage to stage, oldest first.")
    async def moves(self, info: Info) -> list[JobStageMove]:
        rows = await info.context.loaders_of(JobLoaders).moves.load(self.local_id)
        return [JobStageMove.from_row(r) for r in rows]

    @strawberry.field
    async def progress(self, info: Info) -> JobProgress:
        found = await info.context.loaders_of(JobLoaders).progress.load(self.local_id)
        return JobProgress(done=0, total=0) if found is None else JobProgress(**vars(found))

    @strawberry.field(description="The job's tasks, by due date.")
    async def tasks(self, info: Info) -> list[Task]:
        rows = await info.context.loaders_of(TaskLoaders).by_job.load(self.local_id)
        return [Task.from_row(r) for r in rows]

    @strawberry.field
    async def client(self, info: Info) -> ClientRef | None:
        return await _client(info, self.client_id)


@strawberry.type
class JobEdge:
    cursor: str
    node: Job


@strawberry.type
class JobConnection:
    edges: list[JobEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Page) -> JobConnection:
        return connection_of(cls, page, JobEdge, Job.from_row)


@strawberry.input
class JobFilter:
    statuses: list[JobStatus] | None = None
    manager_user_id: strawberry.ID | None = None
    due: DueWindow | None = None
    pipeline_ids: list[strawberry.ID] | None = None
    stage_ids: list[strawberry.ID] | None = None


def job_args(flt: JobFilter | None) -> JobArgs:
    if flt is None:
        return JobArgs()
    stages = flt.stage_ids
    if stages is not None and len(stages) > MAX_FILTER_VALUES:
        raise bad_input(f"filter.stageIds lists at most {MAX_FILTER_VALUES} values", "filter")
    return JobArgs(
        statuses=None if flt.statuses is None else tuple(sorted({s.value for s in flt.statuses})),
        manager=None if flt.manager_user_id is None else str(flt.manager_user_id),
        due=None if flt.due is None else flt.due.value,
        pipeline_ids=local_ids(flt.pipeline_ids, "Pipeline", "filter.pipelineIds"),
        stage_ids=None if stages is None else tuple(sorted({str(s) for s in stages})),
    )


# Pages --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageArgs:
    first: int
    offset: int


def page_args(first: int | None, after: str | None) -> PageArgs:
    return PageArgs(first=check_first(first, 20), offset=position_after(after) or 0)


async def task_page(
    info: Info, part: str, mine: bool, first: int | None, after: str | None, flt: Any, order: Any
) -> TaskConnection:
    args = page_args(first, after)
    loaders = info.context.loaders_of(TaskLoaders)
    loader = loaders.my_pages if mine else loaders.client_pages
    page = await loader.load((part, args.first, args.offset, task_args(flt), order.value))
    return TaskConnection.of(page)


async def job_page(
    info: Info, part: str, mine: bool, first: int | None, after: str | None, flt: Any, order: Any
) -> JobConnection:
    args = page_args(first, after)
    loaders = info.context.loaders_of(JobLoaders)
    loader = loaders.my_pages if mine else loaders.client_pages
    page = await loader.load((part, args.first, args.offset, job_args(flt), order.value))
    return JobConnection.of(page)


@strawberry.type
class WorkClientFields:
    """The fields tasks and jobs add to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(description="The client's tasks, filtered, by due date unless ordered.")
    async def tasks(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: TaskFilter | None = None,
        order_by: WorkOrder = WorkOrder.DUE_DATE_ASC,
    ) -> TaskConnection:
        return await task_page(info, self.local_id, False, first, after, filter, order_by)

    @strawberry.field(description="The client's jobs, filtered, by due date unless ordered.")
    async def jobs(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: JobFilter | None = None,
        order_by: WorkOrder = WorkOrder.DUE_DATE_ASC,
    ) -> JobConnection:
        return await job_page(info, self.local_id, False, first, after, filter, order_by)


@strawberry.type
class WorkOverviewFields:
    """The fields tasks and jobs add to a client's overview (composed in schema/client.py)."""

    client_id: strawberry.Private[str]

    @strawberry.field(description="The 5 newest tasks (all of them: Client.tasks).")
    async def latest_tasks(self, info: Info) -> list[Task]:
        key = (self.client_id, LATEST_WORK, 0, TaskArgs(), NEWEST)
        page = await info.context.loaders_of(TaskLoaders).client_pages.load(key)
        return [Task.from_row(r) for r in page.rows]

    @strawberry.field(description="The 5 newest jobs (all of them: Client.jobs).")
    async def latest_jobs(self, info: Info) -> list[Job]:
        key = (self.client_id, LATEST_WORK, 0, JobArgs(), NEWEST)
        page = await info.context.loaders_of(JobLoaders).client_pages.load(key)
        return [Job.from_row(r) for r in page.rows]


@strawberry.type
class WorkViewerFields:
    """The viewer's own work across the clients they may see (composed in schema/client.py)."""

    @strawberry.field(description="Tasks assigned to you, filtered, by due date unless ordered.")
    async def tasks(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: TaskFilter | None = None,
        order_by: WorkOrder = WorkOrder.DUE_DATE_ASC,
    ) -> TaskConnection:
        firm = info.context.loaders.viewer.firm_id
        return await task_page(info, firm, True, first, after, filter, order_by)

    @strawberry.field(description="Jobs you manage, filtered, by due date unless ordered.")
    async def jobs(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: JobFilter | None = None,
        order_by: WorkOrder = WorkOrder.DUE_DATE_ASC,
    ) -> JobConnection:
        firm = info.context.loaders.viewer.firm_id
        return await job_page(info, firm, True, first, after, filter, order_by)


# node(id:) ----------------------------------------------------------------------------------


async def task_node(info: Info, local: str) -> Task | None:
    return await Task.load(info, local)


async def task_comment_node(info: Info, local: str) -> TaskComment | None:
    row = await info.context.loaders_of(TaskLoaders).comment.load(local)
    return None if row is None else TaskComment.from_row(row)


async def job_node(info: Info, local: str) -> Job | None:
    return await Job.load(info, local)


async def pipeline_node(info: Info, local: str) -> Pipeline | None:
    return await Pipeline.load(info, local)
