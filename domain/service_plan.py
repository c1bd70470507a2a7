"""The ServiceSubscription aggregate: a client's recurring service plan.

(Named so it never clashes with GraphQL's `Subscription` root type.)

States recorded by events: ACTIVE, PAUSED, CANCELLED. ENDED is computed as of a date: an
active or paused subscription whose end date has passed (the end date itself is still
served). Billing dates are start + k intervals (k = 0, 1, ...), each computed from the start
date so month ends never drift (Jan 31 + 1 month = Feb 28/29, + 2 months = Mar 31). The
usage period containing a date runs from one billing date to the day before the next.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from domain.base import ClientRelatedEvent, DossierAggregate, DossierCreated
from domain.errors import InvalidInput, LimitExceeded, RuleViolated
from domain.money import clean_amount, clean_currency
from domain.values import NAME_MAX, REASON_MAX, clean_date, optional_text, required_text

ACTIVE = "ACTIVE"
PAUSED = "PAUSED"
CANCELLED = "CANCELLED"
ENDED = "ENDED"

WEEK = "WEEK"
MONTH = "MONTH"
QUARTER = "QUARTER"
YEAR = "YEAR"
INTERVAL_MONTHS = {MONTH: 1, QUARTER: 3, YEAR: 12}
INTERVALS = (WEEK, MONTH, QUARTER, YEAR)

REQUEST_LIMIT_MAX = 1_000_000
NOTE_MAX = 500


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the end of a shorter month."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def billing_date(start: date, interval: str, k: int) -> date:
    """The k-th billing date (k = 0 is the start date)."""
    if interval == WEEK:
        return start + timedelta(days=7 * k)
    return add_months(start, k * INTERVAL_MONTHS[interval])


def period_index(start: date, interval: str, on: date) -> int | None:
    """The k of the usage period containing `on`, or None before the start."""
    if on < start:
        return None
    if interval == WEEK:
        return (on - start).days // 7
    months = (on.year - start.year) * 12 + on.month - start.month
    k = max(months // INTERVAL_MONTHS[interval], 0)
    while k > 0 and billing_date(start, interval, k) > on:
        k -= 1
    while billing_date(start, interval, k + 1) <= on:
        k += 1
    return k


def current_period(start: date, interval: str, on: date) -> tuple[date, date] | None:
    """(first day, last day) of the usage period containing `on`, or None before the start."""
    k = period_index(start, interval, on)
    if k is None:
        return None
    return (
        billing_date(start, interval, k),
        billing_date(start, interval, k + 1) - timedelta(days=1),
    )


def next_payment_on(start: date, interval: str, ends_on: date | None, on: date) -> date | None:
    """The first billing date on or after `on`; None once it would fall after the end date."""
    k = period_index(start, interval, on)
    due = start if k is None else billing_date(start, interval, k)
    if due < on:
        due = billing_date(start, interval, (k or 0) + 1)
    if ends_on is not None and due > ends_on:
        return None
    return due


def state_on(state: str, ends_on: date | None, on: date) -> str:
    """The state as of `on`: past its end date, a subscription not cancelled has ENDED."""
    if state != CANCELLED and ends_on is not None and on > ends_on:
        return ENDED
    return state


class ServiceSubscriptionEvent(ClientRelatedEvent):
    """An event of a service subscription's stream; it is about its client."""


