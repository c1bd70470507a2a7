"""Billing on the profile over GraphQL: invoices, payments, credit, header figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from projections.billing import BillingProjection, client_credit, firm_billing, invoices
from tests.e2e.conftest import Api

TODAY = datetime.now(UTC).date()

REGISTER = """mutation($name: String!) { registerClient(input: {name: $name, type: COMPANY}) {
  ... on ClientPayload { client { id } } } }"""

ISSUE = """mutation($input: IssueInvoiceInput!) { issueInvoice(input: $input) {
  __typename
  ... on InvoicePayload { invoice { id number status total { amount currency } balance { amount }
      overdue lines { description quantity unitPrice total } client { name } } }
  ... on ValidationError { field message }
  ... on NotFoundError { id }
  ... on RuleViolationError { rule message } } }"""

PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename
  ... on InvoicePayload { invoice { status paid { amount } balance { amount } paidOn
      payments { amount { amount } applied { amount } credited { amount } method } } }
  ... on ValidationError { field message }
  ... on RuleViolationError { rule message } } }"""

BILLING = """query($id: ID!) { client(id: $id) {
  billing { unpaidTotal { amount currency } overdueTotal { amount currency } unpaidCount
            overdueCount averageDaysToPay creditBalance { amount currency } excludedInvoiceCount
            invoicedByMonth { period amount { amount } } }
  overview { unpaidInvoices { number balance { amount } overdue payableFromCredit } }
  invoices(first: 10) { totalCount edges { node { number status } } } } }"""


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


async def register(api: Api, name: str = "Acme") -> str:
    result = await api.gql(REGISTER, {"name": name})
    return str(result["data"]["registerClient"]["client"]["id"])


async def issue(api: Api, client_id: str, amount: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "clientId": client_id,
        "issuedOn": day(-40),
        "dueOn": day(-10),
        "currency": "EUR",
        "lines": [{"description": "Bookkeeping", "quantity": "1", "unitPrice": amount}],
    }
    payload.update(overrides)
    result = await api.gql(ISSUE, {"input": payload})
    assert "errors" not in result, result
    return result["data"]["issueInvoice"]  # type: ignore[no-any-return]


async def pay(api: Api, invoice_id: str, amount: str, paid_on: str, **extra: Any) -> dict[str, Any]:
    payload = {"invoiceId": invoice_id, "amount": amount, "paidOn": paid_on, **extra}
    result = await api.gql(PAY, {"input": payload})
    assert "errors" not in result, result
    return result["data"]["recordPayment"]  # type: ignore[no-any-return]


async def test_header_figures_from_the_issue_example(api: Api) -> None:
    client = await register(api)
    overdue = await issue(api, client, "1000.00", dueOn=day(-5))
    half = await issue(api, client, "500.00", dueOn=day(20))
    paid = await issue(api, client, "300.00", issuedOn=day(-30), dueOn=day(0))
    await pay(api, half["invoice"]["id"], "250.00", day(-1))
    settled = await pay(api, paid["invoice"]["id"], "300.00", day(-20))
    assert settled["invoice"]["status"] == "PAID"
    assert settled["invoice"]["paidOn"] == day(-20)

    data = (await api.gql(BILLING, {"id": client}))["data"]["client"]
    assert data["billing"] == {
        "unpaidTotal": {"amount": "1250.00", "currency": "EUR"},
        "overdueTotal": {"amount": "1000.00", "currency": "EUR"},
        "unpaidCount": 2,
        "overdueCount": 1,
        "averageDaysToPay": 10.0,
        "creditBalance": {"amount": "0.00", "currency": "EUR"},
        "excludedInvoiceCount": 0,
        "invoicedByMonth": data["billing"]["invoicedByMonth"],
    }
    assert sum(float(p["amount"]["amount"]) for p in data["billing"]["invoicedByMonth"]) == 1800.0
    assert [i["balance"]["amount"] for i in data["overview"]["unpaidInvoices"]] == [
        "1000.00",
        "250.00",
    ]
    assert [i["overdue"] for i in data["overview"]["unpaidInvoices"]] == [True, False]
    assert overdue["invoice"]["overdue"] is True
    assert data["invoices"]["totalCount"] == 3


