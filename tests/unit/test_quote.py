"""Unit tests of the Quote aggregate: issue, decisions, conversion rules, summaries."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

import pytest

import projections.registry  # noqa: F401  (registers every feature's sentences)
from domain.actor import ActingContext
from domain.errors import InvalidInput, RuleViolated
from domain.numbering import (
    DocumentKind,
    NumberSequence,
    document_number_id,
    format_document_number,
)
from domain.quote import (
    ACCEPTED,
    CONVERTED,
    DECLINED,
    EXPIRED,
    OPEN,
    Quote,
    effective_status,
)
from projections.sentences import Said, sentence_of, subject_of
from tests.unit.helpers import FIRM_ID, collect, replay

CLIENT = uuid4()
ISSUED = date(2026, 3, 1)
VALID = date(2026, 3, 31)


def new_quote(**overrides: Any) -> Quote:
    kwargs: dict[str, Any] = {
        "client_id": CLIENT,
        "number": "Q-000001",
        "issued_on": ISSUED,
        "valid_until": VALID,
        "currency": "eur",
        "lines": [("Audit", "3", "333.33"), ("Travel", "0.5", "10.01")],
    }
    kwargs.update(overrides)
    return Quote.issue(**kwargs)


def label(subject: str, fallback: str) -> str:
    return {str(CLIENT): "Acme Ltd"}.get(subject, "quote Q-000001")


def test_issue_cleans_lines_and_totals_exactly(acting: ActingContext) -> None:
    quote = new_quote()
    assert (quote.currency, quote.total, quote.status) == ("EUR", "1005.00", OPEN)
    assert quote.lines == [
        {"description": "Audit", "quantity": "3", "unit_price": "333.33", "total": "999.99"},
        {"description": "Travel", "quantity": "0.5", "unit_price": "10.01", "total": "5.01"},
    ]
    [event] = collect(quote)
    assert isinstance(event, Quote.QuoteIssued)
    assert event.about_client() == CLIENT
    assert subject_of(event) == (str(quote.id), "quote Q-000001")
    assert sentence_of(event, Said("Ann", label)) == (
        "Ann issued quote Q-000001 to Acme Ltd for 1005.00 EUR, valid until 2026-03-31."
    )
    assert event.actor["id"] == "user-ann" and event.firm_id == FIRM_ID


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "ABC"}, "input.currency"),
        ({"valid_until": date(2026, 2, 28)}, "input.validUntil"),
        ({"lines": []}, "input.lines"),
        ({"lines": [("x", "0", "1")]}, "input.lines.0.quantity"),
        ({"lines": [("x", "-1", "1")]}, "input.lines.0.quantity"),
        ({"lines": [("x", "1", "0.001")]}, "input.lines.0.unitPrice"),
        ({"lines": [("x", "1", "0")]}, "input.lines.0.unitPrice"),
        ({"currency": "JPY", "lines": [("x", "1", "1.5")]}, "input.lines.0.unitPrice"),
        ({"lines": [("x", "1", "abc")]}, "input.lines.0.unitPrice"),
        ({"number": " "}, "input.number"),
    ],
)
def test_bad_input(acting: ActingContext, overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        new_quote(**overrides)
    assert raised.value.field == field


def test_effective_status_expires_open_quotes_after_valid_until() -> None:
    assert effective_status(OPEN, VALID, date(2026, 3, 31)) == OPEN
    assert effective_status(OPEN, VALID, date(2026, 4, 1)) == EXPIRED
    assert effective_status(ACCEPTED, VALID, date(2026, 4, 1)) == ACCEPTED


def test_accept_then_convert_once(acting: ActingContext) -> None:
    quote = new_quote()
    collect(quote)
    with pytest.raises(RuleViolated) as not_accepted:
        quote.check_convertible()
    assert not_accepted.value.rule == "QUOTE_NOT_ACCEPTED"
    quote.accept(date(2026, 3, 31))
    invoice_id = uuid4()
    quote.mark_converted(invoice_id, "INV-000009")
    accepted, converted = collect(quote)
    assert (quote.status, quote.invoice_id, quote.decided_on) == (
        CONVERTED,
        invoice_id,
        "2026-03-31",
    )
    assert sentence_of(accepted, Said("Ann", label)) == "Ann marked quote Q-000001 as accepted."
    assert sentence_of(converted, Said("Ann", label)) == (
        "Ann converted quote Q-000001 into invoice INV-000009."
    )
    with pytest.raises(RuleViolated) as twice:
        quote.mark_converted(uuid4(), "INV-000010")
    assert twice.value.rule == "QUOTE_ALREADY_CONVERTED"
    assert quote.collect_events() == []


def test_accept_after_validity_is_refused_but_decline_and_expire_are_not(
    acting: ActingContext,
) -> None:
    late = date(2026, 4, 1)
    quote = new_quote()
    with pytest.raises(RuleViolated) as expired:
        quote.accept(late)
    assert expired.value.rule == "QUOTE_EXPIRED"
    quote.decline(late, "  Too dear  ")
    assert (quote.status, quote.decided_on) == (DECLINED, "2026-04-01")
    with pytest.raises(RuleViolated) as closed:
        quote.expire(late)
    assert closed.value.rule == "QUOTE_NOT_OPEN"
    other = new_quote()
    other.expire(date(2026, 3, 10))
    assert other.status == EXPIRED
    with pytest.raises(RuleViolated) as again:
        other.accept(date(2026, 3, 10))
    assert again.value.rule == "QUOTE_NOT_OPEN"


def test_replay_rebuilds_the_same_state(acting: ActingContext) -> None:
    quote = new_quote()
    quote.accept(date(2026, 3, 2))
    events = collect(quote)
    copy = replay(events)
    assert (copy.status, copy.total, copy.decided_on, copy.lines) == (
        quote.status,
        quote.total,
        quote.decided_on,
        quote.lines,
    )
    assert sentence_of(events[0], Said("Ann", label)).startswith("Ann issued quote Q-000001")


def test_numbers_and_sequence(acting: ActingContext) -> None:
    quote, invoice = DocumentKind.QUOTE, DocumentKind.INVOICE
    assert format_document_number(quote, 42) == "Q-000042"
    assert format_document_number(invoice, 42) == "INV-000042"
    assert document_number_id(quote, FIRM_ID, "Q-1") == document_number_id(quote, FIRM_ID, "q-1")
    assert document_number_id(quote, FIRM_ID, "Q-1") != document_number_id(quote, "other", "Q-1")
    assert document_number_id(quote, FIRM_ID, "7") != document_number_id(invoice, FIRM_ID, "7")
    sequence = NumberSequence.start(quote, FIRM_ID)
    assert sequence.take(sequence.last + 1) == "Q-000001"
    assert sequence.last == 1
