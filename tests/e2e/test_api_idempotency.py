"""idempotencyKey: the same key, viewer and input return the first result and record nothing
new; the same key with another mutation or other input is refused (top-level
IDEMPOTENCY_KEY_REUSED) and records nothing; another viewer's key is independent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import Api
from tests.e2e.test_api_support import (
    ADD_STAFF,
    ASSIGN,
    COMMENT,
    HOLD,
    LINK,
    REGISTER,
    RELEASE,
    REMOVE,
    UNLINK,
    UPDATE,
    add_staff,
    assign,
    get_client,
    link_new,
    mutate,
    register,
)

OTHER_OWNER = ("owner-2", "owner")


async def total_clients(api: Api) -> int:
    response = await api.gql("{ clients { totalCount } }")
    return int(response["data"]["clients"]["totalCount"])


async def test_register_client_replays_the_first_result(api: Api) -> None:
    before = api.event_count()
    first = await mutate(
        api, REGISTER, "registerClient", name="Acme", type="COMPANY", idempotencyKey="reg-1"
    )
    assert first["__typename"] == "ClientPayload"
    # ClientRegistered plus the idempotency record, saved together.
    recorded = api.event_count()
    assert recorded == before + 2

    again = await mutate(
        api, REGISTER, "registerClient", name="Acme", type="COMPANY", idempotencyKey="reg-1"
    )
    assert again == first
    different_input = await api.gql(
        REGISTER, {"input": {"name": "Other", "type": "OTHER", "idempotencyKey": "reg-1"}}
    )
    assert_key_reused(different_input, "with different input")
    assert api.event_count() == recorded
    assert await total_clients(api) == 1


async def test_the_same_key_from_another_viewer_is_independent(api: Api) -> None:
    mine = await mutate(
        api, REGISTER, "registerClient", name="Acme", type="COMPANY", idempotencyKey="k"
    )
    count = api.event_count()
    theirs = await mutate(
        api,
        REGISTER,
        "registerClient",
        as_user=OTHER_OWNER,
        name="Acme",
        type="COMPANY",
        idempotencyKey="k",
    )
    assert theirs["__typename"] == "ClientPayload"
    assert theirs["client"]["id"] != mine["client"]["id"]
    assert api.event_count() == count + 2
    assert await total_clients(api) == 2

    # Each viewer's replay still returns its own first result.
    replay_mine = await mutate(
        api, REGISTER, "registerClient", name="Acme", type="COMPANY", idempotencyKey="k"
    )
    replay_theirs = await mutate(
        api,
        REGISTER,
        "registerClient",
        as_user=OTHER_OWNER,
        name="Acme",
        type="COMPANY",
        idempotencyKey="k",
    )
    assert replay_mine["client"]["id"] == mine["client"]["id"]
    assert replay_theirs["client"]["id"] == theirs["client"]["id"]
    assert api.event_count() == count + 2


async def test_the_same_user_and_key_in_another_firm_is_independent(api: Api) -> None:
    mine = await mutate(
        api, REGISTER, "registerClient", name="Acme", type="COMPANY", idempotencyKey="k"
    )
    count = api.event_count()
    other_firm = await mutate(
        api,
        REGISTER,
        "registerClient",
        firm="firm-b",
        name="Acme",
        type="COMPANY",
        idempotencyKey="k",
    )
    assert other_firm["__typename"] == "ClientPayload"
    assert other_firm["client"]["id"] != mine["client"]["id"]
    assert api.event_count() == count + 2


def assert_key_reused(response: dict[str, Any], how: str) -> None:
    """A top-level IDEMPOTENCY_KEY_REUSED error (no result union has a member for it)."""
    assert response["data"] is None, response
    [error] = response["errors"]
    assert error["extensions"] == {"code": "IDEMPOTENCY_KEY_REUSED"}
    assert error["message"].startswith(f"this idempotencyKey was already used {how}")


async def test_a_key_used_for_another_mutation_is_refused(api: Api) -> None:
    client_id = await register(api, "Acme", idempotencyKey="shared")
    count = api.event_count()
    result = await api.gql(
        UPDATE, {"input": {"clientId": client_id, "name": "X", "idempotencyKey": "shared"}}
    )
    assert_key_reused(result, "for another mutation")
    assert api.event_count() == count
    client = await get_client(api, client_id)
    assert client is not None
    assert client["name"] == "Acme"


async def test_a_failed_mutation_does_not_use_up_its_key(api: Api) -> None:
    before = api.event_count()
    failed = await mutate(
        api, REGISTER, "registerClient", name="  ", type="COMPANY", idempotencyKey="retry"
    )
    assert failed["__typename"] == "ValidationError"
    assert api.event_count() == before
    fixed = await mutate(
        api, REGISTER, "registerClient", name="Acme", type="COMPANY", idempotencyKey="retry"
    )
    assert fixed["__typename"] == "ClientPayload"
    assert fixed["client"]["name"] == "Acme"
    assert api.event_count() == before + 2


async def test_a_conflict_does_not_use_up_its_key(api: Api) -> None:
    client_id = await register(api, "Acme")
    count = api.event_count()
    conflict = await mutate(
        api,
        UPDATE,
        "updateClientDetails",
        clientId=client_id,
        expectedVersion=7,
        name="New",
        idempotencyKey="upd",
    )
    assert conflict["__typename"] == "ConflictError"
    assert api.event_count() == count
    done = await mutate(
        api,
        UPDATE,
        "updateClientDetails",
        clientId=client_id,
        expectedVersion=1,
        name="New",
        idempotencyKey="upd",
    )
    assert done["__typename"] == "ClientPayload"
    assert (done["client"]["version"], done["client"]["name"]) == (2, "New")
    assert api.event_count() == count + 2


async def replays(api: Api, query: str, field: str, **input_: Any) -> dict[str, Any]:
    """Run a keyed mutation twice; the second returns the same and records nothing."""
    first = await mutate(api, query, field, **input_)
    assert not first["__typename"].endswith("Error"), first
    count = api.event_count()
    second = await mutate(api, query, field, **input_)
    assert second == first
    assert api.event_count() == count
    return first


async def test_every_mutation_replays_without_recording(api: Api) -> None:
    staff = await replays(
        api,
        ADD_STAFF,
        "addStaffMember",
        userId="agent-1",
        name="Alice",
        email="alice@firm.example",
        role="AGENT",
        idempotencyKey="staff",
    )
    assert staff["__typename"] == "AddStaffMemberSuccess"
    client_id = await register(api, "Acme")

    updated = await replays(
        api,
        UPDATE,
        "updateClientDetails",
        clientId=client_id,
        tags=["a"],
        idempotencyKey="update",
    )
    assert updated["client"]["version"] == 2

    linked = await replays(
        api,
        LINK,
        "linkContact",
        clientId=client_id,
        newContact={"firstName": "Ada", "lastName": "Lovelace", "emails": ["ada@a.example"]},
        idempotencyKey="link",
    )
    assert linked["client"]["contacts"]["totalCount"] == 1
    await link_new(api, client_id, "Bob", "Babbage")

    unlinked = await replays(
        api,
        UNLINK,
        "unlinkContact",
        clientId=client_id,
        contactId=linked["contact"]["id"],
        idempotencyKey="unlink",
    )
    assert unlinked["client"]["contacts"]["totalCount"] == 1

    assigned = await replays(
        api, ASSIGN, "assignTeamMember", clientId=client_id, userId="agent-1", idempotencyKey="a"
    )
    assert [m["member"]["userId"] for m in assigned["client"]["team"]] == ["agent-1"]
    removed = await replays(
        api, REMOVE, "removeTeamMember", clientId=client_id, userId="agent-1", idempotencyKey="r"
    )
    assert removed["client"]["team"] == []

    held = await replays(
        api, HOLD, "putClientOnHold", clientId=client_id, reason="fees", idempotencyKey="hold"
    )
    assert held["client"]["onHold"] is True
    released = await replays(
        api, RELEASE, "releaseClientHold", clientId=client_id, idempotencyKey="release"
    )
    assert released["client"]["onHold"] is False

    commented = await replays(
        api, COMMENT, "addComment", clientId=client_id, body="hello", idempotencyKey="comment"
    )
    assert commented["comment"]["body"] == "hello"

    response = await api.gql(
        """query($id: ID!) { client(id: $id) { version holds { reason }
             teamHistory { change } comments { totalCount } contacts { totalCount } } }""",
        {"id": client_id},
    )
    assert response["data"]["client"] == {
        # registered, tags, 2 links, unlink, assign, remove, hold, release
        "version": 9,
        "holds": [{"reason": "fees"}],
        "teamHistory": [{"change": "ASSIGNED"}, {"change": "REMOVED"}],
        "comments": {"totalCount": 1},
        "contacts": {"totalCount": 1},
    }


def events_besides_mail(api: Api) -> int:
    """Events recorded so far, besides emails (domain.email: queued, sent by the mail worker)."""
    found = api.container.store.recorder.select_notifications(start=1, limit=1_000_000)
    return sum(1 for n in found if not n.topic.startswith("domain.email:"))


async def test_replay_by_an_agent_and_by_a_manager_with_the_same_key(api: Api) -> None:
    await add_staff(api, "agent-1")
    await add_staff(api, "manager-1", "MANAGER")
    client_id = await register(api, "Acme")
    await assign(api, client_id, "agent-1")
    as_agent = await mutate(
        api,
        COMMENT,
        "addComment",
        as_user=("agent-1", "agent"),
        clientId=client_id,
        body="from the agent",
        idempotencyKey="c",
    )
    count = events_besides_mail(api)
    as_manager = await mutate(
        api,
        COMMENT,
        "addComment",
        as_user=("manager-1", "manager"),
        clientId=client_id,
        body="from the manager",
        idempotencyKey="c",
    )
    assert as_manager["comment"]["id"] != as_agent["comment"]["id"]
    assert as_manager["comment"]["body"] == "from the manager"
    # The comment, its key's record, the commenters index and agent-1's notification (an
    # earlier commenter on the team); the notification email is left out with the mail worker's
    # delivery records, which it writes meanwhile.
    assert events_besides_mail(api) == count + 4
    again = await mutate(
        api,
        COMMENT,
        "addComment",
        as_user=("agent-1", "agent"),
        clientId=client_id,
        body="from the agent",
        idempotencyKey="c",
    )
    assert again["comment"] == as_agent["comment"]
    assert events_besides_mail(api) == count + 4


# Concurrent retries ---------------------------------------------------------------------

RETRY_ROUNDS = 3
RETRIES = 8


async def concurrent_retries(api: Api, query: str, variables: dict[str, Any]) -> list[Any]:
    """Send the same keyed mutation RETRIES times at once (a double-submitting client)."""
    return list(await asyncio.gather(*(api.gql(query, variables) for _ in range(RETRIES))))


async def staff_added(api: Api) -> int:
    response = await api.gql('{ activity(filter: {types: ["StaffMemberAdded"]}) { totalCount } }')
    return int(response["data"]["activity"]["totalCount"])


def keyed_input(mutation: str, client_id: str, round_: int) -> dict[str, Any]:
    """A valid input for one round of concurrent retries of `mutation`."""
    if mutation == "registerClient":
        return {"name": f"New {round_}", "type": "COMPANY"}
    if mutation == "linkContact":
        contact = {"firstName": f"C{round_}", "lastName": "X", "emails": []}
        return {"clientId": client_id, "newContact": contact}
    if mutation == "addComment":
        return {"clientId": client_id, "body": f"note {round_}"}
    return {"userId": f"agent-{round_}", "name": "A", "email": "a@firm.example", "role": "AGENT"}


# mutation -> (document, success typename, path to the id of what it created)
KEYED = {
    "registerClient": (REGISTER, "ClientPayload", ("client", "id")),
    "linkContact": (LINK, "LinkContactSuccess", ("contact", "id")),
    "addComment": (COMMENT, "AddCommentSuccess", ("comment", "id")),
    "addStaffMember": (ADD_STAFF, "AddStaffMemberSuccess", ("member", "id")),
}


@pytest.mark.parametrize("mutation", list(KEYED))
async def test_concurrent_retries_with_one_key_all_get_the_first_result(
    api: Api, mutation: str
) -> None:
    query, success, (entity, id_field) = KEYED[mutation]
    client_id = await register(api, "Acme")
    for round_ in range(RETRY_ROUNDS):
        input_ = {**keyed_input(mutation, client_id, round_), "idempotencyKey": f"key-{round_}"}
        responses = await concurrent_retries(api, query, {"input": input_})
        assert [r.get("errors") for r in responses] == [None] * RETRIES
        results = [r["data"][mutation] for r in responses]
        assert [r["__typename"] for r in results] == [success] * RETRIES
        assert len({r[entity][id_field] for r in results}) == 1

    # Exactly one of each round was recorded.
    response = await api.gql(
        "query($id: ID!) { clients { totalCount } client(id: $id) { contacts { totalCount } "
        "comments { totalCount } } }",
        {"id": client_id},
    )
    counts = {
        "registerClient": response["data"]["clients"]["totalCount"] - 1,
        "linkContact": response["data"]["client"]["contacts"]["totalCount"],
        "addComment": response["data"]["client"]["comments"]["totalCount"],
        "addStaffMember": await staff_added(api),
    }
    assert counts[mutation] == RETRY_ROUNDS


# A key is bound to its request ----------------------------------------------------------

ISSUE = """mutation($input: IssueInvoiceInput!) { issueInvoice(input: $input) {
  __typename ... on InvoicePayload { invoice { id } } } }"""
PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename ... on Error { message code }
  ... on InvoicePayload { invoice { id status balance { amount } payments { amount { amount } } } } } }"""
