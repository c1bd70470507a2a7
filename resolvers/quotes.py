"""Reads of quotes and service subscriptions: per-request DataLoaders and query-time figures.

Each loader answers any number of keys with one SQL statement, restricted to clients the
viewer may see. They are attached to the request's `Loaders`, so a mutation's
`forget_loaded()` drops them too. Time-dependent values (a quote's effective status, a
subscription's state, next payment date and current usage) are computed here, as of today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from domain.quote import effective_status
from domain.service_plan import ACTIVE, current_period, next_payment_on, state_on
from projections.quotes import quotes
from projections.service_subscriptions import service_subscriptions
from projections.tables import clients
from resolvers.loaders import Loaders, Row
from resolvers.visibility import visible_clients

LATEST_QUOTES = 5


def quote_status(row: Any, on: date) -> str:
    """The quote's status as of `on` (OPEN past its valid-until date reads as EXPIRED)."""
    return effective_status(row.status, row.valid_until, on)


@dataclass(frozen=True)
class SubscriptionFigures:
    """A subscription's time-dependent values as of one day."""

    state: str
    next_payment_on: date | None
    period_start: date | None
    period_end: date | None
    requests_used: int


def subscription_figures(row: Any, on: date) -> SubscriptionFigures:
    """State (ENDED once past the end date), next payment (only while active), usage."""
    state = state_on(row.state, row.ends_on, on)
    period = (
        current_period(row.starts_on, row.interval, on) if state in (ACTIVE, "PAUSED") else None
    )
    used = 0
    if period is not None and row.usage_period_start == period[0]:
        used = int(row.requests_used)
    return SubscriptionFigures(
        state=state,
        next_payment_on=(
            next_payment_on(row.starts_on, row.interval, row.ends_on, on)
            if state == ACTIVE
            else None
        ),
        period_start=None if period is None else period[0],
        period_end=None if period is None else period[1],
        requests_used=used,
    )


class QuoteLoaders:
    """The quote and service subscription loaders of one request, for one viewer."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        self.viewer = loaders.viewer
        self.quotes_by_client: DataLoader[str, list[Row]] = loaders._grouped(self._by_client)
        self.quote: DataLoader[str, Row | None] = loaders._loader(self._by_id)
        self.quote_by_invoice: DataLoader[str, Row | None] = loaders._loader(self._by_invoice)
        self.subscriptions_by_client: DataLoader[str, list[Row]] = loaders._grouped(
            self._subscriptions_by_client
        )
        self.subscription: DataLoader[str, Row | None] = loaders._loader(self._subscription)

    # Quotes -------------------------------------------------------------------

    def _quotes(self) -> sa.Select[Any]:
        return (
            sa.select(quotes)
            .join(clients, clients.c.id == quotes.c.client_id)
            .where(quotes.c.firm_id == self.viewer.firm_id, visible_clients(self.viewer))
        )

    def _by_client(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        q = quotes.c
        query = (
            self._quotes()
            .where(q.client_id.in_(client_ids))
            .order_by(q.client_id, q.issued_on.desc(), q.position.desc())
        )
        return Loaders._group(conn.execute(query).all(), "client_id")

    def _by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(self._quotes().where(quotes.c.id.in_(ids)))
        return {row.id: row for row in rows}

    def _by_invoice(self, conn: sa.Connection, invoice_ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(self._quotes().where(quotes.c.invoice_id.in_(invoice_ids)))
        return {row.invoice_id: row for row in rows}

    # Service subscriptions ----------------------------------------------------

    def _subscriptions(self) -> sa.Select[Any]:
        s = service_subscriptions.c
        return (
            sa.select(service_subscriptions)
            .join(clients, clients.c.id == s.client_id)
            .where(s.firm_id == self.viewer.firm_id, visible_clients(self.viewer))
        )

    def _subscriptions_by_client(
        self, conn: sa.Connection, client_ids: list[str]
    ) -> dict[str, list[Row]]:
        s = service_subscriptions.c
        query = (
            self._subscriptions()
            .where(s.client_id.in_(client_ids))
            .order_by(s.client_id, s.starts_on.desc(), s.position.desc())
        )
        return Loaders._group(conn.execute(query).all(), "client_id")

    def _subscription(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(self._subscriptions().where(service_subscriptions.c.id.in_(ids)))
        return {row.id: row for row in rows}
