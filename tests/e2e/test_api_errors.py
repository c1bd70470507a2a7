"""Every typed error of the contract: the union member, its code and specific field, and
that nothing was recorded (the event count did not move)."""

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
    global_id,
    link_new,
    mutate,
    register,
    top_error_code,
)

CODES = {
    "ValidationError": "VALIDATION",
    "NotFoundError": "NOT_FOUND",
    "ConflictError": "CONFLICT",
    "LimitExceededError": "LIMIT_EXCEEDED",
    "RuleViolationError": "RULE_VIOLATION",
}

UNKNOWN_CLIENT = global_id("Client", "00000000-0000-4000-8000-000000000000")
UNKNOWN_CONTACT = global_id("Contact", "00000000-0000-4000-8000-000000000001")


async def expect_error(
    api: Api, query: str, field: str, typename: str, **input_: Any
) -> dict[str, Any]:
    """Run the mutation, expect the given error member and an unchanged event count."""
    before = api.event_count()
    result = await mutate(api, query, field, **input_)
    assert result["__typename"] == typename, result
    assert result["code"] == CODES[typename]
    assert result["message"]
    assert api.event_count() == before, "a failed mutation recorded events"
    return result


def new_contact(**overrides: Any) -> dict[str, Any]:
    contact: dict[str, Any] = {"firstName": "Ada", "lastName": "Lovelace", "emails": []}
    contact.update(overrides)
    return contact


# Validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"name": "   "}, "input.name", "input.name must not be blank"),
        ({"name": "x" * 201}, "input.name", "input.name must be at most 200 characters"),
        ({"tags": ["ok", "  "]}, "input.tags.1", "input.tags.1 must not be blank"),
        ({"tags": ["t" * 51]}, "input.tags.0", "input.tags.0 must be at most 50 characters"),
        ({"tags": [f"t{n}" for n in range(51)]}, "input.tags", "a client can have at most 50 tags"),
        (
            {"address": {"city": "c" * 201}},
            "input.address.city",
            "input.address.city must be at most 200 characters",
        ),
        (
            {"customFields": [{"key": "vat", "value": "1"}, {"key": " vat ", "value": "2"}]},
            "input.customFields.1.key",
            "custom field 'vat' is given twice",
        ),
        (
            {"customFields": [{"key": " ", "value": "1"}]},
            "input.customFields.0.key",
            "input.customFields.0.key must not be blank",
        ),
        (
            {"customFields": [{"key": "k", "value": "v" * 2001}]},
            "input.customFields.0.value",
            "input.customFields.0.value must be at most 2000 characters",
        ),
        (
            {"idempotencyKey": "k" * 201},
            "input.idempotencyKey",
            "idempotencyKey is too long",
        ),
    ],
)
async def test_register_client_validation(
    api: Api, extra: dict[str, Any], field: str, message: str
) -> None:
    input_ = {"name": "Acme", "type": "COMPANY", **extra}
    error = await expect_error(api, REGISTER, "registerClient", "ValidationError", **input_)
    assert error["field"] == field
    assert error["message"] == message
    clients = await api.gql("{ clients { totalCount } }")
    assert clients["data"]["clients"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"name": " "}, "input.name"),
        ({"tags": [""]}, "input.tags.0"),
        (
            {"customFields": [{"key": "a", "value": "1"}, {"key": "a", "value": None}]},
            "input.customFields.1.key",
        ),
        ({"address": {"line1": "l" * 201}}, "input.address.line1"),
    ],
)
async def test_update_client_details_validation(
    api: Api, extra: dict[str, Any], field: str
) -> None:
    client_id = await register(api, "Acme", customFields=[{"key": "a", "value": "1"}])
    error = await expect_error(
        api, UPDATE, "updateClientDetails", "ValidationError", clientId=client_id, **extra
    )
    assert error["field"] == field
    client = await get_client(api, client_id)
    assert client is not None
    assert (client["version"], client["name"], client["customFields"]) == (
        1,
        "Acme",
        [{"key": "a", "value": "1"}],
    )


