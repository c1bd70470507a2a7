"""Task, Pipeline and Job rules (no I/O): statuses, recurrence, checklists, stages and dates."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest

from domain.actor import ActingContext
from domain.errors import InvalidInput, LimitExceeded, RuleViolated
from domain.job import STAGES_MAX, Job, Pipeline
from domain.task import CHECKLIST_MAX, Task, add_months, next_due, next_task_id
from tests.unit.helpers import collect, replay


def new_task(**extra: object) -> Task:
    args: dict[str, object] = {
        "client_id": uuid4(),
        "title": "  VAT return ",
        "assignee": "user-ann",
        "due_on": date(2025, 1, 31),
        **extra,
    }
    return Task.create(**args)  # type: ignore[arg-type]


def test_a_task_is_created_open_with_cleaned_text(acting: ActingContext) -> None:
    task = new_task(description=" Q4\r\nall accounts ", checklist=["Collect", "File"])
    assert (task.title, task.description, task.status, task.priority) == (
        "VAT return",
        "Q4\nall accounts",
        "OPEN",
        "NORMAL",
    )
    assert [(i["text"], i["checked"]) for i in task.checklist] == [
        ("Collect", False),
        ("File", False),
    ]
    events = collect(task)
    assert replay(events).checklist == task.checklist


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"title": " "}, "input.title"),
        ({"priority": "SOON"}, "input.priority"),
        ({"recurrence": "DAILY"}, "input.recurrence"),
        ({"recurrence": "WEEKLY", "due_on": None}, "input.dueOn"),
        ({"due_on": date(1800, 1, 1)}, "input.dueOn"),
        ({"checklist": ["ok", "\x00"]}, "input.checklist.1"),
    ],
)
def test_bad_task_input_names_its_field(
    acting: ActingContext, extra: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        new_task(**extra)
    assert raised.value.field == field


def test_a_checklist_is_bounded(acting: ActingContext) -> None:
    with pytest.raises(LimitExceeded):
        new_task(checklist=["x"] * (CHECKLIST_MAX + 1))


def test_status_rules(acting: ActingContext) -> None:
    task = new_task()
    task.cancel()
    with pytest.raises(RuleViolated) as raised:
        task.complete()
    assert raised.value.rule == "TASK_CANCELLED"
    with pytest.raises(RuleViolated):
        task.start()
    task.reopen()
    assert task.complete() is None  # not recurring
    assert task.status == "DONE"
    with pytest.raises(RuleViolated) as raised:
        task.cancel()
    assert raised.value.rule == "TASK_DONE"
    collect(task)
    assert task.complete() is None and collect(task) == []  # already done: nothing recorded


@pytest.mark.parametrize(
    ("recurrence", "due", "after"),
    [
        ("WEEKLY", date(2025, 12, 29), date(2026, 1, 5)),
        ("MONTHLY", date(2025, 1, 31), date(2025, 2, 28)),
        ("MONTHLY", date(2024, 1, 31), date(2024, 2, 29)),
        ("QUARTERLY", date(2025, 11, 30), date(2026, 2, 28)),
        ("YEARLY", date(2024, 2, 29), date(2025, 2, 28)),
    ],
)
def test_next_due_dates(recurrence: str, due: date, after: date) -> None:
    assert next_due(due, recurrence) == after


def test_add_months_keeps_the_day_when_it_can() -> None:
    assert add_months(date(2025, 3, 15), 10) == date(2026, 1, 15)


def test_completing_a_recurring_task_creates_the_next_one_once(acting: ActingContext) -> None:
    task = new_task(recurrence="MONTHLY", checklist=["Run"])
    task.check_item(task.checklist[0]["id"])
    follower = task.complete()
    assert follower is not None
    assert follower.id == next_task_id(task.id)
    assert (follower.title, follower.due_on, follower.assignee) == (
        "VAT return",
        "2025-02-28",
        "user-ann",
    )
    assert [i["checked"] for i in follower.checklist] == [False]
    assert follower.previous_task_id == task.id
    assert task.next_task_id == follower.id
    task.reopen()
    assert task.complete() is None  # the next one exists already
    assert replay(collect(task)).next_task_id == follower.id


def test_checklist_and_comments(acting: ActingContext) -> None:
    task = new_task()
    item = task.add_checklist_item(" Pay ")
    task.check_item(item)
    collect(task)
    task.check_item(item)  # already checked
    assert collect(task) == []
    task.check_item(item, checked=False)
    assert [type(e).__name__ for e in collect(task)] == ["TaskChecklistItemUnchecked"]
    with pytest.raises(InvalidInput) as raised:
        task.check_item("nope")
    assert raised.value.field == "input.itemId"
    task.comment("Waiting")
    assert task.comment_count == 1
    with pytest.raises(InvalidInput):
        task.comment("  ")


def test_edits_reschedules_and_reassignments_record_only_changes(acting: ActingContext) -> None:
    task = new_task(recurrence="WEEKLY")
    collect(task)
    task.edit(title="VAT return")
    task.reassign("user-ann")
    task.reschedule(date(2025, 1, 31))
    assert collect(task) == []
    with pytest.raises(InvalidInput):
        task.reschedule(None)  # recurring tasks need a due date
    task.edit(clear_recurrence=True, priority="URGENT")
    task.reschedule(None)
    assert (task.recurrence, task.priority, task.due_on) == (None, "URGENT", None)


def test_pipelines_keep_ordered_unique_stages(acting: ActingContext) -> None:
    flow = Pipeline.create(name="Year end", stages=["Intake", "Review"])
    ids = [s["id"] for s in flow.stages]
    middle = flow.add_stage("Prepare", 1)
    assert [s["name"] for s in flow.stages] == ["Intake", "Prepare", "Review"]
    with pytest.raises(InvalidInput) as raised:
        flow.add_stage("review")
    assert raised.value.field == "input.name"
    with pytest.raises(InvalidInput):
        flow.add_stage("Late", 9)
    flow.rename_stage(middle, "Draft")
    flow.reorder_stages([ids[1], middle, ids[0]])
    assert [s["name"] for s in flow.stages] == ["Review", "Draft", "Intake"]
    with pytest.raises(InvalidInput) as raised:
        flow.reorder_stages([ids[0]])
    assert raised.value.field == "input.stageIds"
    assert replay(collect(flow)).stages == flow.stages
    with pytest.raises(InvalidInput):
        Pipeline.create(name="Empty", stages=[])
    with pytest.raises(LimitExceeded):
        Pipeline.create(name="Huge", stages=[f"S{i}" for i in range(STAGES_MAX + 1)])


def test_jobs_move_within_their_pipeline_only(acting: ActingContext) -> None:
    flow = Pipeline.create(name="Year end", stages=["Intake", "Review"])
    other = Pipeline.create(name="Payroll", stages=["Run"])
    job = Job.create(client_id=uuid4(), name="Books", pipeline=flow)
    assert job.stage_id == flow.stages[0]["id"]
    with pytest.raises(InvalidInput) as raised:
        job.move(flow, other.stages[0]["id"])
    assert raised.value.field == "input.stageId"
    with pytest.raises(InvalidInput) as raised:
        Job.create(client_id=uuid4(), name="Books", pipeline=flow, stage_id="nope")
    assert raised.value.field == "input.stageId"
    job.move(flow, flow.stages[1]["id"])
    moved = collect(job)[-1]
    assert isinstance(moved, Job.JobMoved)
    assert (moved.from_stage_name, moved.to_stage_name) == ("Intake", "Review")
    job.set_status("DONE")
    with pytest.raises(RuleViolated) as rule:
        job.move(flow, flow.stages[0]["id"])
    assert rule.value.rule == "JOB_NOT_ACTIVE"


def test_a_job_is_not_due_before_it_starts(acting: ActingContext) -> None:
    flow = Pipeline.create(name="Year end", stages=["Intake"])
    with pytest.raises(InvalidInput) as raised:
        Job.create(
            client_id=uuid4(),
            name="Books",
            pipeline=flow,
            starts_on=date(2025, 2, 1),
            due_on=date(2025, 1, 31),
        )
    assert raised.value.field == "input.dueOn"
    job = Job.create(client_id=uuid4(), name="Books", pipeline=flow, starts_on=date(2025, 2, 1))
    with pytest.raises(InvalidInput):
        job.edit(due_on=date(2025, 1, 1))
    job.edit(due_on=date(2025, 3, 1), manager_user_ids=["a", "a", "b"])
    assert (job.due_on, job.manager_user_ids) == ("2025-03-01", ["a", "b"])
