"""Issue 8's poison inputs over HTTP, on SQLite and PostgreSQL: each one is refused with a
typed error and records nothing, or succeeds harmlessly; either way every projection keeps
going (nothing parked), another firm's writes are read-your-writes visible and /readyz is 200.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from schema.common import DECIMAL
from tests.e2e.conftest import Api
from tests.e2e.test_api_support import (
    ADD_STAFF,
    ASSIGN,
    COMMENT,
    REGISTER,
    mutate,
    ok,
    register,
)

TODAY = datetime.now(UTC).date().isoformat()
MAX_LINES = 200

ISSUE = """mutation($input: IssueInvoiceInput!) { issueInvoice(input: $input) {
  __typename
  ... on InvoicePayload { invoice { id total { amount } balance { amount } } }
  ... on ValidationError { field message } } }"""

PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename
  ... on InvoicePayload { invoice { status paid { amount } balance { amount } } }
  ... on ValidationError { field message } } }"""

CREDIT = """mutation($input: IssueCreditNoteInput!) { issueCreditNote(input: $input) {
  __typename ... on ValidationError { field message } } }"""


async def others_still_served(api: Api) -> None:
    """Nothing is parked, another firm's registerClient and addComment are read-your-writes
    visible (payload and next query), and /readyz is 200."""
    runner = api.container.runner
    if hasattr(runner, "parked"):
        assert runner.parked() == []
    firm = f"bystander-{uuid4().hex[:8]}"
    registered = await mutate(
        api, REGISTER, "registerClient", firm=firm, name="Bystander", type="COMPANY"
    )
    client = registered["client"]
    assert client["name"] == "Bystander"
    commented = await mutate(
        api, COMMENT, "addComment", firm=firm, clientId=client["id"], body="Still served."
    )
    assert commented["__typename"] == "AddCommentSuccess", commented
    latest = commented["client"]["overview"]["latestComments"]
    assert [c["body"] for c in latest] == ["Still served."]
    fetched = ok(
        await api.gql(
            "query($id: ID!) { client(id: $id) { name overview { latestComments { id body } } } }",
            {"id": client["id"]},
            firm=firm,
        ),
        "client",
    )
    assert fetched == {"name": "Bystander", "overview": {"latestComments": latest}}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert not ready.json().get("parked"), ready.text


def lines(count: int, quantity: str, unit_price: str) -> list[dict[str, str]]:
    return [
        {"description": f"Line {n}", "quantity": quantity, "unitPrice": unit_price}
        for n in range(count)
    ]


async def issue(api: Api, client_id: str, invoice_lines: list[dict[str, str]]) -> dict[str, Any]:
    payload = {
        "clientId": client_id,
        "issuedOn": TODAY,
        "dueOn": TODAY,
        "currency": "USD",
        "lines": invoice_lines,
    }
    return ok(await api.gql(ISSUE, {"input": payload}), "issueInvoice")