@pytest.mark.parametrize(
    ("contact", "field"),
    [
        (new_contact(emails=["not-an-email"]), "input.newContact.emails.0"),
        (new_contact(emails=["ada@example.com", "ada@"]), "input.newContact.emails.1"),
        (new_contact(emails=["ada@example.com", "ADA@example.com"]), "input.newContact.emails.1"),
        (new_contact(emails=[f"a{n}@example.com" for n in range(11)]), "input.newContact.emails"),
        (new_contact(firstName="  "), "input.newContact.firstName"),
        (new_contact(lastName="l" * 101), "input.newContact.lastName"),
        (new_contact(phone="call me"), "input.newContact.phone"),
    ],
)
async def test_link_new_contact_validation(api: Api, contact: dict[str, Any], field: str) -> None:
    client_id = await register(api, "Acme")
    error = await expect_error(
        api, LINK, "linkContact", "ValidationError", clientId=client_id, newContact=contact
    )
    assert error["field"] == field
    client = await get_client(api, client_id)
    assert client is not None
    assert (client["version"], client["contacts"]["totalCount"]) == (1, 0)


async def test_link_contact_needs_exactly_one_of_contact_id_and_new_contact(api: Api) -> None:
    client_id = await register(api, "Acme")
    contact_id = await link_new(api, client_id, "Bob", "Babbage")
    neither = await expect_error(api, LINK, "linkContact", "ValidationError", clientId=client_id)
    assert neither["field"] == "input"
    assert neither["message"] == "give exactly one of contactId and newContact"
    both = await expect_error(
        api,
        LINK,
        "linkContact",
        "ValidationError",
        clientId=client_id,
        contactId=contact_id,
        newContact=new_contact(),
    )
    assert both["field"] == "input"


async def test_link_contact_twice_and_too_long_description(api: Api) -> None:
    client_id = await register(api, "Acme")
    contact_id = await link_new(api, client_id, "Bob", "Babbage")
    twice = await expect_error(
        api, LINK, "linkContact", "ValidationError", clientId=client_id, contactId=contact_id
    )
    assert twice["field"] == "input.contactId"
    assert twice["message"] == "the contact is already linked to this client"
    other = await register(api, "Beta")
    long = await expect_error(
        api,
        LINK,
        "linkContact",
        "ValidationError",
        clientId=other,
        contactId=contact_id,
        description="d" * 501,
    )
    assert long["field"] == "input.description"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"userId": "  "}, "input.userId"),
        ({"name": ""}, "input.name"),
        ({"email": "nobody"}, "input.email"),
        ({"email": "two@@example.com"}, "input.email"),
    ],
)
async def test_add_staff_member_validation(api: Api, extra: dict[str, Any], field: str) -> None:
    input_ = {"userId": "agent-1", "name": "Alice", "email": "alice@firm.example", "role": "AGENT"}
    input_.update(extra)
    error = await expect_error(api, ADD_STAFF, "addStaffMember", "ValidationError", **input_)
    assert error["field"] == field


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (" \n ", "input.body must not be blank"),
        ("b" * 10_001, "input.body must be at most 10000 characters"),
    ],
)
async def test_add_comment_validation(api: Api, body: str, message: str) -> None:
    client_id = await register(api, "Acme")
    error = await expect_error(
        api, COMMENT, "addComment", "ValidationError", clientId=client_id, body=body
    )
    assert (error["field"], error["message"]) == ("input.body", message)
    response = await api.gql(
        "query($id: ID!) { client(id: $id) { comments { totalCount } } }", {"id": client_id}
    )
    assert response["data"]["client"]["comments"]["totalCount"] == 0


async def test_hold_reason_too_long_is_a_top_level_validation_error(api: Api) -> None:
    """PutClientOnHoldResult has no ValidationError member in the contract, so the server
    reports the invalid reason as a top-level error with code VALIDATION."""
    client_id = await register(api, "Acme")
    before = api.event_count()
    response = await api.gql(HOLD, {"input": {"clientId": client_id, "reason": "r" * 1001}})
    assert response["data"] is None
    assert top_error_code(response) == "VALIDATION"
    assert response["errors"][0]["message"] == "input.reason must be at most 1000 characters"
    assert api.event_count() == before


# Not found ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_id", [UNKNOWN_CLIENT, "not-an-id", global_id("Comment", "x")])
async def test_mutations_on_unknown_client_are_not_found(api: Api, bad_id: str) -> None:
    await add_staff(api, "agent-1")
    contact_owner = await register(api, "Acme")
    contact_id = await link_new(api, contact_owner, "Bob", "Babbage")
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (UPDATE, "updateClientDetails", {"name": "X"}),
        (LINK, "linkContact", {"newContact": new_contact()}),
        (LINK, "linkContact", {"contactId": contact_id}),
        (UNLINK, "unlinkContact", {"contactId": contact_id}),
        (ASSIGN, "assignTeamMember", {"userId": "agent-1"}),
        (REMOVE, "removeTeamMember", {"userId": "agent-1"}),
        (HOLD, "putClientOnHold", {}),
        (RELEASE, "releaseClientHold", {}),
        (COMMENT, "addComment", {"body": "hi"}),
    ]
    for query, field, extra in cases:
        error = await expect_error(api, query, field, "NotFoundError", clientId=bad_id, **extra)
        assert error["id"] == bad_id, field
        assert error["message"] == f"Client {bad_id} was not found", field


