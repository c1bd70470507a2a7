"""Client requests and time over HTTP, on both backends: portal access, opening, the thread,
answered / closed, reminders that queue emails, the NO_PORTAL_CONTACT and CLIENT_ON_HOLD
rules; time entries, totals, unbilled time, timers, the viewer's own time; the profile's
connections and overview; bad input that records nothing; firm isolation and unassigned
agents; activity sentences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from asgi_lifespan import LifespanManager

from domain.actor import Actor, ActorKind, acting_as
from infra.auth import TokenIssuer
from infra.services.documents import FileBytes
from infra.web import create_app
from resolvers.ids import to_global_id
from tests.e2e.conftest import SECRET, Api
from tests.e2e.test_emails import settings_for
from tests.e2e.test_notifications import AGENT, AGENT2, MANAGER, OWNER, WATCHER, ok, setup


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    """The app with the mail worker off (the tests look at QUEUED emails)."""
    app = create_app(settings_for(database_url, tmp_path))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            yield Api(client=client, issuer=TokenIssuer(SECRET), app=app)


def recorded(api: Api) -> int:
    return api.event_count()


LINK = """mutation($input: LinkContactInput!) { linkContact(input: $input) {
  ... on LinkContactSuccess { contact { id } } } }"""

PORTAL = """mutation($input: SetContactPortalAccessInput!) { setContactPortalAccess(input: $input) {
  __typename
  ... on ContactPortalAccessPayload { contact { emails { address portalAccess } } }
  ... on ValidationError { field message }
  ... on NotFoundError { id } } }"""

REQUEST_FIELDS = """id title status dueOn overdue remindersSent messageCount
  openedBy { id } client { name } addressedTo { firstName }
  messages(first: 10) { totalCount edges { node { number body author { id kind }
    attachments { name } } } }
  attachments { name }"""

ERRORS = """... on ValidationError { field message }
  ... on NotFoundError { id }
  ... on RuleViolationError { rule message }
  ... on LimitExceededError { limit }"""

OPEN = f"""mutation($input: OpenClientRequestInput!) {{ openClientRequest(input: $input) {{
  __typename ... on ClientRequestPayload {{ request {{ {REQUEST_FIELDS} }} }} {ERRORS} }} }}"""

REPLY = f"""mutation($input: ReplyToClientRequestInput!) {{ replyToClientRequest(input: $input) {{
  __typename ... on ClientRequestPayload {{ request {{ {REQUEST_FIELDS} }} }} {ERRORS} }} }}"""

SIMPLE = """mutation($input: ClientRequestInput!) {{ {name}(input: $input) {{
  __typename ... on ClientRequestPayload {{ request {{ status remindersSent }} }} {errors} }} }}"""

EMAILS = """query($id: ID!) { client(id: $id) {
  emails(first: 20) { totalCount edges { node { kind to subject body } } } } }"""

HOLD = """mutation($id: ID!) { putClientOnHold(input: {clientId: $id, reason: "Fees"}) {
  __typename } }"""
RELEASE = """mutation($id: ID!) { releaseClientHold(input: {clientId: $id}) { __typename } }"""


async def simple(api: Api, name: str, request_id: str, who: tuple[str, str] = OWNER) -> Any:
    document = SIMPLE.format(name=name, errors=ERRORS)
    data = await ok(api, document, {"input": {"requestId": request_id}}, as_user=who)
    return data[name]


async def contact(api: Api, client_id: str, first: str, emails: list[str]) -> str:
    new = {"firstName": first, "lastName": "Example", "emails": emails}
    data = await ok(api, LINK, {"input": {"clientId": client_id, "newContact": new}})
    return str(data["linkContact"]["contact"]["id"])


async def portal(
    api: Api, contact_id: str, email: str, enabled: bool = True, who: tuple[str, str] = OWNER
) -> Any:
    payload = {"contactId": contact_id, "email": email, "enabled": enabled}
    return (await ok(api, PORTAL, {"input": payload}, as_user=who))["setContactPortalAccess"]


async def open_request(api: Api, client_id: str, who: tuple[str, str] = AGENT, **extra: Any) -> Any:
    payload = {
        "clientId": client_id,
        "title": "Bank statements 2024",
        "message": "Please upload your bank statements.",
        **extra,
    }
    return (await ok(api, OPEN, {"input": payload}, as_user=who))["openClientRequest"]


async def with_portal_contact(api: Api) -> tuple[str, str]:
    """Acme (agent-1, manager-1, watcher-1 on its team) with Ada, who has portal access."""
    client_id = await setup(api)
    ada = await contact(api, client_id, "Ada", ["ada@acme.example", "ada.home@acme.example"])
    await portal(api, ada, "ADA@acme.example")
    return client_id, ada


def upload(api: Api, client_uuid: str, name: str) -> str:
    owner = Actor(id="owner-1", kind=ActorKind.STAFF, name="owner-1")
    with acting_as(owner, "firm-a", "owner"):
        done = api.container.services.documents.upload_documents(
            UUID(client_uuid), [FileBytes(name, f"content of {name}".encode())]
        )
    api.container.wait_for(done.position)
    return to_global_id("Document", done.ids["document_ids"])


def local(global_id: str) -> str:
    import base64

    padded = global_id + "=" * (-len(global_id) % 4)
    return base64.urlsafe_b64decode(padded).decode().partition(":")[2]


# Portal access ------------------------------------------------------------------------------


async def test_staff_set_a_contacts_portal_access_per_email(api: Api) -> None:
    client_id = await setup(api)
    ada = await contact(api, client_id, "Ada", ["ada@acme.example", "ada.home@acme.example"])
    given = await portal(api, ada, " Ada.Home@ACME.example ", who=AGENT)
    assert given["contact"]["emails"] == [
        {"address": "ada@acme.example", "portalAccess": False},
        {"address": "ada.home@acme.example", "portalAccess": True},
    ]
    head = recorded(api)
    again = await portal(api, ada, "ada.home@acme.example")  # already so: nothing new
    assert again["__typename"] == "ContactPortalAccessPayload"
    assert recorded(api) == head
    unknown = await portal(api, ada, "someone@else.example")
    assert unknown["__typename"] == "ValidationError"
    assert unknown["field"] == "input.email"
    hidden = await portal(api, ada, "ada@acme.example", who=AGENT2)  # not on Acme's team
    assert hidden == {"__typename": "NotFoundError", "id": ada}
    watcher = await api.gql(
        PORTAL,
        {"input": {"contactId": ada, "email": "ada@acme.example", "enabled": True}},
        as_user=WATCHER,
    )
    assert watcher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert recorded(api) == head
    taken = await portal(api, ada, "ada.home@acme.example", enabled=False)
    assert [e["portalAccess"] for e in taken["contact"]["emails"]] == [False, False]
    activity = await ok(api, "{ activity(first: 2) { edges { node { summary } } } }")
    assert [e["node"]["summary"] for e in activity["activity"]["edges"]] == [
        "owner-1 took back Ada Example's portal access through ada.home@acme.example.",
        "agent-1 gave Ada Example portal access through ada.home@acme.example.",
    ]


# Requests -----------------------------------------------------------------------------------


async def test_a_request_thread_from_open_to_closed(api: Api) -> None:
    client_id, _ada = await with_portal_contact(api)
    bob = await contact(api, client_id, "Bob", ["bob@acme.example"])  # no portal access
    statement = upload(api, local(client_id), "statement.pdf")
    opened = await open_request(api, client_id, dueOn="2030-01-31", documentIds=[statement])
    assert opened["__typename"] == "ClientRequestPayload", opened
    request = opened["request"]
    request_id = request.pop("id")
    assert request == {
        "title": "Bank statements 2024",
        "status": "OPEN",
        "dueOn": "2030-01-31",
        "overdue": False,
        "remindersSent": 0,
        "messageCount": 1,
        "openedBy": {"id": "agent-1"},
        "client": {"name": "Acme"},
        "addressedTo": [{"firstName": "Ada"}],
        "messages": {
            "totalCount": 1,
            "edges": [
                {
                    "node": {
                        "number": 1,
                        "body": "Please upload your bank statements.",
                        "author": {"id": "agent-1", "kind": "STAFF"},
                        "attachments": [{"name": "statement.pdf"}],
                    }
                }
            ],
        },
        "attachments": [{"name": "statement.pdf"}],
    }
    # Staff mark it answered (the client phoned), then ask again with a reply.
    answered = await simple(api, "markClientRequestAnswered", request_id)
    assert answered == {
        "__typename": "ClientRequestPayload",
        "request": {"status": "ANSWERED", "remindersSent": 0},
    }
    reminder_refused = await simple(api, "sendRequestReminder", request_id)
    assert reminder_refused["rule"] == "REQUEST_ANSWERED"
    reply = await ok(
        api,
        REPLY,
        {"input": {"requestId": request_id, "message": "Also December, please."}},
        as_user=MANAGER,
    )
    replied = reply["replyToClientRequest"]["request"]
    assert replied["status"] == "OPEN"
    assert replied["messageCount"] == 2
    assert [e["node"]["body"] for e in replied["messages"]["edges"]] == [
        "Please upload your bank statements.",
        "Also December, please.",
    ]
    reminded = await simple(api, "sendRequestReminder", request_id)
    assert reminded["request"] == {"status": "OPEN", "remindersSent": 1}
    assert (await simple(api, "sendRequestReminder", request_id))["request"]["remindersSent"] == 2
    # Every message to the client is emailed to Ada's portal address (not to Bob).
    emails = (await ok(api, EMAILS, {"id": client_id}))["client"]["emails"]
    assert [
        (e["node"]["kind"], e["node"]["to"], e["node"]["subject"]) for e in emails["edges"]
    ] == [
        ("SYSTEM", ["ada@acme.example"], "Reminder: Bank statements 2024"),
        ("SYSTEM", ["ada@acme.example"], "Reminder: Bank statements 2024"),
        ("SYSTEM", ["ada@acme.example"], "Re: Bank statements 2024"),
        ("SYSTEM", ["ada@acme.example"], "Request: Bank statements 2024"),
    ]
    assert emails["edges"][3]["node"]["body"] == (
        "Please upload your bank statements.\n\nPlease answer by 2030-01-31."
    )
    closed = await simple(api, "closeClientRequest", request_id)
    assert closed["request"]["status"] == "CLOSED"
    head = recorded(api)
    refused = await ok(
        api, REPLY, {"input": {"requestId": request_id, "message": "One more thing"}}
    )
    assert refused["replyToClientRequest"]["__typename"] == "RuleViolationError"
    assert refused["replyToClientRequest"]["rule"] == "REQUEST_CLOSED"
    for name in ("closeClientRequest", "sendRequestReminder", "markClientRequestAnswered"):
        assert (await simple(api, name, request_id))["rule"] == "REQUEST_CLOSED"
    assert recorded(api) == head
    # Bob has no portal access: a request addressed to him is refused.
    to_bob = await open_request(api, client_id, contactIds=[bob])
    assert to_bob["__typename"] == "RuleViolationError"
    assert to_bob["rule"] == "NO_PORTAL_CONTACT"
    assert recorded(api) == head
    history = await ok(
        api,
        "query($id: ID!) { client(id: $id) { activity(first: 20) { edges { node { summary } } } } }",
        {"id": client_id},
    )
    summaries = [e["node"]["summary"] for e in history["client"]["activity"]["edges"]]
    assert "owner-1 closed the request “Bank statements 2024” of Acme." in summaries
    assert "owner-1 reminded Acme of the request “Bank statements 2024” (reminder 2)." in summaries
    assert "manager-1 replied to the request “Bank statements 2024” of Acme." in summaries
    assert "owner-1 marked the request “Bank statements 2024” of Acme as answered." in summaries
    assert "agent-1 sent Acme the request “Bank statements 2024”, due 2030-01-31." in summaries


async def test_no_portal_contact_and_on_hold_refuse_requests_and_record_nothing(api: Api) -> None:
    client_id = await setup(api)
    ada = await contact(api, client_id, "Ada", ["ada@acme.example"])
    head = recorded(api)
    refused = await open_request(api, client_id)
    assert refused["__typename"] == "RuleViolationError"
    assert refused["rule"] == "NO_PORTAL_CONTACT"
    assert recorded(api) == head
    await portal(api, ada, "ada@acme.example")
    request_id = (await open_request(api, client_id))["request"]["id"]
    assert (await ok(api, HOLD, {"id": client_id}))["putClientOnHold"]["__typename"] == (
        "ClientPayload"
    )
    head = recorded(api)
    on_hold = await open_request(api, client_id)
    assert on_hold["rule"] == "CLIENT_ON_HOLD"
    assert "Acme is on hold (Fees)" in on_hold["message"]
    reminder = await simple(api, "sendRequestReminder", request_id)
    assert reminder["rule"] == "CLIENT_ON_HOLD"
    reply = await ok(api, REPLY, {"input": {"requestId": request_id, "message": "Hello?"}})
    assert reply["replyToClientRequest"]["rule"] == "CLIENT_ON_HOLD"
    assert recorded(api) == head
    # Time goes on, and a request can still be closed.
    logged = await log(api, client_id, minutes=30)
    assert logged["__typename"] == "TimeEntryPayload"
    assert (await simple(api, "closeClientRequest", request_id))["request"]["status"] == "CLOSED"
    await ok(api, RELEASE, {"id": client_id})
    assert (await open_request(api, client_id))["__typename"] == "ClientRequestPayload"


async def test_request_bad_input_is_typed_and_records_nothing(api: Api) -> None:
    client_id, _ada = await with_portal_contact(api)
    other = (
        await ok(
            api,
            """mutation { registerClient(input: {name: "Other", type: COMPANY}) {
                 ... on ClientPayload { client { id } } } }""",
        )
    )["registerClient"]["client"]["id"]
    elsewhere_doc = upload(api, local(other), "other.pdf")
    other_contact = await contact(api, other, "Cy", ["cy@other.example"])
    head = recorded(api)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"title": "  "}, "ValidationError", "input.title"),
        ({"message": ""}, "ValidationError", "input.message"),
        ({"title": "x" * 201}, "ValidationError", "input.title"),
        ({"dueOn": "1800-01-01"}, "ValidationError", "input.dueOn"),
        ({"documentIds": [elsewhere_doc]}, "ValidationError", "input.documentIds.0"),
        ({"contactIds": [other_contact]}, "ValidationError", "input.contactIds.0"),
    ]
    for extra, typename, field in cases:
        result = await open_request(api, client_id, **extra)
        assert result["__typename"] == typename, (extra, result)
        assert result["field"] == field, (extra, result)
    not_a_client = await open_request(api, "bm90LWFuLWlk")
    assert not_a_client == {"__typename": "NotFoundError", "id": "bm90LWFuLWlk"}
    hidden = await open_request(api, client_id, who=AGENT2)
    assert hidden == {"__typename": "NotFoundError", "id": client_id}
    watcher = await api.gql(
        OPEN,
        {"input": {"clientId": client_id, "title": "T", "message": "M"}},
        as_user=WATCHER,
    )
    assert watcher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    foreign = await api.gql(
        OPEN, {"input": {"clientId": client_id, "title": "T", "message": "M"}}, firm="firm-b"
    )
    assert foreign["data"]["openClientRequest"]["__typename"] == "NotFoundError"
    assert recorded(api) == head


async def test_requests_list_overview_node_and_isolation(api: Api) -> None:
    client_id, _ada = await with_portal_contact(api)
    ids = []
    for i in range(7):
        ids.append((await open_request(api, client_id, title=f"Request {i}"))["request"]["id"])
    await simple(api, "closeClientRequest", ids[0])
    await simple(api, "markClientRequestAnswered", ids[1])
    query = """query($id: ID!, $status: [ClientRequestStatus!]) { client(id: $id) {
      requests(first: 3, status: $status) { totalCount pageInfo { hasNextPage }
        edges { node { title status } } }
      overview { latestRequests { title } } } }"""
    data = (await ok(api, query, {"id": client_id}))["client"]
    assert data["requests"]["totalCount"] == 7
    assert [e["node"]["title"] for e in data["requests"]["edges"]] == [
        "Request 6",
        "Request 5",
        "Request 4",
    ]
    assert data["requests"]["pageInfo"]["hasNextPage"] is True
    assert [r["title"] for r in data["overview"]["latestRequests"]] == [
        f"Request {i}" for i in (6, 5, 4, 3, 2)
    ]
    answered = (await ok(api, query, {"id": client_id, "status": ["ANSWERED", "CLOSED"]}))[
        "client"
    ]["requests"]
    assert [e["node"]["status"] for e in answered["edges"]] == ["ANSWERED", "CLOSED"]
    node = "query($id: ID!) { node(id: $id) { ... on ClientRequest { title } } }"
    assert (await ok(api, node, {"id": ids[2]}))["node"] == {"title": "Request 2"}
    assert (await ok(api, node, {"id": ids[2]}, as_user=WATCHER))["node"] == {"title": "Request 2"}
    assert (await ok(api, node, {"id": ids[2]}, as_user=AGENT2))["node"] is None
    assert (await api.gql(node, {"id": ids[2]}, firm="firm-b"))["data"]["node"] is None


# Time ---------------------------------------------------------------------------------------

TIME_ERRORS = """... on ValidationError { field message }
  ... on NotFoundError { id }
  ... on RuleViolationError { rule message }"""

ENTRY_FIELDS = """id date minutes billable billed rate { amount currency }
  amount { amount currency } note source userId member { name } client { name } version"""

LOG = f"""mutation($input: LogTimeInput!) {{ logTime(input: $input) {{
  __typename ... on TimeEntryPayload {{ timeEntry {{ {ENTRY_FIELDS} }} }} {TIME_ERRORS} }} }}"""

UPDATE = f"""mutation($input: UpdateTimeEntryInput!) {{ updateTimeEntry(input: $input) {{
  __typename ... on TimeEntryPayload {{ timeEntry {{ {ENTRY_FIELDS} }} }} {TIME_ERRORS}
  ... on ConflictError {{ expectedVersion actualVersion }} }} }}"""

DELETE = """mutation($id: ID!) { deleteTimeEntry(input: {timeEntryId: $id}) {
  __typename ... on DeleteTimeEntryPayload { deletedTimeEntryId client { name } }
  ... on RuleViolationError { rule } ... on NotFoundError { id } } }"""

START = """mutation($input: StartTimerInput!) { startTimer(input: $input) {
  __typename ... on TimerPayload { timer { id note elapsedMinutes client { name } } }
  ... on RuleViolationError { rule } ... on NotFoundError { id }
  ... on ValidationError { field } } }"""

STOP = f"""mutation($input: StopTimerInput) {{ stopTimer(input: $input) {{
  __typename ... on TimeEntryPayload {{ timeEntry {{ {ENTRY_FIELDS} }} }} {TIME_ERRORS} }} }}"""

CURRENCY = """mutation { setFirmCurrency(input: {currency: "EUR"}) { __typename } }"""


async def log(api: Api, client_id: str, who: tuple[str, str] = AGENT, **extra: Any) -> Any:
    payload = {"clientId": client_id, "date": "2024-05-02", "minutes": 90, **extra}
    return (await ok(api, LOG, {"input": payload}, as_user=who))["logTime"]


async def test_log_edit_delete_and_bill_time(api: Api) -> None:
    client_id = await setup(api)
    await ok(api, CURRENCY)
    logged = await log(api, client_id, rate="120.00", note="Bank reconciliation")
    assert logged["__typename"] == "TimeEntryPayload", logged
    entry = logged["timeEntry"]
    entry_id = entry.pop("id")
    assert entry == {
        "date": "2024-05-02",
        "minutes": 90,
        "billable": True,
        "billed": False,
        "rate": {"amount": "120.00", "currency": "EUR"},
        "amount": {"amount": "180.00", "currency": "EUR"},
        "note": "Bank reconciliation",
        "source": "MANUAL",
        "userId": "agent-1",
        "member": {"name": "agent-1"},
        "client": {"name": "Acme"},
        "version": 1,
    }
    for_manager = await log(api, client_id, userId="manager-1", minutes=45, billable=False)
    assert for_manager["timeEntry"]["userId"] == "manager-1"
    assert for_manager["timeEntry"]["amount"] == {"amount": "0.00", "currency": "EUR"}
    edited = await ok(
        api,
        UPDATE,
        {"input": {"timeEntryId": entry_id, "minutes": 100, "note": " ", "expectedVersion": 1}},
    )
    changed = edited["updateTimeEntry"]["timeEntry"]
    assert (changed["minutes"], changed["note"], changed["amount"]["amount"]) == (
        100,
        None,
        "200.00",
    )
    stale = await ok(
        api, UPDATE, {"input": {"timeEntryId": entry_id, "minutes": 5, "expectedVersion": 1}}
    )
    assert stale["updateTimeEntry"] == {
        "__typename": "ConflictError",
        "expectedVersion": 1,
        "actualVersion": 2,
    }
    unbilled = """query($id: ID!) { client(id: $id) {
      unbilledTime { minutes amount { amount currency } entryCount }
      overview { unbilledTime { minutes } unpaidInvoices { number } } } }"""
    figures = (await ok(api, unbilled, {"id": client_id}))["client"]
    assert figures["unbilledTime"] == {
        "minutes": 100,
        "amount": {"amount": "200.00", "currency": "EUR"},
        "entryCount": 1,
    }
    assert figures["overview"]["unbilledTime"] == {"minutes": 100}
    invoice = await ok(
        api,
        """mutation($id: ID!) { issueInvoice(input: {clientId: $id, issuedOn: "2024-06-01",
             dueOn: "2024-07-01", currency: "EUR",
             lines: [{description: "Bookkeeping", quantity: "1", unitPrice: "200.00"}]}) {
             ... on InvoicePayload { invoice { id } } } }""",
        {"id": client_id},
    )
    invoice_id = invoice["issueInvoice"]["invoice"]["id"]
    billed = await ok(
        api,
        """mutation($input: MarkTimeEntriesBilledInput!) { markTimeEntriesBilled(input: $input) {
             __typename ... on TimeEntriesPayload { timeEntries { billed invoice { id } } }
             ... on RuleViolationError { rule } } }""",
        {"input": {"timeEntryIds": [entry_id], "invoiceId": invoice_id}},
    )
    assert billed["markTimeEntriesBilled"]["timeEntries"] == [
        {"billed": True, "invoice": {"id": invoice_id}}
    ]
    figures = (await ok(api, unbilled, {"id": client_id}))["client"]
    assert figures["unbilledTime"]["minutes"] == 0
    assert figures["overview"]["unpaidInvoices"] == [{"number": "INV-000001"}]
    head = recorded(api)
    locked = await ok(api, UPDATE, {"input": {"timeEntryId": entry_id, "minutes": 5}})
    assert locked["updateTimeEntry"]["rule"] == "TIME_ENTRY_BILLED"
    assert (await ok(api, DELETE, {"id": entry_id}))["deleteTimeEntry"]["rule"] == (
        "TIME_ENTRY_BILLED"
    )
    assert recorded(api) == head
    manager_entry = for_manager["timeEntry"]["id"]
    deleted = await ok(api, DELETE, {"id": manager_entry})
    assert deleted["deleteTimeEntry"] == {
        "__typename": "DeleteTimeEntryPayload",
        "deletedTimeEntryId": manager_entry,
        "client": {"name": "Acme"},
    }
    node = "query($id: ID!) { node(id: $id) { ... on TimeEntry { minutes } } }"
    assert (await ok(api, node, {"id": manager_entry}))["node"] is None
    assert (await ok(api, node, {"id": entry_id}))["node"] == {"minutes": 100}
    history = await ok(
        api,
        "query($id: ID!) { client(id: $id) { activity(first: 6) { edges { node { summary } } } } }",
        {"id": client_id},
    )
    assert [e["node"]["summary"] for e in history["client"]["activity"]["edges"]][:4] == [
        "owner-1 deleted the time entry of 2024-05-02 on Acme.",
        "owner-1 billed the time entry of 2024-05-02 of Acme on invoice INV-000001.",
        "owner-1 issued invoice INV-000001 to Acme for 200.00 EUR, due 2024-07-01.",
        "owner-1 edited the time entry of 2024-05-02 on Acme (duration 1 h 40 min, note).",
    ]


async def test_time_bad_input_is_typed_and_records_nothing(api: Api) -> None:
    client_id = await setup(api)
    head = recorded(api)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"minutes": -30}, "input.minutes"),
        ({"minutes": 0}, "input.minutes"),
        ({"minutes": 1441}, "input.minutes"),
        ({"minutes": 100000}, "input.minutes"),
        ({"userId": "nobody"}, "input.userId"),
        ({"userId": "owner-b"}, "input.userId"),  # staff of another firm
        ({"rate": "-1"}, "input.rate"),
        ({"rate": "10.001"}, "input.rate"),
        ({"date": "1066-10-14"}, "input.date"),
        ({"note": "bad\u0000note"}, "input.note"),
    ]
    for extra, field in cases:
        result = await log(api, client_id, **extra)
        assert result["__typename"] == "ValidationError", (extra, result)
        assert result["field"] == field, (extra, result)
    assert (await log(api, client_id, who=AGENT2)) == {
        "__typename": "NotFoundError",
        "id": client_id,
    }
    watcher = await api.gql(
        LOG, {"input": {"clientId": client_id, "date": "2024-05-02", "minutes": 5}}, as_user=WATCHER
    )
    assert watcher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    foreign = await api.gql(
        LOG, {"input": {"clientId": client_id, "date": "2024-05-02", "minutes": 5}}, firm="firm-b"
    )
    assert foreign["data"]["logTime"]["__typename"] == "NotFoundError"
    stop = await ok(api, STOP, {}, as_user=AGENT)
    assert stop["stopTimer"]["__typename"] == "RuleViolationError"
    assert stop["stopTimer"]["rule"] == "TIMER_NOT_RUNNING"
    assert recorded(api) == head


async def test_timer_start_stop_becomes_an_entry(api: Api) -> None:
    client_id = await setup(api)
    started = await ok(
        api, START, {"input": {"clientId": client_id, "note": "Payroll"}}, as_user=AGENT
    )
    timer = started["startTimer"]["timer"]
    assert (timer["note"], timer["elapsedMinutes"], timer["client"]) == (
        "Payroll",
        1,
        {"name": "Acme"},
    )
    mine = "{ viewer { runningTimer { id note } } }"
    assert (await ok(api, mine, as_user=AGENT))["viewer"]["runningTimer"] == {
        "id": timer["id"],
        "note": "Payroll",
    }
    assert (await ok(api, mine, as_user=MANAGER))["viewer"]["runningTimer"] is None
    node = "query($id: ID!) { node(id: $id) { ... on Timer { note } } }"
    assert (await ok(api, node, {"id": timer["id"]}, as_user=AGENT))["node"] == {"note": "Payroll"}
    assert (await ok(api, node, {"id": timer["id"]}, as_user=MANAGER))["node"] is None
    head = recorded(api)
    again = await ok(api, START, {"input": {"clientId": client_id}}, as_user=AGENT)
    assert again["startTimer"]["rule"] == "TIMER_ALREADY_RUNNING"
    assert recorded(api) == head
    stopped = await ok(api, STOP, {"input": {"billable": False}}, as_user=AGENT)
    entry = stopped["stopTimer"]["timeEntry"]
    assert (entry["minutes"], entry["source"], entry["billable"], entry["note"]) == (
        1,
        "TIMER",
        False,
        "Payroll",
    )
    assert (await ok(api, mine, as_user=AGENT))["viewer"]["runningTimer"] is None
    assert (await ok(api, STOP, {}, as_user=AGENT))["stopTimer"]["rule"] == "TIMER_NOT_RUNNING"
    # Again, logging 25 minutes instead of the elapsed time.
    await ok(api, START, {"input": {"clientId": client_id}}, as_user=AGENT)
    fixed = await ok(api, STOP, {"input": {"minutes": 25}}, as_user=AGENT)
    assert fixed["stopTimer"]["timeEntry"]["minutes"] == 25
    history = await ok(
        api,
        "query($id: ID!) { client(id: $id) { activity(first: 3) { edges { node { summary } } } } }",
        {"id": client_id},
    )
    assert [e["node"]["summary"] for e in history["client"]["activity"]["edges"]] == [
        "agent-1 stopped their timer on Acme after 25 min.",
        f"agent-1 logged 25 min of billable time on Acme for {entry['date']} from a timer.",
        "agent-1 started a timer on Acme.",
    ]


async def test_totals_viewer_time_and_overview(api: Api) -> None:
    client_id = await setup(api)
    await ok(api, CURRENCY)
    await log(api, client_id, date="2024-04-30", minutes=60, rate="100")
    await log(api, client_id, date="2024-05-01", minutes=20, rate="100")  # 33.33
    await log(api, client_id, date="2024-05-02", minutes=40, rate="100")  # 66.67
    await log(api, client_id, who=MANAGER, date="2024-05-03", minutes=15, billable=False)
    await log(api, client_id, who=MANAGER, date="2024-06-01", minutes=30, rate="90.50")  # 45.25
    totals = """query($id: ID!, $by: TimeGroupBy!, $from: Date, $to: Date) { client(id: $id) {
      timeTotals(groupBy: $by, from: $from, to: $to) { key minutes billableMinutes
        amount { amount currency } member { name } } } }"""

    async def total(by: str, **span: str) -> list[Any]:
        data = await ok(api, totals, {"id": client_id, "by": by, **span})
        return [
            (t["key"], t["minutes"], t["billableMinutes"], t["amount"]["amount"])
            for t in data["client"]["timeTotals"]
        ]

    assert await total("PERIOD") == [
        ("2024-04", 60, 60, "100.00"),
        ("2024-05", 75, 60, "100.00"),
        ("2024-06", 30, 30, "45.25"),
    ]
    assert await total("MEMBER") == [
        ("agent-1", 120, 120, "200.00"),
        ("manager-1", 45, 30, "45.25"),
    ]
    assert await total("BILLABLE", **{"from": "2024-05-01", "to": "2024-05-31"}) == [
        ("BILLABLE", 60, 60, "100.00"),
        ("NON_BILLABLE", 15, 0, "0.00"),
    ]
    mine = """query($f: TimeEntryFilter) { viewer { timeEntries(first: 2, filter: $f) {
      totalCount totalMinutes pageInfo { hasNextPage } edges { node { date client { name } } } } } }"""
    data = (await ok(api, mine, {}, as_user=AGENT))["viewer"]["timeEntries"]
    assert (data["totalCount"], data["totalMinutes"], data["pageInfo"]["hasNextPage"]) == (
        3,
        120,
        True,
    )
    assert [e["node"]["date"] for e in data["edges"]] == ["2024-05-02", "2024-05-01"]
    april = (await ok(api, mine, {"f": {"to": "2024-04-30"}}, as_user=AGENT))["viewer"]
    assert april["timeEntries"]["totalMinutes"] == 60
    overview = """query($id: ID!) { client(id: $id) { overview { latestTimeEntries { date } }
      timeEntries(first: 10, filter: {billable: false}) { totalCount totalMinutes } } }"""
    got = (await ok(api, overview, {"id": client_id}))["client"]
    assert [e["date"] for e in got["overview"]["latestTimeEntries"]] == [
        "2024-06-01",
        "2024-05-03",
        "2024-05-02",
        "2024-05-01",
        "2024-04-30",
    ]
    assert got["timeEntries"] == {"totalCount": 1, "totalMinutes": 15}
    # An agent on no team of Acme sees none of its time; another firm neither.
    hidden = (await ok(api, mine, {}, as_user=AGENT2))["viewer"]["timeEntries"]
    assert hidden["totalCount"] == 0
    foreign = await api.gql(
        "query($id: ID!) { client(id: $id) { timeEntries { totalCount } } }",
        {"id": client_id},
        firm="firm-b",
    )
    assert foreign["data"]["client"] is None
    watcher = await ok(
        api,
        "query($id: ID!) { client(id: $id) { timeEntries { totalCount } } }",
        {"id": client_id},
        as_user=WATCHER,
    )
    assert watcher["client"]["timeEntries"]["totalCount"] == 5


async def test_an_idempotency_key_records_once(api: Api) -> None:
    client_id, _ada = await with_portal_contact(api)
    first = await log(api, client_id, idempotencyKey="log-1")
    head = recorded(api)
    again = await log(api, client_id, idempotencyKey="log-1")
    assert again["timeEntry"]["id"] == first["timeEntry"]["id"]
    assert recorded(api) == head
    reused = await api.gql(
        LOG,
        {
            "input": {
                "clientId": client_id,
                "date": "2024-05-02",
                "minutes": 5,
                "idempotencyKey": "log-1",
            }
        },
        as_user=AGENT,
    )
    assert reused["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    opened = await open_request(api, client_id, idempotencyKey="req-1")
    head = recorded(api)
    assert (await open_request(api, client_id, idempotencyKey="req-1"))["request"]["id"] == (
        opened["request"]["id"]
    )
    assert recorded(api) == head
