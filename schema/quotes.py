"""Quotes on the profile: issue, accept, decline, expire, convert into an invoice.

Statuses: OPEN (issued, i.e. sent to the client), ACCEPTED, DECLINED, EXPIRED, CONVERTED.
An OPEN quote whose validUntil has passed reads as EXPIRED (and `expired` is true) without
any recorded event. Each side of a conversion shows the other: Quote.invoice, Invoice.quote.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, TypeAlias

import strawberry

from resolvers.billing import today
from resolvers.commands import may_change, written
from resolvers.ids import from_global_id, to_global_id
from resolvers.pages import check_first, page_after_position
from resolvers.ports import Outcome
from resolvers.quotes import LATEST_QUOTES, QuoteLoaders, quote_status
from schema.billing import Invoice, InvoiceLine, InvoiceLineInput, Money, line_values
from schema.common import Info, Node, PageInfo, command, connection_of
from schema.errors import NotFoundError, RuleViolationError, ValidationError
from schema.types import ClientCore, ClientRef


@strawberry.enum
class QuoteStatus(Enum):
    OPEN = "OPEN"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    EXPIRED = "EXPIRED"
    CONVERTED = "CONVERTED"


@strawberry.type(description="A priced offer to a client, valid until a date.")
class Quote(Node):
    id: strawberry.ID
    number: str
    status: QuoteStatus = strawberry.field(
        description="As of today: an OPEN quote past validUntil reads as EXPIRED."
    )
    expired: bool = strawberry.field(
        description="True once the quote was expired explicitly or validUntil has passed."
    )
    issued_on: date
    valid_until: date
    currency: str
    lines: list[InvoiceLine]
    total: Money
    decided_on: date | None = strawberry.field(
        description="When it was accepted, declined or explicitly expired."
    )
    decline_reason: str | None
    client_id: strawberry.Private[str]
    invoice_id: strawberry.Private[str | None]

    @classmethod
    async def load(cls, info: Info, quote_id: str) -> Quote:
        return cls.from_row(
            await written(info.context.loaders_of(QuoteLoaders).quote, "Quote", quote_id)
        )

    @classmethod
    def from_row(cls, row: Any) -> Quote:
        status = QuoteStatus(quote_status(row, today()))
        return cls(
            id=strawberry.ID(to_global_id("Quote", row.id)),
            number=row.number,
            status=status,
            expired=status is QuoteStatus.EXPIRED,
            issued_on=row.issued_on,
            valid_until=row.valid_until,
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
            total=Money(amount=Decimal(row.total), currency=row.currency),
            decided_on=row.decided_on,
            decline_reason=row.decline_reason,
            client_id=row.client_id,
            invoice_id=row.invoice_id,
        )

    @strawberry.field
    async def client(self, info: Info) -> ClientRef:

        row = await info.context.loaders.client_in_firm.load(self.client_id)
        return ClientCore.from_row(row)

    @strawberry.field(description="The invoice this quote was converted into, if any.")
    async def invoice(self, info: Info) -> Invoice | None:
        if self.invoice_id is None:
            return None
        row = await info.context.billing.invoice.load(self.invoice_id)
        return None if row is None else Invoice.from_row(row)


@strawberry.type
class QuoteEdge:
    cursor: str
    node: Quote


@strawberry.type
class QuoteConnection:
    edges: list[QuoteEdge]
    page_info: PageInfo
    total_count: int


async def client_quotes(
    info: Info,
    client_id: str,
    first: int | None,
    after: str | None,
    status: list[QuoteStatus] | None,
) -> QuoteConnection:
    """A client's quotes, newest first, optionally filtered by (effective) status."""
    size = check_first(first, 20)
    rows = await info.context.loaders_of(QuoteLoaders).quotes_by_client.load(client_id)
    if status is not None:
        wanted = {s.value for s in status}
        on = today()
        rows = [r for r in rows if quote_status(r, on) in wanted]
    page = page_after_position(rows, size, after)
    return connection_of(QuoteConnection, page, QuoteEdge, Quote.from_row)


async def latest_quotes(info: Info, client_id: str) -> list[Quote]:
    rows = await info.context.loaders_of(QuoteLoaders).quotes_by_client.load(client_id)
    return [Quote.from_row(r) for r in rows[:LATEST_QUOTES]]


async def invoice_quote(info: Info, invoice_global_id: str) -> Quote | None:
    """The quote an invoice was converted from (Invoice.quote)."""
    parsed = from_global_id(invoice_global_id)
    if parsed is None:
        return None
    row = await info.context.loaders_of(QuoteLoaders).quote_by_invoice.load(parsed[1])
    return None if row is None else Quote.from_row(row)


async def quote_node(info: Info, local_id: str) -> Quote | None:
    row = await info.context.loaders_of(QuoteLoaders).quote.load(local_id)
    return None if row is None else Quote.from_row(row)


# Mutations ---------------------------------------------------------------------


