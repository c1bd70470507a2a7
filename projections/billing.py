"""The billing read model: invoices, client credit and the firm's billing currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from domain.billing import ClientAccount, FirmSettings
from domain.invoice import VOID, Invoice, InvoiceEvent
from domain.money import exact, quantize, zero
from projections.base import Projection, handles
from projections.sentences import Said, names, says
from projections.tables import FIRM, ID, metadata

invoices = sa.Table(
    "rm_invoices",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("number", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("issued_on", sa.Date, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("lines", sa.JSON, nullable=False),
    # Amounts are exact decimal strings (SQLite has no exact decimal type).
    sa.Column("total", sa.String(40), nullable=False),
    sa.Column("paid", sa.String(40), nullable=False),
    sa.Column("balance", sa.String(40), nullable=False),
    sa.Column("paid_on", sa.Date),
    sa.Column("payments", sa.JSON, nullable=False),
    sa.Column("void_reason", sa.Text),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_invoices_client", "client_id", "issued_on"),
    sa.Index("ix_rm_invoices_firm_number", "firm_id", "number", unique=True),
)

client_credit = sa.Table(
    "rm_client_credit",
    metadata,
    sa.Column("client_id", ID, primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("balance", sa.String(40), nullable=False),
)

firm_billing = sa.Table(
    "rm_firm_billing",
    metadata,
    sa.Column("firm_id", FIRM, primary_key=True),
    sa.Column("currency", sa.String(3)),
    sa.Column("first_invoice_currency", sa.String(3)),
)


class BillingProjection(Projection):
    """Keeps rm_invoices, rm_client_credit and rm_firm_billing."""

    name = "billing"
    tables = (invoices, client_credit, firm_billing)

    @staticmethod
    def _firm_row(conn: sa.Connection, firm_id: str) -> Any:
        row = conn.execute(sa.select(firm_billing).where(firm_billing.c.firm_id == firm_id)).first()
        if row is None:
            conn.execute(sa.insert(firm_billing).values(firm_id=firm_id))
        return row

    @handles(Invoice.InvoiceIssued)
    def invoice_issued(self, conn: sa.Connection, e: Invoice.InvoiceIssued, position: int) -> None:
        conn.execute(
            sa.insert(invoices).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                number=e.number,
                status="OPEN",
                issued_on=date.fromisoformat(e.issued_on),
                due_on=date.fromisoformat(e.due_on),
                currency=e.currency,
                lines=e.lines,
                total=e.total,
                paid=str(zero(e.currency)),
                balance=e.total,
                paid_on=None,
                payments=[],
                position=position,
            )
        )
        # The firm's first invoice by position (not by arrival: a parked invoice retried later
        # must give what a rebuild gives).
        self._firm_row(conn, e.firm_id)
        earlier = conn.execute(
            sa.select(invoices.c.id)
            .where(invoices.c.firm_id == e.firm_id, invoices.c.position < position)
            .limit(1)
        ).first()
        if earlier is None:
            conn.execute(
                sa.update(firm_billing)
                .where(firm_billing.c.firm_id == e.firm_id)
                .values(first_invoice_currency=e.currency)
            )

    @handles(Invoice.InvoicePaymentRecorded)
    def payment_recorded(
        self, conn: sa.Connection, e: Invoice.InvoicePaymentRecorded, position: int
    ) -> None:
        row = conn.execute(sa.select(invoices).where(invoices.c.id == str(e.originator_id))).one()
        with exact():  # a figure that would need rounding raises instead of drifting
            paid = quantize(Decimal(row.paid) + Decimal(e.applied), row.currency)
            balance = quantize(Decimal(row.total) - paid, row.currency)
        payment = {
            "id": e.payment_id,
            "amount": e.amount,
            "applied": e.applied,
            "credited": e.credited,
            "paid_on": e.paid_on,
            "method": e.method,
            "reference": e.reference,
        }
        conn.execute(
            sa.update(invoices)
            .where(invoices.c.id == row.id)
            .values(
                paid=str(paid),
                balance=str(balance),
                status="PAID" if balance <= 0 else "PARTIALLY_PAID",
                paid_on=date.fromisoformat(e.paid_on) if balance <= 0 else None,
                payments=[*row.payments, payment],
            )
        )

    @handles(Invoice.InvoiceVoided)
    def invoice_voided(self, conn: sa.Connection, e: Invoice.InvoiceVoided, position: int) -> None:
        row = conn.execute(
            sa.select(invoices.c.currency).where(invoices.c.id == str(e.originator_id))
        ).one()
        conn.execute(
            sa.update(invoices)
            .where(invoices.c.id == str(e.originator_id))
            .values(status=VOID, balance=str(zero(row.currency)), void_reason=e.reason)
        )

    def _add_credit(
        self,
        conn: sa.Connection,
        e: ClientAccount.CreditAdded | ClientAccount.CreditApplied,
        sign: int,
    ) -> None:
        key = (
            client_credit.c.client_id == str(e.client_id),
            client_credit.c.currency == e.currency,
        )
        row = conn.execute(sa.select(client_credit.c.balance).where(*key)).first()
        current = Decimal(row.balance) if row is not None else Decimal(0)
        with exact():
            balance = str(quantize(current + sign * Decimal(e.amount), e.currency))
        if row is None:
            conn.execute(
                sa.insert(client_credit).values(
                    client_id=str(e.client_id),
                    currency=e.currency,
                    firm_id=e.firm_id,
                    balance=balance,
                )
            )
        else:
            conn.execute(sa.update(client_credit).where(*key).values(balance=balance))

    @handles(ClientAccount.CreditAdded)
    def credit_added(
        self, conn: sa.Connection, e: ClientAccount.CreditAdded, position: int
    ) -> None:
        self._add_credit(conn, e, 1)

    @handles(ClientAccount.CreditApplied)
    def credit_applied(
        self, conn: sa.Connection, e: ClientAccount.CreditApplied, position: int
    ) -> None:
        self._add_credit(conn, e, -1)

    @handles(FirmSettings.FirmCurrencySet)
    def firm_currency_set(
        self, conn: sa.Connection, e: FirmSettings.FirmCurrencySet, position: int
    ) -> None:
        self._firm_row(conn, e.firm_id)
        conn.execute(
            sa.update(firm_billing)
            .where(firm_billing.c.firm_id == e.firm_id)
            .values(currency=e.currency)
        )


# How billing events read in the activity history -------------------------------------------


def _invoice(said: Said, e: InvoiceEvent) -> str:
    return said.name_of(e.originator_id, "an invoice")


@names(Invoice.InvoiceIssued)
def _invoice_names(e: Invoice.InvoiceIssued) -> tuple[str, str]:
    return str(e.originator_id), f"invoice {e.number}"


@says(Invoice.InvoiceIssued)
def _invoice_issued(e: Invoice.InvoiceIssued, said: Said) -> str:
    return (
        f"{said.who} issued invoice {e.number} to {said.client(e)} for "
        f"{e.total} {e.currency}, due {e.due_on}."
    )


@says(Invoice.InvoicePaymentRecorded)
def _payment_recorded(e: Invoice.InvoicePaymentRecorded, said: Said) -> str:
    extra = f" ({e.credited} put on account)" if Decimal(e.credited) else ""
    method = f" by {e.method}" if e.method else ""
    return f"{said.who} recorded a payment of {e.amount}{method} on {_invoice(said, e)}{extra}."


@says(Invoice.InvoiceVoided)
def _invoice_voided(e: Invoice.InvoiceVoided, said: Said) -> str:
    reason = f": {e.reason}" if e.reason else ""
    return f"{said.who} voided {_invoice(said, e)}{reason}."


@says(ClientAccount.CreditAdded)
def _credit_added(e: ClientAccount.CreditAdded, said: Said) -> str:
    client = said.client(e)
    if e.source == "overpayment":
        invoice = said.name_of(e.invoice_id, "an invoice")
        return f"{e.amount} {e.currency} overpaid on {invoice} went to the credit of {client}."
    reason = f": {e.reason}" if e.reason else ""
    return f"{said.who} issued a credit note of {e.amount} {e.currency} to {client}{reason}."


@says(ClientAccount.CreditApplied)
def _credit_applied(e: ClientAccount.CreditApplied, said: Said) -> str:
    invoice = said.name_of(e.invoice_id, "an invoice")
    return f"{said.who} applied {e.amount} {e.currency} of credit to {invoice}."


@says(FirmSettings.FirmCurrencySet)
def _firm_currency_set(e: FirmSettings.FirmCurrencySet, said: Said) -> str:
    return f"{said.who} set the firm's currency to {e.currency}."