INVOICES = """query($id: ID!) { client(id: $id) { invoices(first: 10) { edges { node {
  id balance { amount } payments { amount { amount } reference } } } } } }"""


async def issue_invoice(api: Api, client_id: str) -> str:
    response = await api.gql(
        ISSUE,
        {
            "input": {
                "clientId": client_id,
                "issuedOn": "2026-01-01",
                "dueOn": "2026-02-01",
                "currency": "EUR",
                "lines": [{"description": "Work", "quantity": "1", "unitPrice": "100.00"}],
            }
        },
    )
    return str(ok_field(response, "issueInvoice")["invoice"]["id"])


def ok_field(response: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in response, response
    return response["data"][field]  # type: ignore[no-any-return]


def payment(invoice_id: str, **extra: Any) -> dict[str, Any]:
    return {"input": {"invoiceId": invoice_id, "amount": "40.00", "paidOn": "2026-01-05", **extra}}


async def balances(api: Api, client_id: str) -> dict[str, tuple[str, int]]:
    response = await api.gql(INVOICES, {"id": client_id})
    edges = response["data"]["client"]["invoices"]["edges"]
    return {
        e["node"]["id"]: (e["node"]["balance"]["amount"], len(e["node"]["payments"])) for e in edges
    }


async def test_a_payment_key_reused_for_another_invoice_is_refused(api: Api) -> None:
    client_id = await register(api, "Acme")
    first, second = await issue_invoice(api, client_id), await issue_invoice(api, client_id)
    paid = ok_field(await api.gql(PAY, payment(first, idempotencyKey="pay-1")), "recordPayment")
    assert paid["invoice"]["balance"] == {"amount": "60.00"}
    count = api.event_count()

    # The same request replays the first answer.
    again = await api.gql(PAY, payment(first, idempotencyKey="pay-1"))
    assert ok_field(again, "recordPayment") == paid
    # The same key for a payment to another invoice is refused: no silent "success".
    other_invoice = await api.gql(PAY, payment(second, idempotencyKey="pay-1"))
    assert_key_reused(other_invoice, "with different input")
    # So is any other difference in the input.
    other_reference = await api.gql(PAY, payment(first, reference="T-1", idempotencyKey="pay-1"))
    assert_key_reused(other_reference, "with different input")
    assert api.event_count() == count
    assert await balances(api, client_id) == {first: ("60.00", 1), second: ("100.00", 0)}

    # With its own key the second payment is recorded.
    ok_field(await api.gql(PAY, payment(second, idempotencyKey="pay-2")), "recordPayment")
    assert await balances(api, client_id) == {first: ("60.00", 1), second: ("60.00", 1)}


async def test_concurrent_requests_with_one_key_and_different_input(api: Api) -> None:
    """Racing double-submits where half changed the input: exactly one comment exists, the
    same input gets it, the other input is refused."""
    client_id = await register(api, "Acme")
    bodies = ["first", "second"] * (RETRIES // 2)
    responses = await asyncio.gather(
        *(
            api.gql(
                COMMENT, {"input": {"clientId": client_id, "body": body, "idempotencyKey": "k"}}
            )
            for body in bodies
        )
    )
    accepted = [r for r in responses if "errors" not in r]
    refused = [r for r in responses if "errors" in r]
    assert len(accepted) == len(refused) == RETRIES // 2
    for response in refused:
        assert_key_reused(response, "with different input")
    assert len({r["data"]["addComment"]["comment"]["id"] for r in accepted}) == 1
    assert len({r["data"]["addComment"]["comment"]["body"] for r in accepted}) == 1
    response = await api.gql(
        "query($id: ID!) { client(id: $id) { comments { totalCount } } }", {"id": client_id}
    )
    assert response["data"]["client"]["comments"]["totalCount"] == 1


async def test_an_empty_key_is_refused(api: Api) -> None:
    count = api.event_count()
    response = await api.gql(
        REGISTER, {"input": {"name": "Acme", "type": "COMPANY", "idempotencyKey": ""}}
    )
    result = response["data"]["registerClient"]
    assert (result["__typename"], result["field"]) == ("ValidationError", "input.idempotencyKey")
    assert api.event_count() == count
