"""The whole overview tab costs the same number of SQL statements for a small client (one of
each kind) and for the demo firm's fullest one (comments, activity, invoices, quotes, documents, chats, emails,
requests, time, tasks, jobs, what needs attention and what is new), on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from domain.actor import Actor, ActorKind, acting_as
from domain.values import ClientType
from infra.container import Container
from infra.seed import DEMO_FIRM, DEMO_OWNER, DEMO_OWNER_NAME, seed_demo_firm
from infra.services.documents import FileBytes
from projections.tables import clients
from resolvers.ids import to_global_id
from tests.e2e.conftest import Api
from tests.integration.test_statements import api, connections, counting

__all__ = ["api"]

OVERVIEW = """query($id: ID!) { client(id: $id) { overview {
  seenAt
  needsAttention { overdueTasks requestsAwaitingFirm jobsPastDue total }
  latestComments { body isNew author { id } }
  latestActivity { summary }
  unpaidInvoices { number balance { amount } }
  latestQuotes { number }
  latestDocuments { name isNew }
  latestChatMessages { body author { id } }
  latestEmails { subject status }
  latestRequests { title status isNew }
  latestTimeEntries { minutes isNew }
  unbilledTime { minutes }
  latestTasks { title isNew assigneeUserId }
  latestJobs { name isNew progress { done total } } } } }"""

# Measured on SQLite and PostgreSQL: one statement per overview list (comments, activity,
# invoices, quotes, documents, the viewer's document views, chat messages, emails, requests,
# time entries, unbilled time, tasks, jobs and their progress, attention counts, the viewer's
# seen mark), plus the client and the cache check.
OVERVIEW_STATEMENTS = 17
ACTIVITY_SHOWN = 5  # the overview's latest activity entries


async def overview_statements(api: Api, client_id: str) -> tuple[dict[str, Any], int, int]:
    with counting(api.container.engine) as counted:
        result = await api.gql(
            OVERVIEW,
            {"id": to_global_id("Client", client_id)},
            as_user=(DEMO_OWNER, "owner"),
            firm=DEMO_FIRM,
        )
    assert "errors" not in result, result
    # The viewer's role is read from the staff records once per request unless a recent
    # request of the same identity already read it: not the overview's cost, left out.
    queries = [q for q in counted.queries if "rm_staff.role" not in q]
    return result["data"]["client"]["overview"], len(queries), len(counted.control)


def one_of_each(container: Container) -> str:
    """A small client: one item of every kind the overview shows (unpaid, overdue and new)."""
    services = container.services
    owner = Actor(id=DEMO_OWNER, kind=ActorKind.STAFF, name=DEMO_OWNER_NAME)
    today = datetime.now(UTC).date()
    with acting_as(owner, DEMO_FIRM, "owner"):
        client_id = UUID(
            services.clients.register_client(name="Small Ltd", client_type=ClientType.COMPANY).ids[
                "client_id"
            ]
        )
        linked = services.clients.link_contact(
            client_id,
            new_contact={
                "first_name": "Sam",
                "last_name": "Small",
                "emails": ["sam@small.example"],
            },
        )
        services.client_requests.set_contact_portal_access(
            UUID(linked.ids["contact_id"]), email="sam@small.example", enabled=True
        )
        services.clients.add_comment(client_id, "One comment")
        services.billing.issue_invoice(
            client_id,
            number=None,
            issued_on=today,
            due_on=today + timedelta(days=30),
            currency="GBP",
            lines=[("Bookkeeping", "1", "100.00")],
        )
        services.quotes.issue_quote(
            client_id,
            number=None,
            issued_on=today,
            valid_until=today + timedelta(days=30),
            currency="GBP",
            lines=[("Accounts", "1", "500.00")],
        )
        services.documents.upload_documents(client_id, [FileBytes("one.txt", b"one document")])
        thread = services.chat.start_chat_thread(client_id, title="One", visibility="INTERNAL")
        services.chat.post_chat_message(UUID(thread.ids["thread_id"]), body="One message")
        services.emails.send_email(client_id, to=["sam@small.example"], subject="One", body="Hi")
        services.client_requests.open_client_request(client_id, title="One", message="Please")
        services.time_entries.log_time(
            client_id, worked_on=today, minutes=30, user_id="demo-manager", rate="90.00"
        )
        pipeline = container.services.jobs.create_pipeline(name="One", stages=["Only"])
        services.jobs.create_job(
            client_id, name="One job", pipeline_id=UUID(pipeline.ids["pipeline_id"])
        )
        done = services.tasks.create_task(
            client_id,
            title="One task",
            assignee_user_id="demo-manager",
            due_on=today - timedelta(days=1),
        )
    container.wait_for(done.position)
    return str(client_id)


async def test_the_overview_statement_count_is_the_same_for_a_bare_and_a_full_client(
    api: Api, backend: str
) -> None:
    container = api.container
    seed_demo_firm(container)
    owner = Actor(id=DEMO_OWNER, kind=ActorKind.STAFF, name=DEMO_OWNER_NAME)
    with acting_as(owner, DEMO_FIRM, "owner"):
        bare = container.service.register_client(name="Bare Ltd", client_type=ClientType.COMPANY)
    container.wait_for(bare.position)
    small = one_of_each(container)
    with container.engine.connect() as conn:
        full = conn.execute(
            sa.select(clients.c.id).where(clients.c.name == "Acme Manufacturing Ltd")
        ).scalar_one()

    empty, bare_queries, _ = await overview_statements(api, bare.ids["client_id"])
    some, small_queries, small_control = await overview_statements(api, small)
    filled, full_queries, full_control = await overview_statements(api, full)

    # The bare client has nothing but its registration in the history.
    assert [entry["summary"] for entry in empty["latestActivity"]] == [
        "Dana Whitfield registered the company client Bare Ltd."
    ]
    assert all(
        value == []
        for key, value in empty.items()
        if key.startswith("latest") and key != "latestActivity"
    )
    for key in ("latestComments", "latestDocuments", "latestEmails", "latestRequests"):
        assert filled[key], key
    for key in ("latestTimeEntries", "latestTasks", "latestJobs", "latestChatMessages"):
        assert filled[key], key
    assert filled["needsAttention"]["total"] > 0
    # One of each (the request also queued an email to the contact).
    assert {key: len(value) for key, value in some.items() if key.startswith("latest")} == {
        "latestComments": 1,
        "latestActivity": ACTIVITY_SHOWN,
        "latestDocuments": 1,
        "latestChatMessages": 1,
        "latestEmails": 2,
        "latestRequests": 1,
        "latestTimeEntries": 1,
        "latestTasks": 1,
        "latestJobs": 1,
        "latestQuotes": 1,
    }
    assert some["needsAttention"]["overdueTasks"] == 1
    # A small and a full client cost the same; a bare one no more (the lists under empty
    # lists, such as a document's views or a task's assignee, are never asked for).
    assert small_queries == full_queries == OVERVIEW_STATEMENTS
    # SQLite's BEGINs: at most one per statement, the role's included.
    assert small_control <= connections(backend, OVERVIEW_STATEMENTS + 1)
    assert full_control <= connections(backend, OVERVIEW_STATEMENTS + 1)
    assert bare_queries <= OVERVIEW_STATEMENTS
