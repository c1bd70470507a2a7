"""Tasks, pipelines and jobs through the application services, on SQLite and PostgreSQL.

Exact read-model rows (tasks with their checklist and comments, pipelines with ordered stages,
jobs with managers and moves), the recurring completion saved with its next task, assignees
checked against the staff records (other firms' staff refused, nothing recorded), rebuilds
that reproduce every row, and statement counts of the work fields that do not grow with the
data (a clients page with every client's tasks, jobs, overview, and the viewer's own work).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from domain.actor import ActingContext, Actor, ActorKind, acting_as
from domain.errors import InvalidInput, NotFound
from domain.values import ClientType, StaffRole
from infra.container import Container
from projections.jobs import (
    JobsProjection,
    job_managers,
    job_moves,
    jobs,
    pipeline_stages,
    pipelines,
)
from projections.tasks import TasksProjection, task_checklist, task_comments, tasks
from tests.e2e.conftest import FIRM, Api
from tests.integration.test_statements import api, counting

__all__ = ["api"]

ANN = Actor(id="ann", kind=ActorKind.STAFF, name="Ann Owner")
BOB = Actor(id="bob", kind=ActorKind.STAFF, name="Bob Agent")
ROLES = {"ann": "owner", "bob": "agent"}


@contextmanager
def as_(actor: Actor, firm: str = FIRM) -> Iterator[ActingContext]:
    with acting_as(actor, firm, ROLES.get(actor.id, "owner")) as ctx:
        yield ctx


def setup(container: Container) -> UUID:
    """Ann (owner) and Bob (agent, on Acme's team); another firm with its own Bob."""
    s = container.services.clients
    with as_(ANN, "firm-b"):
        s.add_staff_member(user_id="zed", name="Zed", email="zed@b.test", role=StaffRole.AGENT)
    with as_(ANN):
        s.add_staff_member(user_id="ann", name="Ann Owner", email="a@f.test", role=StaffRole.OWNER)
        s.add_staff_member(user_id="bob", name="Bob Agent", email="b@f.test", role=StaffRole.AGENT)
        client = UUID(
            s.register_client(name="Acme", client_type=ClientType.COMPANY).ids["client_id"]
        )
        container.wait_for(s.assign_team_member(client, "bob").position)
    return client


def rows(container: Container, table: sa.Table, *order: Any) -> list[dict[str, Any]]:
    with container.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(*order))]


def history(container: Container) -> list[dict[str, Any]]:
    return [
        *rows(container, tasks, tasks.c.created_position),
        *rows(container, task_checklist, task_checklist.c.seq),
        *rows(container, task_comments, task_comments.c.position),
        *rows(container, pipelines, pipelines.c.position),
        *rows(container, pipeline_stages, pipeline_stages.c.pipeline_id, pipeline_stages.c.seq),
        *rows(container, jobs, jobs.c.created_position),
        *rows(container, job_managers, job_managers.c.job_id, job_managers.c.user_id),
        *rows(container, job_moves, job_moves.c.position),
    ]


def make_work(container: Container, client: UUID) -> dict[str, str]:
    t, j = container.services.tasks, container.services.jobs
    with as_(ANN):
        flow = j.create_pipeline(name="Year end", stages=["Intake", "Review"])
        flow_id = UUID(flow.ids["pipeline_id"])
        stage = j.add_pipeline_stage(flow_id, name="Prepare", index=1).ids["stage_id"]
        job = j.create_job(
            client,
            name="Books",
            pipeline_id=flow_id,
            manager_user_ids=["bob", "ann"],
            starts_on=date(2030, 1, 1),
            due_on=date(2030, 3, 31),
        )
        job_id = UUID(job.ids["job_id"])
        j.move_job(job_id, stage_id=stage)
    with as_(BOB):
        task = t.create_task(
            client,
            title="Payroll",
            assignee_user_id="bob",
            due_on=date(2030, 1, 31),
            job_id=job_id,
            checklist=["Run", "Send"],
            recurrence="MONTHLY",
        )
        task_id = UUID(task.ids["task_id"])
        t.comment_on_task(task_id, body="Started")
        t.add_task_checklist_item(task_id, text="Archive")
        done = t.set_task_status(task_id, status="DONE")
    container.wait_for(done.position)
    return {
        "task": str(task_id),
        "next": done.ids["next_task_id"],
        "job": str(job_id),
        "pipeline": str(flow_id),
        "stage": stage,
    }


def test_rows_of_tasks_pipelines_and_jobs(container: Container) -> None:
    client = setup(container)
    made = make_work(container, client)
    found = rows(container, tasks, tasks.c.created_position)
    assert [
        (r["title"], r["due_on"], r["status"], r["checklist_total"], r["comment_count"])
        for r in found
    ] == [
        ("Payroll", date(2030, 1, 31), "DONE", 3, 1),
        ("Payroll", date(2030, 2, 28), "OPEN", 3, 0),
    ]
    first, second = found
    assert first["next_task_id"] == second["id"] == made["next"]
    assert second["previous_task_id"] == made["task"]
    assert first["completed_by"]["id"] == "bob"
    assert second["job_id"] == made["job"]
    items = rows(container, task_checklist, task_checklist.c.task_id, task_checklist.c.seq)
    assert sorted((r["task_id"] == made["task"], r["text"]) for r in items) == [
        (False, "Archive"),
        (False, "Run"),
        (False, "Send"),
        (True, "Archive"),
        (True, "Run"),
        (True, "Send"),
    ]
    stages = rows(container, pipeline_stages, pipeline_stages.c.seq)
    assert [(r["name"], r["seq"]) for r in stages] == [
        ("Intake", 0),
        ("Prepare", 1),
        ("Review", 2),
    ]
    (job,) = rows(container, jobs)
    assert (job["stage_id"], job["manager_user_ids"]) == (made["stage"], ["bob", "ann"])
    assert [r["user_id"] for r in rows(container, job_managers, job_managers.c.user_id)] == [
        "ann",
        "bob",
    ]
    (move,) = rows(container, job_moves)
    assert (move["from_stage_name"], move["to_stage_name"]) == ("Intake", "Prepare")


