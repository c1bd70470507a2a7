"""The Quote aggregate: a priced offer to a client, accepted or declined, then invoiced.

Statuses: OPEN (issued, i.e. sent to the client, awaiting an answer), ACCEPTED, DECLINED,
EXPIRED (recorded by `expire`) and CONVERTED (an invoice was issued from it). An OPEN quote
whose valid-until date has passed reads as EXPIRED at query time without any event; it can
no longer be accepted, but can still be declined or expired explicitly.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from domain.base import ClientRelatedEvent, DossierAggregate, DossierCreated
from domain.errors import InvalidInput, RuleViolated
from domain.lines import Line, clean_lines
from domain.money import clean_currency
from domain.numbering import clean_document_number
from domain.values import REASON_MAX, clean_date, optional_text

OPEN = "OPEN"
ACCEPTED = "ACCEPTED"
DECLINED = "DECLINED"
EXPIRED = "EXPIRED"
CONVERTED = "CONVERTED"
STATUSES = (OPEN, ACCEPTED, DECLINED, EXPIRED, CONVERTED)


def effective_status(status: str, valid_until: date, on: date) -> str:
    """The status as of `on`: an OPEN quote past its valid-until date reads as EXPIRED."""
    if status == OPEN and valid_until < on:
        return EXPIRED
    return status


class QuoteEvent(ClientRelatedEvent):
    """An event of a quote's stream; it is about the quote's client."""


class Quote(DossierAggregate):
    """A quote issued to a client: lines in one currency, valid until a date."""

    class QuoteIssued(DossierCreated, QuoteEvent):
        number: str
        issued_on: str
        valid_until: str
        currency: str
        lines: list[dict[str, str]]
        total: str

    class QuoteAccepted(QuoteEvent):
        accepted_on: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = ACCEPTED
            aggregate.decided_on = self.accepted_on

    class QuoteDeclined(QuoteEvent):
        declined_on: str
        reason: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.status = DECLINED
            aggregate.decided_on = self.declined_on

    class QuoteExpired(QuoteEvent):
        expired_on: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = EXPIRED
            aggregate.decided_on = self.expired_on

    class QuoteConverted(QuoteEvent):
        invoice_id: UUID
        invoice_number: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = CONVERTED
            aggregate.invoice_id = self.invoice_id

    def __init__(
        self,
        firm_id: str,
        client_id: UUID,
        number: str,
        issued_on: str,
        valid_until: str,
        currency: str,
        lines: list[dict[str, str]],
        total: str,
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.number = number
        self.issued_on = issued_on
        self.valid_until = valid_until
        self.currency = currency
        self.lines = lines
        self.total = total
        self.status = OPEN
        self.decided_on: str | None = None
        self.invoice_id: UUID | None = None

    @classmethod
    def issue(
        cls,
        *,
        client_id: UUID,
        number: str,
        issued_on: date,
        valid_until: date,
        currency: str,
        lines: list[Line],
        quote_id: UUID | None = None,
    ) -> Quote:
        """Issue (send) an OPEN quote; lines are (description, quantity, unit price)."""
        code = clean_currency("input.currency", currency)
        clean_date("input.issuedOn", issued_on)
        clean_date("input.validUntil", valid_until)
        if valid_until < issued_on:
            raise InvalidInput(
                "input.validUntil", "the valid-until date must not be before the issue date"
            )
        cleaned, total = clean_lines(lines, code, "a quote")
        return cls._create(
            cls.QuoteIssued,
            id=quote_id or uuid4(),
            client_id=client_id,
            number=clean_document_number(number),
            issued_on=issued_on.isoformat(),
            valid_until=valid_until.isoformat(),
            currency=code,
            lines=cleaned,
            total=str(total),
        )

    def status_on(self, on: date) -> str:
        return effective_status(self.status, date.fromisoformat(self.valid_until), on)

    def _require_open(self, on: date, action: str) -> None:
        clean_date("on", on)
        status = self.status_on(on)
        if status == EXPIRED and self.status == OPEN:
            raise RuleViolated(
                "QUOTE_EXPIRED",
                f"quote {self.number} expired after {self.valid_until} and cannot be {action}",
            )
        if status != OPEN:
            raise RuleViolated(
                "QUOTE_NOT_OPEN", f"quote {self.number} is {status.lower()}, not open"
            )

    def accept(self, on: date) -> None:
        """Record the client's acceptance (only of an open quote still valid on `on`)."""
        self._require_open(on, "accepted")
        self.trigger_event(self.QuoteAccepted, client_id=self.client_id, accepted_on=on.isoformat())

    def decline(self, on: date, reason: str | None) -> None:
        """Record the client's refusal of an open quote (even one past its validity)."""
        clean_date("on", on)
        if self.status != OPEN:
            raise RuleViolated(
                "QUOTE_NOT_OPEN", f"quote {self.number} is {self.status.lower()}, not open"
            )
        self.trigger_event(
            self.QuoteDeclined,
            client_id=self.client_id,
            declined_on=on.isoformat(),
            reason=optional_text("input.reason", reason, REASON_MAX, multiline=True),
        )

    def expire(self, on: date) -> None:
        """Record that an open quote expired (or is withdrawn before its valid-until date)."""
        clean_date("on", on)
        if self.status != OPEN:
            raise RuleViolated(
                "QUOTE_NOT_OPEN", f"quote {self.number} is {self.status.lower()}, not open"
            )
        self.trigger_event(self.QuoteExpired, client_id=self.client_id, expired_on=on.isoformat())

    def check_convertible(self) -> None:
        """Only an accepted quote can be converted, and only once."""
        if self.status == CONVERTED:
            raise RuleViolated(
                "QUOTE_ALREADY_CONVERTED",
                f"quote {self.number} was already converted into an invoice",
            )
        if self.status != ACCEPTED:
            raise RuleViolated(
                "QUOTE_NOT_ACCEPTED",
                f"quote {self.number} is {self.status.lower()}; only accepted quotes are invoiced",
            )

    def line_tuples(self) -> list[Line]:
        return [
            (li["description"], Decimal(li["quantity"]), Decimal(li["unit_price"]))
            for li in self.lines
        ]

    def mark_converted(self, invoice_id: UUID, invoice_number: str) -> None:
        self.check_convertible()
        self.trigger_event(
            self.QuoteConverted,
            client_id=self.client_id,
            invoice_id=invoice_id,
            invoice_number=invoice_number,
        )
