"""Billing reads: invoice and credit loaders, and the profile header's figures."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from domain.money import quantize, zero
from projections.billing import client_credit, firm_billing, invoices
from projections.tables import clients
from resolvers.loaders import Loaders
from resolvers.visibility import visible_clients

UNPAID = ("OPEN", "PARTIALLY_PAID")
DEFAULT_CURRENCY = "USD"


def today() -> date:
    """Today in UTC: what "overdue" is measured against."""
    return datetime.now(UTC).date()


def is_overdue(row: Any, on: date) -> bool:
    return row.status in UNPAID and row.due_on < on


@dataclass(frozen=True)
class PeriodAmount:
    period: str
    amount: Decimal


@dataclass(frozen=True)
class Summary:
    """A client's billing figures in the firm's currency."""

    currency: str
    unpaid_total: Decimal
    overdue_total: Decimal
    unpaid_count: int
    overdue_count: int
    average_days_to_pay: float | None
    credit_balance: Decimal
    excluded_invoice_count: int
    invoiced_by_month: list[PeriodAmount]


def summarize(rows: Sequence[Any], credit: dict[str, Decimal], currency: str, on: date) -> Summary:
    """Exact Decimal figures; invoices in other currencies are left out of the totals."""
    live = [r for r in rows if r.status != "VOID"]
    counted = [r for r in live if r.currency == currency]
    unpaid = [r for r in counted if r.status in UNPAID]
    overdue = [r for r in unpaid if r.due_on < on]
    paid = [r for r in live if r.status == "PAID" and r.paid_on is not None]
    months: dict[str, Decimal] = defaultdict(Decimal)
    for r in counted:
        months[r.issued_on.strftime("%Y-%m")] += Decimal(r.total)
    return Summary(
        currency=currency,
        unpaid_total=quantize(sum((Decimal(r.balance) for r in unpaid), zero(currency)), currency),
        overdue_total=quantize(
            sum((Decimal(r.balance) for r in overdue), zero(currency)), currency
        ),
        unpaid_count=len(unpaid),
        overdue_count=len(overdue),
        average_days_to_pay=(
            round(sum((r.paid_on - r.issued_on).days for r in paid) / len(paid), 2)
            if paid
            else None
        ),
        credit_balance=quantize(credit.get(currency, Decimal(0)), currency),
        excluded_invoice_count=len(live) - len(counted),
        invoiced_by_month=[
            PeriodAmount(month, quantize(amount, currency))
            for month, amount in sorted(months.items())
        ],
    )


class BillingLoaders:
    """Per-request loaders of the billing read model."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        viewer = loaders.viewer
        self.invoices_by_client: DataLoader[str, list[Any]] = DataLoader(load_fn=self._invoices)
        self.credit_by_client: DataLoader[str, dict[str, Decimal]] = DataLoader(
            load_fn=self._credit
        )
        self.invoice: DataLoader[str, Any] = DataLoader(load_fn=self._invoice_by_id)
        self.currency_of_firm: DataLoader[str, str] = DataLoader(load_fn=self._firm_currencies)
        self._firm = viewer.firm_id

    async def _invoices(self, client_ids: list[str]) -> list[list[Any]]:
        def fetch(conn: sa.Connection) -> dict[str, list[Any]]:
            rows = conn.execute(
                sa.select(invoices)
                .where(invoices.c.client_id.in_(client_ids), invoices.c.firm_id == self._firm)
                .order_by(
                    invoices.c.client_id, invoices.c.issued_on.desc(), invoices.c.position.desc()
                )
            ).all()
            grouped: dict[str, list[Any]] = defaultdict(list)
            for row in rows:
                grouped[row.client_id].append(row)
            return grouped

        found = await self.loaders.run(fetch)
        return [found.get(cid, []) for cid in client_ids]

    async def _credit(self, client_ids: list[str]) -> list[dict[str, Decimal]]:
        def fetch(conn: sa.Connection) -> dict[str, dict[str, Decimal]]:
            rows = conn.execute(
                sa.select(client_credit).where(
                    client_credit.c.client_id.in_(client_ids), client_credit.c.firm_id == self._firm
                )
            ).all()
            found: dict[str, dict[str, Decimal]] = defaultdict(dict)
            for row in rows:
                found[row.client_id][row.currency] = Decimal(row.balance)
            return found

        found = await self.loaders.run(fetch)
        return [found.get(cid, {}) for cid in client_ids]

    async def _invoice_by_id(self, ids: list[str]) -> list[Any]:
        viewer = self.loaders.viewer

        def fetch(conn: sa.Connection) -> dict[str, Any]:
            visible = sa.select(clients.c.id).where(visible_clients(viewer))
            rows = conn.execute(
                sa.select(invoices).where(
                    invoices.c.id.in_(ids),
                    invoices.c.firm_id == viewer.firm_id,
                    invoices.c.client_id.in_(visible),
                )
            ).all()
            return {row.id: row for row in rows}

        found = await self.loaders.run(fetch)
        return [found.get(i) for i in ids]

    async def _firm_currencies(self, firm_ids: list[str]) -> list[str]:
        def fetch(conn: sa.Connection) -> dict[str, str]:
            rows = conn.execute(
                sa.select(firm_billing).where(firm_billing.c.firm_id.in_(firm_ids))
            ).all()
            return {
                row.firm_id: str(row.currency or row.first_invoice_currency or DEFAULT_CURRENCY)
                for row in rows
            }

        found = await self.loaders.run(fetch)
        return [found.get(firm, DEFAULT_CURRENCY) for firm in firm_ids]

    async def firm_currency(self) -> str:
        """The firm's currency: set by an owner or admin, else its first invoice's."""
        return await self.currency_of_firm.load(self._firm)

    async def summary(self, client_id: str) -> Summary:
        rows = await self.invoices_by_client.load(client_id)
        credit = await self.credit_by_client.load(client_id)
        return summarize(rows, credit, await self.firm_currency(), today())
