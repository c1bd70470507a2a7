"""The overview's per-member markers and its "needs attention" count, over GraphQL, on both
backends: what someone else added is new for a member until they mark the overview seen, what
they added themselves never is; overdue tasks, requests awaiting the firm and jobs past due are
counted; marks are each member's own and record nothing for a client they may not see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.conftest import Api
from tests.e2e.test_notifications import AGENT, AGENT2, MANAGER, OWNER, WATCHER, ok, recorded, setup
from tests.e2e.test_requests_time import open_request, simple, with_portal_contact

TODAY = datetime.now(UTC).date()

OVERVIEW = """query($id: ID!) { client(id: $id) { overview {
  seenAt
  needsAttention { overdueTasks requestsAwaitingFirm jobsPastDue total }
  latestTasks { title isNew }
  latestJobs { name isNew }
  latestComments { body isNew } } } }"""

MARK = """mutation($input: MarkOverviewSeenInput!) { markOverviewSeen(input: $input) {
  __typename
  ... on MarkOverviewSeenPayload { seenAt client { name } }
  ... on NotFoundError { id } } }"""

COMMENT = """mutation($input: AddCommentInput!) { addComment(input: $input) { __typename } }"""
TASK = """mutation($input: CreateTaskInput!) { createTask(input: $input) { __typename
  ... on TaskPayload { task { id } } ... on Error { message } } }"""
PIPELINE = """mutation($input: CreatePipelineInput!) { createPipeline(input: $input) { __typename
  ... on PipelinePayload { pipeline { id } } } }"""
JOB = """mutation($input: CreateJobInput!) { createJob(input: $input) { __typename
  ... on JobPayload { job { id } } ... on Error { message } } }"""


async def overview(api: Api, client_id: str, who: tuple[str, str]) -> dict[str, Any]:
    data = await ok(api, OVERVIEW, {"id": client_id}, as_user=who)
    return dict(data["client"]["overview"])


async def add_task(api: Api, client_id: str, title: str, due: int, who: tuple[str, str]) -> None:
    done = await ok(
        api,
        TASK,
        {
            "input": {
                "clientId": client_id,
                "title": title,
                "assigneeUserId": AGENT[0],
                "dueOn": (TODAY + timedelta(days=due)).isoformat(),
            }
        },
        as_user=who,
    )
    assert done["createTask"]["__typename"] == "TaskPayload", done


async def test_what_others_add_is_new_until_the_member_marks_the_overview_seen(
    api: Api,
) -> None:
    client_id = await setup(api)
    await ok(api, COMMENT, {"input": {"clientId": client_id, "body": "By the owner"}})
    await add_task(api, client_id, "Owner's task", 3, OWNER)

    before = await overview(api, client_id, AGENT)
    assert before["seenAt"] is None
    assert before["latestComments"] == [{"body": "By the owner", "isNew": True}]
    assert before["latestTasks"] == [{"title": "Owner's task", "isNew": True}]
    # What the owner added is never new for the owner.
    mine = await overview(api, client_id, OWNER)
    assert mine["latestComments"] == [{"body": "By the owner", "isNew": False}]

    marked = await ok(api, MARK, {"input": {"clientId": client_id}}, as_user=AGENT)
    assert marked["markOverviewSeen"]["__typename"] == "MarkOverviewSeenPayload"
    assert marked["markOverviewSeen"]["client"] == {"name": "Acme"}
    seen_at = marked["markOverviewSeen"]["seenAt"]
    assert seen_at is not None

    after = await overview(api, client_id, AGENT)
    assert after["seenAt"] == seen_at
    assert after["latestComments"] == [{"body": "By the owner", "isNew": False}]
    assert after["latestTasks"] == [{"title": "Owner's task", "isNew": False}]

    # Something added later is new again, for the agent only: the manager never marked.
    await add_task(api, client_id, "Later task", 5, MANAGER)
    later = await overview(api, client_id, AGENT)
    assert later["latestTasks"] == [
        {"title": "Later task", "isNew": True},
        {"title": "Owner's task", "isNew": False},
    ]
    managers = await overview(api, client_id, MANAGER)
    assert managers["seenAt"] is None
    assert managers["latestTasks"] == [
        {"title": "Later task", "isNew": False},
        {"title": "Owner's task", "isNew": True},
    ]


async def test_watchers_mark_their_own_and_unassigned_agents_record_nothing(api: Api) -> None:
    client_id = await setup(api)
    marked = await ok(api, MARK, {"input": {"clientId": client_id}}, as_user=WATCHER)
    assert marked["markOverviewSeen"]["__typename"] == "MarkOverviewSeenPayload"
    assert (await overview(api, client_id, WATCHER))["seenAt"] is not None
    assert (await overview(api, client_id, OWNER))["seenAt"] is None

    before = recorded(api)
    refused = await ok(api, MARK, {"input": {"clientId": client_id}}, as_user=AGENT2)
    assert refused["markOverviewSeen"] == {"__typename": "NotFoundError", "id": client_id}
    assert recorded(api) == before


async def test_needs_attention_counts_overdue_tasks_requests_and_jobs_past_due(
    api: Api,
) -> None:
    client_id, _ada = await with_portal_contact(api)
    empty = await overview(api, client_id, OWNER)
    assert empty["needsAttention"] == {
        "overdueTasks": 0,
        "requestsAwaitingFirm": 0,
        "jobsPastDue": 0,
        "total": 0,
    }
    await add_task(api, client_id, "Late", -2, OWNER)
    await add_task(api, client_id, "Later", -1, OWNER)
    await add_task(api, client_id, "Fine", 4, OWNER)
    flow = await ok(api, PIPELINE, {"input": {"name": "Year end", "stages": ["Intake", "Done"]}})
    pipeline_id = flow["createPipeline"]["pipeline"]["id"]
    for name, due in (("Past due", -3), ("On time", 10)):
        made = await ok(
            api,
            JOB,
            {
                "input": {
                    "clientId": client_id,
                    "name": name,
                    "pipelineId": pipeline_id,
                    "startsOn": (TODAY - timedelta(days=30)).isoformat(),
                    "dueOn": (TODAY + timedelta(days=due)).isoformat(),
                }
            },
        )
        assert made["createJob"]["__typename"] == "JobPayload", made
    # Two requests: one a contact answered (the firm's turn), one still with the client.
    answered = await open_request(api, client_id)
    await open_request(api, client_id)
    marked = await simple(api, "markClientRequestAnswered", answered["request"]["id"])
    assert marked["request"]["status"] == "ANSWERED"
    found = await overview(api, client_id, OWNER)
    assert found["needsAttention"] == {
        "overdueTasks": 2,
        "requestsAwaitingFirm": 1,
        "jobsPastDue": 1,
        "total": 4,
    }
    assert [job["name"] for job in found["latestJobs"]] == ["On time", "Past due"]


async def test_the_overview_shows_emails_with_the_client_not_notices_to_staff(api: Api) -> None:
    client_id = await setup(api)
    # The owner's comment notifies the team by email (kind NOTIFICATION).
    await ok(api, COMMENT, {"input": {"clientId": client_id, "body": "Year end"}})
    sent = await ok(
        api,
        """mutation($input: SendEmailInput!) { sendEmail(input: $input) { __typename } }""",
        {
            "input": {
                "clientId": client_id,
                "to": ["ada@acme.example"],
                "subject": "Hi",
                "body": ".",
            }
        },
    )
    assert sent["sendEmail"]["__typename"] == "SendEmailPayload"
    data = await ok(
        api,
        """query($id: ID!) { client(id: $id) {
          overview { latestEmails { kind subject } }
          notices: emails(kind: [NOTIFICATION]) { totalCount }
          all: emails { totalCount } } }""",
        {"id": client_id},
    )
    client = data["client"]
    assert client["overview"]["latestEmails"] == [{"kind": "MANUAL", "subject": "Hi"}]
    notices = client["notices"]["totalCount"]
    assert notices == 3  # agent-1, manager-1 and watcher-1, the team
    assert client["all"]["totalCount"] == notices + 1
