"""Commands on invoices, payments, client credit and the firm's billing currency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from domain.actor import current_context
from domain.base import DossierAggregate
from domain.billing import ClientAccount, FirmSettings, account_id, firm_settings_id
from domain.client import Client
from domain.errors import RuleViolated
from domain.invoice import Invoice
from domain.lines import Line
from domain.money import clean_amount, quantize
from domain.numbering import DocumentKind
from infra.services.numbering import issue_document
from infra.services.unit_of_work import Change, Commands, Outcome


class BillingService(Commands):
    """Commands on invoices, payments, client credit and the firm's billing currency."""

    def _account(self, client_id: UUID) -> ClientAccount:
        firm = current_context().firm_id
        return self.uow.find(ClientAccount, account_id(firm, client_id)) or ClientAccount.open(
            firm_id=firm, client_id=client_id
        )

    def visible_invoice(self, invoice_id: UUID) -> Invoice:
        """The invoice, if its client is visible to the actor."""
        return self.uow.visible(Invoice, invoice_id)

    def issue_invoice(
        self,
        client_id: UUID,
        *,
        number: str | None,
        issued_on: date,
        due_on: date,
        currency: str,
        lines: list[tuple[str, Decimal | str, Decimal | str]],
        key: str | None = None,
    ) -> Outcome:
        """Issue an OPEN invoice; the number is given (unique per firm) or generated."""
        return self.uow.run(
            "issueInvoice",
            key,
            lambda: self.invoice_change(
                client_id,
                number=number,
                issued_on=issued_on,
                due_on=due_on,
                currency=currency,
                lines=lines,
            ),
        )

    def invoice_change(
        self,
        client_id: UUID,
        *,
        number: str | None,
        issued_on: date,
        due_on: date,
        currency: str,
        lines: list[Line],
    ) -> Change:
        """The unsaved change issuing an invoice (hold rule, numbering); also converts quotes."""
        return issue_document(
            self.uow,
            DocumentKind.INVOICE,
            client_id,
            number,
            on_hold="invoices",
            issue=lambda new: Invoice.issue(
                client_id=new.client.id,
                number=new.number,
                issued_on=issued_on,
                due_on=due_on,
                currency=currency,
                lines=lines,
                invoice_id=new.id,
            ),
        )

    def record_payment(
        self,
        invoice_id: UUID,
        *,
        amount: Decimal | str,
        paid_on: date,
        method: str | None = None,
        reference: str | None = None,
        overpayment_to_credit: bool = False,
        key: str | None = None,
    ) -> Outcome:
        """Record a payment; an explicit over-payment goes to the client's credit."""

        def build() -> Change:
            invoice = self.visible_invoice(invoice_id)
            credited = invoice.record_payment(
                amount=amount,
                paid_on=paid_on,
                method=method,
                reference=reference,
                overpayment_to_credit=overpayment_to_credit,
            )
            changed: list[DossierAggregate] = [invoice]
            if credited > 0:
                account = self._account(invoice.client_id)
                account.add_overpayment(
                    quantize(credited, invoice.currency), invoice.currency, invoice.id
                )
                changed.append(account)
            return Change.of(*changed)

        return self.uow.run("recordPayment", key, build)

    def void_invoice(
        self, invoice_id: UUID, *, reason: str | None, key: str | None = None
    ) -> Outcome:
        return self.uow.change("voidInvoice", key, Invoice, invoice_id, lambda i: i.void(reason))

    def issue_credit_note(
        self,
        client_id: UUID,
        *,
        amount: Decimal | str,
        currency: str,
        reason: str | None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            account = self._account(client.id)
            account.add_credit_note(amount, currency, reason)
            return Change.of(account)

        return self.uow.run("issueCreditNote", key, build)

    def apply_credit(
        self,
        invoice_id: UUID,
        *,
        amount: Decimal | str | None,
        applied_on: date,
        key: str | None = None,
    ) -> Outcome:
        """Pay (part of) an invoice from the client's credit in the invoice's currency."""

        def build() -> Change:
            invoice = self.visible_invoice(invoice_id)
            account = self._account(invoice.client_id)
            available = account.balance(invoice.currency)
            if amount is None:
                value = min(available, invoice.balance)
                if value <= 0:
                    raise RuleViolated(
                        "INSUFFICIENT_CREDIT", f"the client has no {invoice.currency} credit"
                    )
            else:
                value = clean_amount("input.amount", amount, invoice.currency)
            account.apply_credit(value, invoice.currency, invoice.id)
            invoice.record_payment(amount=value, paid_on=applied_on, method="credit")
            return Change.of(account, invoice)

        return self.uow.run("applyCredit", key, build)

    def set_firm_currency(self, currency: str, *, key: str | None = None) -> Outcome:
        firm = current_context().firm_id

        def build() -> Change:
            settings = self.uow.find(FirmSettings, firm_settings_id(firm))
            settings = settings or FirmSettings.create(firm)
            settings.set_currency(currency)
            return Change.of(settings, firm_id=firm)

        return self.uow.run("setFirmCurrency", key, build)
