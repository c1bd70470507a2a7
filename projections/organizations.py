"""Linked organizations, their ledger balances and the insight alerts raised on them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import sqlalchemy as sa

from domain import insights
from domain.organization import (
    PROVIDER_LABELS,
    AccountingProvider,
    LinkedOrganization,
    OrganizationEvent,
)
from projections.base import Projection, handles
from projections.sentences import Said, join_words, names, says
from projections.tables import FIRM, ID, UTCDateTime, metadata

AMOUNT = sa.String(40)
ACCOUNT = sa.String(200)
PERIOD = sa.String(7)
CHUNK = 400

T = TypeVar("T")

linked_organizations = sa.Table(
    "rm_linked_organizations",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("provider", sa.String(20), nullable=False),
    sa.Column("external_id", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("linked", sa.Boolean, nullable=False),
    sa.Column("linked_at", UTCDateTime, nullable=False),
    sa.Column("linked_by", sa.JSON, nullable=False),
    sa.Column("unlinked_at", UTCDateTime),
    sa.Column("unlinked_by", sa.JSON),
    sa.Column("staff_lost_access", sa.JSON, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_linked_organizations_client", "client_id", "position"),
)

ledger_balances = sa.Table(
    "rm_ledger_balances",
    metadata,
    sa.Column("organization_id", ID, primary_key=True),
    sa.Column("account", ACCOUNT, primary_key=True),
    sa.Column("period", PERIOD, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("balance", AMOUNT, nullable=False),
    sa.Column("imported_at", UTCDateTime, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
)

ledger_alerts = sa.Table(
    "rm_ledger_alerts",
    metadata,
    sa.Column("organization_id", ID, primary_key=True),
    sa.Column("account", ACCOUNT, primary_key=True),
    sa.Column("period", PERIOD, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("balance", AMOUNT, nullable=False),
    sa.Column("previous_balance", AMOUNT, nullable=False),
    sa.Column("change", AMOUNT, nullable=False),
    sa.Column("median_change", AMOUNT, nullable=False),
    sa.Column("deviation", AMOUNT, nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("z_score", AMOUNT),
    sa.Column("history_size", sa.Integer, nullable=False),
    sa.Column("why", sa.Text, nullable=False),
    sa.Column("raised_at", UTCDateTime, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_ledger_alerts_client", "client_id"),
)

ledger_acknowledgements = sa.Table(
    "rm_ledger_acknowledgements",
    metadata,
    sa.Column("organization_id", ID, primary_key=True),
    sa.Column("account", ACCOUNT, primary_key=True),
    sa.Column("period", PERIOD, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("change", AMOUNT, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("acknowledged_at", UTCDateTime, nullable=False),
    sa.Column("acknowledged_by", sa.JSON, nullable=False),
)


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def alert_values(finding: insights.Finding) -> dict[str, Any]:
    """The stored figures of a finding (amounts as exact decimal strings)."""
    return {
        "balance": str(finding.balance),
        "previous_balance": str(finding.previous_balance),
        "change": str(finding.change),
        "median_change": str(finding.median),
        "deviation": str(finding.deviation),
        "method": finding.method,
        "z_score": None if finding.z_score is None else str(finding.z_score),
        "history_size": finding.history_size,
        "why": finding.why,
    }


class OrganizationsProjection(Projection):
    """Keeps linked organizations, ledger balances, alerts and their acknowledgements."""

    name = "organizations"
    tables = (linked_organizations, ledger_balances, ledger_alerts, ledger_acknowledgements)

    @handles(LinkedOrganization.OrganizationLinked)
    def linked(
        self, conn: sa.Connection, e: LinkedOrganization.OrganizationLinked, position: int
    ) -> None:
        conn.execute(
            sa.insert(linked_organizations).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                provider=e.provider,
                external_id=e.external_id,
                name=e.name,
                linked=True,
                linked_at=e.timestamp,
                linked_by=e.actor,
                staff_lost_access=[],
                position=position,
            )
        )

    @handles(LinkedOrganization.OrganizationRelinked)
    def relinked(
        self, conn: sa.Connection, e: LinkedOrganization.OrganizationRelinked, position: int
    ) -> None:
        conn.execute(
            sa.update(linked_organizations)
            .where(linked_organizations.c.id == str(e.originator_id))
            .values(
                name=e.name,
                linked=True,
                linked_at=e.timestamp,
                linked_by=e.actor,
                unlinked_at=None,
                unlinked_by=None,
                staff_lost_access=[],
            )
        )

    @handles(LinkedOrganization.OrganizationUnlinked)
    def unlinked(
        self, conn: sa.Connection, e: LinkedOrganization.OrganizationUnlinked, position: int
    ) -> None:
        conn.execute(
            sa.update(linked_organizations)
            .where(linked_organizations.c.id == str(e.originator_id))
            .values(
                linked=False,
                unlinked_at=e.timestamp,
                unlinked_by=e.actor,
                staff_lost_access=list(e.staff_lost_access),
            )
        )

    @handles(LinkedOrganization.LedgerAlertAcknowledged)
    def acknowledged(
        self, conn: sa.Connection, e: LinkedOrganization.LedgerAlertAcknowledged, position: int
    ) -> None:
        conn.execute(
            sa.insert(ledger_acknowledgements).values(
                organization_id=str(e.originator_id),
                account=e.account,
                period=e.period,
                firm_id=e.firm_id,
                change=str(e.change),
                note=e.note,
                acknowledged_at=e.timestamp,
                acknowledged_by=e.actor,
            )
        )

    @handles(LinkedOrganization.LedgerBalancesImported)
    def imported(
        self, conn: sa.Connection, e: LinkedOrganization.LedgerBalancesImported, position: int
    ) -> None:
        org = str(e.originator_id)
        keys = [(b["account"], b["period"]) for b in e.balances]
        b = ledger_balances.c
        for chunk in _chunks(keys):
            conn.execute(
                sa.delete(ledger_balances).where(
                    b.organization_id == org, sa.tuple_(b.account, b.period).in_(list(chunk))
                )
            )
        conn.execute(
            sa.insert(ledger_balances),
            [
                {
                    "organization_id": org,
                    "account": item["account"],
                    "period": item["period"],
                    "firm_id": e.firm_id,
                    "balance": str(Decimal(item["balance"])),
                    "imported_at": e.timestamp,
                    "position": position,
                }
                for item in e.balances
            ],
        )
        self._recompute(conn, e, org, sorted({account for account, _ in keys}), position)

    def _recompute(
        self,
        conn: sa.Connection,
        e: LinkedOrganization.LedgerBalancesImported,
        org: str,
        accounts: list[str],
        position: int,
    ) -> None:
        """Re-derive every alert of the touched accounts from their whole series."""
        b, a = ledger_balances.c, ledger_alerts.c
        series: dict[str, dict[str, Decimal]] = defaultdict(dict)
        previous: dict[tuple[str, str], Any] = {}
        for chunk in _chunks(accounts):
            for row in conn.execute(
                sa.select(b.account, b.period, b.balance).where(
                    b.organization_id == org, b.account.in_(list(chunk))
                )
            ):
                series[row.account][row.period] = Decimal(row.balance)
            for row in conn.execute(
                sa.select(ledger_alerts).where(a.organization_id == org, a.account.in_(list(chunk)))
            ):
                previous[(row.account, row.period)] = row
            conn.execute(
                sa.delete(ledger_alerts).where(a.organization_id == org, a.account.in_(list(chunk)))
            )
        rows: list[dict[str, Any]] = []
        for account in accounts:
            for finding in insights.alerts(account, series[account]):
                values = alert_values(finding)
                before = previous.get((account, finding.period))
                kept = (
                    before
                    if before is not None
                    and all(getattr(before, k) == v for k, v in values.items())
                    else None
                )
                rows.append(
                    {
                        "organization_id": org,
                        "account": account,
                        "period": finding.period,
                        "firm_id": e.firm_id,
                        "client_id": str(e.client_id),
                        **values,
                        "raised_at": e.timestamp if kept is None else kept.raised_at,
                        "position": position if kept is None else kept.position,
                    }
                )
        if rows:
            conn.execute(sa.insert(ledger_alerts), rows)


# How linked organizations read in the activity history -------------------------------------


def _organization(said: Said, e: OrganizationEvent) -> str:
    return said.name_of(e.originator_id, "an organization")


@names(LinkedOrganization.OrganizationLinked, LinkedOrganization.OrganizationRelinked)
def _organization_names(
    e: LinkedOrganization.OrganizationLinked | LinkedOrganization.OrganizationRelinked,
) -> tuple[str, str]:
    return str(e.originator_id), e.name


@says(LinkedOrganization.OrganizationLinked)
def _linked(e: LinkedOrganization.OrganizationLinked, said: Said) -> str:
    kind = PROVIDER_LABELS[AccountingProvider(e.provider)]
    org = f"{e.name} ({e.external_id})"
    return f"{said.who} linked the {kind} organization {org} to {said.client(e)}."


@says(LinkedOrganization.OrganizationRelinked)
def _relinked(e: LinkedOrganization.OrganizationRelinked, said: Said) -> str:
    return f"{said.who} linked the organization {e.name} to {said.client(e)} again."


@says(LinkedOrganization.OrganizationUnlinked)
def _unlinked(e: LinkedOrganization.OrganizationUnlinked, said: Said) -> str:
    staff = [said.staff(e, user_id) for user_id in e.staff_lost_access]
    lost = (
        f"; {join_words(staff)} lost access to it"
        if staff
        else "; no staff had access through the client's team"
    )
    return (
        f"{said.who} unlinked the organization {_organization(said, e)} "
        f"from {said.client(e)}{lost}."
    )


@says(LinkedOrganization.LedgerBalancesImported)
def _imported(e: LinkedOrganization.LedgerBalancesImported, said: Said) -> str:
    accounts = len({b["account"] for b in e.balances})
    periods = sorted({b["period"] for b in e.balances})
    span = periods[0] if len(periods) == 1 else f"{periods[0]} to {periods[-1]}"
    count = len(e.balances)
    plural = "" if count == 1 else "s"
    acc = "account" if accounts == 1 else "accounts"
    via = f" from {e.source}" if e.source else ""
    return (
        f"{said.who} imported {count} ledger balance{plural} ({accounts} {acc}, {span})"
        f"{via} into {_organization(said, e)} of {said.client(e)}."
    )


@says(LinkedOrganization.LedgerAlertAcknowledged)
def _acknowledged(e: LinkedOrganization.LedgerAlertAcknowledged, said: Said) -> str:
    note = f": {e.note}" if e.note else ""
    return (
        f"{said.who} acknowledged the ledger alert on {e.account} for {e.period}"
        f" in {_organization(said, e)} of {said.client(e)}{note}."
    )