async def test_link_unknown_contact_is_not_found(api: Api) -> None:
    client_id = await register(api, "Acme")
    error = await expect_error(
        api, LINK, "linkContact", "NotFoundError", clientId=client_id, contactId=UNKNOWN_CONTACT
    )
    assert error["id"] == UNKNOWN_CONTACT
    assert error["message"] == f"Contact {UNKNOWN_CONTACT} was not found"
    malformed = await expect_error(
        api, LINK, "linkContact", "NotFoundError", clientId=client_id, contactId="garbage"
    )
    assert malformed["id"] == "garbage"


async def test_unlink_contact_that_is_not_linked_is_not_found(api: Api) -> None:
    acme = await register(api, "Acme")
    beta = await register(api, "Beta")
    await link_new(api, acme, "Ada", "Lovelace")
    await link_new(api, acme, "Cy", "Lone")
    bob = await link_new(api, beta, "Bob", "Babbage")
    for contact_id in (bob, UNKNOWN_CONTACT):
        error = await expect_error(
            api, UNLINK, "unlinkContact", "NotFoundError", clientId=acme, contactId=contact_id
        )
        assert error["id"] == contact_id
        assert error["message"] == f"Contact {contact_id} was not found"


async def test_assign_unknown_staff_member_is_not_found(api: Api) -> None:
    client_id = await register(api, "Acme")
    error = await expect_error(
        api, ASSIGN, "assignTeamMember", "NotFoundError", clientId=client_id, userId="ghost"
    )
    assert error["id"] == "ghost"
    assert error["message"] == "StaffMember ghost was not found"


# Conflicts ------------------------------------------------------------------------------


async def test_every_expected_version_mutation_reports_conflicts(api: Api) -> None:
    await add_staff(api, "agent-1")
    await add_staff(api, "agent-2")
    client_id = await register(api, "Acme")
    ada = await link_new(api, client_id, "Ada", "Lovelace")
    await link_new(api, client_id, "Bob", "Babbage")
    await assign(api, client_id, "agent-1")
    # version: registered 1, two links 3, one assignment 4
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (UPDATE, "updateClientDetails", {"name": "New"}),
        (LINK, "linkContact", {"newContact": new_contact(firstName="Cy")}),
        (UNLINK, "unlinkContact", {"contactId": ada}),
        (ASSIGN, "assignTeamMember", {"userId": "agent-2"}),
        (REMOVE, "removeTeamMember", {"userId": "agent-1"}),
        (HOLD, "putClientOnHold", {"reason": "x"}),
    ]
    for stale in (1, 3, 5):
        for query, field, extra in cases:
            error = await expect_error(
                api,
                query,
                field,
                "ConflictError",
                clientId=client_id,
                expectedVersion=stale,
                **extra,
            )
            assert (error["expectedVersion"], error["actualVersion"]) == (stale, 4), field
            assert error["message"] == f"expected version {stale} but the current version is 4"

    await mutate(api, HOLD, "putClientOnHold", clientId=client_id, expectedVersion=4)
    error = await expect_error(
        api, RELEASE, "releaseClientHold", "ConflictError", clientId=client_id, expectedVersion=4
    )
    assert (error["expectedVersion"], error["actualVersion"]) == (4, 5)
    client = await get_client(api, client_id)
    assert client is not None
    assert (client["version"], client["name"], client["onHold"]) == (5, "Acme", True)


async def test_adding_an_existing_staff_member_is_a_conflict(api: Api) -> None:
    await add_staff(api, "agent-1", name="Alice")
    error = await expect_error(
        api,
        ADD_STAFF,
        "addStaffMember",
        "ConflictError",
        userId=" agent-1 ",
        name="Alice Again",
        email="other@firm.example",
        role="MANAGER",
    )
    assert (error["expectedVersion"], error["actualVersion"]) == (0, 1)
    assert error["message"] == "agent-1 is already a member of the staff"