async def test_the_largest_invoice_is_refused_not_rounded(api: Api) -> None:
    """Poison 1: 200 lines at the largest quantity and unit price once accepted (about 2e26,
    rounded by Decimal's 28 digits; a payment on it then stopped the billing projection)."""
    client = await register(api, "Big Spender")
    before = api.event_count()

    old_largest = await issue(api, client, lines(MAX_LINES, "999999999999", "999999999999.99"))
    assert old_largest["__typename"] == "ValidationError"
    assert old_largest["field"] == "input.lines.0.quantity"
    largest = await issue(api, client, lines(MAX_LINES, "999999999.9999", "999999999999.99"))
    assert largest == {
        "__typename": "ValidationError",
        "field": "input.lines.0.unitPrice",
        "message": "a line's total (quantity x unit price) must be below 1,000,000,000,000 USD",
    }
    too_much = await issue(api, client, lines(MAX_LINES, "1", "5000000000.00"))
    assert too_much["__typename"] == "ValidationError"
    assert too_much["field"] == "input.lines"
    assert api.event_count() == before

    # Just under the bound: exact to the cent, and so is every payment on it.
    invoice = await issue(api, client, lines(MAX_LINES, "1.0001", "4999500049.99"))
    assert invoice["__typename"] == "InvoicePayload", invoice
    total = Decimal(invoice["invoice"]["total"]["amount"])
    assert total == MAX_LINES * (Decimal("1.0001") * Decimal("4999500049.99")).quantize(
        Decimal("0.01")
    )
    assert total < Decimal(10) ** 12
    invoice_id = invoice["invoice"]["id"]
    first = ok(
        await api.gql(PAY, {"input": {"invoiceId": invoice_id, "amount": "0.01", "paidOn": TODAY}}),
        "recordPayment",
    )
    assert first["invoice"] == {
        "status": "PARTIALLY_PAID",
        "paid": {"amount": "0.01"},
        "balance": {"amount": str(total - Decimal("0.01"))},
    }
    rest = ok(
        await api.gql(
            PAY,
            {
                "input": {
                    "invoiceId": invoice_id,
                    "amount": str(total - Decimal("0.01")),
                    "paidOn": TODAY,
                }
            },
        ),
        "recordPayment",
    )
    assert rest["invoice"] == {
        "status": "PAID",
        "paid": {"amount": str(total)},
        "balance": {"amount": "0.00"},
    }
    # A client's credit stays below the bound too.
    credit = {"clientId": client, "currency": "USD", "amount": "999999999999.99"}
    assert ok(await api.gql(CREDIT, {"input": credit}), "issueCreditNote")["__typename"] != (
        "ValidationError"
    )
    before = api.event_count()
    more = ok(await api.gql(CREDIT, {"input": {**credit, "amount": "0.01"}}), "issueCreditNote")
    assert more["__typename"] == "ValidationError"
    assert more["field"] == "input.amount"
    assert api.event_count() == before
    await others_still_served(api)


@pytest.mark.parametrize(
    "body", ["\x00", "before\x00after", "zero\u200bwidth", "\u202eevil", "bom\ufeff"]
)
async def test_a_comment_with_nul_or_invisible_characters_is_refused(api: Api, body: str) -> None:
    """Poison 2: PostgreSQL text cannot hold U+0000 (SQLite can)."""
    client = await register(api, "Acme")
    before = api.event_count()
    result = await mutate(api, COMMENT, "addComment", clientId=client, body=body)
    assert result["__typename"] == "ValidationError"
    assert result["field"] == "input.body"
    assert result["code"] == "VALIDATION"
    assert api.event_count() == before
    # Multi-line text keeps its line breaks (CRLF becomes LF) and tabs.
    kept = await mutate(api, COMMENT, "addComment", clientId=client, body="a\r\n\tb")
    assert kept["comment"]["body"] == "a\n\tb"
    await others_still_served(api)


async def test_nul_and_bidi_overrides_are_refused_in_single_line_text(api: Api) -> None:
    before = api.event_count()
    for name, field in (("Acme\x00", "input.name"), ("Acme\nLtd", "input.name")):
        result = await mutate(api, REGISTER, "registerClient", name=name, type="COMPANY")
        assert (result["__typename"], result["field"]) == ("ValidationError", field)
    result = await mutate(
        api, REGISTER, "registerClient", name="Acme", type="COMPANY", tags=["ok", "\u202etag"]
    )
    assert (result["__typename"], result["field"]) == ("ValidationError", "input.tags.1")
    assert api.event_count() == before
    await others_still_served(api)


async def test_a_name_that_lengthens_when_lowered_is_stored_and_found(api: Api) -> None:
    """Poison 3: 200 x "İ" is 400 characters once lowered (the name's sort and search keys)."""
    name = "\u0130" * 200
    result = await mutate(
        api, REGISTER, "registerClient", name=name, type="COMPANY", tags=["\u0130" * 50]
    )
    assert result["__typename"] == "ClientPayload", result
    assert result["client"]["name"] == name
    assert result["client"]["tags"] == ["\u0130" * 50]
    found = ok(
        await api.gql(
            "query($s: String!, $t: String!) { clients(search: $s, tags: [$t]) "
            "{ edges { node { name } } } }",
            {"s": "\u0130\u0130", "t": "\u0130" * 50},
        ),
        "clients",
    )
    assert [e["node"]["name"] for e in found["edges"]] == [name]
    before = api.event_count()
    too_long = await mutate(api, REGISTER, "registerClient", name=name + "I", type="COMPANY")
    assert (too_long["__typename"], too_long["field"]) == ("ValidationError", "input.name")
    assert api.event_count() == before
    await others_still_served(api)


