"""Reads of time: per-request DataLoaders, the entry filter and the totals.

`entries_by_client` answers any number of clients with one statement (the profile's
connection, the overview's latest five, the totals and the unbilled figure share it);
`entries_by_user` is the staff member's own time across the clients they may see. Totals are
exact: minutes are summed, and amounts (each entry's rate x minutes / 60, rounded per entry)
are summed in the firm's currency; entries in another currency (logged before the firm changed
its currency) count in minutes only and are reported as excluded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from domain.money import quantize, zero
from projections.tables import clients
from projections.time_entries import running_timers, time_entries
from resolvers.loaders import Loaders, Row
from resolvers.visibility import visible_clients

LATEST_TIME_ENTRIES = 5

PERIOD = "PERIOD"
MEMBER = "MEMBER"
BILLABLE = "BILLABLE"


@dataclass(frozen=True)
class TimeFilter:
    """Which time entries a list shows."""

    date_from: date | None = None
    date_to: date | None = None
    user_id: str | None = None
    billable: bool | None = None
    billed: bool | None = None
    task_id: str | None = None
    job_id: str | None = None

    def matches(self, row: Any) -> bool:
        if self.date_from is not None and row.worked_on < self.date_from:
            return False
        if self.date_to is not None and row.worked_on > self.date_to:
            return False
        if self.user_id is not None and row.user_id != self.user_id:
            return False
        if self.billable is not None and row.billable != self.billable:
            return False
        if self.billed is not None and (row.invoice_id is not None) != self.billed:
            return False
        if self.task_id is not None and row.task_id != self.task_id:
            return False
        return self.job_id is None or row.job_id == self.job_id


@dataclass(frozen=True)
class TimeTotal:
    """Time of one group: all minutes, the billable ones and their amount."""

    key: str
    minutes: int
    billable_minutes: int
    amount: Decimal
    currency: str
    excluded_entry_count: int


@dataclass(frozen=True)
class Unbilled:
    """Billable time not billed yet."""

    minutes: int
    amount: Decimal
    currency: str
    entry_count: int
    excluded_entry_count: int


def _group_key(group_by: str) -> Callable[[Any], str]:
    if group_by == PERIOD:
        return lambda r: str(r.worked_on.strftime("%Y-%m"))
    if group_by == MEMBER:
        return lambda r: str(r.user_id)
    return lambda r: BILLABLE if r.billable else "NON_BILLABLE"


def time_totals(rows: Sequence[Any], group_by: str, currency: str) -> list[TimeTotal]:
    """Totals per month (oldest first), member (most time first) or billable/non-billable."""
    key_of = _group_key(group_by)
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        groups[key_of(row)].append(row)
    totals = [_total(key, members, currency) for key, members in groups.items()]
    if group_by == MEMBER:
        return sorted(totals, key=lambda t: (-t.minutes, t.key))
    if group_by == BILLABLE:
        return sorted(totals, key=lambda t: t.key != BILLABLE)
    return sorted(totals, key=lambda t: t.key)


def _total(key: str, rows: list[Any], currency: str) -> TimeTotal:
    billable = [r for r in rows if r.billable]
    counted = [r for r in billable if r.currency == currency]
    amount = sum((Decimal(r.amount) for r in counted), zero(currency))
    return TimeTotal(
        key=key,
        minutes=sum(r.minutes for r in rows),
        billable_minutes=sum(r.minutes for r in billable),
        amount=quantize(amount, currency),
        currency=currency,
        excluded_entry_count=len(billable) - len(counted),
    )


def unbilled(rows: Sequence[Any], currency: str) -> Unbilled:
    """Billable, unbilled time: minutes, and the amount in the firm's currency."""
    open_rows = [r for r in rows if r.billable and r.invoice_id is None]
    counted = [r for r in open_rows if r.currency == currency]
    return Unbilled(
        minutes=sum(r.minutes for r in open_rows),
        amount=quantize(sum((Decimal(r.amount) for r in counted), zero(currency)), currency),
        currency=currency,
        entry_count=len(open_rows),
        excluded_entry_count=len(open_rows) - len(counted),
    )


class TimeLoaders:
    """The time loaders of one request, for one viewer."""

    def __init__(self, loaders: Loaders) -> None:
        self.viewer = loaders.viewer
        self.entries_by_client: DataLoader[str, list[Row]] = loaders._grouped(self._by_client)
        self.entries_by_user: DataLoader[str, list[Row]] = loaders._grouped(self._by_user)
        self.entry: DataLoader[str, Row | None] = loaders._loader(self._by_id)
        self.timer_of_user: DataLoader[str, Row | None] = loaders._loader(self._timers)

    def _entries(self) -> sa.Select[Any]:
        t = time_entries.c
        return (
            sa.select(time_entries)
            .join(clients, clients.c.id == t.client_id)
            .where(t.firm_id == self.viewer.firm_id, visible_clients(self.viewer))
        )

    @staticmethod
    def _newest_first(query: sa.Select[Any]) -> sa.Select[Any]:
        t = time_entries.c
        return query.order_by(t.worked_on.desc(), t.position.desc())

    def _by_client(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        query = self._entries().where(time_entries.c.client_id.in_(client_ids))
        return Loaders._group(conn.execute(self._newest_first(query)).all(), "client_id")

    def _by_user(self, conn: sa.Connection, user_ids: list[str]) -> dict[str, list[Row]]:
        query = self._entries().where(time_entries.c.user_id.in_(user_ids))
        return Loaders._group(conn.execute(self._newest_first(query)).all(), "user_id")

    def _by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(self._entries().where(time_entries.c.id.in_(ids)))
        return {row.id: row for row in rows}

    def _timers(self, conn: sa.Connection, user_ids: list[str]) -> dict[str, Row]:
        t = running_timers.c
        rows = conn.execute(
            sa.select(running_timers).where(
                t.firm_id == self.viewer.firm_id, t.user_id.in_(user_ids)
            )
        )
        return {row.user_id: row for row in rows}
