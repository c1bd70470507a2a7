"""Unit tests of service subscriptions: billing dates, periods, states, request limits."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

import pytest

import projections.registry  # noqa: F401  (registers every feature's sentences)
from domain.actor import ActingContext
from domain.errors import InvalidInput, LimitExceeded, RuleViolated
from domain.service_plan import (
    ACTIVE,
    CANCELLED,
    ENDED,
    PAUSED,
    ServiceSubscription,
    add_months,
    billing_date,
    current_period,
    next_payment_on,
    state_on,
)
from projections.sentences import Said, sentence_of
from tests.unit.helpers import collect, replay

CLIENT = uuid4()


def new_subscription(**overrides: Any) -> ServiceSubscription:
    kwargs: dict[str, Any] = {
        "client_id": CLIENT,
        "plan_name": "Gold",
        "amount": "99.00",
        "currency": "EUR",
        "interval": "MONTH",
        "starts_on": date(2026, 1, 31),
        "ends_on": date(2026, 12, 31),
        "request_limit": 2,
    }
    kwargs.update(overrides)
    return ServiceSubscription.start(**kwargs)


def label(subject: str, fallback: str) -> str:
    return "Acme Ltd" if subject == str(CLIENT) else "the Gold subscription"


def test_month_arithmetic_never_drifts() -> None:
    start = date(2026, 1, 31)
    assert add_months(start, 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert [billing_date(start, "MONTH", k) for k in range(4)] == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert billing_date(start, "QUARTER", 1) == date(2026, 4, 30)
    assert billing_date(date(2024, 2, 29), "YEAR", 1) == date(2025, 2, 28)
    assert billing_date(start, "WEEK", 2) == date(2026, 2, 14)


def test_periods_and_next_payment() -> None:
    start = date(2026, 1, 31)
    assert current_period(start, "MONTH", date(2026, 1, 30)) is None
    assert current_period(start, "MONTH", date(2026, 3, 30)) == (
        date(2026, 2, 28),
        date(2026, 3, 30),
    )
    assert current_period(start, "MONTH", date(2026, 3, 31)) == (
        date(2026, 3, 31),
        date(2026, 4, 29),
    )
    assert current_period(start, "QUARTER", date(2026, 12, 1)) == (
        date(2026, 10, 31),
        date(2027, 1, 30),
    )
    assert next_payment_on(start, "MONTH", None, date(2026, 1, 1)) == start
    assert next_payment_on(start, "MONTH", None, date(2026, 3, 1)) == date(2026, 3, 31)
    assert next_payment_on(start, "MONTH", None, date(2026, 3, 31)) == date(2026, 3, 31)
    assert next_payment_on(start, "MONTH", date(2026, 3, 30), date(2026, 3, 1)) is None
    assert next_payment_on(start, "YEAR", None, date(2030, 6, 1)) == date(2031, 1, 31)


def test_state_on_dates() -> None:
    end = date(2026, 6, 30)
    assert state_on(ACTIVE, end, end) == ACTIVE
    assert state_on(ACTIVE, end, date(2026, 7, 1)) == ENDED
    assert state_on(PAUSED, end, date(2026, 7, 1)) == ENDED
    assert state_on(CANCELLED, end, date(2026, 7, 1)) == CANCELLED
    assert state_on(ACTIVE, None, date(2099, 1, 1)) == ACTIVE


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": "0"}, "input.price.amount"),
        ({"amount": "-1.00"}, "input.price.amount"),
        ({"amount": "1.001"}, "input.price.amount"),
        ({"currency": "EURO"}, "input.price.currency"),
        ({"interval": "DAY"}, "input.interval"),
        ({"ends_on": date(2026, 1, 30)}, "input.endsOn"),
        ({"request_limit": 0}, "input.requestLimit"),
        ({"request_limit": -1}, "input.requestLimit"),
        ({"plan_name": ""}, "input.planName"),
    ],
)
def test_bad_input(acting: ActingContext, overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        new_subscription(**overrides)
    assert raised.value.field == field


def test_request_limit_resets_each_period(acting: ActingContext) -> None:
    sub = new_subscription()
    assert sub.record_request(date(2026, 2, 1)) == 1
    assert sub.record_request(date(2026, 2, 27), "payroll") == 2
    with pytest.raises(LimitExceeded) as full:
        sub.record_request(date(2026, 2, 27))
    assert full.value.limit == 2
    assert full.value.message == (
        "the Gold subscription allows 2 requests per period and all are used until 2026-02-27"
    )
    assert sub.record_request(date(2026, 2, 28)) == 1
    events = collect(sub)
    assert sentence_of(events[2], Said("Ann", label)) == (
        "Ann recorded a service request on the Gold subscription of Acme Ltd "
        "(2 of 2 this period): payroll."
    )
    copy = replay(events)
    assert (copy.usage_period, copy.requests_used) == ("2026-02-28", 1)
    with pytest.raises(RuleViolated) as early:
        sub.record_request(date(2026, 1, 1))
    assert early.value.rule == "SUBSCRIPTION_NOT_STARTED"


def test_lifecycle_rules(acting: ActingContext) -> None:
    on = date(2026, 5, 1)
    sub = new_subscription()
    with pytest.raises(RuleViolated) as not_paused:
        sub.resume(on)
    assert not_paused.value.rule == "SUBSCRIPTION_NOT_PAUSED"
    sub.pause(on)
    with pytest.raises(RuleViolated) as paused:
        sub.record_request(on)
    assert paused.value.rule == "SUBSCRIPTION_NOT_ACTIVE"
    sub.resume(on)
    sub.cancel(on, "moving")
    assert sub.state == CANCELLED
    for action, rule in (
        (lambda: sub.resume(on), "SUBSCRIPTION_CANCELLED"),
        (lambda: sub.cancel(on, None), "ALREADY_CANCELLED"),
        (lambda: sub.pause(on), "SUBSCRIPTION_NOT_ACTIVE"),
    ):
        with pytest.raises(RuleViolated) as refused:
            action()
        assert refused.value.rule == rule
    ended = new_subscription()
    with pytest.raises(RuleViolated) as past:
        ended.pause(date(2027, 1, 1))
    assert past.value.rule == "SUBSCRIPTION_ENDED"
    events = collect(sub)
    assert [sentence_of(e, Said("Ann", label)) for e in events] == [
        "Ann started the Gold subscription of Acme Ltd at 99.00 EUR per month from 2026-01-31 "
        "until 2026-12-31, 2 requests per period.",
        "Ann paused the Gold subscription of Acme Ltd.",
        "Ann resumed the Gold subscription of Acme Ltd.",
        "Ann cancelled the Gold subscription of Acme Ltd: moving.",
    ]
    assert all(e.about_client() == CLIENT for e in events)
