"""Regressions found in review: replays after losing access, and out-of-range positions."""

from __future__ import annotations

import base64

import httpx

from tests.e2e.conftest import Api


async def setup_client_with_invoice(api: Api) -> tuple[str, str]:
    await api.gql(
        'mutation { addStaffMember(input: {userId: "agent-1", name: "Al", email: "al@x.test", role: AGENT}) { __typename } }'
    )
    client = (
        await api.gql(
            'mutation { registerClient(input: {name: "Acme", type: COMPANY}) { ... on ClientPayload { client { id } } } }'
        )
    )["data"]["registerClient"]["client"]["id"]
    await api.gql(
        'mutation($id: ID!) { assignTeamMember(input: {clientId: $id, userId: "agent-1"}) { __typename } }',
        {"id": client},
    )
    invoice = (
        await api.gql(
            """mutation($id: ID!) { issueInvoice(input: {clientId: $id, issuedOn: "2026-01-05",
               dueOn: "2026-02-05", currency: "EUR",
               lines: [{description: "Fees", quantity: "1", unitPrice: "100.00"}]}) {
               ... on InvoicePayload { invoice { id } } } }""",
            {"id": client},
        )
    )["data"]["issueInvoice"]["invoice"]["id"]
    return client, invoice


async def test_a_replayed_invoice_mutation_says_nothing_once_the_client_is_hidden(api: Api) -> None:
    client, invoice = await setup_client_with_invoice(api)
    pay = """mutation($id: ID!) { recordPayment(input: {invoiceId: $id, amount: "1.00",
      paidOn: "2026-01-06", idempotencyKey: "k1"}) { __typename
      ... on InvoicePayload { invoice { client { name } } } ... on NotFoundError { id } } }"""
    agent = ("agent-1", "agent")
    first = await api.gql(pay, {"id": invoice}, as_user=agent)
    assert first["data"]["recordPayment"] == {
        "__typename": "InvoicePayload",
        "invoice": {"client": {"name": "Acme"}},
    }
    await api.gql(
        'mutation($id: ID!) { removeTeamMember(input: {clientId: $id, userId: "agent-1"}) { __typename } }',
        {"id": client},
    )
    before = api.event_count()
    again = await api.gql(pay, {"id": invoice}, as_user=agent)
    assert again["data"]["recordPayment"] == {"__typename": "NotFoundError", "id": invoice}
    assert api.event_count() == before


async def test_positions_out_of_range_are_bad_input(api: Api) -> None:
    for after in ("²", "99999999999999999999"):
        result = await api.gql(
            "query($a: String) { activity(after: $a) { totalCount } }", {"a": after}
        )
        assert result["data"] is None
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    odd = base64.urlsafe_b64encode("ActivityEntry:²".encode()).decode().rstrip("=")
    huge = base64.urlsafe_b64encode(b"ActivityEntry:9999999999999999999999999").decode().rstrip("=")
    for node_id in (odd, huge):
        result = await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": node_id})
        assert result == {"data": {"node": None}}
    counts = await api.gql(
        'query { activityCounts(since: "2026-01-01T00:00:00Z", until: "9999-12-31T00:00:00Z", interval: WEEK) { count } }'
    )
    assert counts["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_export_through_must_be_a_plain_position(api: Api) -> None:
    client, _ = await setup_client_with_invoice(api)
    response = await api.client.get(
        f"/export/clients/{client}.jsonl",
        params={"through": "²"},
        headers={"authorization": f"Bearer {api.token()}"},
    )
    assert isinstance(response, httpx.Response)
    assert response.status_code == 400
