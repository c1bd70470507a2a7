"""Linked organizations and ledger insights over GraphQL, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from tests.e2e.conftest import Api
from tests.e2e.test_api_support import (
    OWNER,
    add_staff,
    assign,
    client_activity,
    error_fields,
    global_id,
    mutate,
    ok,
    register,
    staff_actor,
    top_error_code,
)

MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
STEADY = ["1000", "1100", "1190", "1300", "1395", "1500", "1605", "1700", "1810", "1900"]
STEADY += ["2000", "2100"]
SPIKE_WHY = (
    "Revenue rose by 5,000.00 in 2025-01 (from 2,100.00 to 7,100.00). Over the previous 11 "
    "period-over-period changes the median was 100.00 and the median absolute deviation 5.00, "
    "so the robust z-score is 661.01; changes with |z| >= 3.5 are flagged."
)

ORG = """
  id provider externalId name linked linkedAt linkedBy { id } unlinkedAt unlinkedBy { id }
  accessRemovedFor staffWhoLostAccess { userId name } client { name }
"""
ALERT = """
  id account period balance previousBalance change medianChange zScore historySize why
  acknowledged acknowledgedBy { id } acknowledgementNote organization { name }
"""

LINK = f"""
mutation($input: LinkOrganizationInput!) {{
  linkOrganization(input: $input) {{
    {error_fields("ValidationError", "NotFoundError", "RuleViolationError")}
    ... on LinkedOrganizationPayload {{ organization {{ {ORG} }} client {{ name }} }}
  }}
}}
"""
UNLINK = f"""
mutation($input: UnlinkOrganizationInput!) {{
  unlinkOrganization(input: $input) {{
    {error_fields("NotFoundError", "RuleViolationError")}
    ... on LinkedOrganizationPayload {{ organization {{ {ORG} }} client {{ name }} }}
  }}
}}
"""
IMPORT = f"""
mutation($input: ImportLedgerBalancesInput!) {{
  importLedgerBalances(input: $input) {{
    {error_fields("ValidationError", "NotFoundError", "RuleViolationError", "LimitExceededError")}
    ... on ImportLedgerBalancesSuccess {{
      imported organization {{ name ledgerBalances(account: "Revenue") {{ period balance }} }}
      alerts {{ {ALERT} }}
    }}
  }}
}}
"""
ACK = f"""
mutation($input: AcknowledgeLedgerAlertInput!) {{
  acknowledgeLedgerAlert(input: $input) {{
    {error_fields("ValidationError", "NotFoundError", "RuleViolationError")}
    ... on LedgerAlertPayload {{ alert {{ {ALERT} }} organization {{ name }} }}
  }}
}}
"""
PROFILE = f"""
query($id: ID!, $acked: Boolean, $unlinked: Boolean) {{
  client(id: $id) {{
    linkedOrganizations(includeUnlinked: $unlinked) {{ {ORG} }}
    ledgerAlerts(includeAcknowledged: $acked) {{ {ALERT} }}
  }}
}}
"""


def spike(account: str = "Revenue") -> list[dict[str, str]]:
    rows = [
        {"account": account, "period": m, "balance": b} for m, b in zip(MONTHS, STEADY, strict=True)
    ]
    return [*rows, {"account": account, "period": "2025-01", "balance": "7100"}]


async def link(api: Api, client_id: str, external_id: str = "xero-42", **extra: Any) -> Any:
    return await mutate(
        api,
        LINK,
        "linkOrganization",
        extra.pop("as_user", OWNER),
        clientId=client_id,
        provider=extra.pop("provider", "XERO"),
        externalId=external_id,
        name=extra.pop("name", "Acme Ltd"),
        **extra,
    )


async def acme_with_org(api: Api) -> tuple[str, str]:
    """Acme with Bob and Zoe on the team, and its Xero organization linked."""
    await add_staff(api, "bob", name="Bob Baker")
    await add_staff(api, "zoe", name="Zoe")
    client_id = await register(api, "Acme")
    await assign(api, client_id, "zoe")
    await assign(api, client_id, "bob")
    result = await link(api, client_id)
    assert result["__typename"] == "LinkedOrganizationPayload", result
    return client_id, str(result["organization"]["id"])


async def profile(api: Api, client_id: str, **variables: Any) -> dict[str, Any]:
    return ok(await api.gql(PROFILE, {"id": client_id, **variables}), "client")


async def test_link_import_alert_acknowledge_unlink(api: Api) -> None:
    client_id, org_id = await acme_with_org(api)
    org = (await profile(api, client_id))["linkedOrganizations"]
    assert [{k: o[k] for k in ("provider", "externalId", "name", "linked")} for o in org] == [
        {"provider": "XERO", "externalId": "xero-42", "name": "Acme Ltd", "linked": True}
    ]
    assert org[0]["linkedBy"] == {"id": "owner-1"}

    result = await mutate(
        api,
        IMPORT,
        "importLedgerBalances",
        organizationId=org_id,
        balances=spike(),
        source="gl.csv",
    )
    assert result["__typename"] == "ImportLedgerBalancesSuccess", result
    assert result["imported"] == 13
    assert result["organization"]["ledgerBalances"][-2:] == [
        {"period": "2024-12", "balance": "2100.00"},
        {"period": "2025-01", "balance": "7100.00"},
    ]
    expected = {
        "account": "Revenue",
        "period": "2025-01",
        "balance": "7100.00",
        "previousBalance": "2100.00",
        "change": "5000.00",
        "medianChange": "100.00",
        "zScore": "661.01",
        "historySize": 11,
        "why": SPIKE_WHY,
        "acknowledged": False,
        "acknowledgedBy": None,
        "acknowledgementNote": None,
        "organization": {"name": "Acme Ltd"},
    }
    [alert] = result["alerts"]
    assert {k: v for k, v in alert.items() if k != "id"} == expected
    assert (await profile(api, client_id))["ledgerAlerts"] == [alert]
    node = ok(
        await api.gql(
            "query($id: ID!) { node(id: $id) { ... on LedgerAlert { zScore } } }",
            {"id": alert["id"]},
        ),
        "node",
    )
    assert node == {"zScore": "661.01"}

    acked = await mutate(
        api, ACK, "acknowledgeLedgerAlert", alertId=alert["id"], note="New contract"
    )
    assert acked["__typename"] == "LedgerAlertPayload", acked
    assert acked["alert"]["acknowledged"] is True
    assert acked["alert"]["acknowledgedBy"] == {"id": "owner-1"}
    assert acked["alert"]["acknowledgementNote"] == "New contract"
    assert (await profile(api, client_id))["ledgerAlerts"] == []
    shown = (await profile(api, client_id, acked=True))["ledgerAlerts"]
    assert [(a["period"], a["acknowledged"]) for a in shown] == [("2025-01", True)]
    count = api.event_count()
    again = await mutate(api, ACK, "acknowledgeLedgerAlert", alertId=alert["id"])
    assert (again["__typename"], again["rule"]) == ("RuleViolationError", "ALREADY_ACKNOWLEDGED")
    assert api.event_count() == count

    unlinked = await mutate(api, UNLINK, "unlinkOrganization", organizationId=org_id)
    assert unlinked["__typename"] == "LinkedOrganizationPayload", unlinked
    organization = unlinked["organization"]
    assert organization["linked"] is False
    assert organization["unlinkedBy"] == {"id": "owner-1"}
    assert organization["accessRemovedFor"] == ["bob", "zoe"]
    assert organization["staffWhoLostAccess"] == [
        {"userId": "bob", "name": "Bob Baker"},
        {"userId": "zoe", "name": "Zoe"},
    ]
    after = await profile(api, client_id, acked=True)
    assert after == {"linkedOrganizations": [], "ledgerAlerts": []}
    every = (await profile(api, client_id, unlinked=True))["linkedOrganizations"]
    assert [(o["name"], o["linked"]) for o in every] == [("Acme Ltd", False)]

    history = [e["summary"] for e in await client_activity(api, client_id, first=4)]
    assert history == [
        "owner-1 unlinked the organization Acme Ltd from Acme; Bob Baker and Zoe lost access "
        "to it.",
        "owner-1 acknowledged the ledger alert on Revenue for 2025-01 in Acme Ltd of Acme: "
        "New contract.",
        "owner-1 imported 13 ledger balances (1 account, 2024-01 to 2025-01) from gl.csv into "
        "Acme Ltd of Acme.",
        "owner-1 linked the Xero organization Acme Ltd (xero-42) to Acme.",
    ]


async def test_bad_input_is_typed_and_records_nothing(api: Api) -> None:
    client_id, org_id = await acme_with_org(api)
    count = api.event_count()

    async def imported(balances: list[dict[str, Any]], org: str = org_id) -> dict[str, Any]:
        return await mutate(
            api, IMPORT, "importLedgerBalances", organizationId=org, balances=balances
        )

    bad_period = await imported([{"account": "Revenue", "period": "2025-1", "balance": "1"}])
    assert {k: bad_period[k] for k in ("__typename", "field", "message")} == {
        "__typename": "ValidationError",
        "field": "input.balances.0.period",
        "message": "'2025-1' is not a period in the form YYYY-MM",
    }
    duplicate = await imported(
        [
            {"account": "Revenue", "period": "2025-01", "balance": "1"},
            {"account": "Revenue", "period": "2025-01", "balance": "2"},
        ]
    )
    assert (duplicate["field"], duplicate["message"]) == (
        "input.balances.1",
        "Revenue 2025-01 appears twice in the batch (items 0 and 1)",
    )
    cents = await imported([{"account": "Revenue", "period": "2025-01", "balance": "1.001"}])
    assert cents["field"] == "input.balances.0.balance"
    # A balance that is not a plain decimal at all ("ten", "NaN", "1e3") is refused by the
    # Decimal scalar itself, before anything runs.
    for bad in ("ten", "NaN", "1e3"):
        response = await api.gql(
            IMPORT,
            {
                "input": {
                    "organizationId": org_id,
                    "balances": [{"account": "Revenue", "period": "2025-01", "balance": bad}],
                }
            },
        )
        assert response["data"] is None
        assert response["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert "balance" in response["errors"][0]["message"]

    unknown_id = global_id("LinkedOrganization", "00000000-0000-4000-8000-000000000009")
    unknown = await imported([{"account": "A", "period": "2025-01", "balance": "1"}], unknown_id)
    assert (unknown["__typename"], unknown["id"]) == ("NotFoundError", unknown_id)
    garbage = await imported([{"account": "A", "period": "2025-01", "balance": "1"}], "nope")
    assert (garbage["__typename"], garbage["id"]) == ("NotFoundError", "nope")
    missing_client = await link(api, global_id("Client", "00000000-0000-4000-8000-000000000001"))
    assert missing_client["__typename"] == "NotFoundError"
    blank = await link(api, client_id, external_id="  ")
    assert (blank["__typename"], blank["field"]) == ("ValidationError", "input.externalId")
    twice = await link(api, client_id)
    assert (twice["__typename"], twice["rule"]) == ("RuleViolationError", "ALREADY_LINKED")
    no_alert = await mutate(
        api,
        ACK,
        "acknowledgeLedgerAlert",
        alertId=global_id("LedgerAlert", f'["{org_id}", "Revenue", "2025-01"]'),
    )
    assert no_alert["__typename"] == "NotFoundError"
    assert api.event_count() == count

    assert (await mutate(api, UNLINK, "unlinkOrganization", organizationId=org_id))[
        "__typename"
    ] == "LinkedOrganizationPayload"
    count = api.event_count()
    not_linked = await mutate(api, UNLINK, "unlinkOrganization", organizationId=org_id)
    assert (not_linked["__typename"], not_linked["rule"]) == ("RuleViolationError", "NOT_LINKED")
    closed = await imported([{"account": "A", "period": "2025-01", "balance": "1"}])
    assert (closed["__typename"], closed["rule"]) == ("RuleViolationError", "NOT_LINKED")
    assert api.event_count() == count


async def test_roles_and_firm_isolation(api: Api) -> None:
    client_id, org_id = await acme_with_org(api)
    await add_staff(api, "kim", role="AGENT")
    await add_staff(api, "wes", role="WATCHER")
    await mutate(api, IMPORT, "importLedgerBalances", organizationId=org_id, balances=spike())
    count = api.event_count()
    balances = [{"account": "A", "period": "2025-01", "balance": "1"}]
    variables = {"input": {"organizationId": org_id, "balances": balances}}

    watcher = await api.gql(IMPORT, variables, as_user=("wes", "watcher"))
    assert top_error_code(watcher) == "FORBIDDEN"
    stranger = ok(
        await api.gql(IMPORT, variables, as_user=("kim", "agent")), "importLedgerBalances"
    )
    assert (stranger["__typename"], stranger["id"]) == ("NotFoundError", org_id)
    other_firm = ok(await api.gql(IMPORT, variables, firm="firm-b"), "importLedgerBalances")
    assert other_firm["__typename"] == "NotFoundError"
    assert api.event_count() == count

    # Reads: the agent off the team and the other firm see nothing; Zoe (on the team) does.
    node_query = "query($id: ID!) { node(id: $id) { ... on LinkedOrganization { name } } }"
    assert ok(await api.gql(node_query, {"id": org_id}), "node") == {"name": "Acme Ltd"}
    hidden = await api.gql(node_query, {"id": org_id}, as_user=("kim", "agent"))
    assert hidden["data"] == {"node": None}
    assert (await api.gql(node_query, {"id": org_id}, firm="firm-b"))["data"] == {"node": None}
    zoe = await api.gql(PROFILE, {"id": client_id}, as_user=("zoe", "agent"))
    assert [a["zScore"] for a in ok(zoe, "client")["ledgerAlerts"]] == ["661.01"]
    agent = await mutate(
        api,
        IMPORT,
        "importLedgerBalances",
        ("zoe", "agent"),
        organizationId=org_id,
        balances=balances,
    )
    assert agent["__typename"] == "ImportLedgerBalancesSuccess"
    history = await api.gql(
        "query($id: ID!) { client(id: $id) { activity(first: 1) { edges { node { actor "
        "{ id kind name impersonatedBy } } } } } }",
        {"id": client_id},
    )
    assert ok(history, "client")["activity"]["edges"][0]["node"]["actor"] == staff_actor("zoe")


@contextmanager
def statements(api: Api) -> Iterator[list[str]]:
    """Every SQL statement the app runs inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = api.container.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


