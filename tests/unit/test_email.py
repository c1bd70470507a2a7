"""Unit tests of the Email aggregate: queueing, delivery outcomes, inbound logging, sentences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.actor import SYSTEM_ACTOR, ActingContext, acting_as
from domain.email import (
    FAILED,
    QUEUED,
    RECEIVED,
    SENT,
    Email,
    EmailKind,
    clean_reason,
    message_id_for,
)
from domain.errors import InvalidInput, LimitExceeded, RuleViolated
from projections.sentences import Said, sentence_of
from tests.unit.helpers import FIRM_ID, collect, replay

CLIENT = uuid4()
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def queued(**overrides: Any) -> Email:
    kwargs: dict[str, Any] = {
        "to": ["jane@client.example"],
        "subject": "Accounts",
        "body": "Hello",
        "client_id": CLIENT,
    }
    kwargs.update(overrides)
    return Email.queue(**kwargs)


def said(labels: dict[str, str] | None = None) -> Said:
    known = labels or {}
    return Said(who="Ann Archer", label=lambda subject, fallback: known.get(subject, fallback))


def test_queue_fixes_the_message_id_and_cleans_recipients(acting: ActingContext) -> None:
    email = queued(to=[" jane@client.example", "JANE@client.example", "bob@client.example"])
    [event] = collect(email)
    assert isinstance(event, Email.EmailQueued)
    assert event.to == ["jane@client.example", "bob@client.example"]
    assert event.message_id == message_id_for(email.id) == f"<{email.id}@dossier.invalid>"
    assert (email.status, email.attempts, email.kind) == (QUEUED, 0, EmailKind.MANUAL)
    rebuilt = replay([event])
    assert (rebuilt.status, rebuilt.to, rebuilt.client_id) == (QUEUED, email.to, CLIENT)


@pytest.mark.parametrize(
    ("to", "field"),
    [
        (["a,b@client.example"], "input.to.0"),
        (['"quoted"@client.example'], "input.to.0"),
        (["jane@localhost"], "input.to.0"),
        (["bøb@client.example"], "input.to.0"),
        (["ok@client.example", "Jane <j@client.example>"], "input.to.1"),
        ([], "input.to"),
    ],
)
def test_recipients_must_be_plain_addresses(
    acting: ActingContext, to: list[str], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        queued(to=to)
    assert raised.value.field == field


def test_too_many_recipients(acting: ActingContext) -> None:
    with pytest.raises(LimitExceeded):
        queued(to=[f"p{i}@client.example" for i in range(51)])


def test_failed_attempts_then_sent(acting: ActingContext) -> None:
    email = queued()
    events = collect(email)
    with acting_as(SYSTEM_ACTOR, FIRM_ID):
        email.attempt_failed("connection refused", NOW + timedelta(seconds=30), max_attempts=3)
        assert not email.due(NOW)
        assert email.due(NOW + timedelta(seconds=30))
        email.mark_sent(NOW + timedelta(seconds=31), ["bob@x.example: 550 no such user"])
        email.mark_sent(NOW + timedelta(seconds=40))  # already sent: nothing new
    events += collect(email)
    assert [type(e).__name__ for e in events] == ["EmailQueued", "EmailAttemptFailed", "EmailSent"]
    rebuilt = replay(events)
    assert (rebuilt.status, rebuilt.attempts, rebuilt.last_error) == (SENT, 2, "connection refused")
    assert rebuilt.refused == ["bob@x.example: 550 no such user"]
    assert events[2].actor["kind"] == "SYSTEM"
    with acting_as(SYSTEM_ACTOR, FIRM_ID), pytest.raises(RuleViolated):
        rebuilt.fail("too late")


def test_the_last_allowed_attempt_fails_for_good(acting: ActingContext) -> None:
    email = queued()
    collect(email)
    with acting_as(SYSTEM_ACTOR, FIRM_ID):
        email.attempt_failed("timeout", NOW, max_attempts=2)
        email.attempt_failed("timeout\nTraceback (most recent call last):", NOW, max_attempts=2)
    failed = collect(email)[-1]
    assert isinstance(failed, Email.EmailFailed)
    assert (email.status, email.attempts) == (FAILED, 2)
    assert failed.reason == "gave up after 2 attempts: timeout Traceback (most recent call last):"


def test_a_reason_is_one_bounded_line() -> None:
    assert clean_reason("a\x00b\n\tc" + "x" * 1000) == ("ab c" + "x" * 1000)[:500]
    assert clean_reason("") == "unknown error"


def test_receive_logs_a_message_made_safe(acting: ActingContext) -> None:
    documents = [uuid4(), uuid4()]
    email = Email.receive(
        client_id=CLIENT,
        from_address="jane@client.example",
        to=["inbox@firm.example", "inbox@firm.example"],
        subject="Receipts\u202e\x07 for March",
        body="Line 1\r\nLine 2\x00\r\n",
        message_id="<m1@mail.example>",
        document_ids=documents,
    )
    [event] = collect(email)
    assert isinstance(event, Email.EmailReceived)
    assert (event.subject, event.body) == ("Receipts for March", "Line 1\nLine 2")
    assert event.to == ["inbox@firm.example"]
    rebuilt = replay([event])
    assert (rebuilt.status, rebuilt.kind, rebuilt.document_ids) == (
        RECEIVED,
        EmailKind.INBOUND,
        documents,
    )
    with acting_as(SYSTEM_ACTOR, FIRM_ID), pytest.raises(RuleViolated):
        rebuilt.mark_sent(NOW)
    with pytest.raises(LimitExceeded):
        Email.receive(
            client_id=CLIENT,
            from_address=None,
            to=[],
            subject=None,
            body=None,
            message_id=None,
            document_ids=[uuid4() for _ in range(26)],
        )


def test_no_subject_and_no_message_id(acting: ActingContext) -> None:
    email = Email.receive(
        client_id=CLIENT,
        from_address=None,
        to=[],
        subject="  ",
        body=None,
        message_id=None,
        document_ids=[],
    )
    assert (email.subject, email.message_id) == ("(no subject)", message_id_for(email.id))


def test_every_event_reads_as_a_sentence(acting: ActingContext) -> None:
    import projections.emails  # noqa: F401 - registers the sentences

    email = queued(to=["a@x.example", "b@x.example", "c@x.example", "d@x.example"])
    events = collect(email)
    with acting_as(SYSTEM_ACTOR, FIRM_ID):
        email.attempt_failed("connection refused", NOW, max_attempts=5)
        email.mark_sent(NOW, ["d@x.example: 550 unknown"])
    events += collect(email)
    labels = said({str(CLIENT): "Acme Ltd", str(email.id): '"Accounts"'})
    assert [sentence_of(e, labels) for e in events] == [
        'Ann Archer queued an email "Accounts" to a@x.example, b@x.example, c@x.example '
        "and 1 more about Acme Ltd.",
        'Delivery attempt 1 of the email "Accounts" failed (connection refused); it will be '
        "tried again at 2026-03-01T09:30:00+00:00.",
        'Ann Archer sent the email "Accounts"; refused: d@x.example: 550 unknown.',
    ]
    other = queued(kind=EmailKind.NOTIFICATION, client_id=None)
    with acting_as(SYSTEM_ACTOR, FIRM_ID):
        other.fail("550 no such user")
    first, failed = collect(other)
    assert sentence_of(first, labels) == (
        'Ann Archer queued a notification email "Accounts" to jane@client.example.'
    )
    assert sentence_of(failed, labels) == (
        "Delivery of an email failed for good: 550 no such user."
    )
