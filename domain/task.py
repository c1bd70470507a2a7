"""The Task aggregate: a piece of the firm's work on a client, with a checklist and comments.

A task has a title, an optional description, an assignee (a staff user id the service has
checked: on the firm's staff records, allowed to work on the client), an optional due date, a
priority, a status (OPEN, IN_PROGRESS, DONE, CANCELLED), an optional job it belongs to, a
checklist and a recurrence (WEEKLY, MONTHLY, QUARTERLY, YEARLY or none).

Status rules: a cancelled task cannot be completed or started (reopen it first); a done task
cannot be cancelled (reopen it first); setting the status it already has records nothing.
Completing a recurring task creates the next one (see `Task.complete`): its id is derived from
the completed task, and the completion event names it, so it is created exactly once even if
the task is reopened and completed again.

Every event is about the task's client (the activity history and live activity show it).
Internal work goes on while a client is on hold: nothing here looks at holds.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain.base import ClientRelatedEvent, DossierAggregate, DossierCreated
from domain.errors import InvalidInput, LimitExceeded, RuleViolated
from domain.values import NAME_MAX, clean_date, optional_text, required_text

TITLE_MAX = NAME_MAX
DESCRIPTION_MAX = 5_000
CHECKLIST_ITEM_MAX = 500
CHECKLIST_MAX = 100
"""Items on one task's checklist."""
COMMENT_MAX = 5_000
COMMENTS_MAX = 1_000
"""Comments on one task."""

OPEN = "OPEN"
IN_PROGRESS = "IN_PROGRESS"
DONE = "DONE"
CANCELLED = "CANCELLED"
STATUSES = (OPEN, IN_PROGRESS, DONE, CANCELLED)
UNFINISHED = (OPEN, IN_PROGRESS)

LOW = "LOW"
NORMAL = "NORMAL"
HIGH = "HIGH"
URGENT = "URGENT"
PRIORITIES = (LOW, NORMAL, HIGH, URGENT)