def test_staff_are_checked_on_the_records_and_refusals_record_nothing(
    container: Container,
) -> None:
    client = setup(container)
    head = container.store.head()
    t, j = container.services.tasks, container.services.jobs
    with as_(ANN):
        for user_id in ("zed", "nobody"):
            with pytest.raises(InvalidInput) as raised:
                t.create_task(client, title="X", assignee_user_id=user_id)
            assert raised.value.field == "input.assigneeUserId"
        with pytest.raises(NotFound):
            j.create_job(client, name="X", pipeline_id=UUID(int=7))
    with as_(ANN, "firm-b"), pytest.raises(NotFound):
        t.create_task(client, title="X", assignee_user_id="zed")
    assert container.store.head() == head


def test_a_rebuild_reproduces_the_work_read_models(container: Container) -> None:
    client = setup(container)
    make_work(container, client)
    before = history(container)
    runner = container.runner
    for projection in (TasksProjection(), JobsProjection()):
        runner.rebuild(projection)
    assert history(container) == before


# Statement counts -----------------------------------------------------------------------------

OWNER = Actor(id="owner-1", kind=ActorKind.STAFF, name="owner-1")

WORK_QUERY = """
{ clients(first: 50) { edges { node { id
    tasks(first: 10, filter: {statuses: [OPEN, DONE]}) { totalCount edges { node { title
      assignee { name } checklist { text checked } comments { body } job { name }
      nextTask { title } client { name } } } }
    jobs(first: 10) { totalCount edges { node { name stage { name } pipeline { name
      stages { name } } managers { name } moves { toStageName } progress { done total }
      tasks { title } } } }
    overview { latestTasks { title } latestJobs { name } } } } }
  viewer { tasks(first: 5, filter: {due: OVERDUE}) { totalCount edges { node { title } } }
           jobs(first: 5) { totalCount edges { node { name } } } }
  pipelines { name stages { name } } }
"""


def add(api: Api, clients: int, per_client: int) -> None:
    services = api.container.services
    last = None
    with acting_as(OWNER, FIRM, "owner"):
        for user_id, role in (("owner-1", StaffRole.OWNER), ("agent-1", StaffRole.AGENT)):
            if services.clients.find_staff(user_id) is None:
                services.clients.add_staff_member(
                    user_id=user_id, name=user_id, email=f"{user_id}@firm.test", role=role
                )
        flow = UUID(
            services.jobs.create_pipeline(name=f"Flow {clients}", stages=["Intake", "Done"]).ids[
                "pipeline_id"
            ]
        )
        for n in range(clients):
            client = UUID(
                services.clients.register_client(
                    name=f"Client {n} of {clients}", client_type=ClientType.COMPANY
                ).ids["client_id"]
            )
            services.clients.assign_team_member(client, "agent-1")
            for k in range(per_client):
                job = UUID(
                    services.jobs.create_job(
                        client,
                        name=f"Job {k}",
                        pipeline_id=flow,
                        manager_user_ids=["agent-1"],
                    ).ids["job_id"]
                )
                task = UUID(
                    services.tasks.create_task(
                        client,
                        title=f"Task {k}",
                        assignee_user_id="agent-1",
                        due_on=date(2000, 1, 1 + k),
                        job_id=job,
                        checklist=["One", "Two"],
                    ).ids["task_id"]
                )
                last = services.tasks.comment_on_task(task, body=f"Note {k}")
    assert last is not None
    api.container.wait_for(last.position)


async def as_agent(api: Api) -> tuple[dict[str, Any], int]:
    with counting(api.container.engine) as counted:
        result = await api.gql(WORK_QUERY, as_user=("agent-1", "agent"))
    assert "errors" not in result, result
    own = [q for q in counted.queries if "rm_tracking" not in q and "rm_staff.role" not in q]
    return result["data"], len(own)


async def test_work_statement_counts_do_not_grow(api: Api) -> None:
    add(api, clients=1, per_client=1)
    small, small_count = await as_agent(api)
    node = small["clients"]["edges"][0]["node"]
    assert node["tasks"]["edges"][0]["node"]["comments"] == [{"body": "Note 0"}]
    add(api, clients=5, per_client=4)
    large, large_count = await as_agent(api)
    edges = large["clients"]["edges"]
    assert len(edges) == 6
    assert sum(e["node"]["tasks"]["totalCount"] for e in edges) == 1 + 5 * 4
    last = edges[-1]["node"]
    assert [t["title"] for t in last["overview"]["latestTasks"]] == [
        "Task 3",
        "Task 2",
        "Task 1",
        "Task 0",
    ]
    assert last["jobs"]["edges"][0]["node"]["progress"] == {"done": 0, "total": 1}
    assert large["viewer"]["tasks"]["totalCount"] == 21
    assert large["viewer"]["jobs"]["totalCount"] == 21
    assert small_count == large_count
