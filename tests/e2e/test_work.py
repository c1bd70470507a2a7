"""Tasks and jobs over GraphQL, on both backends: the mutation and the next query, checklists,
comments, recurring tasks (exactly one next task), filters and due-date order with paging,
pipelines and jobs (stages, moves, progress), the overview and the viewer's own work, bad input
that records nothing, roles and firm isolation, work on hold, and the activity sentences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.conftest import Api, LiveServer
from tests.e2e.test_live_support import connect, http, until_subscribed
from tests.e2e.test_notifications import (
    AGENT,
    AGENT2,
    MANAGER,
    OWNER,
    WATCHER,
    ok,
    recorded,
    setup,
)

TODAY = datetime.now(UTC).date()
MONDAY = TODAY - timedelta(days=TODAY.weekday())
SUNDAY = MONDAY + timedelta(days=6)

TASK = """id title description assigneeUserId assignee { name } dueOn priority status
  recurrence overdue completedAt completedBy { id } checklistTotal checklistDone commentCount
  checklist { id text checked checkedBy { id } } comments { body author { id } }
  client { name } job { name } createdBy { id }"""

RESULT = """__typename
  ... on ValidationError { field message }
  ... on NotFoundError { id }
  ... on LimitExceededError { limit }"""
RULE = "... on RuleViolationError { rule message }"


def mutation(name: str, input_type: str, payload: str, rule: bool = True) -> str:
    more = RULE if rule else ""
    return f"""mutation($input: {input_type}!) {{ {name}(input: $input) {{ {RESULT} {more}
      {payload} }} }}"""


CREATE_TASK = mutation(
    "createTask", "CreateTaskInput", f"... on TaskPayload {{ task {{ {TASK} }} }}"
)
STATUS = mutation(
    "setTaskStatus",
    "SetTaskStatusInput",
    "... on TaskPayload { task { status completedAt completedBy { id } "
    "nextTask { id title dueOn status checklist { text checked } previousTask { title } } } }",
)
ASSIGN = mutation("assignTask", "AssignTaskInput", "... on TaskPayload { task { assigneeUserId } }")
RESCHEDULE = mutation(
    "rescheduleTask", "RescheduleTaskInput", "... on TaskPayload { task { dueOn overdue } }"
)
ADD_ITEM = mutation(
    "addTaskChecklistItem",
    "AddTaskChecklistItemInput",
    "... on TaskPayload { task { checklistTotal checklist { id text } } }",
)
CHECK_ITEM = mutation(
    "checkTaskChecklistItem",
    "CheckTaskChecklistItemInput",
    "... on TaskPayload { task { checklistDone checklist { text checked } } }",
)
COMMENT = mutation(
    "commentOnTask",
    "CommentOnTaskInput",
    "... on TaskCommentPayload { comment { body author { id } } task { commentCount } }",
    rule=False,
)
UPDATE_TASK = mutation(
    "updateTask", "UpdateTaskInput", "... on TaskPayload { task { title description priority } }"
)
CREATE_PIPELINE = mutation(
    "createPipeline",
    "CreatePipelineInput",
    "... on PipelinePayload { pipeline { id name stages { id name position } } }",
    rule=False,
)
ADD_STAGE = mutation(
    "addPipelineStage",
    "AddPipelineStageInput",
    "... on PipelinePayload { pipeline { stages { id name position } } }",
    rule=False,
)
JOB = """id name status startsOn dueOn overdue managerUserIds managers { name }
  pipeline { name } stage { name } progress { done total percent } client { name }
  moves { fromStageName toStageName movedBy { id } } tasks { title }"""
CREATE_JOB = mutation("createJob", "CreateJobInput", f"... on JobPayload {{ job {{ {JOB} }} }}")
MOVE_JOB = mutation("moveJob", "MoveJobInput", f"... on JobPayload {{ job {{ {JOB} }} }}")
JOB_STATUS = mutation("setJobStatus", "SetJobStatusInput", "... on JobPayload { job { status } }")

CLIENT_TASKS = """query($id: ID!, $filter: TaskFilter, $order: WorkOrder!, $first: Int,
  $after: String) { client(id: $id) { tasks(first: $first, after: $after, filter: $filter,
  orderBy: $order) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
  edges { node { title dueOn status overdue } } } } }"""

NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Task {{ {TASK} }} }} }}"
JOB_NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Job {{ {JOB} }} }} }}"


async def create_task(
    api: Api, client_id: str, who: tuple[str, str] = AGENT, **extra: Any
) -> dict[str, Any]:
    payload = {"clientId": client_id, "title": "VAT return", "assigneeUserId": "agent-1", **extra}
    data = await ok(api, CREATE_TASK, {"input": payload}, as_user=who)
    return data["createTask"]  # type: ignore[no-any-return]


async def call(
    api: Api, document: str, payload: dict[str, Any], who: tuple[str, str] = AGENT
) -> dict[str, Any]:
    data = await ok(api, document, {"input": payload}, as_user=who)
    return next(iter(data.values()))


async def history(api: Api, client_id: str) -> list[str]:
    query = """query($id: ID!) { client(id: $id) { activity(first: 50) {
      edges { node { summary } } } } }"""
    data = await ok(api, query, {"id": client_id})
    return [e["node"]["summary"] for e in data["client"]["activity"]["edges"]][::-1]


async def pipeline(api: Api, name: str = "Year end") -> dict[str, Any]:
    made = await call(
        api, CREATE_PIPELINE, {"name": name, "stages": ["Intake", "Prepare", "Review"]}, MANAGER
    )
    assert made["__typename"] == "PipelinePayload", made
    return made["pipeline"]  # type: ignore[no-any-return]


# Tasks ---------------------------------------------------------------------------------------


async def test_a_task_from_creation_to_completion_and_its_history(api: Api) -> None:
    client_id = await setup(api)
    due = (TODAY + timedelta(days=10)).isoformat()
    made = await create_task(
        api,
        client_id,
        description="Quarterly VAT",
        dueOn=due,
        priority="HIGH",
        checklist=["Collect invoices", "File"],
    )
    assert made["__typename"] == "TaskPayload"
    task = made["task"]
    task_id = task.pop("id")
    items = task.pop("checklist")
    assert task == {
        "title": "VAT return",
        "description": "Quarterly VAT",
        "assigneeUserId": "agent-1",
        "assignee": {"name": "agent-1"},
        "dueOn": due,
        "priority": "HIGH",
        "status": "OPEN",
        "recurrence": None,
        "overdue": False,
        "completedAt": None,
        "completedBy": None,
        "checklistTotal": 2,
        "checklistDone": 0,
        "commentCount": 0,
        "comments": [],
        "client": {"name": "Acme"},
        "job": None,
        "createdBy": {"id": "agent-1"},
    }
    assert [(i["text"], i["checked"]) for i in items] == [
        ("Collect invoices", False),
        ("File", False),
    ]

    assigned = await call(api, ASSIGN, {"taskId": task_id, "assigneeUserId": "manager-1"})
    assert assigned == {"__typename": "TaskPayload", "task": {"assigneeUserId": "manager-1"}}
    late = (TODAY - timedelta(days=1)).isoformat()
    moved = await call(api, RESCHEDULE, {"taskId": task_id, "dueOn": late})
    assert moved["task"] == {"dueOn": late, "overdue": True}
    added = await call(api, ADD_ITEM, {"taskId": task_id, "text": "Pay"})
    assert [i["text"] for i in added["task"]["checklist"]] == ["Collect invoices", "File", "Pay"]
    checked = await call(api, CHECK_ITEM, {"taskId": task_id, "itemId": items[0]["id"]}, MANAGER)
    assert checked["task"] == {
        "checklistDone": 1,
        "checklist": [
            {"text": "Collect invoices", "checked": True},
            {"text": "File", "checked": False},
            {"text": "Pay", "checked": False},
        ],
    }
    commented = await call(api, COMMENT, {"taskId": task_id, "body": "Waiting on bank"}, MANAGER)
    assert commented == {
        "__typename": "TaskCommentPayload",
        "comment": {"body": "Waiting on bank", "author": {"id": "manager-1"}},
        "task": {"commentCount": 1},
    }
    edited = await call(
        api, UPDATE_TASK, {"taskId": task_id, "title": "VAT Q1", "priority": "URGENT"}
    )
    assert edited["task"] == {
        "title": "VAT Q1",
        "description": "Quarterly VAT",
        "priority": "URGENT",
    }
    started = await call(api, STATUS, {"taskId": task_id, "status": "IN_PROGRESS"})
    assert started["task"]["status"] == "IN_PROGRESS"
    finished = await call(api, STATUS, {"taskId": task_id, "status": "DONE"}, MANAGER)
    assert finished["task"]["status"] == "DONE"
    assert finished["task"]["completedBy"] == {"id": "manager-1"}
    assert finished["task"]["completedAt"] is not None
    assert finished["task"]["nextTask"] is None  # not recurring
    reopened = await call(api, STATUS, {"taskId": task_id, "status": "OPEN"})
    assert reopened["task"]["completedAt"] is None

    assert (await history(api, client_id))[-10:] == [
        f'agent-1 created the task "VAT return" on Acme for agent-1, due {due}.',
        'agent-1 reassigned the task "VAT return" on Acme to manager-1.',
        f'agent-1 moved the task "VAT return" on Acme to {late}.',
        'agent-1 added "Pay" to the checklist of the task "VAT return" on Acme.',
        'manager-1 checked off "Collect invoices" on the task "VAT return" on Acme.',
        'manager-1 commented on the task "VAT return" on Acme.',
        'agent-1 edited the task "VAT Q1" on Acme.',
        'agent-1 started the task "VAT Q1" on Acme.',
        'manager-1 completed the task "VAT Q1" on Acme.',
        'agent-1 reopened the task "VAT Q1" on Acme.',
    ]


async def test_recurring_completion_creates_exactly_one_next_task(api: Api) -> None:
    client_id = await setup(api)
    made = await create_task(
        api,
        client_id,
        title="Payroll",
        dueOn="2030-01-31",
        recurrence="MONTHLY",
        checklist=["Run payroll"],
    )
    task_id = made["task"]["id"]
    await call(api, CHECK_ITEM, {"taskId": task_id, "itemId": made["task"]["checklist"][0]["id"]})
    done = await call(
        api, STATUS, {"taskId": task_id, "status": "DONE", "idempotencyKey": "payroll-done"}
    )
    nxt = done["task"]["nextTask"]
    assert {k: v for k, v in nxt.items() if k != "id"} == {
        "title": "Payroll",
        "dueOn": "2030-02-28",
        "status": "OPEN",
        "checklist": [{"text": "Run payroll", "checked": False}],
        "previousTask": {"title": "Payroll"},
    }
    events = recorded(api)
    again = await call(
        api, STATUS, {"taskId": task_id, "status": "DONE", "idempotencyKey": "payroll-done"}
    )
    assert again["task"]["nextTask"]["id"] == nxt["id"]
    assert recorded(api) == events
    # Reopened and completed again: still the one next task.
    await call(api, STATUS, {"taskId": task_id, "status": "OPEN"})
    redone = await call(api, STATUS, {"taskId": task_id, "status": "DONE"})
    assert redone["task"]["nextTask"]["id"] == nxt["id"]
    listed = await ok(api, CLIENT_TASKS, {"id": client_id, "order": "DUE_DATE_ASC", "filter": None})
    assert [
        (e["node"]["title"], e["node"]["dueOn"]) for e in listed["client"]["tasks"]["edges"]
    ] == [
        ("Payroll", "2030-01-31"),
        ("Payroll", "2030-02-28"),
    ]
    assert 'The recurring task "Payroll" on Acme came round again for agent-1, due 2030-02-28.' in (
        await history(api, client_id)
    )


async def test_filters_due_windows_order_and_paging(api: Api) -> None:
    client_id = await setup(api)
    plan = [
        ("Old", TODAY - timedelta(days=30), "agent-1"),
        ("Sunday", SUNDAY, "manager-1"),
        ("Later", TODAY + timedelta(days=30), "agent-1"),
        ("Undated", None, "agent-1"),
        ("Old done", TODAY - timedelta(days=30), "agent-1"),
    ]
    ids = {}
    for title, due, who in plan:
        made = await create_task(
            api,
            client_id,
            title=title,
            assigneeUserId=who,
            dueOn=None if due is None else due.isoformat(),
        )
        ids[title] = made["task"]["id"]
    await call(api, STATUS, {"taskId": ids["Old done"], "status": "DONE"})

    async def titles(flt: Any = None, order: str = "DUE_DATE_ASC") -> list[str]:
        data = await ok(api, CLIENT_TASKS, {"id": client_id, "filter": flt, "order": order})
        return [e["node"]["title"] for e in data["client"]["tasks"]["edges"]]

    assert await titles() == ["Old", "Old done", "Sunday", "Later", "Undated"]
    assert await titles(order="DUE_DATE_DESC") == ["Later", "Sunday", "Old done", "Old", "Undated"]
    assert await titles(order="NEWEST") == ["Old done", "Undated", "Later", "Sunday", "Old"]
    assert await titles({"due": "OVERDUE"}) == ["Old"]
    assert await titles({"due": "DUE_THIS_WEEK"}) == ["Sunday"]
    assert await titles({"statuses": ["DONE"]}) == ["Old done"]
    assert await titles({"assigneeUserId": "manager-1"}) == ["Sunday"]
    assert await titles({"statuses": ["OPEN"], "assigneeUserId": "agent-1"}) == [
        "Old",
        "Later",
        "Undated",
    ]

    first = await ok(api, CLIENT_TASKS, {"id": client_id, "order": "DUE_DATE_ASC", "first": 2})
    page = first["client"]["tasks"]
    assert page["totalCount"] == 5
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["hasPreviousPage"] is False
    rest = await ok(
        api,
        CLIENT_TASKS,
        {
            "id": client_id,
            "order": "DUE_DATE_ASC",
            "first": 2,
            "after": page["pageInfo"]["endCursor"],
        },
    )
    second = rest["client"]["tasks"]
    assert [e["node"]["title"] for e in second["edges"]] == ["Sunday", "Later"]
    assert second["totalCount"] == 5
    assert second["pageInfo"]["hasPreviousPage"] is True

    # The viewer's own tasks across clients, with the same filters.
    mine = """query($filter: TaskFilter) { viewer { tasks(filter: $filter) { totalCount
      edges { node { title client { name } } } } } }"""
    got = await ok(api, mine, {"filter": {"statuses": ["OPEN"]}}, as_user=AGENT)
    assert [e["node"]["title"] for e in got["viewer"]["tasks"]["edges"]] == [
        "Old",
        "Later",
        "Undated",
    ]
    got = await ok(api, mine, {"filter": None}, as_user=MANAGER)
    assert got["viewer"]["tasks"]["totalCount"] == 1
    assert got["viewer"]["tasks"]["edges"][0]["node"] == {
        "title": "Sunday",
        "client": {"name": "Acme"},
    }


async def test_bad_task_input_is_typed_and_records_nothing(api: Api) -> None:
    client_id = await setup(api)
    # A member of another firm, with the same user id pattern.
    other = """mutation { addStaffMember(input: {userId: "outsider-1", name: "Out",
      email: "out@other.test", role: AGENT}) { __typename } }"""
    await ok(api, other, as_user=("owner-b", "owner"), firm="firm-b")
    made = await create_task(api, client_id)
    task_id = made["task"]["id"]
    await call(api, STATUS, {"taskId": task_id, "status": "CANCELLED"})
    before = recorded(api)
    for assignee in ("nobody", "outsider-1", "agent-2", "watcher-1"):
        refused = await create_task(api, client_id, assigneeUserId=assignee)
        assert refused["__typename"] == "ValidationError", assignee
        assert refused["field"] == "input.assigneeUserId"
        refused = await call(api, ASSIGN, {"taskId": task_id, "assigneeUserId": assignee})
        assert refused["field"] == "input.assigneeUserId"
    assert (await create_task(api, client_id, title="  "))["field"] == "input.title"
    assert (await create_task(api, client_id, recurrence="WEEKLY"))["field"] == "input.dueOn"
    completed = await call(api, STATUS, {"taskId": task_id, "status": "DONE"})
    assert completed["__typename"] == "RuleViolationError"
    assert completed["rule"] == "TASK_CANCELLED"
    bad_item = await call(api, CHECK_ITEM, {"taskId": task_id, "itemId": "nope"})
    assert bad_item["field"] == "input.itemId"
    assert (await call(api, COMMENT, {"taskId": task_id, "body": ""}))["field"] == "input.body"
    assert recorded(api) == before


async def test_roles_isolation_and_work_on_hold(api: Api) -> None:
    client_id = await setup(api)
    hold = """mutation($id: ID!) { putClientOnHold(input: {clientId: $id, reason: "Fees"}) {
      __typename } }"""
    await ok(api, hold, {"id": client_id})
    # Internal work goes on while the client is on hold.
    made = await create_task(api, client_id, dueOn=TODAY.isoformat())
    assert made["__typename"] == "TaskPayload"
    task_id = made["task"]["id"]
    before = recorded(api)
    # agent-2 is on no team: the task does not exist for them.
    assert (await ok(api, NODE, {"id": task_id}, as_user=AGENT2))["node"] is None
    refused = await call(api, STATUS, {"taskId": task_id, "status": "DONE"}, AGENT2)
    assert refused == {"__typename": "NotFoundError", "id": task_id}
    assert (await create_task(api, client_id, who=AGENT2))["__typename"] == "NotFoundError"
    # The watcher reads but changes nothing.
    assert (await ok(api, NODE, {"id": task_id}, as_user=WATCHER))["node"]["title"] == "VAT return"
    forbidden = await api.gql(
        STATUS, {"input": {"taskId": task_id, "status": "DONE"}}, as_user=WATCHER
    )
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Another firm's owner sees nothing.
    other = ("owner-b", "owner")
    assert (await api.gql(NODE, {"id": task_id}, as_user=other, firm="firm-b"))["data"] == {
        "node": None
    }
    refused_other = await api.gql(
        STATUS, {"input": {"taskId": task_id, "status": "DONE"}}, as_user=other, firm="firm-b"
    )
    assert refused_other["data"]["setTaskStatus"]["__typename"] == "NotFoundError"
    mine = "{ viewer { tasks { totalCount } jobs { totalCount } } }"
    assert (await ok(api, mine, as_user=AGENT2))["viewer"]["tasks"]["totalCount"] == 0
    assert recorded(api) == before


# Pipelines and jobs -------------------------------------------------------------------------


async def test_pipelines_jobs_moves_and_progress(api: Api) -> None:
    client_id = await setup(api)
    flow = await pipeline(api)
    stages = {s["name"]: s["id"] for s in flow["stages"]}
    assert [(s["name"], s["position"]) for s in flow["stages"]] == [
        ("Intake", 0),
        ("Prepare", 1),
        ("Review", 2),
    ]
    added = await call(
        api, ADD_STAGE, {"pipelineId": flow["id"], "name": "Sign-off", "index": 2}, OWNER
    )
    assert [s["name"] for s in added["pipeline"]["stages"]] == [
        "Intake",
        "Prepare",
        "Sign-off",
        "Review",
    ]
    refused = await api.gql(
        CREATE_PIPELINE, {"input": {"name": "Mine", "stages": ["A"]}}, as_user=AGENT
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    listed = await ok(api, "{ pipelines { name stages { name } } }", as_user=AGENT)
    assert listed["pipelines"] == [
        {
            "name": "Year end",
            "stages": [{"name": n} for n in ("Intake", "Prepare", "Sign-off", "Review")],
        }
    ]

    start, due = TODAY - timedelta(days=5), TODAY - timedelta(days=1)
    made = await call(
        api,
        CREATE_JOB,
        {
            "clientId": client_id,
            "name": "Accounts 2024",
            "pipelineId": flow["id"],
            "managerUserIds": ["manager-1", "agent-1"],
            "startsOn": start.isoformat(),
            "dueOn": due.isoformat(),
        },
    )
    assert made["__typename"] == "JobPayload", made
    job = made["job"]
    job_id = job.pop("id")
    assert job == {
        "name": "Accounts 2024",
        "status": "ACTIVE",
        "startsOn": start.isoformat(),
        "dueOn": due.isoformat(),
        "overdue": True,
        "managerUserIds": ["manager-1", "agent-1"],
        "managers": [{"name": "manager-1"}, {"name": "agent-1"}],
        "pipeline": {"name": "Year end"},
        "stage": {"name": "Intake"},
        "progress": {"done": 0, "total": 0, "percent": 0},
        "client": {"name": "Acme"},
        "moves": [],
        "tasks": [],
    }
    for title in ("Trial balance", "Draft accounts", "Notes"):
        await create_task(api, client_id, title=title, jobId=job_id)
    listed_tasks = await ok(
        api, CLIENT_TASKS, {"id": client_id, "order": "NEWEST", "filter": {"jobIds": [job_id]}}
    )
    task_ids = [e for e in listed_tasks["client"]["tasks"]["edges"]]
    assert len(task_ids) == 3
    job_tasks = await ok(api, JOB_NODE, {"id": job_id})
    first_task = (await create_task(api, client_id, title="Bank", jobId=job_id))["task"]["id"]
    await call(api, STATUS, {"taskId": first_task, "status": "DONE"})
    cancelled = (await create_task(api, client_id, title="Skip", jobId=job_id))["task"]["id"]
    await call(api, STATUS, {"taskId": cancelled, "status": "CANCELLED"})
    moved = await call(api, MOVE_JOB, {"jobId": job_id, "stageId": stages["Review"]}, MANAGER)
    assert moved["job"]["stage"] == {"name": "Review"}
    assert moved["job"]["moves"] == [
        {"fromStageName": "Intake", "toStageName": "Review", "movedBy": {"id": "manager-1"}}
    ]
    assert moved["job"]["progress"] == {"done": 1, "total": 4, "percent": 25}
    assert len(job_tasks["node"]["tasks"]) == 3

    # The viewer's jobs (managed) and the overview.
    mine = "{ viewer { jobs { totalCount edges { node { name stage { name } } } } } }"
    assert (await ok(api, mine, as_user=AGENT))["viewer"]["jobs"]["totalCount"] == 1
    assert (await ok(api, mine, as_user=OWNER))["viewer"]["jobs"]["totalCount"] == 0
    overview = """query($id: ID!) { client(id: $id) { overview { latestTasks { title }
      latestJobs { name } } jobs(filter: {due: OVERDUE}) { totalCount } } }"""
    data = (await ok(api, overview, {"id": client_id}))["client"]
    assert [t["title"] for t in data["overview"]["latestTasks"]] == [
        "Skip",
        "Bank",
        "Notes",
        "Draft accounts",
        "Trial balance",
    ]
    assert data["overview"]["latestJobs"] == [{"name": "Accounts 2024"}]
    assert data["jobs"]["totalCount"] == 1

    done = await call(api, JOB_STATUS, {"jobId": job_id, "status": "DONE"})
    assert done["job"] == {"status": "DONE"}
    refused_move = await call(api, MOVE_JOB, {"jobId": job_id, "stageId": stages["Intake"]})
    assert refused_move["rule"] == "JOB_NOT_ACTIVE"
    sentences = await history(api, client_id)
    assert (
        'agent-1 created the job "Accounts 2024" on Acme in the pipeline "Year end", '
        'stage "Intake".'
    ) in sentences
    assert sentences[-2:] == [
        'manager-1 moved the job "Accounts 2024" on Acme from "Intake" to "Review".',
        'agent-1 completed the job "Accounts 2024" on Acme.',
    ]
    firm_wide = await ok(api, "{ activity(first: 50) { edges { node { summary } } } }")
    summaries = [e["node"]["summary"] for e in firm_wide["activity"]["edges"]]
    assert (
        'manager-1 created the pipeline "Year end" with the stages "Intake", "Prepare" and '
        '"Review".'
    ) in summaries
    assert 'owner-1 added the stage "Sign-off" to the pipeline "Year end".' in summaries


async def test_bad_job_input_is_typed_and_records_nothing(api: Api) -> None:
    client_id = await setup(api)
    flow = await pipeline(api)
    other = await pipeline(api, "Payroll")
    made = await call(
        api, CREATE_JOB, {"clientId": client_id, "name": "Books", "pipelineId": flow["id"]}
    )
    job_id = made["job"]["id"]
    before = recorded(api)
    base = {"clientId": client_id, "name": "Books", "pipelineId": flow["id"]}
    foreign_stage = other["stages"][0]["id"]
    refused = await call(api, CREATE_JOB, {**base, "stageId": foreign_stage})
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "input.stageId")
    refused = await call(api, MOVE_JOB, {"jobId": job_id, "stageId": foreign_stage})
    assert (refused["__typename"], refused["field"]) == ("ValidationError", "input.stageId")
    refused = await call(api, CREATE_JOB, {**base, "startsOn": "2030-02-01", "dueOn": "2030-01-31"})
    assert refused["field"] == "input.dueOn"
    refused = await call(api, CREATE_JOB, {**base, "managerUserIds": ["manager-1", "nobody"]})
    assert refused["field"] == "input.managerUserIds.1"
    refused = await call(api, CREATE_JOB, {**base, "pipelineId": "UGlwZWxpbmU6eA"})
    assert refused["__typename"] == "NotFoundError"
    refused = await create_task(api, client_id, jobId="Sm9iOm5vcGU")
    assert refused["__typename"] == "NotFoundError"
    assert recorded(api) == before


async def test_a_live_subscriber_sees_task_and_job_changes(live_server: LiveServer) -> None:
    payload = {"Authorization": f"Bearer {live_server.token()}"}
    async with http(live_server) as api, connect(live_server.url, payload=payload) as ws:
        client_id = await api.register("Acme")
        await api.gql(
            """mutation { addStaffMember(input: {userId: "owner-1", name: "Olive",
                 email: "olive@firm.test", role: OWNER}) { __typename } }"""
        )
        await ws.subscribe()
        await until_subscribed(live_server, 1)
        made = await api.gql(
            """mutation($id: ID!) { createTask(input: {clientId: $id, title: "Payroll",
                 assigneeUserId: "owner-1"}) { ... on TaskPayload { task { id } } } }""",
            {"id": client_id},
        )
        task_id = made["createTask"]["task"]["id"]
        entry = await ws.entry()
        assert entry["type"] == "TaskCreated"
        assert entry["summary"] == 'owner-1 created the task "Payroll" on Acme for Olive.'
        assert entry["client"] == {"id": client_id, "name": "Acme"}
        await api.gql(
            """mutation($id: ID!) { setTaskStatus(input: {taskId: $id, status: DONE}) {
                 __typename } }""",
            {"id": task_id},
        )
        entry = await ws.entry()
        assert entry["type"] == "TaskStatusChanged"
        assert entry["summary"] == 'owner-1 completed the task "Payroll" on Acme.'
