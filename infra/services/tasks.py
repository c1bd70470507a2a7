"""Commands on tasks: create, edit, reassign, reschedule, change status, checklist, comments.

A task is loaded only if the actor may see its client. An assignee must be on the firm's
staff records (the StaffMember aggregate, never a read model) with a role that may work on the
client: owners, admins and managers, or an agent on the client's team (watchers change
nothing, so they are never assignees). A job named by a task must be a job of the same client.
Tasks go on while the client is on hold (internal work). Completing a recurring task saves
the next one in the same change (domain.task.Task.complete).
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.access import can_mutate, can_see_client
from domain.actor import current_context
from domain.client import Client
from domain.errors import InvalidInput
from domain.job import Job
from domain.staff import StaffMember, staff_member_id
from domain.task import CANCELLED, DONE, IN_PROGRESS, OPEN, Task
from infra.services.unit_of_work import Change, Commands, Outcome


def check_worker(commands: Commands, client: Client, field: str, user_id: str) -> str:
    """`user_id` as a member of the acting firm's staff who may work on the client (see the
    module's docstring); InvalidInput on `field` otherwise."""
    member = commands.uow.find(StaffMember, staff_member_id(current_context().firm_id, user_id))
    role = "" if member is None else member.role.lower()
    if member is None or not (can_mutate(role) and can_see_client(role, user_id, client.team)):
        raise InvalidInput(
            field, f"{user_id} is not a staff member of this firm who may work on this client"
        )
    return member.user_id


class TasksService(Commands):
    """Tasks on a client's profile."""

    def _task(self, task_id: UUID) -> Task:
        return self.uow.visible(Task, task_id)

    def create_task(
        self,
        client_id: UUID,
        *,
        title: str,
        assignee_user_id: str,
        description: str | None = None,
        due_on: date | None = None,
        priority: str | None = None,
        job_id: UUID | None = None,
        checklist: list[str] | None = None,
        recurrence: str | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            assignee = check_worker(self, client, "input.assigneeUserId", assignee_user_id)
            if job_id is not None:
                job = self.uow.find(Job, job_id)
                if job is None or job.client_id != client.id:
                    raise InvalidInput("input.jobId", f"{job_id} is not a job of this client")
            task = Task.create(
                client_id=client.id,
                title=title,
                assignee=assignee,
                description=description,
                due_on=due_on,
                priority=priority or "NORMAL",
                job_id=job_id,
                checklist=checklist,
                recurrence=recurrence,
            )
            return Change.of(task, task_id=str(task.id))

        return self.uow.run("createTask", key, build)

    def update_task(
        self,
        task_id: UUID,
        *,
        title: str | None = None,
        description: str | None = None,
        priority: str | None = None,
        recurrence: str | None = None,
        clear_description: bool | None = None,
        clear_recurrence: bool | None = None,
        key: str | None = None,
    ) -> Outcome:
        return self.uow.change(
            "updateTask",
            key,
            Task,
            task_id,
            lambda t: t.edit(
                title=title,
                description=description,
                priority=priority,
                recurrence=recurrence,
                clear_description=bool(clear_description),
                clear_recurrence=bool(clear_recurrence),
            ),
            extra={"task_id": str(task_id)},
        )

    def assign_task(
        self, task_id: UUID, *, assignee_user_id: str, key: str | None = None
    ) -> Outcome:
        def build() -> Change:
            task = self._task(task_id)
            client = self.uow.get(Client, task.client_id)
            task.reassign(check_worker(self, client, "input.assigneeUserId", assignee_user_id))
            return Change.of(task, task_id=str(task.id))

        return self.uow.run("assignTask", key, build)

    def reschedule_task(
        self, task_id: UUID, *, due_on: date | None, key: str | None = None
    ) -> Outcome:
        return self.uow.change(
            "rescheduleTask",
            key,
            Task,
            task_id,
            lambda t: t.reschedule(due_on),
            extra={"task_id": str(task_id)},
        )

    def set_task_status(self, task_id: UUID, *, status: str, key: str | None = None) -> Outcome:
        """OPEN (reopen), IN_PROGRESS, DONE (a recurring task's next one is saved with it) or
        CANCELLED."""
        if status not in (OPEN, IN_PROGRESS, DONE, CANCELLED):
            raise InvalidInput("input.status", f"unknown task status {status}")

        def build() -> Change:
            task = self._task(task_id)
            ids: dict[str, str] = {"task_id": str(task.id)}
            follower: Task | None = None
            if status == DONE:
                follower = task.complete()
            elif status == IN_PROGRESS:
                task.start()
            elif status == CANCELLED:
                task.cancel()
            else:
                task.reopen()
            if follower is None:
                return Change.of(task, **ids)
            return Change.of(follower, task, **ids, next_task_id=str(follower.id))

        return self.uow.run("setTaskStatus", key, build)

    def add_task_checklist_item(
        self, task_id: UUID, *, text: str, key: str | None = None
    ) -> Outcome:
        def build() -> Change:
            task = self._task(task_id)
            item_id = task.add_checklist_item(text)
            return Change.of(task, task_id=str(task.id), item_id=item_id)

        return self.uow.run("addTaskChecklistItem", key, build)

    def check_task_checklist_item(
        self, task_id: UUID, *, item_id: str, checked: bool = True, key: str | None = None
    ) -> Outcome:
        return self.uow.change(
            "checkTaskChecklistItem",
            key,
            Task,
            task_id,
            lambda t: t.check_item(item_id, checked),
            extra={"task_id": str(task_id)},
        )

    def comment_on_task(self, task_id: UUID, *, body: str, key: str | None = None) -> Outcome:
        def build() -> Change:
            task = self._task(task_id)
            comment_id = task.comment(body)
            return Change.of(task, task_id=str(task.id), task_comment_id=str(comment_id))

        return self.uow.run("commentOnTask", key, build)
