"""Time entries and timers: the time staff spend on a client's work.

A `TimeEntry` is one stretch of work of one staff member on one client: the date, the minutes
(1 to 1440: a day at most), whether it is billable, an hourly rate in the firm's currency
(optional; an entry without one is worth nothing), a note, and optionally the task or job it
was spent on. It can be edited and deleted until it is billed (marked with the invoice it was
billed on). "Billable unbilled" time is billable, not deleted and not billed; its amount is
rate x minutes / 60, rounded to the currency's minor units per entry.

A `Timer` is a staff member's stopwatch, one per (firm, user) with a deterministic id: started
on a client (with a note, a task or job), stopped into a new TimeEntry saved in the same change
(the minutes elapsed rounded up, at least one).
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain.base import Bookkeeping, ClientRelatedEvent, DossierAggregate, DossierCreated
from domain.errors import InvalidInput, RuleViolated
from domain.money import clean_amount, clean_currency, round_to_currency, zero
from domain.values import DESCRIPTION_MAX, clean_date, optional_text

MINUTES_MAX = 24 * 60
NOTE_MAX = DESCRIPTION_MAX
MANUAL = "MANUAL"
TIMER = "TIMER"


def clean_minutes(field: str, minutes: object) -> int:
    """Whole minutes of one entry: 1 to 1440 (a negative, empty or over-a-day entry is refused)."""
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        raise InvalidInput(field, f"{field} must be a whole number of minutes")
    if minutes <= 0:
        raise InvalidInput(field, f"{field} must be at least 1 minute")
    if minutes > MINUTES_MAX:
        raise InvalidInput(
            field, f"{field} must be at most {MINUTES_MAX} minutes (24 hours) in one entry"
        )
    return minutes


def amount_of(minutes: int, rate: str | Decimal | None, currency: str) -> Decimal:
    """What `minutes` at an hourly `rate` are worth, rounded to the currency's minor units."""
    if rate is None:
        return zero(currency)
    return round_to_currency(Decimal(rate) * minutes / 60, currency)


def elapsed_minutes(started_at: datetime, stopped_at: datetime) -> int:
    """Minutes between two instants, rounded up, at least one."""
    seconds = (stopped_at - started_at).total_seconds()
    return max(1, math.ceil(seconds / 60))


class TimeEntryEvent(ClientRelatedEvent):
    """An event of a time entry's stream; it is about the entry's client."""


