"""Quotes over GraphQL: issue, accept, decline, expire, convert, links to invoices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from projections.activity import ActivityProjection
from projections.quotes import QuotesProjection, quotes
from tests.e2e.conftest import Api

TODAY = datetime.now(UTC).date()

REGISTER = """mutation($name: String!) { registerClient(input: {name: $name, type: COMPANY}) {
  ... on ClientPayload { client { id } } } }"""

QUOTE_FIELDS = """id number status expired issuedOn validUntil currency
  total { amount currency } lines { description quantity unitPrice total }
  decidedOn declineReason client { name } invoice { number status total { amount } }"""

ISSUE = f"""mutation($input: IssueQuoteInput!) {{ issueQuote(input: $input) {{
  __typename
  ... on QuotePayload {{ quote {{ {QUOTE_FIELDS} }} }}
  ... on ValidationError {{ field message }}
  ... on NotFoundError {{ id }}
  ... on RuleViolationError {{ rule message }} }} }}"""

DECIDE = """mutation($id: ID!) {{ {name}(input: {{quoteId: $id{extra}}}) {{
  __typename
  ... on QuotePayload {{ quote {{ number status expired decidedOn declineReason }} }}
  ... on NotFoundError {{ id }}
  ... on RuleViolationError {{ rule message }} }} }}"""

CONVERT = """mutation($input: ConvertQuoteToInvoiceInput!) { convertQuoteToInvoice(input: $input) {
  __typename
  ... on ConvertQuotePayload {
    quote { number status invoice { id number } }
    invoice { id number status issuedOn dueOn currency total { amount currency }
              lines { description quantity unitPrice total } quote { number status } } }
  ... on ValidationError { field message }
  ... on NotFoundError { id }
  ... on RuleViolationError { rule message } } }"""

HOLD = """mutation($id: ID!) { putClientOnHold(input: {clientId: $id, reason: "Unpaid fees"}) {
  __typename } }"""
RELEASE = "mutation($id: ID!) { releaseClientHold(input: {clientId: $id}) { __typename } }"


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def register(api: Api, name: str = "Acme", firm: str = "firm-a") -> str:
    result = await api.gql(REGISTER, {"name": name}, firm=firm)
    return str(result["data"]["registerClient"]["client"]["id"])


async def issue(
    api: Api, client_id: str, *, firm: str = "firm-a", **overrides: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "clientId": client_id,
        "issuedOn": day(-5),
        "validUntil": day(25),
        "currency": "EUR",
        "lines": [
            {"description": "Annual accounts", "quantity": "1", "unitPrice": "1200.00"},
            {"description": "Payroll runs", "quantity": "2.5", "unitPrice": "80.10"},
        ],
    }
    payload.update(overrides)
    result = await api.gql(ISSUE, {"input": payload}, firm=firm)
    assert "errors" not in result, result
    return result["data"]["issueQuote"]  # type: ignore[no-any-return]


async def decide(api: Api, name: str, quote_id: str, extra: str = "") -> dict[str, Any]:
    result = await api.gql(DECIDE.format(name=name, extra=extra), {"id": quote_id})
    assert "errors" not in result, result
    return result["data"][name]  # type: ignore[no-any-return]


async def convert(api: Api, quote_id: str, **extra: Any) -> dict[str, Any]:
    payload = {"quoteId": quote_id, "dueOn": day(30), **extra}
    result = await api.gql(CONVERT, {"input": payload})
    assert "errors" not in result, result
    return result["data"]["convertQuoteToInvoice"]  # type: ignore[no-any-return]


async def test_issue_quote_with_generated_and_given_numbers(api: Api) -> None:
    client = await register(api, "Blue Harbor")
    first = await issue(api, client)
    assert first["__typename"] == "QuotePayload"
    quote = first["quote"]
    del quote["id"]
    assert quote == {
        "number": "Q-000001",
        "status": "OPEN",
        "expired": False,
        "issuedOn": day(-5),
        "validUntil": day(25),
        "currency": "EUR",
        "total": {"amount": "1400.25", "currency": "EUR"},
        "lines": [
            {
                "description": "Annual accounts",
                "quantity": "1",
                "unitPrice": "1200.00",
                "total": "1200.00",
            },
            {
                "description": "Payroll runs",
                "quantity": "2.5",
                "unitPrice": "80.10",
                "total": "200.25",
            },
        ],
        "decidedOn": None,
        "declineReason": None,
        "client": {"name": "Blue Harbor"},
        "invoice": None,
    }
    second = await issue(api, client)
    assert second["quote"]["number"] == "Q-000002"
    given = await issue(api, client, number="BH-Q-7")
    assert given["quote"]["number"] == "BH-Q-7"

    before = api.event_count()
    duplicate = await issue(api, client, number="bh-q-7")
    assert duplicate == {
        "__typename": "ValidationError",
        "field": "input.number",
        "message": "quote number bh-q-7 is already used",
    }
    assert api.event_count() == before

    # Numbers are unique per firm: another firm may reuse them, and has its own sequence.
    other = await register(api, "Other", firm="firm-b")
    reused = await issue(api, other, firm="firm-b", number="BH-Q-7")
    assert reused["quote"]["number"] == "BH-Q-7"
    generated = await issue(api, other, firm="firm-b")
    assert generated["quote"]["number"] == "Q-000001"

    # The sequence skips a number already given by hand.
    await issue(api, client, number="Q-000003")
    assert (await issue(api, client))["quote"]["number"] == "Q-000004"


async def test_bad_quote_input_is_typed_and_records_nothing(api: Api) -> None:
    client = await register(api)
    before = api.event_count()
    one = [{"description": "x", "quantity": "1", "unitPrice": "1.00"}]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"currency": "XYZ"}, "input.currency"),
        ({"validUntil": day(-6)}, "input.validUntil"),
        ({"lines": []}, "input.lines"),
        (
            {"lines": [{"description": "x", "quantity": "0", "unitPrice": "1.00"}]},
            "input.lines.0.quantity",
        ),
        (
            {"lines": [*one, {"description": "y", "quantity": "-2", "unitPrice": "1.00"}]},
            "input.lines.1.quantity",
        ),
        (
            {"lines": [{"description": "x", "quantity": "1", "unitPrice": "1.001"}]},
            "input.lines.0.unitPrice",
        ),
        (
            {"lines": [{"description": "x", "quantity": "1", "unitPrice": "-5.00"}]},
            "input.lines.0.unitPrice",
        ),
        (
            {
                "currency": "JPY",
                "lines": [{"description": "x", "quantity": "1", "unitPrice": "10.5"}],
            },
            "input.lines.0.unitPrice",
        ),
        (
            {"lines": [{"description": "  ", "quantity": "1", "unitPrice": "1.00"}]},
            "input.lines.0.description",
        ),
        ({"number": "   "}, "input.number"),
    ]
    for overrides, field in cases:
        result = await issue(api, client, **overrides)
        assert result["__typename"] == "ValidationError", overrides
        assert result["field"] == field, overrides
    assert await issue(api, client, clientId="nonsense") == {
        "__typename": "NotFoundError",
        "id": "nonsense",
    }
    other_firm_client = await register(api, "Elsewhere", firm="firm-b")
    before = api.event_count()
    assert (await issue(api, other_firm_client))["__typename"] == "NotFoundError"
    assert api.event_count() == before


async def test_accept_convert_and_links_both_ways(api: Api) -> None:
    client = await register(api, "Blue Harbor")
    quote_id = (await issue(api, client))["quote"]["id"]

    before = api.event_count()
    not_accepted = await convert(api, quote_id)
    assert not_accepted["__typename"] == "RuleViolationError"
    assert not_accepted["rule"] == "QUOTE_NOT_ACCEPTED"
    assert api.event_count() == before

    accepted = await decide(api, "acceptQuote", quote_id)
    assert accepted["quote"] == {
        "number": "Q-000001",
        "status": "ACCEPTED",
        "expired": False,
        "decidedOn": day(0),
        "declineReason": None,
    }
    again = await decide(api, "acceptQuote", quote_id)
    assert again["rule"] == "QUOTE_NOT_OPEN"

    bad_due = await convert(api, quote_id, issuedOn=day(0), dueOn=day(-1))
    assert bad_due == {
        "__typename": "ValidationError",
        "field": "input.dueOn",
        "message": "the due date must not be before the issue date",
    }
    assert api.event_count() == before + 1

    taken = await api.gql(
        """mutation($input: IssueInvoiceInput!) { issueInvoice(input: $input) { __typename } }""",
        {
            "input": {
                "clientId": client,
                "number": "TAKEN-1",
                "issuedOn": day(0),
                "dueOn": day(10),
                "currency": "EUR",
                "lines": [{"description": "x", "quantity": "1", "unitPrice": "5.00"}],
            }
        },
    )
    assert taken["data"]["issueInvoice"]["__typename"] == "InvoicePayload"
    before = api.event_count()
    duplicate = await convert(api, quote_id, number="TAKEN-1")
    assert duplicate == {
        "__typename": "ValidationError",
        "field": "input.number",
        "message": "invoice number TAKEN-1 is already used",
    }
    assert api.event_count() == before

    converted = await convert(
        api, quote_id, issuedOn=day(-1), dueOn=day(29), idempotencyKey="convert-1"
    )
    replayed = await convert(
        api, quote_id, issuedOn=day(-1), dueOn=day(29), idempotencyKey="convert-1"
    )
    assert replayed == converted
    # The key is bound to its input: another due date is refused and records nothing.
    count = api.event_count()
    other = await api.gql(
        CONVERT, {"input": {"quoteId": quote_id, "dueOn": day(1), "idempotencyKey": "convert-1"}}
    )
    assert other["errors"][0]["extensions"] == {"code": "IDEMPOTENCY_KEY_REUSED"}
    assert api.event_count() == count
    assert converted["__typename"] == "ConvertQuotePayload"
    invoice = converted["invoice"]
    invoice_id = invoice.pop("id")
    assert invoice == {
        "number": "INV-000001",
        "status": "OPEN",
        "issuedOn": day(-1),
        "dueOn": day(29),
        "currency": "EUR",
        "total": {"amount": "1400.25", "currency": "EUR"},
        "lines": [
            {
                "description": "Annual accounts",
                "quantity": "1",
                "unitPrice": "1200.00",
                "total": "1200.00",
            },
            {
                "description": "Payroll runs",
                "quantity": "2.5",
                "unitPrice": "80.10",
                "total": "200.25",
            },
        ],
        "quote": {"number": "Q-000001", "status": "CONVERTED"},
    }
    assert converted["quote"] == {
        "number": "Q-000001",
        "status": "CONVERTED",
        "invoice": {"id": invoice_id, "number": "INV-000001"},
    }

    before = api.event_count()
    twice = await convert(api, quote_id)
    assert twice["__typename"] == "RuleViolationError"
    assert twice["rule"] == "QUOTE_ALREADY_CONVERTED"
    assert api.event_count() == before

    profile = await api.gql(
        """query($id: ID!) { client(id: $id) {
          invoices(first: 5) { edges { node { number quote { number invoice { number } } } } }
          billing { unpaidTotal { amount currency } } } }""",
        {"id": client},
    )
    data = profile["data"]["client"]
    assert data["invoices"]["edges"] == [
        {"node": {"number": "TAKEN-1", "quote": None}},
        {
            "node": {
                "number": "INV-000001",
                "quote": {"number": "Q-000001", "invoice": {"number": "INV-000001"}},
            }
        },
    ]
    assert data["billing"]["unpaidTotal"] == {"amount": "1405.25", "currency": "EUR"}

    # An invoice issued directly has no quote.
    direct = await api.gql(
        """mutation($input: IssueInvoiceInput!) { issueInvoice(input: $input) {
          ... on InvoicePayload { invoice { number quote { number } } } } }""",
        {
            "input": {
                "clientId": client,
                "issuedOn": day(0),
                "dueOn": day(10),
                "currency": "EUR",
                "lines": [{"description": "x", "quantity": "1", "unitPrice": "5.00"}],
            }
        },
    )
    assert direct["data"]["issueInvoice"]["invoice"] == {"number": "INV-000002", "quote": None}


async def test_decline_expire_and_the_expired_flag(api: Api) -> None:
    client = await register(api)
    declined_id = (await issue(api, client))["quote"]["id"]
    declined = await decide(api, "declineQuote", declined_id, ', reason: "Too expensive"')
    assert declined["quote"] == {
        "number": "Q-000001",
        "status": "DECLINED",
        "expired": False,
        "decidedOn": day(0),
        "declineReason": "Too expensive",
    }
    before = api.event_count()
    assert (await decide(api, "acceptQuote", declined_id))["rule"] == "QUOTE_NOT_OPEN"
    assert (await decide(api, "expireQuote", declined_id))["rule"] == "QUOTE_NOT_OPEN"
    assert (await convert(api, declined_id))["rule"] == "QUOTE_NOT_ACCEPTED"
    assert api.event_count() == before

    # Past its valid-until date an open quote reads as expired, with no event recorded.
    lapsed = await issue(api, client, issuedOn=day(-30), validUntil=day(-1))
    assert (lapsed["quote"]["status"], lapsed["quote"]["expired"]) == ("EXPIRED", True)
    before = api.event_count()
    late = await decide(api, "acceptQuote", lapsed["quote"]["id"])
    assert late["__typename"] == "RuleViolationError"
    assert late["rule"] == "QUOTE_EXPIRED"
    assert late["message"] == f"quote Q-000002 expired after {day(-1)} and cannot be accepted"
    assert api.event_count() == before

    # The valid-until day itself is still valid.
    last_day = await issue(api, client, issuedOn=day(-30), validUntil=day(0))
    assert (last_day["quote"]["status"], last_day["quote"]["expired"]) == ("OPEN", False)

    explicit = await decide(api, "expireQuote", last_day["quote"]["id"])
    assert explicit["quote"] == {
        "number": "Q-000003",
        "status": "EXPIRED",
        "expired": True,
        "decidedOn": day(0),
        "declineReason": None,
    }
    assert (await decide(api, "expireQuote", last_day["quote"]["id"]))["rule"] == "QUOTE_NOT_OPEN"
    missing = await decide(api, "acceptQuote", "nonsense")
    assert missing == {"__typename": "NotFoundError", "id": "nonsense"}


async def test_hold_blocks_issuing_and_converting_quotes_until_released(api: Api) -> None:
    client = await register(api, "Blue Harbor")
    accepted_id = (await issue(api, client))["quote"]["id"]
    await decide(api, "acceptQuote", accepted_id)
    await api.gql(HOLD, {"id": client})

    before = api.event_count()
    blocked = await issue(api, client)
    assert blocked == {
        "__typename": "RuleViolationError",
        "rule": "CLIENT_ON_HOLD",
        "message": "Blue Harbor is on hold (Unpaid fees): no quotes until released",
    }
    no_invoice = await convert(api, accepted_id)
    assert no_invoice == {
        "__typename": "RuleViolationError",
        "rule": "CLIENT_ON_HOLD",
        "message": "Blue Harbor is on hold (Unpaid fees): no invoices until released",
    }
    assert api.event_count() == before

    await api.gql(RELEASE, {"id": client})
    assert (await issue(api, client))["quote"]["number"] == "Q-000002"
    assert (await convert(api, accepted_id))["invoice"]["number"] == "INV-000001"


async def test_client_quotes_connection_filter_and_latest(api: Api) -> None:
    client = await register(api)
    ids = []
    for offset in range(7):  # issued on day(-7) ... day(-1); Q-000007 is the newest
        ids.append((await issue(api, client, issuedOn=day(offset - 7)))["quote"]["id"])
    await decide(api, "acceptQuote", ids[0])
    await decide(api, "declineQuote", ids[1])
    query = """query($id: ID!, $after: String, $status: [QuoteStatus!]) { client(id: $id) {
      quotes(first: 3, after: $after, status: $status) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { number status } } }
      overview { latestQuotes { number } } } }"""
    first = (await api.gql(query, {"id": client}))["data"]["client"]
    assert first["quotes"]["totalCount"] == 7
    assert [e["node"]["number"] for e in first["quotes"]["edges"]] == [
        "Q-000007",
        "Q-000006",
        "Q-000005",
    ]
    assert first["quotes"]["pageInfo"]["hasNextPage"] is True
    assert [q["number"] for q in first["overview"]["latestQuotes"]] == [
        "Q-000007",
        "Q-000006",
        "Q-000005",
        "Q-000004",
        "Q-000003",
    ]
    cursor = first["quotes"]["pageInfo"]["endCursor"]
    rest = (await api.gql(query, {"id": client, "after": cursor}))["data"]["client"]["quotes"]
    assert [e["node"]["number"] for e in rest["edges"]] == ["Q-000004", "Q-000003", "Q-000002"]
    filtered = await api.gql(query, {"id": client, "status": ["ACCEPTED", "DECLINED"]})
    edges = filtered["data"]["client"]["quotes"]["edges"]
    assert [e["node"] for e in edges] == [
        {"number": "Q-000002", "status": "DECLINED"},
        {"number": "Q-000001", "status": "ACCEPTED"},
    ]
    node = await api.gql(
        "query($id: ID!) { node(id: $id) { __typename ... on Quote { number } } }", {"id": ids[0]}
    )
    assert node["data"]["node"] == {"__typename": "Quote", "number": "Q-000001"}


async def test_roles_and_firm_isolation(api: Api) -> None:
    client = await register(api)
    quote_id = (await issue(api, client))["quote"]["id"]
    watcher = await api.gql(
        DECIDE.format(name="acceptQuote", extra=""), {"id": quote_id}, as_user=("w", "watcher")
    )
    assert watcher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # An agent not on the client's team does not see the quote.
    agent = await api.gql(
        DECIDE.format(name="acceptQuote", extra=""), {"id": quote_id}, as_user=("a", "agent")
    )
    assert agent["data"]["acceptQuote"] == {"__typename": "NotFoundError", "id": quote_id}
    other_firm = await api.gql(
        DECIDE.format(name="acceptQuote", extra=""), {"id": quote_id}, firm="firm-b"
    )
    assert other_firm["data"]["acceptQuote"] == {"__typename": "NotFoundError", "id": quote_id}
    hidden = await api.gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": quote_id}, firm="firm-b"
    )
    assert hidden["data"]["node"] is None


async def test_idempotent_issue(api: Api) -> None:
    client = await register(api)
    first = await issue(api, client, idempotencyKey="quote-1")
    count = api.event_count()
    second = await issue(api, client, idempotencyKey="quote-1")
    assert second["quote"]["id"] == first["quote"]["id"]
    assert second["quote"]["number"] == "Q-000001"
    assert api.event_count() == count


async def test_activity_summaries_and_rebuild_identical(api: Api) -> None:
    client = await register(api, "Blue Harbor")
    quote_id = (await issue(api, client, number="BH-Q1"))["quote"]["id"]
    await decide(api, "acceptQuote", quote_id)
    await convert(api, quote_id, number="BH-1")
    declined = (await issue(api, client, number="BH-Q2", validUntil=day(3)))["quote"]["id"]
    await decide(api, "declineQuote", declined, ', reason: "Not now"')
    expired = (await issue(api, client, number="BH-Q3"))["quote"]["id"]
    await decide(api, "expireQuote", expired)
    history = await api.gql(
        """query($id: ID!) { client(id: $id) { activity(first: 10) {
          edges { node { type summary } } } } }""",
        {"id": client},
    )
    entries = [e["node"] for e in history["data"]["client"]["activity"]["edges"]]
    assert entries[:8] == [
        {"type": "QuoteExpired", "summary": "owner-1 marked quote BH-Q3 as expired."},
        {
            "type": "QuoteIssued",
            "summary": f"owner-1 issued quote BH-Q3 to Blue Harbor for 1400.25 EUR, valid until {day(25)}.",
        },
        {"type": "QuoteDeclined", "summary": "owner-1 marked quote BH-Q2 as declined: Not now."},
        {
            "type": "QuoteIssued",
            "summary": f"owner-1 issued quote BH-Q2 to Blue Harbor for 1400.25 EUR, valid until {day(3)}.",
        },
        {"type": "QuoteConverted", "summary": "owner-1 converted quote BH-Q1 into invoice BH-1."},
        {
            "type": "InvoiceIssued",
            "summary": f"owner-1 issued invoice BH-1 to Blue Harbor for 1400.25 EUR, due {day(30)}.",
        },
        {"type": "QuoteAccepted", "summary": "owner-1 marked quote BH-Q1 as accepted."},
        {
            "type": "QuoteIssued",
            "summary": f"owner-1 issued quote BH-Q1 to Blue Harbor for 1400.25 EUR, valid until {day(25)}.",
        },
    ]

    container = api.container

    def dump() -> list[Any]:
        with container.engine.connect() as conn:
            return sorted(map(tuple, conn.execute(sa.select(quotes)).all()), key=repr)

    before = dump()
    assert len(before) == 3
    container.runner.rebuild(QuotesProjection())
    assert dump() == before
    container.runner.rebuild(ActivityProjection())
    again = await api.gql(
        """query($id: ID!) { client(id: $id) { activity(first: 10) {
          edges { node { type summary } } } } }""",
        {"id": client},
    )
    assert [e["node"] for e in again["data"]["client"]["activity"]["edges"]][:8] == entries[:8]