async def test_one_statement_per_field_across_many_clients(api: Api) -> None:
    for n in range(4):
        client_id = await register(api, f"Client {n}")
        org = await link(api, client_id, external_id=f"org-{n}", name=f"Org {n}")
        await mutate(
            api,
            IMPORT,
            "importLedgerBalances",
            organizationId=org["organization"]["id"],
            balances=spike(),
        )
    query = """{ clients(first: 10) { edges { node { name
        linkedOrganizations { name ledgerAlerts { zScore } }
        ledgerAlerts { zScore organization { name } } } } } }"""
    with statements(api) as seen:
        response = await api.gql(query)
    nodes = [e["node"] for e in ok(response, "clients")["edges"]]
    assert [n["name"] for n in nodes] == [f"Client {n}" for n in range(4)]
    assert [n["linkedOrganizations"][0]["ledgerAlerts"] for n in nodes] == [
        [{"zScore": "661.01"}]
    ] * 4
    assert [n["ledgerAlerts"][0]["organization"]["name"] for n in nodes] == [
        f"Org {n}" for n in range(4)
    ]
    mine = [s for s in seen if "rm_linked_organizations" in s or "rm_ledger_alerts" in s]
    # Organizations by client, alerts by client, alerts by organization, organizations by id.
    assert len(mine) == 4, mine
