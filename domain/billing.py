"""Billing aggregates besides invoices: client credit and the firm's currency."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import (
    Bookkeeping,
    ClientRelatedEvent,
    DossierAggregate,
    DossierCreated,
    DossierEvent,
)
from domain.errors import RuleViolated
from domain.money import check_amount, clean_amount, clean_currency, exact, quantize
from domain.values import REASON_MAX, optional_text


def _id(*parts: str) -> UUID:
    return uuid5(NAMESPACE_URL, json.dumps(["dossier", *parts]))


def account_id(firm_id: str, client_id: UUID) -> UUID:
    return _id("account", firm_id, str(client_id))


def firm_settings_id(firm_id: str) -> UUID:
    return _id("firm-settings", firm_id)


class AccountEvent(ClientRelatedEvent):
    """An event of a client's account."""


class ClientAccount(DossierAggregate):
    """A client's account with the firm: credit balances per currency."""

    class ClientAccountOpened(DossierCreated, Bookkeeping):
        client_id: UUID

    class CreditAdded(AccountEvent):
        amount: str
        currency: str
        source: str  # "credit_note" | "overpayment"
        invoice_id: UUID | None
        reason: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.add(self.currency, Decimal(self.amount))

    class CreditApplied(AccountEvent):
        amount: str
        currency: str
        invoice_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.add(self.currency, -Decimal(self.amount))

    def __init__(self, firm_id: str, client_id: UUID) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.credit: dict[str, str] = {}

    def add(self, currency: str, amount: Decimal) -> None:
        self.credit[currency] = str(quantize(self.balance(currency) + amount, currency))

    def balance(self, currency: str) -> Decimal:
        return Decimal(self.credit.get(currency, "0"))

    @classmethod
    def open(cls, *, firm_id: str, client_id: UUID) -> ClientAccount:
        return cls._create(
            cls.ClientAccountOpened,
            id=account_id(firm_id, client_id),
            firm_id=firm_id,
            client_id=client_id,
        )

    def _check_credit(self, amount: Decimal, currency: str) -> None:
        """A client's credit in one currency stays below MAX_AMOUNT (see domain.money)."""
        with exact():
            after = self.balance(currency) + amount
        check_amount("input.amount", after, currency, "the client's credit")

    def add_credit_note(self, amount: Decimal | str, currency: str, reason: str | None) -> None:
        code = clean_currency("input.currency", currency)
        value = clean_amount("input.amount", amount, code)
        self._check_credit(value, code)
        self.trigger_event(
            self.CreditAdded,
            client_id=self.client_id,
            amount=str(value),
            currency=code,
            source="credit_note",
            invoice_id=None,
            reason=optional_text("input.reason", reason, REASON_MAX, multiline=True),
        )

    def add_overpayment(self, amount: Decimal, currency: str, invoice_id: UUID) -> None:
        self._check_credit(amount, currency)
        self.trigger_event(
            self.CreditAdded,
            client_id=self.client_id,
            amount=str(amount),
            currency=currency,
            source="overpayment",
            invoice_id=invoice_id,
            reason=None,
        )

    def apply_credit(self, amount: Decimal, currency: str, invoice_id: UUID) -> None:
        if amount > self.balance(currency):
            raise RuleViolated(
                "INSUFFICIENT_CREDIT",
                f"the client has {self.balance(currency)} {currency} of credit, not {amount}",
            )
        self.trigger_event(
            self.CreditApplied,
            client_id=self.client_id,
            amount=str(amount),
            currency=currency,
            invoice_id=invoice_id,
        )


class FirmSettings(DossierAggregate):
    """Firm-wide billing settings: the currency of its figures."""

    class FirmSettingsCreated(DossierCreated, Bookkeeping):
        pass

    class FirmCurrencySet(DossierEvent):
        currency: str

        def apply(self, aggregate: Any) -> None:
            aggregate.currency = self.currency

    def __init__(self, firm_id: str) -> None:
        self.firm_id = firm_id
        self.currency: str | None = None

    @classmethod
    def create(cls, firm_id: str) -> FirmSettings:
        return cls._create(cls.FirmSettingsCreated, id=firm_settings_id(firm_id), firm_id=firm_id)

    def set_currency(self, currency: str) -> None:
        code = clean_currency("input.currency", currency)
        if code != self.currency:
            self.trigger_event(self.FirmCurrencySet, currency=code)