async def test_long_identity_provider_ids_are_stored_whole(api: Api) -> None:
    """Poison 4: a staff member whose firm id and user id pass 36 characters together."""
    firm = "firm-" + "a" * 60
    sub = "auth0|5f7c8ec7c33c6c004bbafe82" + "0" * 100
    token = api.token(sub=sub, role="owner", firm=firm, name="Ann \u202eOwner\x00")
    added = ok(
        await api.gql(
            ADD_STAFF,
            {
                "input": {
                    "userId": sub,
                    "name": "Ann Owner",
                    "email": "ann@firm.example",
                    "role": "OWNER",
                }
            },
            token=token,
        ),
        "addStaffMember",
    )
    assert added["__typename"] == "AddStaffMemberSuccess", added
    assert added["member"]["userId"] == sub
    client = ok(
        await api.gql(REGISTER, {"input": {"name": "Acme", "type": "COMPANY"}}, token=token),
        "registerClient",
    )["client"]
    assigned = ok(
        await api.gql(ASSIGN, {"input": {"clientId": client["id"], "userId": sub}}, token=token),
        "assignTeamMember",
    )
    assert [m["member"]["userId"] for m in assigned["client"]["team"]] == [sub]
    # The token's display name is shown without its control and bidi characters.
    assert assigned["client"]["team"][0]["assignedBy"]["name"] == "Ann Owner"
    activity = ok(
        await api.gql(
            """query($id: ID!) { client(id: $id) {
                 activity(first: 5) { edges { node { summary actor { id } } } } } }""",
            {"id": client["id"]},
            token=token,
        ),
        "client",
    )
    summaries = [e["node"]["summary"] for e in activity["activity"]["edges"]]
    assert summaries[0] == "Ann Owner assigned Ann Owner to the team of Acme."
    assert {e["node"]["actor"]["id"] for e in activity["activity"]["edges"]} == {sub}
    await others_still_served(api)


@pytest.mark.parametrize(
    ("claims", "field"),
    [
        ({"sub": "u" * 201}, "token.sub"),
        ({"sub": "has space"}, "token.sub"),
        ({"sub": "nul\x00"}, "token.sub"),
        ({"firm": "f" * 201}, "token.firm"),
        ({"firm": "a:b"}, "token.firm"),
    ],
)
async def test_ids_no_read_model_could_hold_are_refused_before_anything_is_recorded(
    api: Api, claims: dict[str, str], field: str
) -> None:
    token = api.token(**{"sub": "owner-1", "role": "owner", **claims})
    before = api.event_count()
    response = await api.gql(REGISTER, {"input": {"name": "Acme", "type": "COMPANY"}}, token=token)
    if "errors" in response:  # refused when the token is read
        assert response["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", response
    else:  # refused where events get their actor (domain.actor.acting_as)
        result = response["data"]["registerClient"]
        assert (result["__typename"], result["field"]) == ("ValidationError", field)
    assert api.event_count() == before
    await others_still_served(api)


def _strict_decimal_in_use() -> bool:
    from schema.schema import schema

    return schema.schema_converter.scalar_registry.get(Decimal) is DECIMAL


@pytest.mark.parametrize("amount", ["1e3", "1_000", "\u0661\u0662", " 12", "12.", "NaN", 12.5, 12])
async def test_money_is_a_plain_ascii_decimal_string(api: Api, amount: object) -> None:
    if not _strict_decimal_in_use():
        pytest.skip("the schema does not pass schema.common.SCALAR_OVERRIDES to strawberry yet")
    client = await register(api, "Acme")
    before = api.event_count()
    payload = {"clientId": client, "currency": "USD", "amount": amount}
    response = await api.gql(CREDIT, {"input": payload})
    assert response["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", response
    assert api.event_count() == before
    await others_still_served(api)