@strawberry.input
class IssueQuoteInput:
    client_id: strawberry.ID
    issued_on: date
    valid_until: date
    currency: str
    lines: list[InvoiceLineInput]
    number: str | None = strawberry.field(
        default=None, description="Unique in the firm; generated (Q-000001, ...) when omitted."
    )
    idempotency_key: str | None = None


@strawberry.input
class AcceptQuoteInput:
    quote_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class DeclineQuoteInput:
    quote_id: strawberry.ID
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class ExpireQuoteInput:
    quote_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class ConvertQuoteToInvoiceInput:
    quote_id: strawberry.ID
    due_on: date
    issued_on: date | None = strawberry.field(default=None, description="Defaults to today.")
    number: str | None = strawberry.field(
        default=None, description="The invoice's number; generated when omitted."
    )
    idempotency_key: str | None = None


@strawberry.type
class QuotePayload:
    quote: Quote

    @classmethod
    async def load(cls, info: Info, done: Outcome) -> QuotePayload:
        return cls(quote=await Quote.load(info, done.ids["quote_id"]))


@strawberry.type
class ConvertQuotePayload:
    quote: Quote
    invoice: Invoice


IssueQuoteResult: TypeAlias = Annotated[
    QuotePayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("IssueQuoteResult"),
]
QuoteDecisionResult: TypeAlias = Annotated[
    QuotePayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("QuoteDecisionResult"),
]
ConvertQuoteToInvoiceResult: TypeAlias = Annotated[
    ConvertQuotePayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("ConvertQuoteToInvoiceResult"),
]


@strawberry.type
class QuotesMutation:
    @command(
        may_change("issue quotes"),
        description="Issue (send) a quote to a client; refused while on hold.",
    )
    async def issue_quote(self, info: Info, input: IssueQuoteInput) -> IssueQuoteResult:
        lines = line_values(input.lines)
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.quotes.issue_quote(
                client_id,
                number=input.number,
                issued_on=input.issued_on,
                valid_until=input.valid_until,
                currency=input.currency,
                lines=lines,
                key=input.idempotency_key,
            ),
        )
        return await QuotePayload.load(info, done)

    @command(
        may_change("accept quotes"),
        description="Record that the client accepted an open, valid quote.",
    )
    async def accept_quote(self, info: Info, input: AcceptQuoteInput) -> QuoteDecisionResult:
        return await _decide(info, input, lambda quotes: quotes.accept_quote)

    @command(
        may_change("decline quotes"), description="Record that the client declined an open quote."
    )
    async def decline_quote(self, info: Info, input: DeclineQuoteInput) -> QuoteDecisionResult:
        return await _decide(info, input, lambda quotes: quotes.decline_quote, reason=input.reason)

    @command(
        may_change("expire quotes"),
        description="Mark an open quote as expired (e.g. withdraw it).",
    )
    async def expire_quote(self, info: Info, input: ExpireQuoteInput) -> QuoteDecisionResult:
        return await _decide(info, input, lambda quotes: quotes.expire_quote)

    @command(
        may_change("issue invoices"),
        description="Issue an invoice from an accepted quote (once), with the invoice rules.",
    )
    async def convert_quote_to_invoice(
        self, info: Info, input: ConvertQuoteToInvoiceInput
    ) -> ConvertQuoteToInvoiceResult:
        done = await info.context.run_on(
            "Quote",
            input.quote_id,
            lambda app, quote_id: app.quotes.convert_quote(
                quote_id,
                issued_on=input.issued_on or today(),
                due_on=input.due_on,
                number=input.number,
                key=input.idempotency_key,
            ),
        )
        return ConvertQuotePayload(
            quote=await Quote.load(info, done.ids["quote_id"]),
            invoice=await Invoice.load(info, done.ids["invoice_id"]),
        )


async def _decide(
    info: Info,
    input: AcceptQuoteInput | DeclineQuoteInput | ExpireQuoteInput,
    decision: Callable[[Any], Callable[..., Outcome]],
    **details: Any,
) -> QuotePayload:
    """Accept, decline or expire a quote today: `decision` picks the quotes service's method."""
    done = await info.context.run_on(
        "Quote",
        input.quote_id,
        lambda app, quote_id: decision(app.quotes)(
            quote_id, on=today(), key=input.idempotency_key, **details
        ),
    )
    return await QuotePayload.load(info, done)


@strawberry.type
class QuotesClientFields:
    """The fields this feature adds to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(description="Quotes issued to this client, newest first.")
    async def quotes(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        status: list[QuoteStatus] | None = None,
    ) -> QuoteConnection:

        return await client_quotes(info, self.local_id, first, after, status)


@strawberry.type
class QuotesOverviewFields:
    """The fields this feature adds to a client's overview (composed in schema/client.py)."""

    client_id: strawberry.Private[str]

    @strawberry.field(description="The client's latest quotes (up to 5), newest first.")
    async def latest_quotes(self, info: Info) -> list[Quote]:

        return await latest_quotes(info, self.client_id)
