"""Linked organizations, ledger imports and insight alerts, on SQLite and PostgreSQL.

Commands go through OrganizationsService (the same store and unit of work as every other
command); the organizations projection shows linked organizations, balances, alerts and
acknowledgements, and the activity history has a readable sentence for each change.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from domain.actor import ActingContext, Actor, ActorKind, acting_as
from domain.errors import InvalidInput, LimitExceeded, NotFound, RuleViolated
from domain.organization import IMPORT_BATCH_MAX, AccountingProvider, organization_id
from domain.values import ClientType, StaffRole
from infra.container import Container
from projections.organizations import (
    OrganizationsProjection,
    ledger_acknowledgements,
    ledger_alerts,
    ledger_balances,
    linked_organizations,
)
from projections.tables import activity

FIRM = "firm-a"
OTHER_FIRM = "firm-b"
ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann")
ANN_DICT = {"id": "user-ann", "kind": "STAFF", "name": "Ann", "impersonated_by": None}
AGENT = Actor(id="user-zoe", kind=ActorKind.STAFF, name="Zoe")

MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
STEADY = ["1000", "1100", "1190", "1300", "1395", "1500", "1605", "1700", "1810", "1900"]
STEADY += ["2000", "2100"]
SPIKE_WHY = (
    "Revenue rose by 5,000.00 in 2025-01 (from 2,100.00 to 7,100.00). Over the previous 11 "
    "period-over-period changes the median was 100.00 and the median absolute deviation 5.00, "
    "so the robust z-score is 661.01; changes with |z| >= 3.5 are flagged."
)


@contextmanager
def as_owner(actor: Actor = ANN, firm: str = FIRM) -> Iterator[ActingContext]:
    with acting_as(actor, firm, "owner") as ctx:
        yield ctx


def rows(container: Container, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
    with container.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query).all()]


def steady_then_spike(account: str = "Revenue") -> list[tuple[str, str, Decimal | str]]:
    series: list[tuple[str, str, Decimal | str]] = [
        (account, month, balance) for month, balance in zip(MONTHS, STEADY, strict=True)
    ]
    return [*series, (account, "2025-01", "7100")]


def setup_client(container: Container) -> tuple[UUID, UUID]:
    """Acme with Bob and Zoe on its team and a linked Xero organization."""
    svc = container.service
    for user, name in (("user-bob", "Bob Baker"), ("user-zoe", "Zoe")):
        svc.add_staff_member(
            user_id=user, name=name, email=f"{user}@firm.test", role=StaffRole.AGENT
        )
    client_id = UUID(
        svc.register_client(name="Acme", client_type=ClientType.COMPANY).ids["client_id"]
    )
    svc.assign_team_member(client_id, "user-zoe")
    svc.assign_team_member(client_id, "user-bob")
    out = container.organizations.link_organization(
        client_id, provider=AccountingProvider.XERO, external_id=" xero-42 ", name=" Acme Ltd "
    )
    container.wait_for(out.position)
    return client_id, UUID(out.ids["organization_id"])


def alert_rows(container: Container) -> list[tuple[Any, ...]]:
    a = ledger_alerts.c
    return rows(
        container,
        sa.select(
            a.account,
            a.period,
            a.balance,
            a.previous_balance,
            a.change,
            a.median_change,
            a.deviation,
            a.method,
            a.z_score,
            a.history_size,
            a.why,
        ).order_by(a.account, a.period),
    )


def summaries(container: Container) -> list[str]:
    return [
        r[0] for r in rows(container, sa.select(activity.c.summary).order_by(activity.c.position))
    ]


def test_link_import_alert_acknowledge_and_unlink(container: Container) -> None:
    orgs = container.organizations
    with as_owner():
        client_id, org_id = setup_client(container)
        assert org_id == organization_id(FIRM, client_id, "XERO", "xero-42")
        o = linked_organizations.c
        org_query = sa.select(
            o.client_id,
            o.provider,
            o.external_id,
            o.name,
            o.linked,
            o.linked_by,
            o.unlinked_by,
            o.staff_lost_access,
        )
        assert rows(container, org_query) == [
            (str(client_id), "XERO", "xero-42", "Acme Ltd", True, ANN_DICT, None, [])
        ]

        out = orgs.import_ledger_balances(org_id, steady_then_spike(), source="ledger.csv")
        assert out.ids["imported"] == "13"
        container.wait_for(out.position)
        b = ledger_balances.c
        stored = rows(container, sa.select(b.period, b.balance).order_by(b.period))
        assert stored[0] == ("2024-01", "1000.00")
        assert stored[-1] == ("2025-01", "7100.00")
        assert len(stored) == 13
        assert alert_rows(container) == [
            (
                "Revenue",
                "2025-01",
                "7100.00",
                "2100.00",
                "5000.00",
                "100.00",
                "5.00",
                "MAD",
                "661.01",
                11,
                SPIKE_WHY,
            )
        ]

        out = orgs.acknowledge_ledger_alert(org_id, "Revenue", "2025-01", note=" Big contract ")
        container.wait_for(out.position)
        k = ledger_acknowledgements.c
        assert rows(
            container, sa.select(k.account, k.period, k.change, k.note, k.acknowledged_by)
        ) == [("Revenue", "2025-01", "5000.00", "Big contract", ANN_DICT)]
        head = container.store.head()
        with pytest.raises(RuleViolated) as again:
            orgs.acknowledge_ledger_alert(org_id, "Revenue", "2025-01")
        assert again.value.rule == "ALREADY_ACKNOWLEDGED"
        with pytest.raises(NotFound) as quiet:
            orgs.acknowledge_ledger_alert(org_id, "Revenue", "2024-12")
        assert quiet.value.kind == "LedgerAlert"
        assert container.store.head() == head

        out = orgs.unlink_organization(org_id)
        container.wait_for(out.position)
        assert rows(container, sa.select(o.linked, o.unlinked_by, o.staff_lost_access)) == [
            (False, ANN_DICT, ["user-bob", "user-zoe"])
        ]
        head = container.store.head()
        with pytest.raises(RuleViolated) as twice:
            orgs.unlink_organization(org_id)
        assert twice.value.rule == "NOT_LINKED"
        with pytest.raises(RuleViolated) as closed:
            orgs.import_ledger_balances(org_id, [("Revenue", "2025-02", "1")])
        assert closed.value.rule == "NOT_LINKED"
        assert container.store.head() == head

        # Linking the same organization again reuses its id and its history.
        out = orgs.link_organization(
            client_id, provider=AccountingProvider.XERO, external_id="xero-42", name="Acme Limited"
        )
        assert out.ids["organization_id"] == str(org_id)
        container.wait_for(out.position)
        assert rows(container, sa.select(o.name, o.linked, o.staff_lost_access)) == [
            ("Acme Limited", True, [])
        ]
        with pytest.raises(RuleViolated) as linked:
            orgs.link_organization(
                client_id, provider=AccountingProvider.XERO, external_id="xero-42", name="X"
            )
        assert linked.value.rule == "ALREADY_LINKED"

    assert summaries(container)[-5:] == [
        "Ann linked the Xero organization Acme Ltd (xero-42) to Acme.",
        "Ann imported 13 ledger balances (1 account, 2024-01 to 2025-01) from ledger.csv into "
        "Acme Ltd of Acme.",
        "Ann acknowledged the ledger alert on Revenue for 2025-01 in Acme Ltd of Acme: "
        "Big contract.",
        "Ann unlinked the organization Acme Ltd from Acme; Bob Baker and Zoe lost access to it.",
        "Ann linked the organization Acme Limited to Acme again.",
    ]
    a = activity.c
    assert rows(
        container,
        sa.select(a.type, a.client_id).where(a.type.like("%Ledger%")).order_by(a.position),
    ) == [
        ("LedgerBalancesImported", str(client_id)),
        ("LedgerAlertAcknowledged", str(client_id)),
    ]


def test_a_correction_replaces_balances_and_recomputes_alerts(container: Container) -> None:
    orgs = container.organizations
    with as_owner():
        _client, org_id = setup_client(container)
        first = orgs.import_ledger_balances(
            org_id, [*steady_then_spike(), *steady_then_spike("Costs")]
        )
        container.wait_for(first.position)
        assert [(r[0], r[1], r[8]) for r in alert_rows(container)] == [
            ("Costs", "2025-01", "661.01"),
            ("Revenue", "2025-01", "661.01"),
        ]
        raised = rows(
            container, sa.select(ledger_alerts.c.position).order_by(ledger_alerts.c.account)
        )
        assert raised == [(first.position,), (first.position,)]

        # Revenue for 2025-01 was mistyped: 2200 is an ordinary month; Costs is untouched.
        fix = orgs.import_ledger_balances(org_id, [("Revenue", "2025-01", Decimal("2200.00"))])
        container.wait_for(fix.position)
        assert [(r[0], r[1]) for r in alert_rows(container)] == [("Costs", "2025-01")]
        b = ledger_balances.c
        assert rows(
            container,
            sa.select(b.balance, b.position).where(b.account == "Revenue", b.period == "2025-01"),
        ) == [("2200.00", fix.position)]
        # Another Costs month recomputes Costs; its unchanged alert keeps when it was raised.
        more = orgs.import_ledger_balances(org_id, [("Costs", "2025-02", "7200")])
        container.wait_for(more.position)
        assert rows(container, sa.select(ledger_alerts.c.account, ledger_alerts.c.position)) == [
            ("Costs", first.position)
        ]


@pytest.mark.parametrize(
    ("balances", "field", "message"),
    [
        (
            [("Revenue", "2025-13", "1")],
            "input.balances.0.period",
            "'2025-13' is not a period in the form YYYY-MM",
        ),
        (
            [("Revenue", "2025/01", "1")],
            "input.balances.0.period",
            "'2025/01' is not a period in the form YYYY-MM",
        ),
        (
            [("Revenue", "2025-01", "1"), ("Revenue", "2025-02", "ten")],
            "input.balances.1.balance",
            "'ten' is not a decimal number",
        ),
        (
            [("Revenue", "2025-01", "NaN")],
            "input.balances.0.balance",
            "'NaN' is not a finite number",
        ),
        (
            [("Revenue", "2025-01", "1.005")],
            "input.balances.0.balance",
            "balances have at most 2 decimal places",
        ),
        (
            [("Revenue", "2025-01", "1"), ("Costs", "2025-01", "2"), ("Revenue", "2025-01", "3")],
            "input.balances.2",
            "Revenue 2025-01 appears twice in the batch (items 0 and 2)",
        ),
        (
            [(" ", "2025-01", "1")],
            "input.balances.0.account",
            "input.balances.0.account must not be blank",
        ),
        ([], "input.balances", "give at least one balance"),
    ],
)
def test_bad_batches_record_nothing(
    container: Container, balances: list[tuple[str, str, str]], field: str, message: str
) -> None:
    with as_owner():
        _client, org_id = setup_client(container)
        head = container.store.head()
        with pytest.raises(InvalidInput) as error:
            container.organizations.import_ledger_balances(org_id, list(balances))
    assert (error.value.field, error.value.message) == (field, message)
    assert container.store.head() == head


def test_unknown_organizations_limits_and_isolation(container: Container) -> None:
    orgs = container.organizations
    with as_owner():
        client_id, org_id = setup_client(container)
        head = container.store.head()
        with pytest.raises(NotFound) as unknown:
            orgs.import_ledger_balances(UUID(int=7), [("Revenue", "2025-01", "1")])
        assert (unknown.value.kind, unknown.value.entity_id) == (
            "LinkedOrganization",
            str(UUID(int=7)),
        )
        with pytest.raises(NotFound):
            orgs.unlink_organization(client_id)  # a client id is not an organization id
        too_many = [
            ("A", f"{2000 + n // 12:04d}-{n % 12 + 1:02d}", "1")
            for n in range(IMPORT_BATCH_MAX + 1)
        ]
        with pytest.raises(LimitExceeded) as limit:
            orgs.import_ledger_balances(org_id, too_many)
        assert limit.value.limit == IMPORT_BATCH_MAX
        with pytest.raises(InvalidInput) as blank:
            orgs.link_organization(
                client_id, provider=AccountingProvider.SAGE, external_id=" ", name="X"
            )
        assert blank.value.field == "input.externalId"
        assert container.store.head() == head
    # Another firm does not see it; nor does an agent who is not on the client's team.
    with as_owner(firm=OTHER_FIRM), pytest.raises(NotFound):
        orgs.unlink_organization(org_id)
    with (
        acting_as(Actor(id="user-kim", kind=ActorKind.STAFF), FIRM, "agent"),
        pytest.raises(NotFound) as hidden,
    ):
        orgs.import_ledger_balances(org_id, [("Revenue", "2025-01", "1")])
    assert hidden.value.kind == "LinkedOrganization"
    with acting_as(AGENT, FIRM, "agent"):
        out = orgs.import_ledger_balances(org_id, [("Revenue", "2025-01", "1")])
    assert out.position == container.store.head()


def test_idempotent_import_replays(container: Container) -> None:
    orgs = container.organizations
    with as_owner():
        _client, org_id = setup_client(container)
        first = orgs.import_ledger_balances(org_id, steady_then_spike(), key="batch-1")
        head = container.store.head()
        again = orgs.import_ledger_balances(org_id, steady_then_spike(), key="batch-1")
    assert again.replayed is True
    assert again.ids == first.ids
    assert container.store.head() == head


def test_rebuild_from_zero_gives_identical_rows(container: Container) -> None:
    orgs = container.organizations
    with as_owner():
        _client, org_id = setup_client(container)
        orgs.import_ledger_balances(org_id, [*steady_then_spike(), *steady_then_spike("Costs")])
        orgs.import_ledger_balances(org_id, [("Costs", "2025-01", "2200")])
        orgs.acknowledge_ledger_alert(org_id, "Revenue", "2025-01")
        container.wait_for(orgs.unlink_organization(org_id).position)
    tables = (linked_organizations, ledger_balances, ledger_alerts, ledger_acknowledgements)

    def dump() -> list[list[tuple[Any, ...]]]:
        return [rows(container, sa.select(t).order_by(*t.primary_key.columns)) for t in tables]

    before = dump()
    assert [len(t) for t in before] == [1, 26, 1, 1]
    projection = next(
        p for p in container.runner.projections if isinstance(p, OrganizationsProjection)
    )
    assert container.runner.rebuild(projection) == container.store.head()
    assert dump() == before