# Limits ---------------------------------------------------------------------------------


async def test_the_101st_contact_exceeds_the_limit(api: Api) -> None:
    client_id = await register(api, "Acme")
    for n in range(100):
        await link_new(api, client_id, f"C{n:03d}", "Contact", emails=[f"c{n}@acme.example"])
    other = await register(api, "Beta")
    spare = await link_new(api, other, "Spare", "Person")

    with_new = await expect_error(
        api,
        LINK,
        "linkContact",
        "LimitExceededError",
        clientId=client_id,
        newContact=new_contact(firstName="One", lastName="Hundred-and-one"),
    )
    assert with_new["limit"] == 100
    assert with_new["message"] == "a client can have at most 100 contacts"
    with_id = await expect_error(
        api, LINK, "linkContact", "LimitExceededError", clientId=client_id, contactId=spare
    )
    assert with_id["limit"] == 100

    response = await api.gql(
        "query($id: ID!) { client(id: $id) { version contacts { totalCount "
        "edges { node { contact { id firstName } } } } } }",
        {"id": client_id},
    )
    client = response["data"]["client"]
    assert client["version"] == 101
    assert client["contacts"]["totalCount"] == 100
    assert len(client["contacts"]["edges"]) == 100
    first_contact = client["contacts"]["edges"][0]["node"]["contact"]
    assert first_contact["firstName"] == "C000"

    # Below the limit again, the spare contact links fine.
    await mutate(api, UNLINK, "unlinkContact", clientId=client_id, contactId=first_contact["id"])
    linked = await mutate(api, LINK, "linkContact", clientId=client_id, contactId=spare)
    assert linked["__typename"] == "LinkContactSuccess"
    assert linked["client"]["version"] == 103
    assert linked["client"]["contacts"]["totalCount"] == 100


# Rule violations ------------------------------------------------------------------------


async def test_last_contact_cannot_be_unlinked(api: Api) -> None:
    client_id = await register(api, "Acme")
    ada = await link_new(api, client_id, "Ada", "Lovelace")
    error = await expect_error(
        api, UNLINK, "unlinkContact", "RuleViolationError", clientId=client_id, contactId=ada
    )
    assert error["rule"] == "LAST_CONTACT"
    assert error["message"] == "the last contact of a client cannot be unlinked"
    client = await get_client(api, client_id)
    assert client is not None
    assert client["contacts"]["totalCount"] == 1


async def test_team_rules(api: Api) -> None:
    await add_staff(api, "agent-1")
    await add_staff(api, "agent-2")
    client_id = await register(api, "Acme")
    await assign(api, client_id, "agent-1")
    again = await expect_error(
        api, ASSIGN, "assignTeamMember", "RuleViolationError", clientId=client_id, userId="agent-1"
    )
    assert again["rule"] == "ALREADY_ASSIGNED"
    assert again["message"] == "agent-1 is already on the client's team"
    absent = await expect_error(
        api, REMOVE, "removeTeamMember", "RuleViolationError", clientId=client_id, userId="agent-2"
    )
    assert absent["rule"] == "NOT_ASSIGNED"
    assert absent["message"] == "agent-2 is not on the client's team"


async def test_hold_rules(api: Api) -> None:
    client_id = await register(api, "Acme")
    not_held = await expect_error(
        api, RELEASE, "releaseClientHold", "RuleViolationError", clientId=client_id
    )
    assert not_held["rule"] == "NOT_ON_HOLD"
    await mutate(api, HOLD, "putClientOnHold", clientId=client_id, reason="fees")
    held = await expect_error(
        api, HOLD, "putClientOnHold", "RuleViolationError", clientId=client_id, reason="again"
    )
    assert held["rule"] == "ALREADY_ON_HOLD"
    assert held["message"] == "the client is already on hold"
    client = await get_client(api, client_id)
    assert client is not None
    assert [h["reason"] for h in client["holds"]] == ["fees"]


# Custom field count ---------------------------------------------------------------------


def fields(count: int, prefix: str = "k") -> list[dict[str, str]]:
    return [{"key": f"{prefix}{n}", "value": "v"} for n in range(count)]