class TimeEntry(DossierAggregate):
    """One stretch of work of one staff member on one client (see the module docstring)."""

    class TimeLogged(DossierCreated, TimeEntryEvent):
        user_id: str
        worked_on: str
        minutes: int
        billable: bool
        rate: str | None
        currency: str
        note: str | None
        task_id: UUID | None
        job_id: UUID | None
        source: str

    class TimeEntryEdited(TimeEntryEvent):
        changes: dict[str, Any]
        """The changed fields' new values (worked_on, minutes, billable, rate, note, task_id,
        job_id), as recorded."""

        def apply(self, aggregate: Any) -> None:
            for key, value in self.changes.items():
                setattr(aggregate, key, value)

    class TimeEntryDeleted(TimeEntryEvent):
        def apply(self, aggregate: Any) -> None:
            aggregate.deleted = True

    class TimeEntryBilled(TimeEntryEvent):
        invoice_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.invoice_id = self.invoice_id

    def __init__(
        self,
        firm_id: str,
        client_id: UUID,
        user_id: str,
        worked_on: str,
        minutes: int,
        billable: bool,
        rate: str | None,
        currency: str,
        note: str | None,
        task_id: UUID | None,
        job_id: UUID | None,
        source: str,
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.user_id = user_id
        self.worked_on = worked_on
        self.minutes = minutes
        self.billable = billable
        self.rate = rate
        self.currency = currency
        self.note = note
        self.task_id = task_id
        self.job_id = job_id
        self.source = source
        self.deleted = False
        self.invoice_id: UUID | None = None

    @classmethod
    def log(
        cls,
        *,
        client_id: UUID,
        user_id: str,
        worked_on: date,
        minutes: int,
        billable: bool,
        currency: str,
        rate: Decimal | str | None = None,
        note: str | None = None,
        task_id: UUID | None = None,
        job_id: UUID | None = None,
        source: str = MANUAL,
        entry_id: UUID | None = None,
    ) -> TimeEntry:
        """Log time of a staff member (checked by the caller) on a client."""
        code = clean_currency("input.currency", currency)
        return cls._create(
            cls.TimeLogged,
            id=entry_id or uuid4(),
            client_id=client_id,
            user_id=user_id,
            worked_on=clean_date("input.date", worked_on).isoformat(),
            minutes=clean_minutes("input.minutes", minutes),
            billable=bool(billable),
            rate=_clean_rate(rate, code),
            currency=code,
            note=optional_text("input.note", note, NOTE_MAX, multiline=True),
            task_id=task_id,
            job_id=job_id,
            source=source,
        )

    @property
    def amount(self) -> Decimal:
        return amount_of(self.minutes, self.rate, self.currency)

    @property
    def billed(self) -> bool:
        return self.invoice_id is not None

    def _require_changeable(self, doing: str) -> None:
        if self.deleted:
            raise RuleViolated("TIME_ENTRY_DELETED", f"the time entry was deleted: {doing}")
        if self.billed:
            raise RuleViolated(
                "TIME_ENTRY_BILLED", f"the time entry was billed on an invoice: {doing}"
            )

    def edit(
        self,
        *,
        worked_on: date | None = None,
        minutes: int | None = None,
        billable: bool | None = None,
        rate: Decimal | str | None = None,
        clear_rate: bool = False,
        note: str | None = None,
        task_id: UUID | None = None,
        job_id: UUID | None = None,
    ) -> None:
        """Change the given fields (a blank note clears it); nothing new when nothing changes."""
        self._require_changeable("it cannot be edited")
        changes: dict[str, Any] = {}
        if worked_on is not None:
            changes["worked_on"] = clean_date("input.date", worked_on).isoformat()
        if minutes is not None:
            changes["minutes"] = clean_minutes("input.minutes", minutes)
        if billable is not None:
            changes["billable"] = bool(billable)
        if clear_rate:
            changes["rate"] = None
        elif rate is not None:
            changes["rate"] = _clean_rate(rate, self.currency)
        if note is not None:
            changes["note"] = optional_text("input.note", note, NOTE_MAX, multiline=True)
        if task_id is not None:
            changes["task_id"] = task_id
        if job_id is not None:
            changes["job_id"] = job_id
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self.trigger_event(self.TimeEntryEdited, client_id=self.client_id, changes=changes)

    def delete(self) -> None:
        self._require_changeable("it cannot be deleted")
        self.trigger_event(self.TimeEntryDeleted, client_id=self.client_id)

    def mark_billed(self, invoice_id: UUID) -> None:
        """Record the invoice this (billable) entry was billed on."""
        self._require_changeable("it cannot be billed again")
        if not self.billable:
            raise RuleViolated("TIME_ENTRY_NOT_BILLABLE", "the time entry is not billable")
        self.trigger_event(self.TimeEntryBilled, client_id=self.client_id, invoice_id=invoice_id)


def _clean_rate(rate: Decimal | str | None, currency: str) -> str | None:
    if rate is None:
        return None
    return str(clean_amount("input.rate", rate, currency, positive=False))


# Timers -------------------------------------------------------------------------------------


def timer_id(firm_id: str, user_id: str) -> UUID:
    """A staff member's one timer in a firm."""
    return uuid5(NAMESPACE_URL, json.dumps(["dossier:timer", firm_id, user_id]))


class Timer(DossierAggregate):
    """A staff member's running timer (see the module docstring)."""

    class TimerCreated(DossierCreated, Bookkeeping):
        user_id: str

    class TimerStarted(ClientRelatedEvent):
        started_at: datetime
        note: str | None
        task_id: UUID | None
        job_id: UUID | None

        def apply(self, aggregate: Any) -> None:
            aggregate.client_id = self.client_id
            aggregate.started_at = self.started_at
            aggregate.note = self.note
            aggregate.task_id = self.task_id
            aggregate.job_id = self.job_id

    class TimerStopped(ClientRelatedEvent):
        stopped_at: datetime
        minutes: int
        time_entry_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.started_at = None

    def __init__(self, firm_id: str, user_id: str) -> None:
        self.firm_id = firm_id
        self.user_id = user_id
        self.client_id: UUID | None = None
        self.started_at: datetime | None = None
        self.note: str | None = None
        self.task_id: UUID | None = None
        self.job_id: UUID | None = None

    @classmethod
    def create(cls, firm_id: str, user_id: str) -> Timer:
        return cls._create(
            cls.TimerCreated, id=timer_id(firm_id, user_id), firm_id=firm_id, user_id=user_id
        )

    @property
    def running(self) -> bool:
        return self.started_at is not None

    def start(
        self,
        *,
        client_id: UUID,
        at: datetime,
        note: str | None = None,
        task_id: UUID | None = None,
        job_id: UUID | None = None,
    ) -> None:
        if self.running:
            raise RuleViolated(
                "TIMER_ALREADY_RUNNING", "your timer is already running: stop it first"
            )
        self.trigger_event(
            self.TimerStarted,
            client_id=client_id,
            started_at=at,
            note=optional_text("input.note", note, NOTE_MAX, multiline=True),
            task_id=task_id,
            job_id=job_id,
        )

    def stop(
        self,
        *,
        at: datetime,
        billable: bool,
        currency: str,
        rate: Decimal | str | None = None,
        minutes: int | None = None,
        note: str | None = None,
    ) -> TimeEntry:
        """Stop the timer into a new time entry dated the day it started (UTC); `minutes`
        replaces the elapsed time (e.g. a timer left running overnight)."""
        if self.started_at is None or self.client_id is None:
            raise RuleViolated("TIMER_NOT_RUNNING", "your timer is not running")
        spent = elapsed_minutes(self.started_at, at) if minutes is None else minutes
        if minutes is None and spent > MINUTES_MAX:
            raise InvalidInput(
                "input.minutes",
                f"the timer ran {spent} minutes, over 24 hours: give the minutes to log",
            )
        entry = TimeEntry.log(
            client_id=self.client_id,
            user_id=self.user_id,
            worked_on=self.started_at.date(),
            minutes=spent,
            billable=billable,
            currency=currency,
            rate=rate,
            note=self.note if note is None else note,
            task_id=self.task_id,
            job_id=self.job_id,
            source=TIMER,
        )
        self.trigger_event(
            self.TimerStopped,
            client_id=self.client_id,
            stopped_at=at,
            minutes=entry.minutes,
            time_entry_id=entry.id,
        )
        return entry