WEEKLY = "WEEKLY"
MONTHLY = "MONTHLY"
QUARTERLY = "QUARTERLY"
YEARLY = "YEARLY"
RECURRENCES = (WEEKLY, MONTHLY, QUARTERLY, YEARLY)
_MONTHS = {MONTHLY: 1, QUARTERLY: 3, YEARLY: 12}


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the end of a shorter month (Jan 31 → Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def next_due(due_on: date, recurrence: str) -> date:
    """The due date of the task after one due on `due_on`."""
    if recurrence == WEEKLY:
        return due_on + timedelta(days=7)
    return add_months(due_on, _MONTHS[recurrence])


def next_task_id(task_id: UUID) -> UUID:
    """The id of the task that completing recurring task `task_id` creates."""
    return uuid5(NAMESPACE_URL, f"dossier:task:{task_id}:next")


def clean_priority(field: str, priority: str) -> str:
    if priority not in PRIORITIES:
        raise InvalidInput(field, f"{field} must be one of {', '.join(PRIORITIES)}")
    return priority


def clean_recurrence(field: str, recurrence: str | None) -> str | None:
    if recurrence is not None and recurrence not in RECURRENCES:
        raise InvalidInput(field, f"{field} must be one of {', '.join(RECURRENCES)}")
    return recurrence


def clean_checklist(field: str, items: list[str]) -> list[dict[str, str]]:
    if len(items) > CHECKLIST_MAX:
        raise LimitExceeded(CHECKLIST_MAX, f"a checklist has at most {CHECKLIST_MAX} items")
    return [
        {"id": str(uuid4()), "text": required_text(f"{field}.{i}", text, CHECKLIST_ITEM_MAX)}
        for i, text in enumerate(items)
    ]


class Task(DossierAggregate):
    """A task on a client."""

    class TaskCreated(DossierCreated, ClientRelatedEvent):
        title: str
        description: str | None
        assignee: str
        due_on: str | None
        priority: str
        job_id: UUID | None
        checklist: list[dict[str, str]]
        recurrence: str | None
        previous_task_id: UUID | None

    class TaskReassigned(ClientRelatedEvent):
        assignee: str
        previous: str

        def apply(self, aggregate: Any) -> None:
            aggregate.assignee = self.assignee

    class TaskRescheduled(ClientRelatedEvent):
        due_on: str | None
        previous: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.due_on = self.due_on

    class TaskDetailsEdited(ClientRelatedEvent):
        title: str
        description: str | None
        priority: str
        recurrence: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.title = self.title
            aggregate.description = self.description
            aggregate.priority = self.priority
            aggregate.recurrence = self.recurrence

    class TaskStatusChanged(ClientRelatedEvent):
        status: str
        previous: str
        next_task_id: UUID | None

        def apply(self, aggregate: Any) -> None:
            aggregate.status = self.status
            if self.next_task_id is not None:
                aggregate.next_task_id = self.next_task_id

    class TaskChecklistItemAdded(ClientRelatedEvent):
        item_id: str
        text: str

        def apply(self, aggregate: Any) -> None:
            aggregate.checklist.append({"id": self.item_id, "text": self.text, "checked": False})

    class TaskChecklistItemChecked(ClientRelatedEvent):
        item_id: str
        text: str

        def apply(self, aggregate: Any) -> None:
            aggregate.item(self.item_id)["checked"] = True

    class TaskChecklistItemUnchecked(ClientRelatedEvent):
        item_id: str
        text: str

        def apply(self, aggregate: Any) -> None:
            aggregate.item(self.item_id)["checked"] = False

    class TaskCommented(ClientRelatedEvent):
        comment_id: UUID
        body: str

        def apply(self, aggregate: Any) -> None:
            aggregate.comment_count += 1

    def __init__(
        self,
        firm_id: str,
        client_id: UUID,
        title: str,
        description: str | None,
        assignee: str,
        due_on: str | None,
        priority: str,
        job_id: UUID | None,
        checklist: list[dict[str, str]],
        recurrence: str | None,
        previous_task_id: UUID | None,
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.title = title
        self.description = description
        self.assignee = assignee
        self.due_on = due_on
        self.priority = priority
        self.job_id = job_id
        self.checklist: list[dict[str, Any]] = [
            {"id": i["id"], "text": i["text"], "checked": False} for i in checklist
        ]
        self.recurrence = recurrence
        self.previous_task_id = previous_task_id
        self.status = OPEN
        self.next_task_id: UUID | None = None
        self.comment_count = 0

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        kwargs.setdefault("client_id", self.client_id)  # every event is about the client
        super().trigger_event(event_class, **kwargs)

    # Commands ---------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        client_id: UUID,
        title: str,
        assignee: str,
        description: str | None = None,
        due_on: date | None = None,
        priority: str = NORMAL,
        job_id: UUID | None = None,
        checklist: list[str] | None = None,
        recurrence: str | None = None,
        task_id: UUID | None = None,
        previous_task_id: UUID | None = None,
    ) -> Task:
        """A new OPEN task (the caller checked the assignee and the job). A recurring task
        needs a due date."""
        if due_on is not None:
            clean_date("input.dueOn", due_on)
        recurs = clean_recurrence("input.recurrence", recurrence)
        if recurs is not None and due_on is None:
            raise InvalidInput("input.dueOn", "a recurring task needs a due date")
        return cls._create(
            cls.TaskCreated,
            id=task_id or uuid4(),
            client_id=client_id,
            title=required_text("input.title", title, TITLE_MAX),
            description=optional_text(
                "input.description", description, DESCRIPTION_MAX, multiline=True
            ),
            assignee=assignee,
            due_on=None if due_on is None else due_on.isoformat(),
            priority=clean_priority("input.priority", priority),
            job_id=job_id,
            checklist=clean_checklist("input.checklist", checklist or []),
            recurrence=recurs,
            previous_task_id=previous_task_id,
        )

    def reassign(self, assignee: str) -> None:
        """Give the task to another member (checked by the caller); the same one: no-op."""
        if assignee != self.assignee:
            self.trigger_event(self.TaskReassigned, assignee=assignee, previous=self.assignee)

    def reschedule(self, due_on: date | None) -> None:
        """Move the due date (None: no due date, refused for a recurring task)."""
        if due_on is not None:
            clean_date("input.dueOn", due_on)
        elif self.recurrence is not None:
            raise InvalidInput("input.dueOn", "a recurring task needs a due date")
        new = None if due_on is None else due_on.isoformat()
        if new != self.due_on:
            self.trigger_event(self.TaskRescheduled, due_on=new, previous=self.due_on)

    def edit(
        self,
        *,
        title: str | None = None,
        description: str | None = None,
        priority: str | None = None,
        recurrence: str | None = None,
        clear_description: bool = False,
        clear_recurrence: bool = False,
    ) -> None:
        """Change the title, description, priority or recurrence (None: keep; the clear_
        flags remove the description or the recurrence). Nothing changed: nothing recorded."""
        new_title = self.title if title is None else required_text("input.title", title, TITLE_MAX)
        new_description = self.description
        if clear_description:
            new_description = None
        elif description is not None:
            new_description = optional_text(
                "input.description", description, DESCRIPTION_MAX, multiline=True
            )
        new_priority = (
            self.priority if priority is None else clean_priority("input.priority", priority)
        )
        new_recurrence = self.recurrence
        if clear_recurrence:
            new_recurrence = None
        elif recurrence is not None:
            new_recurrence = clean_recurrence("input.recurrence", recurrence)
            if self.due_on is None:
                raise InvalidInput("input.recurrence", "a recurring task needs a due date")
        values = (new_title, new_description, new_priority, new_recurrence)
        if values == (self.title, self.description, self.priority, self.recurrence):
            return
        self.trigger_event(
            self.TaskDetailsEdited,
            title=new_title,
            description=new_description,
            priority=new_priority,
            recurrence=new_recurrence,
        )

    def start(self) -> None:
        self._set_status(IN_PROGRESS)

    def reopen(self) -> None:
        self._set_status(OPEN)

    def cancel(self) -> None:
        self._set_status(CANCELLED)

    def complete(self) -> Task | None:
        """Mark the task done. A recurring task done for the first time also returns the next
        task (due one interval later, same title, description, priority, assignee, job and
        checklist, unchecked), to be saved in the same change."""
        if self.status == DONE:
            return None
        follower: Task | None = None
        if self.recurrence is not None and self.next_task_id is None and self.due_on is not None:
            due = next_due(date.fromisoformat(self.due_on), self.recurrence)
            follower = Task.create(
                client_id=self.client_id,
                title=self.title,
                assignee=self.assignee,
                description=self.description,
                due_on=due,
                priority=self.priority,
                job_id=self.job_id,
                checklist=[item["text"] for item in self.checklist],
                recurrence=self.recurrence,
                task_id=next_task_id(self.id),
                previous_task_id=self.id,
            )
        self._set_status(DONE, None if follower is None else follower.id)
        return follower

    def _set_status(self, status: str, follower: UUID | None = None) -> None:
        if status == self.status:
            return
        if self.status == CANCELLED and status in (DONE, IN_PROGRESS):
            verb = "completed" if status == DONE else "started"
            raise RuleViolated(
                "TASK_CANCELLED", f"the task is cancelled and cannot be {verb}; reopen it first"
            )
        if self.status == DONE and status == CANCELLED:
            raise RuleViolated(
                "TASK_DONE", "the task is done and cannot be cancelled; reopen it first"
            )
        self.trigger_event(
            self.TaskStatusChanged, status=status, previous=self.status, next_task_id=follower
        )

    def add_checklist_item(self, text: str) -> str:
        """Add an unchecked item; returns its id."""
        cleaned = required_text("input.text", text, CHECKLIST_ITEM_MAX)
        if len(self.checklist) >= CHECKLIST_MAX:
            raise LimitExceeded(CHECKLIST_MAX, f"a checklist has at most {CHECKLIST_MAX} items")
        item_id = str(uuid4())
        self.trigger_event(self.TaskChecklistItemAdded, item_id=item_id, text=cleaned)
        return item_id

    def check_item(self, item_id: str, checked: bool = True) -> None:
        """Check (or uncheck) an item; one already so records nothing."""
        found = next((i for i in self.checklist if i["id"] == item_id), None)
        if found is None:
            raise InvalidInput("input.itemId", f"{item_id} is not an item of this checklist")
        if found["checked"] == checked:
            return
        event = self.TaskChecklistItemChecked if checked else self.TaskChecklistItemUnchecked
        self.trigger_event(event, item_id=item_id, text=found["text"])

    def comment(self, body: str) -> UUID:
        """Comment on the task as the acting member; returns the comment's id."""
        text = required_text("input.body", body, COMMENT_MAX, multiline=True)
        if self.comment_count >= COMMENTS_MAX:
            raise LimitExceeded(COMMENTS_MAX, f"a task has at most {COMMENTS_MAX} comments")
        comment_id = uuid4()
        self.trigger_event(self.TaskCommented, comment_id=comment_id, body=text)
        return comment_id

    # Queries ----------------------------------------------------------------

    def item(self, item_id: str) -> dict[str, Any]:
        return next(i for i in self.checklist if i["id"] == item_id)