async def test_at_most_100_custom_fields(api: Api) -> None:
    error = await expect_error(
        api,
        REGISTER,
        "registerClient",
        "ValidationError",
        name="Acme",
        type="COMPANY",
        customFields=fields(101),
    )
    assert error["field"] == "input.customFields"
    assert error["message"] == "a client can have at most 100 custom fields"

    client_id = await register(api, "Acme", customFields=fields(100))
    more = await expect_error(
        api,
        UPDATE,
        "updateClientDetails",
        "ValidationError",
        clientId=client_id,
        customFields=[{"key": "extra", "value": "v"}],
    )
    assert more["field"] == "input.customFields"
    # Replacing a value keeps the count at 100.
    same_count = await mutate(
        api,
        UPDATE,
        "updateClientDetails",
        clientId=client_id,
        customFields=[{"key": "k0", "value": None}, {"key": "extra", "value": "v"}],
    )
    assert same_count["__typename"] == "ClientPayload"
    assert len(same_count["client"]["customFields"]) == 100
    assert same_count["client"]["customFields"][-1] == {"key": "extra", "value": "v"}


# Concurrent writers ---------------------------------------------------------------------
# (PostgreSQL leaves gaps in the notification ids of saves that lost a race, so these tests
# count what was recorded through the API rather than with api.event_count().)


async def concurrently(api: Api, query: str, inputs: list[dict[str, Any]], field: str) -> list[Any]:
    responses = await asyncio.gather(*(api.gql(query, {"input": i}) for i in inputs))
    assert [r.get("errors") for r in responses] == [None] * len(inputs)
    return [r["data"][field] for r in responses]


async def activity_count(api: Api, client_id: str, event_type: str) -> int:
    response = await api.gql(
        "query($id: ID!, $t: String!) { client(id: $id) { "
        "activity(filter: {types: [$t]}) { totalCount } } }",
        {"id": client_id, "t": event_type},
    )
    return int(response["data"]["client"]["activity"]["totalCount"])


async def test_concurrent_updates_with_one_expected_version_let_exactly_one_win(
    api: Api,
) -> None:
    client_id = await register(api, "Acme")
    inputs = [{"clientId": client_id, "expectedVersion": 1, "name": f"Name {n}"} for n in range(6)]
    results = await concurrently(api, UPDATE, inputs, "updateClientDetails")
    winners = [r for r in results if r["__typename"] == "ClientPayload"]
    losers = [r for r in results if r["__typename"] == "ConflictError"]
    assert (len(winners), len(losers)) == (1, 5)
    assert {(r["expectedVersion"], r["actualVersion"]) for r in losers} == {(1, 2)}
    client = await get_client(api, client_id)
    assert client is not None
    assert client["version"] == 2
    assert client["name"] == winners[0]["client"]["name"]
    assert await activity_count(api, client_id, "ClientDetailsUpdated") == 1


async def test_concurrent_holds_and_unlinks_keep_the_rules(api: Api) -> None:
    client_id = await register(api, "Acme")
    contacts = [await link_new(api, client_id, f"C{n}", "X") for n in range(3)]

    holds = await concurrently(api, HOLD, [{"clientId": client_id}] * 5, "putClientOnHold")
    assert sorted(r["__typename"] for r in holds) == ["ClientPayload"] + ["RuleViolationError"] * 4
    assert {r["rule"] for r in holds if "rule" in r} == {"ALREADY_ON_HOLD"}

    unlinks = await concurrently(
        api, UNLINK, [{"clientId": client_id, "contactId": c} for c in contacts], "unlinkContact"
    )
    assert sorted(r["__typename"] for r in unlinks) == [
        "ClientPayload",
        "ClientPayload",
        "RuleViolationError",
    ]
    assert {r["rule"] for r in unlinks if "rule" in r} == {"LAST_CONTACT"}
    client = await get_client(api, client_id)
    assert client is not None
    assert (client["version"], client["contacts"]["totalCount"], len(client["holds"])) == (
        7,
        1,
        1,
    )


async def test_concurrent_adds_of_one_staff_member_let_exactly_one_win(api: Api) -> None:
    input_ = {"userId": "agent-1", "name": "Alice", "email": "a@firm.example", "role": "AGENT"}
    results = await concurrently(api, ADD_STAFF, [input_] * 5, "addStaffMember")
    assert (
        sorted(r["__typename"] for r in results)
        == ["AddStaffMemberSuccess"] + ["ConflictError"] * 4
    )
    assert {
        (r["expectedVersion"], r["actualVersion"]) for r in results if "actualVersion" in r
    } == {(0, 1)}
    response = await api.gql('{ activity(filter: {types: ["StaffMemberAdded"]}) { totalCount } }')
    assert response["data"]["activity"]["totalCount"] == 1