async def test_invoice_numbers_are_generated_in_sequence_and_unique_per_firm(api: Api) -> None:
    client = await register(api)
    first = await issue(api, client, "10.00")
    second = await issue(api, client, "10.00")
    assert (first["invoice"]["number"], second["invoice"]["number"]) == ("INV-000001", "INV-000002")
    given = await issue(api, client, "10.00", number="2026-A")
    assert given["invoice"]["number"] == "2026-A"
    before = api.event_count()
    duplicate = await issue(api, client, "10.00", number="2026-A")
    assert duplicate == {
        "__typename": "ValidationError",
        "field": "input.number",
        "message": "invoice number 2026-A is already used",
    }
    assert api.event_count() == before
    other_firm = await api.gql(REGISTER, {"name": "Other"}, firm="firm-b")
    other_client = other_firm["data"]["registerClient"]["client"]["id"]
    result = await api.gql(
        ISSUE,
        {
            "input": {
                "clientId": other_client,
                "issuedOn": day(0),
                "dueOn": day(30),
                "currency": "EUR",
                "number": "2026-A",
                "lines": [{"description": "x", "quantity": "2.5", "unitPrice": "10.01"}],
            }
        },
        firm="firm-b",
    )
    invoice = result["data"]["issueInvoice"]["invoice"]
    assert invoice["number"] == "2026-A"
    assert invoice["lines"] == [
        {"description": "x", "quantity": "2.5", "unitPrice": "10.01", "total": "25.03"}
    ]
    assert invoice["total"] == {"amount": "25.03", "currency": "EUR"}


async def test_bad_invoice_input_is_typed_and_records_nothing(api: Api) -> None:
    client = await register(api)
    before = api.event_count()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"currency": "XYZ"}, "input.currency"),
        ({"dueOn": day(-50)}, "input.dueOn"),
        (
            {"lines": [{"description": "x", "quantity": "0", "unitPrice": "1.00"}]},
            "input.lines.0.quantity",
        ),
        (
            {"lines": [{"description": "x", "quantity": "-1", "unitPrice": "1.00"}]},
            "input.lines.0.quantity",
        ),
        (
            {"lines": [{"description": "x", "quantity": "1", "unitPrice": "1.001"}]},
            "input.lines.0.unitPrice",
        ),
        (
            {"lines": [{"description": " ", "quantity": "1", "unitPrice": "1.00"}]},
            "input.lines.0.description",
        ),
        ({"lines": []}, "input.lines"),
    ]
    for overrides, field in cases:
        result = await issue(api, client, "1.00", **overrides)
        assert result["__typename"] == "ValidationError", overrides
        assert result["field"] == field
    missing = await issue(api, client, "1.00", clientId="nonsense")
    assert missing == {"__typename": "NotFoundError", "id": "nonsense"}
    assert api.event_count() == before


async def test_payments_rules_overpayment_credit_and_void(api: Api) -> None:
    client = await register(api)
    invoice = (await issue(api, client, "100.00"))["invoice"]["id"]
    before = api.event_count()
    over = await pay(api, invoice, "150.00", day(-1))
    assert over["__typename"] == "RuleViolationError"
    assert over["rule"] == "OVERPAYMENT"
    early = await pay(api, invoice, "10.00", day(-60))
    assert early["__typename"] == "ValidationError"
    assert early["field"] == "input.paidOn"
    assert api.event_count() == before

    credited = await pay(api, invoice, "150.00", day(-1), overpaymentToCredit=True, method="bank")
    assert credited["invoice"]["status"] == "PAID"
    assert credited["invoice"]["payments"] == [
        {
            "amount": {"amount": "150.00"},
            "applied": {"amount": "100.00"},
            "credited": {"amount": "50.00"},
            "method": "bank",
        }
    ]
    again = await pay(api, invoice, "1.00", day(0))
    assert again["rule"] == "INVOICE_PAID"

    second = (await issue(api, client, "40.00", dueOn=day(5)))["invoice"]["id"]
    data = (await api.gql(BILLING, {"id": client}))["data"]["client"]
    assert data["billing"]["creditBalance"] == {"amount": "50.00", "currency": "EUR"}
    assert data["overview"]["unpaidInvoices"][0]["payableFromCredit"] is True

    applied = await api.gql(
        """mutation($id: ID!) { applyCredit(input: {invoiceId: $id}) {
          __typename ... on InvoicePayload { invoice { status balance { amount } } } } }""",
        {"id": second},
    )
    assert applied["data"]["applyCredit"]["invoice"] == {
        "status": "PAID",
        "balance": {"amount": "0.00"},
    }
    data = (await api.gql(BILLING, {"id": client}))["data"]["client"]
    assert data["billing"]["creditBalance"]["amount"] == "10.00"

    third = (await issue(api, client, "70.00"))["invoice"]["id"]
    void = """mutation($id: ID!) { voidInvoice(input: {invoiceId: $id, reason: "Duplicate"}) {
      __typename ... on InvoicePayload { invoice { status balance { amount } } }
      ... on RuleViolationError { rule } } }"""
    voided = await api.gql(void, {"id": third})
    assert voided["data"]["voidInvoice"]["invoice"] == {
        "status": "VOID",
        "balance": {"amount": "0.00"},
    }
    assert (await api.gql(void, {"id": third}))["data"]["voidInvoice"]["rule"] == "ALREADY_VOID"
    assert (await api.gql(void, {"id": invoice}))["data"]["voidInvoice"]["rule"] == "HAS_PAYMENTS"
    on_void = await pay(api, third, "1.00", day(0))
    assert on_void["rule"] == "INVOICE_VOID"


