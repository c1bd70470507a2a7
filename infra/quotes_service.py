"""Commands on quotes and service subscriptions.

They run through DossierService._run (atomic save, idempotency records, retries on concurrent
writes) and check the client's visibility like every client command. While a client is on
hold, deliverables are refused with rule CLIENT_ON_HOLD: issuing a quote, converting one into
an invoice (the invoice rule), and starting or resuming a service subscription.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4

from domain.base import DossierAggregate
from domain.errors import NotFound
from domain.invoice import Invoice
from domain.lines import Line
from domain.numbering import DocumentKind
from domain.quote import Quote
from domain.service_plan import ServiceSubscription
from infra.service import BillingService, Change, Commands, DossierService, Outcome

A = TypeVar("A", bound=DossierAggregate)


class _Commands(Commands):
    def __init__(self, dossier: DossierService) -> None:
        self.dossier = dossier

    def _find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        try:
            return self.dossier._get(kind, aggregate_id, kind.__name__)
        except NotFound:
            return None

    def _visible(self, kind: type[A], aggregate_id: UUID, label: str) -> A:
        """The aggregate, if it is of the actor's firm and its client is visible."""
        found: Any = self.dossier._get(kind, aggregate_id, label)
        try:
            self.dossier.visible_client(found.client_id)
        except NotFound:
            raise NotFound(label, str(aggregate_id)) from None
        return found  # type: ignore[no-any-return]


class QuotesService(_Commands):
    """Issue, accept, decline, expire quotes and convert accepted ones into invoices."""

    def get_quote(self, quote_id: UUID) -> Quote:
        return self._visible(Quote, quote_id, "Quote")

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
            client = self.dossier.visible_client(client_id)
            client.refuse_while_on_hold("quotes")
            quote_id = uuid4()
            chosen, numbering = self.dossier.allocate_number(DocumentKind.QUOTE, number, quote_id)
            quote = Quote.issue(
                client_id=client.id,
                number=chosen,
                issued_on=issued_on,
                valid_until=valid_until,
                currency=currency,
                lines=lines,
                quote_id=quote_id,
            )
            ids = {"quote_id": str(quote.id), "client_id": str(client.id)}
            return Change([quote, *numbering], ids)

        return self.dossier._run("issueQuote", key, build)

    def _quote_change(self, operation: str, quote_id: UUID, key: str | None, act: Any) -> Outcome:
        def build() -> Change:
            quote = self.get_quote(quote_id)
            act(quote)
            return Change([quote], {"quote_id": str(quote.id), "client_id": str(quote.client_id)})

        return self.dossier._run(operation, key, build)

    def accept_quote(self, quote_id: UUID, *, on: date, key: str | None = None) -> Outcome:
        return self._quote_change("acceptQuote", quote_id, key, lambda q: q.accept(on))

    def decline_quote(
        self, quote_id: UUID, *, on: date, reason: str | None = None, key: str | None = None
    ) -> Outcome:
        return self._quote_change("declineQuote", quote_id, key, lambda q: q.decline(on, reason))

    def expire_quote(self, quote_id: UUID, *, on: date, key: str | None = None) -> Outcome:
        return self._quote_change("expireQuote", quote_id, key, lambda q: q.expire(on))

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
        billing = BillingService(self.dossier)

        def build() -> Change:
            quote = self.get_quote(quote_id)
            quote.check_convertible()
            change = billing.invoice_change(
                quote.client_id,
                number=number,
                issued_on=issued_on,
                due_on=due_on,
                currency=quote.currency,
                lines=quote.line_tuples(),
            )
            invoice = next(a for a in change.aggregates if isinstance(a, Invoice))
            quote.mark_converted(invoice.id, invoice.number)
            ids = {**change.ids, "quote_id": str(quote.id)}
            return Change([*change.aggregates, quote], ids)

        return self.dossier._run("convertQuote", key, build)


class ServiceSubscriptionsService(_Commands):
    """Start, pause, resume and cancel service subscriptions; count service requests."""

    def get_subscription(self, subscription_id: UUID) -> ServiceSubscription:
        return self._visible(ServiceSubscription, subscription_id, "ServiceSubscription")

    @staticmethod
    def _ids(sub: ServiceSubscription) -> dict[str, str]:
        return {"subscription_id": str(sub.id), "client_id": str(sub.client_id)}

    def start_subscription(
        self,
        client_id: UUID,
        *,
        plan_name: str,
        amount: Decimal | str,
        currency: str,
        interval: str,
        starts_on: date,
        ends_on: date | None = None,
        request_limit: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            client = self.dossier.visible_client(client_id)
            sub = ServiceSubscription.start(
                client_id=client.id,
                plan_name=plan_name,
                amount=amount,
                currency=currency,
                interval=interval,
                starts_on=starts_on,
                ends_on=ends_on,
                request_limit=request_limit,
            )
            client.refuse_while_on_hold("new service subscriptions")
            return Change([sub], self._ids(sub))

        return self.dossier._run("startServiceSubscription", key, build)

    def _change(self, operation: str, subscription_id: UUID, key: str | None, act: Any) -> Outcome:
        def build() -> Change:
            sub = self.get_subscription(subscription_id)
            act(sub)
            return Change([sub], self._ids(sub))

        return self.dossier._run(operation, key, build)

    def pause_subscription(
        self, subscription_id: UUID, *, on: date, key: str | None = None
    ) -> Outcome:
        return self._change("pauseServiceSubscription", subscription_id, key, lambda s: s.pause(on))

    def resume_subscription(
        self, subscription_id: UUID, *, on: date, key: str | None = None
    ) -> Outcome:
        def resume(sub: ServiceSubscription) -> None:
            sub.resume(on)
            self.dossier.visible_client(sub.client_id).refuse_while_on_hold("resumed services")

        return self._change("resumeServiceSubscription", subscription_id, key, resume)

    def cancel_subscription(
        self,
        subscription_id: UUID,
        *,
        on: date,
        reason: str | None = None,
        key: str | None = None,
    ) -> Outcome:
        return self._change(
            "cancelServiceSubscription", subscription_id, key, lambda s: s.cancel(on, reason)
        )

    def record_request(
        self,
        subscription_id: UUID,
        *,
        on: date,
        note: str | None = None,
        key: str | None = None,
    ) -> Outcome:
        return self._change(
            "recordServiceRequest", subscription_id, key, lambda s: s.record_request(on, note)
        )