class ServiceSubscription(DossierAggregate):
    """A client's subscription to a service plan: price per interval, dates, request limit."""

    class ServiceSubscriptionStarted(DossierCreated, ServiceSubscriptionEvent):
        plan_name: str
        amount: str
        currency: str
        interval: str
        starts_on: str
        ends_on: str | None
        request_limit: int | None

    class ServiceSubscriptionPaused(ServiceSubscriptionEvent):
        paused_on: str

        def apply(self, aggregate: Any) -> None:
            aggregate.state = PAUSED

    class ServiceSubscriptionResumed(ServiceSubscriptionEvent):
        resumed_on: str

        def apply(self, aggregate: Any) -> None:
            aggregate.state = ACTIVE

    class ServiceSubscriptionCancelled(ServiceSubscriptionEvent):
        cancelled_on: str
        reason: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.state = CANCELLED

    class ServiceRequestRecorded(ServiceSubscriptionEvent):
        recorded_on: str
        period_start: str
        count: int
        limit: int | None
        note: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.usage_period = self.period_start
            aggregate.requests_used = self.count

    def __init__(
        self,
        firm_id: str,
        client_id: UUID,
        plan_name: str,
        amount: str,
        currency: str,
        interval: str,
        starts_on: str,
        ends_on: str | None,
        request_limit: int | None,
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.plan_name = plan_name
        self.amount = amount
        self.currency = currency
        self.interval = interval
        self.starts_on = starts_on
        self.ends_on = ends_on
        self.request_limit = request_limit
        self.state = ACTIVE
        self.usage_period: str | None = None
        self.requests_used = 0

    @classmethod
    def start(
        cls,
        *,
        client_id: UUID,
        plan_name: str,
        amount: Decimal | str,
        currency: str,
        interval: str,
        starts_on: date,
        ends_on: date | None = None,
        request_limit: int | None = None,
        subscription_id: UUID | None = None,
    ) -> ServiceSubscription:
        """Start an ACTIVE subscription (the start date may lie in the future)."""
        name = required_text("input.planName", plan_name, NAME_MAX)
        code = clean_currency("input.price.currency", currency)
        price = clean_amount("input.price.amount", amount, code)
        clean_date("input.startsOn", starts_on)
        if ends_on is not None:
            clean_date("input.endsOn", ends_on)
        if interval not in INTERVALS:
            raise InvalidInput("input.interval", f"{interval!r} is not a billing interval")
        if ends_on is not None and ends_on < starts_on:
            raise InvalidInput("input.endsOn", "the end date must not be before the start date")
        if request_limit is not None and not 0 < request_limit <= REQUEST_LIMIT_MAX:
            raise InvalidInput(
                "input.requestLimit",
                f"the request limit must be between 1 and {REQUEST_LIMIT_MAX}",
            )
        return cls._create(
            cls.ServiceSubscriptionStarted,
            id=subscription_id or uuid4(),
            client_id=client_id,
            plan_name=name,
            amount=str(price),
            currency=code,
            interval=interval,
            starts_on=starts_on.isoformat(),
            ends_on=None if ends_on is None else ends_on.isoformat(),
            request_limit=request_limit,
        )

    @property
    def _ends(self) -> date | None:
        return None if self.ends_on is None else date.fromisoformat(self.ends_on)

    def state_on(self, on: date) -> str:
        return state_on(self.state, self._ends, on)

    def _refuse_ended(self, on: date) -> str:
        clean_date("on", on)
        state = self.state_on(on)
        if state == ENDED:
            raise RuleViolated(
                "SUBSCRIPTION_ENDED",
                f"the {self.plan_name} subscription ended on {self.ends_on}",
            )
        return state

    def pause(self, on: date) -> None:
        if self._refuse_ended(on) != ACTIVE:
            raise RuleViolated(
                "SUBSCRIPTION_NOT_ACTIVE",
                f"the {self.plan_name} subscription is {self.state.lower()}, not active",
            )
        self.trigger_event(
            self.ServiceSubscriptionPaused, client_id=self.client_id, paused_on=on.isoformat()
        )

    def resume(self, on: date) -> None:
        state = self._refuse_ended(on)
        if state == CANCELLED:
            raise RuleViolated(
                "SUBSCRIPTION_CANCELLED",
                f"the {self.plan_name} subscription is cancelled and cannot be resumed",
            )
        if state != PAUSED:
            raise RuleViolated(
                "SUBSCRIPTION_NOT_PAUSED", f"the {self.plan_name} subscription is not paused"
            )
        self.trigger_event(
            self.ServiceSubscriptionResumed, client_id=self.client_id, resumed_on=on.isoformat()
        )

    def cancel(self, on: date, reason: str | None) -> None:
        if self._refuse_ended(on) == CANCELLED:
            raise RuleViolated(
                "ALREADY_CANCELLED", f"the {self.plan_name} subscription is already cancelled"
            )
        self.trigger_event(
            self.ServiceSubscriptionCancelled,
            client_id=self.client_id,
            cancelled_on=on.isoformat(),
            reason=optional_text("input.reason", reason, REASON_MAX, multiline=True),
        )

    def record_request(self, on: date, note: str | None = None) -> int:
        """Count one request in the current usage period; returns the period's count."""
        if self._refuse_ended(on) != ACTIVE:
            raise RuleViolated(
                "SUBSCRIPTION_NOT_ACTIVE",
                f"the {self.plan_name} subscription is {self.state.lower()}, not active",
            )
        period = current_period(date.fromisoformat(self.starts_on), self.interval, on)
        if period is None:
            raise RuleViolated(
                "SUBSCRIPTION_NOT_STARTED",
                f"the {self.plan_name} subscription starts on {self.starts_on}",
            )
        period_start = period[0].isoformat()
        used = self.requests_used if self.usage_period == period_start else 0
        if self.request_limit is not None and used >= self.request_limit:
            raise LimitExceeded(
                self.request_limit,
                f"the {self.plan_name} subscription allows {self.request_limit} requests per "
                f"period and all are used until {period[1].isoformat()}",
            )
        self.trigger_event(
            self.ServiceRequestRecorded,
            client_id=self.client_id,
            recorded_on=on.isoformat(),
            period_start=period_start,
            count=used + 1,
            limit=self.request_limit,
            note=optional_text("input.note", note, NOTE_MAX, multiline=True),
        )
        return used + 1
