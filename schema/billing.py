"""Billing on the profile: invoices, payments, credit and the header's figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import strawberry

from resolvers.billing import Summary, is_overdue, today
from resolvers.commands import may_change, may_manage_staff, written
from resolvers.ids import to_global_id
from resolvers.pages import check_first, page_after_position
from resolvers.ports import Outcome
from schema.common import Info, Node, PageInfo, command, connection_of
from schema.errors import NotFoundError, RuleViolationError, ValidationError
from schema.types import ClientCore, ClientRef

if TYPE_CHECKING:
    from schema.quotes import Quote


@strawberry.enum
class InvoiceStatus(Enum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PARTIALLY_PAID = "PARTIALLY_PAID"
    PAID = "PAID"
    VOID = "VOID"


@strawberry.type
class Money:
    amount: Decimal
    currency: str


@strawberry.type
class InvoiceLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    total: Decimal


@strawberry.type(description="A payment recorded on an invoice.")
class Payment:
    amount: Money
    applied: Money = strawberry.field(description="The part that paid the invoice.")
    credited: Money = strawberry.field(description="The part put on the client's account.")
    paid_on: date
    method: str | None
    reference: str | None


@strawberry.type
class Invoice(Node):
    id: strawberry.ID
    number: str
    status: InvoiceStatus
    issued_on: date
    due_on: date
    currency: str
    lines: list[InvoiceLine]
    total: Money
    paid: Money
    balance: Money
    overdue: bool
    paid_on: date | None
    payments: list[Payment]
    void_reason: str | None
    client_id: strawberry.Private[str]

    @classmethod
    async def load(cls, info: Info, invoice_id: str) -> Invoice:
        return cls.from_row(await written(info.context.billing.invoice, "Invoice", invoice_id))

    @classmethod
    def from_row(cls, row: Any) -> Invoice:
        def money(amount: str) -> Money:
            return Money(amount=Decimal(amount), currency=row.currency)

        return cls(
            id=strawberry.ID(to_global_id("Invoice", row.id)),
            number=row.number,
            status=InvoiceStatus(row.status),
            issued_on=row.issued_on,
            due_on=row.due_on,
            currency=row.currency,
            lines=[
                InvoiceLine(
                    description=line["description"],
                    quantity=Decimal(line["quantity"]),
                    unit_price=Decimal(line["unit_price"]),
                    total=Decimal(line["total"]),
                )
                for line in row.lines
            ],
            total=money(row.total),
            paid=money(row.paid),
            balance=money(row.balance),
            overdue=is_overdue(row, today()),
            paid_on=row.paid_on,
            payments=[
                Payment(
                    amount=money(p["amount"]),
                    applied=money(p["applied"]),
                    credited=money(p["credited"]),
                    paid_on=date.fromisoformat(p["paid_on"]),
                    method=p["method"],
                    reference=p["reference"],
                )
                for p in row.payments
            ],
            void_reason=row.void_reason,
            client_id=row.client_id,
        )

    @strawberry.field
    async def client(self, info: Info) -> ClientRef:
        row = await info.context.loaders.client_in_firm.load(self.client_id)
        return ClientCore.from_row(row)

    @strawberry.field(
        description="Whether the client's current credit in this currency covers the balance."
    )
    async def payable_from_credit(self, info: Info) -> bool:
        if self.status not in (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID):
            return False
        credit = await info.context.billing.credit_by_client.load(self.client_id)
        return credit.get(self.currency, Decimal(0)) >= self.balance.amount

    @strawberry.field(description="The quote this invoice was converted from, if any.")
    async def quote(self, info: Info) -> Annotated[Quote, strawberry.lazy("schema.quotes")] | None:
        from schema.quotes import invoice_quote

        return await invoice_quote(info, self.id)


@strawberry.type
class InvoiceEdge:
    cursor: str
    node: Invoice


@strawberry.type
class InvoiceConnection:
    edges: list[InvoiceEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class PeriodAmount:
    period: str = strawberry.field(description="A calendar month, e.g. 2026-11.")
    amount: Money


@strawberry.type(
    description="Figures of a client's profile header. Amounts are in the firm's currency."
)
class BillingSummary:
    unpaid_total: Money
    overdue_total: Money
    unpaid_count: int
    overdue_count: int
    average_days_to_pay: float | None = strawberry.field(
        description="Mean of (paid on - issued on) in days over fully paid invoices; null if none."
    )
    credit_balance: Money
    excluded_invoice_count: int = strawberry.field(
        description="Invoices in another currency than the firm's, left out of the totals."
    )
    invoiced_by_month: list[PeriodAmount] = strawberry.field(
        description="Total invoiced per month (void invoices excluded), oldest first."
    )


def summary_of(s: Summary) -> BillingSummary:
    """The GraphQL figures of a computed summary."""

    def money(amount: Decimal) -> Money:
        return Money(amount=amount, currency=s.currency)

    return BillingSummary(
        unpaid_total=money(s.unpaid_total),
        overdue_total=money(s.overdue_total),
        unpaid_count=s.unpaid_count,
        overdue_count=s.overdue_count,
        average_days_to_pay=s.average_days_to_pay,
        credit_balance=money(s.credit_balance),
        excluded_invoice_count=s.excluded_invoice_count,
        invoiced_by_month=[
            PeriodAmount(period=p.period, amount=money(p.amount)) for p in s.invoiced_by_month
        ],
    )


async def billing_summary(info: Info, client_id: str) -> BillingSummary:
    return summary_of(await info.context.billing.summary(client_id))


async def client_invoices(
    info: Info,
    client_id: str,
    first: int | None,
    after: str | None,
    status: list[InvoiceStatus] | None,
) -> InvoiceConnection:
    size = check_first(first, 20)
    rows = await info.context.billing.invoices_by_client.load(client_id)
    if status is not None:
        wanted = {s.value for s in status}
        rows = [r for r in rows if r.status in wanted]
    page = page_after_position(rows, size, after)
    return connection_of(InvoiceConnection, page, InvoiceEdge, Invoice.from_row)


async def unpaid_invoices(info: Info, client_id: str) -> list[Invoice]:
    rows = await info.context.billing.invoices_by_client.load(client_id)
    unpaid = sorted(
        (r for r in rows if r.status in ("OPEN", "PARTIALLY_PAID")),
        key=lambda r: (r.due_on, r.number),
    )
    return [Invoice.from_row(r) for r in unpaid]


# Mutations ---------------------------------------------------------------------


@strawberry.input
class InvoiceLineInput:
    description: str
    quantity: Decimal
    unit_price: Decimal


def line_values(lines: list[InvoiceLineInput]) -> list[tuple[str, Decimal, Decimal]]:
    """The lines of an invoice or a quote as the services take them."""
    return [(line.description, line.quantity, line.unit_price) for line in lines]


@strawberry.input
class IssueInvoiceInput:
    client_id: strawberry.ID
    issued_on: date
    due_on: date
    currency: str
    lines: list[InvoiceLineInput]
    number: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class RecordPaymentInput:
    invoice_id: strawberry.ID
    amount: Decimal
    paid_on: date
    idempotency_key: str | None = None
    method: str | None = None
    reference: str | None = None
    overpayment_to_credit: bool = strawberry.field(
        default=False,
        description="Put the part above the invoice's balance on the client's account as credit.",
    )


@strawberry.input
class VoidInvoiceInput:
    invoice_id: strawberry.ID
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class IssueCreditNoteInput:
    client_id: strawberry.ID
    amount: Decimal
    currency: str
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class ApplyCreditInput:
    invoice_id: strawberry.ID
    amount: Decimal | None = strawberry.field(
        default=None, description="Defaults to as much as the credit and the balance allow."
    )
    idempotency_key: str | None = None


@strawberry.input
class SetFirmCurrencyInput:
    currency: str
    idempotency_key: str | None = None


@strawberry.type
class InvoicePayload:
    invoice: Invoice

    @classmethod
    async def load(cls, info: Info, done: Outcome) -> InvoicePayload:
        return cls(invoice=await Invoice.load(info, done.ids["invoice_id"]))


@strawberry.type
class CreditNotePayload:
    client: ClientRef


@strawberry.type
class FirmCurrencyPayload:
    currency: str


InvoiceChange: TypeAlias = InvoicePayload | ValidationError | NotFoundError | RuleViolationError
"""The members of the results of most invoice commands (each result is its own union)."""
IssueInvoiceResult: TypeAlias = Annotated[InvoiceChange, strawberry.union("IssueInvoiceResult")]
RecordPaymentResult: TypeAlias = Annotated[InvoiceChange, strawberry.union("RecordPaymentResult")]
VoidInvoiceResult: TypeAlias = Annotated[
    InvoicePayload | NotFoundError | RuleViolationError, strawberry.union("VoidInvoiceResult")
]
IssueCreditNoteResult: TypeAlias = Annotated[
    CreditNotePayload | ValidationError | NotFoundError, strawberry.union("IssueCreditNoteResult")
]
ApplyCreditResult: TypeAlias = Annotated[InvoiceChange, strawberry.union("ApplyCreditResult")]
SetFirmCurrencyResult: TypeAlias = Annotated[
    FirmCurrencyPayload | ValidationError, strawberry.union("SetFirmCurrencyResult")
]


@strawberry.type
class BillingMutation:
    @command(may_change("issue invoices"))
    async def issue_invoice(self, info: Info, input: IssueInvoiceInput) -> IssueInvoiceResult:
        lines = line_values(input.lines)
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.billing.issue_invoice(
                client_id,
                number=input.number,
                issued_on=input.issued_on,
                due_on=input.due_on,
                currency=input.currency,
                lines=lines,
                key=input.idempotency_key,
            ),
        )
        return await InvoicePayload.load(info, done)

    @command(may_change("record payments"))
    async def record_payment(self, info: Info, input: RecordPaymentInput) -> RecordPaymentResult:
        done = await info.context.run_on(
            "Invoice",
            input.invoice_id,
            lambda app, invoice_id: app.billing.record_payment(
                invoice_id,
                amount=input.amount,
                paid_on=input.paid_on,
                method=input.method,
                reference=input.reference,
                overpayment_to_credit=input.overpayment_to_credit,
                key=input.idempotency_key,
            ),
        )
        return await InvoicePayload.load(info, done)

    @command(may_change("void invoices"))
    async def void_invoice(self, info: Info, input: VoidInvoiceInput) -> VoidInvoiceResult:
        done = await info.context.run_on(
            "Invoice",
            input.invoice_id,
            lambda app, invoice_id: app.billing.void_invoice(
                invoice_id, reason=input.reason, key=input.idempotency_key
            ),
        )
        return await InvoicePayload.load(info, done)

    @command(
        may_change("issue credit notes"),
        description="Put credit on a client's account (a credit note).",
    )
    async def issue_credit_note(
        self, info: Info, input: IssueCreditNoteInput
    ) -> IssueCreditNoteResult:
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.billing.issue_credit_note(
                client_id,
                amount=input.amount,
                currency=input.currency,
                reason=input.reason,
                key=input.idempotency_key,
            ),
        )
        return CreditNotePayload(client=await ClientCore.load(info, done.ids["client_id"]))

    @command(may_change("apply credit"), description="Pay an invoice from the client's credit.")
    async def apply_credit(self, info: Info, input: ApplyCreditInput) -> ApplyCreditResult:
        done = await info.context.run_on(
            "Invoice",
            input.invoice_id,
            lambda app, invoice_id: app.billing.apply_credit(
                invoice_id, amount=input.amount, applied_on=today(), key=input.idempotency_key
            ),
        )
        return await InvoicePayload.load(info, done)

    @command(
        may_manage_staff("set the firm's currency"),
        description="Set the currency of the firm's billing figures.",
    )
    async def set_firm_currency(
        self, info: Info, input: SetFirmCurrencyInput
    ) -> SetFirmCurrencyResult:
        await info.context.run(
            lambda app: app.billing.set_firm_currency(input.currency, key=input.idempotency_key)
        )
        return FirmCurrencyPayload(currency=await info.context.billing.firm_currency())


@strawberry.type
class BillingClientFields:
    """The fields this feature adds to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field
    async def billing(self, info: Info) -> BillingSummary:

        return await billing_summary(info, self.local_id)

    @strawberry.field
    async def invoices(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        status: list[InvoiceStatus] | None = None,
    ) -> InvoiceConnection:

        return await client_invoices(info, self.local_id, first, after, status)


@strawberry.type
class BillingOverviewFields:
    """The fields this feature adds to a client's overview (composed in schema/client.py)."""

    client_id: strawberry.Private[str]

    @strawberry.field
    async def unpaid_invoices(self, info: Info) -> list[Invoice]:

        return await unpaid_invoices(info, self.client_id)
