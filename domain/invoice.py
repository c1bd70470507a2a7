"""The Invoice aggregate: lines, payments and voiding, referencing its client."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from domain.base import ClientRelatedEvent, DossierAggregate, DossierCreated
from domain.errors import InvalidInput, RuleViolated
from domain.lines import Line, clean_lines
from domain.money import clean_amount, clean_currency, quantize, zero
from domain.numbering import clean_document_number
from domain.values import REASON_MAX, clean_date, optional_text

PAYMENT_METHOD_MAX = 50
PAYMENT_REFERENCE_MAX = 200

OPEN = "OPEN"
PARTIALLY_PAID = "PARTIALLY_PAID"
PAID = "PAID"
VOID = "VOID"


class InvoiceEvent(ClientRelatedEvent):
    """An event of an invoice's stream; it is about the invoice's client."""


class Invoice(DossierAggregate):
    """An invoice issued to a client: lines in one currency, payments, possibly voided."""

    class InvoiceIssued(DossierCreated, InvoiceEvent):
        number: str
        issued_on: str
        due_on: str
        currency: str
        lines: list[dict[str, str]]
        total: str

    class InvoicePaymentRecorded(InvoiceEvent):
        payment_id: str
        amount: str
        applied: str
        credited: str
        paid_on: str
        method: str | None
        reference: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.paid = str(Decimal(aggregate.paid) + Decimal(self.applied))
            aggregate.payments.append(
                {
                    "id": self.payment_id,
                    "amount": self.amount,
                    "applied": self.applied,
                    "credited": self.credited,
                    "paid_on": self.paid_on,
                    "method": self.method,
                    "reference": self.reference,
                }
            )
            if Decimal(aggregate.paid) >= Decimal(aggregate.total):
                aggregate.status = PAID
                aggregate.paid_on = self.paid_on
            else:
                aggregate.status = PARTIALLY_PAID

    class InvoiceVoided(InvoiceEvent):
        reason: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.status = VOID

    def __init__(
        self,
        firm_id: str,
        client_id: UUID,
        number: str,
        issued_on: str,
        due_on: str,
        currency: str,
        lines: list[dict[str, str]],
        total: str,
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.number = number
        self.issued_on = issued_on
        self.due_on = due_on
        self.currency = currency
        self.lines = lines
        self.total = total
        self.paid = str(zero(currency))
        self.paid_on: str | None = None
        self.status = OPEN
        self.payments: list[dict[str, Any]] = []

    @classmethod
    def issue(
        cls,
        *,
        client_id: UUID,
        number: str,
        issued_on: date,
        due_on: date,
        currency: str,
        lines: list[Line],
        invoice_id: UUID | None = None,
    ) -> Invoice:
        """Issue an OPEN invoice; lines are (description, quantity, unit price)."""
        code = clean_currency("input.currency", currency)
        clean_date("input.issuedOn", issued_on)
        clean_date("input.dueOn", due_on)
        if due_on < issued_on:
            raise InvalidInput("input.dueOn", "the due date must not be before the issue date")
        cleaned, total = clean_lines(lines, code, "an invoice")
        return cls._create(
            cls.InvoiceIssued,
            id=invoice_id or uuid4(),
            client_id=client_id,
            number=clean_document_number(number),
            issued_on=issued_on.isoformat(),
            due_on=due_on.isoformat(),
            currency=code,
            lines=cleaned,
            total=str(total),
        )

    @property
    def balance(self) -> Decimal:
        return Decimal(self.total) - Decimal(self.paid)

    def record_payment(
        self,
        *,
        amount: Decimal | str,
        paid_on: date,
        method: str | None = None,
        reference: str | None = None,
        overpayment_to_credit: bool = False,
    ) -> Decimal:
        """Record a payment; returns the part put on the client's account as credit."""
        if self.status == VOID:
            raise RuleViolated("INVOICE_VOID", f"invoice {self.number} is void")
        if self.status == PAID:
            raise RuleViolated("INVOICE_PAID", f"invoice {self.number} is already paid")
        value = clean_amount("input.amount", amount, self.currency)
        clean_date("input.paidOn", paid_on)
        if paid_on < date.fromisoformat(self.issued_on):
            raise InvalidInput("input.paidOn", "a payment cannot be dated before the invoice")
        excess = value - self.balance
        if excess > 0 and not overpayment_to_credit:
            raise RuleViolated(
                "OVERPAYMENT",
                f"the payment exceeds the balance of {self.balance} {self.currency}; "
                "set overpaymentToCredit to put the difference on the client's account",
            )
        credited = max(excess, Decimal(0))
        self.trigger_event(
            self.InvoicePaymentRecorded,
            client_id=self.client_id,
            payment_id=str(uuid4()),
            amount=str(value),
            applied=str(quantize(value - credited, self.currency)),
            credited=str(quantize(credited, self.currency)),
            paid_on=paid_on.isoformat(),
            method=optional_text("input.method", method, PAYMENT_METHOD_MAX),
            reference=optional_text("input.reference", reference, PAYMENT_REFERENCE_MAX),
        )
        return credited

    def void(self, reason: str | None) -> None:
        if self.status == VOID:
            raise RuleViolated("ALREADY_VOID", f"invoice {self.number} is already void")
        if self.payments:
            raise RuleViolated(
                "HAS_PAYMENTS", f"invoice {self.number} has payments and cannot be voided"
            )
        self.trigger_event(
            self.InvoiceVoided,
            client_id=self.client_id,
            reason=optional_text("input.reason", reason, REASON_MAX, multiline=True),
        )
