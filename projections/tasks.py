"""The tasks read model: tasks, their checklist items and comments, and how they read in the
activity history.

A task's `position` is the position of its latest event; `created_position` keeps the order of
creation (ties in due-date order are broken by it). `checklist_total` / `checklist_done` and
`comment_count` are kept on the task row so lists need no extra statements for them.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from domain.base import DossierEvent
from domain.task import DONE, Task
from projections.base import Projection, handles
from projections.sentences import Said, names, says
from projections.tables import FIRM, ID, UTCDateTime, metadata

ORDER_STEP = 1000
"""More than a checklist's items (domain.task.CHECKLIST_MAX): an item's seq is its event's
position times this, plus its place in a created task's checklist."""

tasks = sa.Table(
    "rm_tasks",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("assignee", sa.String(200), nullable=False),
    sa.Column("due_on", sa.Date),
    sa.Column("priority", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("job_id", ID),
    sa.Column("recurrence", sa.String(20)),
    sa.Column("previous_task_id", ID),
    sa.Column("next_task_id", ID),
    sa.Column("checklist_total", sa.Integer, nullable=False),
    sa.Column("checklist_done", sa.Integer, nullable=False),
    sa.Column("comment_count", sa.Integer, nullable=False),
    sa.Column("created_by", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("completed_at", UTCDateTime),
    sa.Column("completed_by", sa.JSON),
    sa.Column("created_position", sa.BigInteger, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_tasks_client", "client_id", "due_on", "created_position"),
    sa.Index("ix_rm_tasks_assignee", "firm_id", "assignee", "due_on"),
    sa.Index("ix_rm_tasks_job", "job_id", "status"),
)

task_checklist = sa.Table(
    "rm_task_checklist",
    metadata,
    sa.Column("task_id", ID, primary_key=True),
    sa.Column("item_id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("text", sa.String(500), nullable=False),
    sa.Column("checked", sa.Boolean, nullable=False),
    sa.Column("checked_at", UTCDateTime),
    sa.Column("checked_by", sa.JSON),
    sa.Index("ix_rm_task_checklist_task", "task_id", "seq"),
)

task_comments = sa.Table(
    "rm_task_comments",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("task_id", ID, nullable=False),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("author", sa.JSON, nullable=False),
    sa.Column("posted_at", UTCDateTime, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_task_comments_task", "task_id", "position"),
)

Created = Task.TaskCreated
Reassigned = Task.TaskReassigned
Rescheduled = Task.TaskRescheduled
Edited = Task.TaskDetailsEdited
StatusChanged = Task.TaskStatusChanged
ItemAdded = Task.TaskChecklistItemAdded
ItemChecked = Task.TaskChecklistItemChecked
ItemUnchecked = Task.TaskChecklistItemUnchecked
Commented = Task.TaskCommented


class TasksProjection(Projection):
    """Keeps rm_tasks, rm_task_checklist and rm_task_comments."""

    name = "tasks"
    tables = (tasks, task_checklist, task_comments)

    @staticmethod
    def _touch(conn: sa.Connection, e: DossierEvent, position: int, **values: object) -> None:
        conn.execute(
            sa.update(tasks)
            .where(tasks.c.id == str(e.originator_id))
            .values(updated_at=e.timestamp, position=position, **values)
        )

    def _item(
        self, conn: sa.Connection, e: DossierEvent, item_id: str, text: str, seq: int
    ) -> None:
        conn.execute(
            sa.insert(task_checklist).values(
                task_id=str(e.originator_id),
                item_id=item_id,
                firm_id=e.firm_id,
                seq=seq,
                text=text,
                checked=False,
                checked_at=None,
                checked_by=None,
            )
        )

    @handles(Created)
    def created(self, conn: sa.Connection, e: Created, position: int) -> None:
        conn.execute(
            sa.insert(tasks).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                title=e.title,
                description=e.description,
                assignee=e.assignee,
                due_on=None if e.due_on is None else date.fromisoformat(e.due_on),
                priority=e.priority,
                status="OPEN",
                job_id=None if e.job_id is None else str(e.job_id),
                recurrence=e.recurrence,
                previous_task_id=None if e.previous_task_id is None else str(e.previous_task_id),
                next_task_id=None,
                checklist_total=len(e.checklist),
                checklist_done=0,
                comment_count=0,
                created_by=e.actor,
                created_at=e.timestamp,
                updated_at=e.timestamp,
                completed_at=None,
                completed_by=None,
                created_position=position,
                position=position,
            )
        )
        for seq, item in enumerate(e.checklist):
            self._item(conn, e, item["id"], item["text"], position * ORDER_STEP + seq)

    @handles(Reassigned)
    def reassigned(self, conn: sa.Connection, e: Reassigned, position: int) -> None:
        self._touch(conn, e, position, assignee=e.assignee)

    @handles(Rescheduled)
    def rescheduled(self, conn: sa.Connection, e: Rescheduled, position: int) -> None:
        self._touch(
            conn, e, position, due_on=None if e.due_on is None else date.fromisoformat(e.due_on)
        )

    @handles(Edited)
    def edited(self, conn: sa.Connection, e: Edited, position: int) -> None:
        self._touch(
            conn,
            e,
            position,
            title=e.title,
            description=e.description,
            priority=e.priority,
            recurrence=e.recurrence,
        )

    @handles(StatusChanged)
    def status_changed(self, conn: sa.Connection, e: StatusChanged, position: int) -> None:
        done = e.status == DONE
        values: dict[str, object] = {
            "status": e.status,
            "completed_at": e.timestamp if done else None,
            "completed_by": e.actor if done else None,
        }
        if e.next_task_id is not None:
            values["next_task_id"] = str(e.next_task_id)
        self._touch(conn, e, position, **values)

    @handles(ItemAdded)
    def item_added(self, conn: sa.Connection, e: ItemAdded, position: int) -> None:
        self._item(conn, e, e.item_id, e.text, position * ORDER_STEP)
        self._touch(conn, e, position, checklist_total=tasks.c.checklist_total + 1)

    @handles(ItemChecked, ItemUnchecked)
    def item_checked(
        self, conn: sa.Connection, e: ItemChecked | ItemUnchecked, position: int
    ) -> None:
        checked = isinstance(e, ItemChecked)
        c = task_checklist.c
        conn.execute(
            sa.update(task_checklist)
            .where(c.task_id == str(e.originator_id), c.item_id == e.item_id)
            .values(
                checked=checked,
                checked_at=e.timestamp if checked else None,
                checked_by=e.actor if checked else None,
            )
        )
        step = 1 if checked else -1
        self._touch(conn, e, position, checklist_done=tasks.c.checklist_done + step)

    @handles(Commented)
    def commented(self, conn: sa.Connection, e: Commented, position: int) -> None:
        conn.execute(
            sa.insert(task_comments).values(
                id=str(e.comment_id),
                task_id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                body=e.body,
                author=e.actor,
                posted_at=e.timestamp,
                position=position,
            )
        )
        self._touch(conn, e, position, comment_count=tasks.c.comment_count + 1)


# Sentences ------------------------------------------------------------------------------


@names(Created, Edited)
def _task_name(e: Created | Edited) -> tuple[str, str]:
    return str(e.originator_id), e.title


def _task(e: DossierEvent, said: Said) -> str:
    return f'the task "{said.name_of(e.originator_id, "untitled")}"'


@says(Created)
def _created(e: Created, said: Said) -> str:
    due = "" if e.due_on is None else f", due {e.due_on}"
    assignee = said.staff(e, e.assignee)
    if e.previous_task_id is not None:
        return (
            f'The recurring task "{e.title}" on {said.client(e)} came round again for '
            f"{assignee}{due}."
        )
    return f'{said.who} created the task "{e.title}" on {said.client(e)} for {assignee}{due}.'


@says(Reassigned)
def _reassigned(e: Reassigned, said: Said) -> str:
    to = said.staff(e, e.assignee)
    return f"{said.who} reassigned {_task(e, said)} on {said.client(e)} to {to}."


@says(Rescheduled)
def _rescheduled(e: Rescheduled, said: Said) -> str:
    if e.due_on is None:
        return f"{said.who} removed the due date of {_task(e, said)} on {said.client(e)}."
    return f"{said.who} moved {_task(e, said)} on {said.client(e)} to {e.due_on}."


@says(Edited)
def _edited(e: Edited, said: Said) -> str:
    return f'{said.who} edited the task "{e.title}" on {said.client(e)}.'


_STATUS_VERBS = {
    "OPEN": "reopened",
    "IN_PROGRESS": "started",
    "DONE": "completed",
    "CANCELLED": "cancelled",
}


@says(StatusChanged)
def _status_changed(e: StatusChanged, said: Said) -> str:
    verb = _STATUS_VERBS.get(e.status, "changed")
    return f"{said.who} {verb} {_task(e, said)} on {said.client(e)}."


@says(ItemAdded)
def _item_added(e: ItemAdded, said: Said) -> str:
    return f'{said.who} added "{e.text}" to the checklist of {_task(e, said)} on {said.client(e)}.'


@says(ItemChecked, ItemUnchecked)
def _item_checked(e: ItemChecked | ItemUnchecked, said: Said) -> str:
    verb = "checked off" if isinstance(e, ItemChecked) else "unchecked"
    return f'{said.who} {verb} "{e.text}" on {_task(e, said)} on {said.client(e)}.'


@says(Commented)
def _commented(e: Commented, said: Said) -> str:
    return f"{said.who} commented on {_task(e, said)} on {said.client(e)}."
