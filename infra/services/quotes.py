"""Commands on quotes: issue, accept, decline, expire, and convert accepted ones into invoices.

While a client is on hold, issuing a quote is refused with rule CLIENT_ON_HOLD, and so is
converting one (the invoice rule).
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.invoice import Invoice
from domain.lines import Line
from domain.numbering import DocumentKind
from domain.quote import Quote
from infra.services.billing import BillingService
from infra.services.numbering import issue_document
from infra.services.unit_of_work import Change, Commands, Outcome, UnitOfWork


class QuotesService(Commands):
    """Issue, accept, decline, expire quotes and convert accepted ones into invoices."""

    def __init__(self, uow: UnitOfWork, billing: BillingService) -> None:
        super().__init__(uow)
        self.billing = billing

    def get_quote(self, quote_id: UUID) -> Quote:
        return self.uow.visible(Quote, quote_id)

    def issue_quote(
        self,
        client_id: UUID,
        *,
        number: str | None,
        issued_on: date,
        valid_until: date,
        currency: str,
        lines: list[Line],
        key: str | None = None,
    ) -> Outcome:
        """Issue (send) an OPEN quote; the number is given (unique per firm) or generated."""

        def build() -> Change:
            return issue_document(
                self.uow,
                DocumentKind.QUOTE,
                client_id,
                number,
                on_hold="quotes",
                issue=lambda new: Quote.issue(
                    client_id=new.client.id,
                    number=new.number,
                    issued_on=issued_on,
                    valid_until=valid_until,
                    currency=currency,
                    lines=lines,
                    quote_id=new.id,
                ),
            )

        return self.uow.run("issueQuote", key, build)

    def accept_quote(self, quote_id: UUID, *, on: date, key: str | None = None) -> Outcome:
        return self.uow.change("acceptQuote", key, Quote, quote_id, lambda q: q.accept(on))

    def decline_quote(
        self, quote_id: UUID, *, on: date, reason: str | None = None, key: str | None = None
    ) -> Outcome:
        return self.uow.change(
            "declineQuote", key, Quote, quote_id, lambda q: q.decline(on, reason)
        )

    def expire_quote(self, quote_id: UUID, *, on: date, key: str | None = None) -> Outcome:
        return self.uow.change("expireQuote", key, Quote, quote_id, lambda q: q.expire(on))

    def convert_quote(
        self,
        quote_id: UUID,
        *,
        issued_on: date,
        due_on: date,
        number: str | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Issue an invoice with the quote's lines and currency, saved with QuoteConverted.

        The invoice follows BillingService's rules (client on hold, numbering, dates).
        """

        def build() -> Change:
            quote = self.get_quote(quote_id)
            quote.check_convertible()
            change = self.billing.invoice_change(
                quote.client_id,
                number=number,
                issued_on=issued_on,
                due_on=due_on,
                currency=quote.currency,
                lines=quote.line_tuples(),
            )
            invoice = next(a for a in change.aggregates if isinstance(a, Invoice))
            quote.mark_converted(invoice.id, invoice.number)
            return Change.of(*change.aggregates, quote)

        return self.uow.run("convertQuote", key, build)