async def test_hold_blocks_invoices_until_released(api: Api) -> None:
    client = await register(api)
    hold = """mutation($id: ID!) { putClientOnHold(input: {clientId: $id, reason: "Unpaid fees"}) {
      __typename } }"""
    await api.gql(hold, {"id": client})
    before = api.event_count()
    blocked = await issue(api, client, "10.00")
    assert blocked["__typename"] == "RuleViolationError"
    assert blocked["rule"] == "CLIENT_ON_HOLD"
    assert "Unpaid fees" in blocked["message"]
    assert api.event_count() == before
    await api.gql(
        "mutation($id: ID!) { releaseClientHold(input: {clientId: $id}) { __typename } }",
        {"id": client},
    )
    assert (await issue(api, client, "10.00"))["__typename"] == "InvoicePayload"


async def test_firm_currency_and_other_currencies_left_out(api: Api) -> None:
    client = await register(api)
    await issue(api, client, "100.00", currency="GBP")
    await issue(api, client, "5000", currency="JPY")
    figures = (await api.gql(BILLING, {"id": client}))["data"]["client"]["billing"]
    assert figures["unpaidTotal"] == {"amount": "100.00", "currency": "GBP"}
    assert figures["excludedInvoiceCount"] == 1
    bad_yen = await issue(api, client, "10.5", currency="JPY")
    assert bad_yen["field"] == "input.lines.0.unitPrice"

    forbidden = await api.gql(
        'mutation { setFirmCurrency(input: {currency: "JPY"}) { __typename } }',
        as_user=("m", "manager"),
    )
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    changed = await api.gql(
        'mutation { setFirmCurrency(input: {currency: "jpy"}) { ... on FirmCurrencyPayload { currency } } }'
    )
    assert changed["data"]["setFirmCurrency"] == {"currency": "JPY"}
    figures = (await api.gql(BILLING, {"id": client}))["data"]["client"]["billing"]
    assert figures["unpaidTotal"] == {"amount": "5000", "currency": "JPY"}
    assert figures["excludedInvoiceCount"] == 1


async def test_activity_summaries_and_rebuild_identical(api: Api) -> None:
    client = await register(api, "Blue Harbor")
    invoice = (await issue(api, client, "120.00", number="BH-1"))["invoice"]["id"]
    await pay(api, invoice, "20.00", day(-2), method="card")
    history = await api.gql(
        "query($id: ID!) { client(id: $id) { activity(first: 5) { edges { node { type summary } } } } }",
        {"id": client},
    )
    entries = [e["node"] for e in history["data"]["client"]["activity"]["edges"]]
    assert entries[0] == {
        "type": "InvoicePaymentRecorded",
        "summary": "owner-1 recorded a payment of 20.00 by card on invoice BH-1.",
    }
    assert entries[1]["type"] == "InvoiceIssued"
    assert entries[1]["summary"] == (
        f"owner-1 issued invoice BH-1 to Blue Harbor for 120.00 EUR, due {day(-10)}."
    )

    container = api.container
    tables = (invoices, client_credit, firm_billing)

    def dump() -> list[list[Any]]:
        with container.engine.connect() as conn:
            return [sorted(map(tuple, conn.execute(sa.select(t)).all()), key=repr) for t in tables]

    before = dump()
    container.runner.rebuild(BillingProjection())
    assert dump() == before


async def test_billing_figures_as_of_a_moment(api: Api) -> None:
    client = await register(api)
    before_any = datetime.now(UTC).isoformat()
    invoice = (await issue(api, client, "400.00", dueOn=day(-1)))["invoice"]["id"]
    after_issue = datetime.now(UTC).isoformat()
    await pay(api, invoice, "400.00", day(-2))
    query = """query($id: ID!, $at: DateTime!) { client(id: $id) { asOf(at: $at) {
      billing { unpaidTotal { amount currency } overdueCount averageDaysToPay } } } }"""
    then = await api.gql(query, {"id": client, "at": after_issue})
    assert then["data"]["client"]["asOf"]["billing"] == {
        "unpaidTotal": {"amount": "400.00", "currency": "EUR"},
        "overdueCount": 1,
        "averageDaysToPay": None,
    }
    now = await api.gql(query, {"id": client, "at": datetime.now(UTC).isoformat()})
    assert now["data"]["client"]["asOf"]["billing"] == {
        "unpaidTotal": {"amount": "0.00", "currency": "EUR"},
        "overdueCount": 0,
        "averageDaysToPay": 38.0,
    }
    assert (await api.gql(query, {"id": client, "at": before_any}))["data"]["client"][
        "asOf"
    ] is not None
