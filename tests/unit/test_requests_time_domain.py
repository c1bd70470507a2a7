"""Unit tests of the ClientRequest, TimeEntry and Timer aggregates and of a contact's portal
access: validation, statuses, rules, replay, amounts and sentences (no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

import projections.registry  # noqa: F401  (registers every feature's sentences)
from domain.actor import ActingContext, Actor, ActorKind, acting_as
from domain.client_request import ANSWERED, CLOSED, OPEN, ClientRequest
from domain.contact import Contact
from domain.errors import InvalidInput, LimitExceeded, RuleViolated
from domain.time_entry import (
    TimeEntry,
    Timer,
    amount_of,
    clean_minutes,
    elapsed_minutes,
    timer_id,
)
from projections.sentences import Said, sentence_of
from projections.time_entries import duration
from tests.unit.helpers import FIRM_ID, collect, replay

CLIENT = uuid4()
ADA = uuid4()


def label(subject: str, fallback: str) -> str:
    return {str(CLIENT): "Acme Ltd", str(ADA): "Ada Lovelace"}.get(subject, fallback)


def said(event: Any) -> str:
    return sentence_of(event, Said("Ann", label))


def new_request(**overrides: Any) -> ClientRequest:
    kwargs: dict[str, Any] = {
        "client_id": CLIENT,
        "title": " Bank statements ",
        "body": "Please send them.\r\nThanks",
        "due_on": date(2026, 5, 31),
        "addressed_to": [ADA, ADA],
    }
    kwargs.update(overrides)
    return ClientRequest.open(**kwargs)


# Requests -----------------------------------------------------------------------------------


def test_open_cleans_and_reads_as_a_sentence(acting: ActingContext) -> None:
    request = new_request()
    [event] = collect(request)
    assert isinstance(event, ClientRequest.ClientRequestOpened)
    assert (event.title, event.body, event.due_on) == (
        "Bank statements",
        "Please send them.\nThanks",
        "2026-05-31",
    )
    assert event.addressed_to == [ADA]
    assert event.about_client() == CLIENT
    assert request.status == OPEN
    assert said(event) == "Ann sent Acme Ltd the request “Bank statements”, due 2026-05-31."


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "input.title"),
        ({"title": "x" * 201}, "input.title"),
        ({"body": "   "}, "input.message"),
        ({"due_on": date(1800, 1, 1)}, "input.dueOn"),
        ({"addressed_to": []}, "input.contactIds"),
    ],
)
def test_open_refuses_bad_input(
    acting: ActingContext, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        new_request(**overrides)
    assert refused.value.field == field


def test_too_many_attachments_are_refused(acting: ActingContext) -> None:
    with pytest.raises(LimitExceeded):
        new_request(document_ids=[uuid4() for _ in range(26)])


def test_statuses_follow_who_writes(acting: ActingContext) -> None:
    request = new_request()
    with acting_as(Actor(id="c-1", kind=ActorKind.CONTACT, name="Ada"), FIRM_ID, "contact"):
        request.reply("Here they are")
    assert request.status == ANSWERED
    request.reply("Thanks, also December?")
    assert (request.status, request.message_count) == (OPEN, 3)
    request.mark_answered()
    request.mark_answered()  # already answered: nothing new
    with pytest.raises(RuleViolated) as answered:
        request.remind(["ada@acme.test"], uuid4())
    assert answered.value.rule == "REQUEST_ANSWERED"
    request.close()
    events = collect(request)
    assert [type(e).__name__ for e in events] == [
        "ClientRequestOpened",
        "ClientRequestReplied",
        "ClientRequestReplied",
        "ClientRequestMarkedAnswered",
        "ClientRequestClosed",
    ]
    assert [e.actor["kind"] for e in events[1:3]] == ["CONTACT", "STAFF"]
    copy = replay(events)
    assert (copy.status, copy.message_count) == (CLOSED, 3)
    for act in (
        lambda: copy.reply("again"),
        copy.close,
        copy.mark_answered,
        lambda: copy.remind(["a@b.test"], uuid4()),
    ):
        with pytest.raises(RuleViolated) as closed:
            act()
        assert closed.value.rule == "REQUEST_CLOSED"
    assert copy.collect_events() == []


def test_reminders_are_counted(acting: ActingContext) -> None:
    request = new_request()
    email = uuid4()
    request.remind(["ada@acme.test"], email)
    request.remind(["ada@acme.test"], uuid4())
    events = collect(request)
    assert request.reminders_sent == 2
    assert said(events[1]) == "Ann reminded Acme Ltd of a request (reminder 1)."


# Portal access ------------------------------------------------------------------------------


def test_portal_access_is_set_per_email(acting: ActingContext) -> None:
    contact = Contact.create(first_name="Ada", last_name="L", emails=["ada@x.test", "a2@x.test"])
    collect(contact)
    assert not contact.has_portal_access
    contact.set_portal_access(" A2@X.test ", True)
    contact.set_portal_access("a2@x.test", True)  # already so
    [event] = collect(contact)
    assert isinstance(event, Contact.ContactPortalAccessSet)
    assert (event.email, event.enabled) == ("a2@x.test", True)
    assert contact.portal_emails() == ["a2@x.test"]
    assert sentence_of(event, Said("Ann", lambda s, f: "Ada L" if s == str(contact.id) else f)) == (
        "Ann gave Ada L portal access through a2@x.test."
    )
    with pytest.raises(InvalidInput) as unknown:
        contact.set_portal_access("nobody@x.test", True)
    assert unknown.value.field == "input.email"


# Time ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("minutes", [-1, 0, 1441, 10**9, True, 1.5])
def test_minutes_outside_one_day_are_refused(minutes: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_minutes("input.minutes", minutes)
    assert refused.value.field == "input.minutes"


def test_amounts_round_per_entry_to_the_currency() -> None:
    assert amount_of(20, "100", "EUR") == Decimal("33.33")
    assert amount_of(40, "100", "EUR") == Decimal("66.67")
    assert amount_of(30, "1000", "JPY") == Decimal("500")
    assert amount_of(30, None, "EUR") == Decimal("0.00")
    assert elapsed_minutes(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)) == 1
    start = datetime(2024, 1, 1, 9, tzinfo=UTC)
    assert elapsed_minutes(start, start + timedelta(minutes=10, seconds=1)) == 11
    assert [duration(m) for m in (45, 60, 90)] == ["45 min", "1 h", "1 h 30 min"]


def test_log_edit_bill_and_delete(acting: ActingContext) -> None:
    entry = TimeEntry.log(
        client_id=CLIENT,
        user_id="user-bob",
        worked_on=date(2024, 5, 1),
        minutes=90,
        billable=True,
        currency="eur",
        rate="120",
        note="  Reconciliation ",
    )
    assert (entry.currency, entry.rate, entry.note, entry.amount) == (
        "EUR",
        "120.00",
        "Reconciliation",
        Decimal("180.00"),
    )
    entry.edit(minutes=90)  # nothing changes
    entry.edit(minutes=100, note="")
    entry.edit(clear_rate=True)
    with pytest.raises(InvalidInput):
        entry.edit(rate="1.001")
    entry.mark_billed(uuid4())
    with pytest.raises(RuleViolated) as billed:
        entry.delete()
    assert billed.value.rule == "TIME_ENTRY_BILLED"
    events = collect(entry)
    assert [type(e).__name__ for e in events] == [
        "TimeLogged",
        "TimeEntryEdited",
        "TimeEntryEdited",
        "TimeEntryBilled",
    ]
    assert said(events[0]) == (
        "Ann logged 1 h 30 min of billable time for user-bob on Acme Ltd for 2024-05-01."
    )
    assert said(events[1]) == "Ann edited a time entry on Acme Ltd (duration 1 h 40 min, note)."
    copy = replay(events)
    assert (copy.minutes, copy.note, copy.rate, copy.billed) == (100, None, None, True)
    other = TimeEntry.log(
        client_id=CLIENT,
        user_id="user-ann",
        worked_on=date(2024, 5, 1),
        minutes=5,
        billable=False,
        currency="EUR",
    )
    with pytest.raises(RuleViolated) as not_billable:
        other.mark_billed(uuid4())
    assert not_billable.value.rule == "TIME_ENTRY_NOT_BILLABLE"
    other.delete()
    with pytest.raises(RuleViolated) as deleted:
        other.edit(minutes=6)
    assert deleted.value.rule == "TIME_ENTRY_DELETED"


def test_a_timer_runs_once_and_stops_into_an_entry(acting: ActingContext) -> None:
    timer = Timer.create(FIRM_ID, "user-ann")
    assert timer.id == timer_id(FIRM_ID, "user-ann") != timer_id(FIRM_ID, "user-bob")
    with pytest.raises(RuleViolated) as not_running:
        timer.stop(at=datetime.now(UTC), billable=True, currency="EUR")
    assert not_running.value.rule == "TIMER_NOT_RUNNING"
    start = datetime(2024, 5, 1, 23, 50, tzinfo=UTC)
    timer.start(client_id=CLIENT, at=start, note="Payroll")
    with pytest.raises(RuleViolated) as running:
        timer.start(client_id=CLIENT, at=start)
    assert running.value.rule == "TIMER_ALREADY_RUNNING"
    with pytest.raises(InvalidInput):
        timer.stop(at=start + timedelta(days=2), billable=True, currency="EUR")
    entry = timer.stop(at=start + timedelta(minutes=20, seconds=5), billable=True, currency="EUR")
    assert (entry.worked_on, entry.minutes, entry.note, entry.source, entry.user_id) == (
        "2024-05-01",
        21,
        "Payroll",
        "TIMER",
        "user-ann",
    )
    assert not timer.running
    events = collect(timer)
    assert said(events[-1]) == "Ann stopped their timer on Acme Ltd after 21 min."
    assert said(events[-2]) == "Ann started a timer on Acme Ltd."
    assert not replay(events).running
