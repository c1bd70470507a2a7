"""Mutations on tasks, pipelines and jobs, and the `pipelines` query.

Tasks and jobs are changed by any staff member but watchers, on clients they may see;
pipelines are defined by owners, admins and managers. Assignees and job managers must be
staff of the firm who may work on the client (ValidationError on the field otherwise); a
stage must be one of the job's pipeline (ValidationError on input.stageId); a job's due date
must not be before its start (input.dueOn); completing a cancelled task is RuleViolationError
rule TASK_CANCELLED. Completing a recurring task creates the next one (`task.nextTask`).
Work goes on while a client is on hold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Generic, TypeAlias, TypeVar
from uuid import UUID

import strawberry

from resolvers.commands import local_id, may_change, may_manage_clients, written
from resolvers.jobs import JobLoaders
from resolvers.ports import Outcome, Ports
from resolvers.tasks import TaskLoaders
from schema.common import Info, command
from schema.errors import LimitExceededError, NotFoundError, RuleViolationError, ValidationError
from schema.work import (
    Job,
    JobStatus,
    Pipeline,
    Recurrence,
    Task,
    TaskComment,
    TaskPriority,
    TaskStatus,
)

P = TypeVar("P")

# Payloads -------------------------------------------------------------------------------------


@strawberry.type
class TaskPayload:
    task: Task

    @classmethod
    async def load(cls, info: Info, task_id: str) -> TaskPayload:
        row = await written(info.context.loaders_of(TaskLoaders).task, "Task", task_id)
        return cls(task=Task.from_row(row))


@strawberry.type
class TaskCommentPayload:
    comment: TaskComment
    task: Task


@strawberry.type
class PipelinePayload:
    pipeline: Pipeline

    @classmethod
    async def load(cls, info: Info, pipeline_id: str) -> PipelinePayload:
        loader = info.context.loaders_of(JobLoaders).pipeline
        return cls(pipeline=Pipeline.from_row(await written(loader, "Pipeline", pipeline_id)))


@strawberry.type
class JobPayload:
    job: Job

    @classmethod
    async def load(cls, info: Info, job_id: str) -> JobPayload:
        row = await written(info.context.loaders_of(JobLoaders).job, "Job", job_id)
        return cls(job=Job.from_row(row))


TaskResult: TypeAlias = Annotated[
    TaskPayload | ValidationError | NotFoundError | RuleViolationError | LimitExceededError,
    strawberry.union("TaskResult"),
]
TaskCommentResult: TypeAlias = Annotated[
    TaskCommentPayload | ValidationError | NotFoundError | LimitExceededError,
    strawberry.union("TaskCommentResult"),
]
PipelineResult: TypeAlias = Annotated[
    PipelinePayload | ValidationError | NotFoundError | LimitExceededError,
    strawberry.union("PipelineResult"),
]
JobResult: TypeAlias = Annotated[
    JobPayload | ValidationError | NotFoundError | RuleViolationError | LimitExceededError,
    strawberry.union("JobResult"),
]

# Inputs ---------------------------------------------------------------------------------------


@strawberry.input
class CreateTaskInput:
    client_id: strawberry.ID
    title: str
    assignee_user_id: strawberry.ID
    description: str | None = None
    due_on: date | None = None
    priority: TaskPriority = TaskPriority.NORMAL
    job_id: strawberry.ID | None = strawberry.field(
        default=None, description="A job of the client."
    )
    checklist: list[str] | None = None
    recurrence: Recurrence | None = strawberry.field(
        default=None, description="Completing the task creates the next one (needs dueOn)."
    )
    idempotency_key: str | None = None


@strawberry.input
class UpdateTaskInput:
    task_id: strawberry.ID
    title: str | None = None
    description: str | None = None
    priority: TaskPriority | None = None
    recurrence: Recurrence | None = None
    clear_description: bool = False
    clear_recurrence: bool = False
    idempotency_key: str | None = None


@strawberry.input
class AssignTaskInput:
    task_id: strawberry.ID
    assignee_user_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class RescheduleTaskInput:
    task_id: strawberry.ID
    due_on: date | None = strawberry.field(description="null removes the due date.")
    idempotency_key: str | None = None


@strawberry.input
class SetTaskStatusInput:
    task_id: strawberry.ID
    status: TaskStatus
    idempotency_key: str | None = None


@strawberry.input
class AddTaskChecklistItemInput:
    task_id: strawberry.ID
    text: str
    idempotency_key: str | None = None


@strawberry.input
class CheckTaskChecklistItemInput:
    task_id: strawberry.ID
    item_id: strawberry.ID
    checked: bool = True
    idempotency_key: str | None = None


@strawberry.input
class CommentOnTaskInput:
    task_id: strawberry.ID
    body: str
    idempotency_key: str | None = None


@strawberry.input
class CreatePipelineInput:
    name: str
    stages: list[str]
    idempotency_key: str | None = None


@strawberry.input
class AddPipelineStageInput:
    pipeline_id: strawberry.ID
    name: str
    index: int | None = strawberry.field(default=None, description="0-based; default: last.")
    idempotency_key: str | None = None


@strawberry.input
class RenamePipelineStageInput:
    pipeline_id: strawberry.ID
    stage_id: strawberry.ID
    name: str
    idempotency_key: str | None = None


@strawberry.input
class ReorderPipelineStagesInput:
    pipeline_id: strawberry.ID
    stage_ids: list[strawberry.ID]
    idempotency_key: str | None = None


@strawberry.input
class CreateJobInput:
    client_id: strawberry.ID
    name: str
    pipeline_id: strawberry.ID
    stage_id: strawberry.ID | None = strawberry.field(
        default=None, description="A stage of the pipeline; default: its first."
    )
    manager_user_ids: list[strawberry.ID] | None = None
    starts_on: date | None = None
    due_on: date | None = None
    idempotency_key: str | None = None


@strawberry.input
class UpdateJobInput:
    job_id: strawberry.ID
    name: str | None = None
    manager_user_ids: list[strawberry.ID] | None = None
    starts_on: date | None = None
    due_on: date | None = None
    clear_starts_on: bool = False
    clear_due_on: bool = False
    idempotency_key: str | None = None


@strawberry.input
class MoveJobInput:
    job_id: strawberry.ID
    stage_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class SetJobStatusInput:
    job_id: strawberry.ID
    status: JobStatus
    idempotency_key: str | None = None


def _users(ids: list[strawberry.ID] | None) -> list[str] | None:
    return None if ids is None else [str(i) for i in ids]


def _optional(global_id: strawberry.ID | None, kind: str) -> UUID | None:
    """A secondary id (a task's job; a job's pipeline uses `local_id`), decoded inside the
    command, after the one `run_on` decodes: a NOT_FOUND names the first malformed id."""
    return None if global_id is None else local_id(global_id, kind)


@strawberry.type
class WorkQuery:
    @strawberry.field(description="The firm's pipelines, oldest first (at most 200).")
    async def pipelines(self, info: Info) -> list[Pipeline]:
        info.context.require_viewer()
        loaders = info.context.loaders_of(JobLoaders)
        rows = await info.context.loaders.run(loaders.all_pipelines)
        for row in rows:
            loaders.pipeline.prime(row.id, row)
        return [Pipeline.from_row(r) for r in rows]


@strawberry.type
class WorkMutation:
    # Tasks ------------------------------------------------------------------------------------

    @command(may_change("create tasks"), description="Create a task on a client.")
    async def create_task(self, info: Info, input: CreateTaskInput) -> TaskResult:
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.services.tasks.create_task(
                client_id,
                title=input.title,
                assignee_user_id=str(input.assignee_user_id),
                description=input.description,
                due_on=input.due_on,
                priority=input.priority.value,
                job_id=_optional(input.job_id, "Job"),
                checklist=input.checklist,
                recurrence=None if input.recurrence is None else input.recurrence.value,
                key=input.idempotency_key,
            ),
            given={"Job": input.job_id},
        )
        return await TaskPayload.load(info, done.ids["task_id"])

    @command(may_change("change tasks"), description="Edit a task's title, description...")
    async def update_task(self, info: Info, input: UpdateTaskInput) -> TaskResult:
        return await _TASKS.change(
            info,
            input,
            lambda tasks: tasks.update_task,
            title=input.title,
            description=input.description,
            priority=None if input.priority is None else input.priority.value,
            recurrence=None if input.recurrence is None else input.recurrence.value,
            clear_description=input.clear_description or None,
            clear_recurrence=input.clear_recurrence or None,
        )

    @command(may_change("change tasks"), description="Give a task to another staff member.")
    async def assign_task(self, info: Info, input: AssignTaskInput) -> TaskResult:
        return await _TASKS.change(
            info,
            input,
            lambda tasks: tasks.assign_task,
            assignee_user_id=str(input.assignee_user_id),
        )

    @command(may_change("change tasks"), description="Move a task's due date.")
    async def reschedule_task(self, info: Info, input: RescheduleTaskInput) -> TaskResult:
        return await _TASKS.change(
            info, input, lambda tasks: tasks.reschedule_task, due_on=input.due_on
        )

    @command(
        may_change("change tasks"),
        description="Start, complete, cancel or reopen a task (a recurring one's next is "
        "created when it is completed).",
    )
    async def set_task_status(self, info: Info, input: SetTaskStatusInput) -> TaskResult:
        return await _TASKS.change(
            info, input, lambda tasks: tasks.set_task_status, status=input.status.value
        )

    @command(may_change("change tasks"), description="Add an item to a task's checklist.")
    async def add_task_checklist_item(
        self, info: Info, input: AddTaskChecklistItemInput
    ) -> TaskResult:
        return await _TASKS.change(
            info, input, lambda tasks: tasks.add_task_checklist_item, text=input.text
        )

    @command(may_change("change tasks"), description="Check (or uncheck) a checklist item.")
    async def check_task_checklist_item(
        self, info: Info, input: CheckTaskChecklistItemInput
    ) -> TaskResult:
        return await _TASKS.change(
            info,
            input,
            lambda tasks: tasks.check_task_checklist_item,
            item_id=str(input.item_id),
            checked=input.checked,
        )

    @command(may_change("comment on tasks"), description="Comment on a task.")
    async def comment_on_task(self, info: Info, input: CommentOnTaskInput) -> TaskCommentResult:
        done = await info.context.run_on(
            "Task",
            input.task_id,
            lambda app, task_id: app.services.tasks.comment_on_task(
                task_id, body=input.body, key=input.idempotency_key
            ),
        )
        loaders = info.context.loaders_of(TaskLoaders)
        comment = await written(loaders.comment, "TaskComment", done.ids["task_comment_id"])
        task = await TaskPayload.load(info, done.ids["task_id"])
        return TaskCommentPayload(comment=TaskComment.from_row(comment), task=task.task)

    # Pipelines --------------------------------------------------------------------------------

    @command(may_manage_clients("define pipelines"), description="Define a pipeline.")
    async def create_pipeline(self, info: Info, input: CreatePipelineInput) -> PipelineResult:
        done = await info.context.run(
            lambda app: app.services.jobs.create_pipeline(
                name=input.name, stages=input.stages, key=input.idempotency_key
            )
        )
        return await PipelinePayload.load(info, done.ids["pipeline_id"])

    @command(may_manage_clients("define pipelines"), description="Add a stage to a pipeline.")
    async def add_pipeline_stage(self, info: Info, input: AddPipelineStageInput) -> PipelineResult:
        return await _PIPELINES.change(
            info, input, lambda jobs: jobs.add_pipeline_stage, name=input.name, index=input.index
        )

    @command(may_manage_clients("define pipelines"), description="Rename a pipeline's stage.")
    async def rename_pipeline_stage(
        self, info: Info, input: RenamePipelineStageInput
    ) -> PipelineResult:
        return await _PIPELINES.change(
            info,
            input,
            lambda jobs: jobs.rename_pipeline_stage,
            stage_id=str(input.stage_id),
            name=input.name,
        )

    @command(may_manage_clients("define pipelines"), description="Put the stages in an order.")
    async def reorder_pipeline_stages(
        self, info: Info, input: ReorderPipelineStagesInput
    ) -> PipelineResult:
        return await _PIPELINES.change(
            info,
            input,
            lambda jobs: jobs.reorder_pipeline_stages,
            stage_ids=[str(s) for s in input.stage_ids],
        )

    # Jobs -------------------------------------------------------------------------------------

    @command(may_change("create jobs"), description="Create a job on a client, on a pipeline.")
    async def create_job(self, info: Info, input: CreateJobInput) -> JobResult:
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.services.jobs.create_job(
                client_id,
                name=input.name,
                pipeline_id=local_id(input.pipeline_id, "Pipeline"),
                stage_id=None if input.stage_id is None else str(input.stage_id),
                manager_user_ids=_users(input.manager_user_ids),
                starts_on=input.starts_on,
                due_on=input.due_on,
                key=input.idempotency_key,
            ),
            given={"Pipeline": input.pipeline_id},
        )
        return await JobPayload.load(info, done.ids["job_id"])

    @command(may_change("change jobs"), description="Edit a job's name, managers or dates.")
    async def update_job(self, info: Info, input: UpdateJobInput) -> JobResult:
        return await _JOBS.change(
            info,
            input,
            lambda jobs: jobs.update_job,
            name=input.name,
            manager_user_ids=_users(input.manager_user_ids),
            starts_on=input.starts_on,
            due_on=input.due_on,
            clear_starts_on=input.clear_starts_on or None,
            clear_due_on=input.clear_due_on or None,
        )

    @command(may_change("move jobs"), description="Move a job to another stage of its pipeline.")
    async def move_job(self, info: Info, input: MoveJobInput) -> JobResult:
        return await _JOBS.change(
            info, input, lambda jobs: jobs.move_job, stage_id=str(input.stage_id)
        )

    @command(may_change("change jobs"), description="Complete, cancel or reopen a job.")
    async def set_job_status(self, info: Info, input: SetJobStatusInput) -> JobResult:
        return await _JOBS.change(
            info, input, lambda jobs: jobs.set_job_status, status=input.status.value
        )


@dataclass(frozen=True)
class _Changes(Generic[P]):
    """The commands on one kind of entity that differ only in the service's method: the kind,
    the name of its id (the input's field and the id the command reports), the service and
    the payload."""

    kind: str
    id_name: str
    service: Callable[[Ports], Any]
    payload: Callable[[Info, str], Awaitable[P]]

    async def change(
        self,
        info: Info,
        input: Any,
        method: Callable[[Any], Callable[..., Outcome]],
        **details: Any,
    ) -> P:
        """Run `method` of the service (`lambda tasks: tasks.assign_task`) on the input's
        entity, with the input's idempotency key."""
        done = await info.context.run_on(
            self.kind,
            getattr(input, self.id_name),
            lambda app, found: method(self.service(app))(
                found, key=input.idempotency_key, **details
            ),
        )
        return await self.payload(info, done.ids[self.id_name])


_TASKS = _Changes("Task", "task_id", lambda app: app.services.tasks, TaskPayload.load)
_PIPELINES = _Changes(
    "Pipeline", "pipeline_id", lambda app: app.services.jobs, PipelinePayload.load
)
_JOBS = _Changes("Job", "job_id", lambda app: app.services.jobs, JobPayload.load)
