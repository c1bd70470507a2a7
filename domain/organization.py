"""Linked accounting organizations of a client, and their general-ledger balances."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import insights
from domain.base import ClientRelatedEvent, DossierAggregate, DossierCreated
from domain.errors import InvalidInput, LimitExceeded, NotFound, RuleViolated
from domain.money import MONEY_TEXT_MAX, parse_money_text
from domain.values import NAME_MAX, REASON_MAX, optional_text, required_text

EXTERNAL_ID_MAX = 100
ACCOUNT_MAX = 200
IMPORT_BATCH_MAX = 5000
BALANCE_LIMIT = Decimal("1000000000000000")  # 10^15, either sign
BALANCE_PLACES = 2
_NOT_FINITE = frozenset({"inf", "infinity", "nan", "snan"})


class AccountingProvider(StrEnum):
    """The accounting system an organization lives in."""

    ZOHO_BOOKS = "ZOHO_BOOKS"
    XERO = "XERO"
    QUICKBOOKS = "QUICKBOOKS"
    SAGE = "SAGE"
    OTHER = "OTHER"


PROVIDER_LABELS = {
    AccountingProvider.ZOHO_BOOKS: "Zoho Books",
    AccountingProvider.XERO: "Xero",
    AccountingProvider.QUICKBOOKS: "QuickBooks",
    AccountingProvider.SAGE: "Sage",
    AccountingProvider.OTHER: "accounting",
}


def organization_id(firm_id: str, client_id: UUID, provider: str, external_id: str) -> UUID:
    """Deterministic id of the link between a client and one provider's organization."""
    key = ["dossier:linked-organization", firm_id, str(client_id), provider, external_id]
    return uuid5(NAMESPACE_URL, json.dumps(key))


# Validation of ledger values (shared with the CSV import) ---------------------


def clean_account(field: str, account: str) -> str:
    return required_text(field, account, ACCOUNT_MAX)


def clean_period(field: str, period: str) -> str:
    text = period.strip()
    if not insights.is_period(text):
        raise InvalidInput(field, f"{period!r} is not a period in the form YYYY-MM")
    return text


def clean_balance(field: str, balance: Decimal | str) -> Decimal:
    """A finite amount with at most 2 decimal places, quantized to cents.

    A string must be a plain money string (see domain.money.parse_money_text).
    """
    if isinstance(balance, Decimal):
        number = balance
        text = str(balance)
    else:
        text = str(balance).strip()
        parsed = parse_money_text(text)
        if parsed is None:
            shown = repr(text[:MONEY_TEXT_MAX])
            if text.lstrip("+-").lower() in _NOT_FINITE:
                raise InvalidInput(field, f"{shown} is not a finite number")
            raise InvalidInput(field, f"{shown} is not a decimal number")
        number = parsed
    if not number.is_finite():
        raise InvalidInput(field, f"{text!r} is not a finite number")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > BALANCE_PLACES:
        raise InvalidInput(field, f"balances have at most {BALANCE_PLACES} decimal places")
    if abs(number) >= BALANCE_LIMIT:
        raise InvalidInput(field, "the balance is too large")
    return (
        abs(number).quantize(insights.CENT) if number.is_zero() else number.quantize(insights.CENT)
    )


def clean_balances(
    field: str, rows: Iterable[tuple[str, str, Decimal | str]]
) -> list[dict[str, Any]]:
    """Validate a batch: every row well formed and no (account, period) twice."""
    cleaned: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for n, (account, period, balance) in enumerate(rows):
        key = (
            clean_account(f"{field}.{n}.account", account),
            clean_period(f"{field}.{n}.period", period),
        )
        item = {
            "account": key[0],
            "period": key[1],
            "balance": clean_balance(f"{field}.{n}.balance", balance),
        }
        if key in seen:
            raise InvalidInput(
                f"{field}.{n}",
                f"{key[0]} {key[1]} appears twice in the batch (items {seen[key]} and {n})",
            )
        seen[key] = n
        cleaned.append(item)
    if not cleaned:
        raise InvalidInput(field, "give at least one balance")
    if len(cleaned) > IMPORT_BATCH_MAX:
        raise LimitExceeded(
            IMPORT_BATCH_MAX, f"a batch can hold at most {IMPORT_BATCH_MAX} balances"
        )
    return cleaned


# The aggregate ------------------------------------------------------------------


class OrganizationEvent(ClientRelatedEvent):
    """An event of a linked organization; it is about the organization's client."""


class LinkedOrganization(DossierAggregate):
    """A client's organization in an accounting system, linked or unlinked, with its ledger."""

    class OrganizationLinked(DossierCreated, OrganizationEvent):
        provider: str
        external_id: str
        name: str

    class OrganizationRelinked(OrganizationEvent):
        name: str

        def apply(self, aggregate: Any) -> None:
            aggregate.linked = True
            aggregate.name = self.name

    class OrganizationUnlinked(OrganizationEvent):
        staff_lost_access: list[str]

        def apply(self, aggregate: Any) -> None:
            aggregate.linked = False

    class LedgerBalancesImported(OrganizationEvent):
        balances: list[dict[str, Any]]  # account, period, balance (an exact decimal string)
        source: str | None

        def apply(self, aggregate: Any) -> None:
            for item in self.balances:
                aggregate.balances.setdefault(item["account"], {})[item["period"]] = Decimal(
                    item["balance"]
                )

    class LedgerAlertAcknowledged(OrganizationEvent):
        account: str
        period: str
        change: str  # exact decimal, as a string
        note: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.acknowledged.setdefault(self.account, []).append(self.period)

    def __init__(
        self, firm_id: str, client_id: UUID, provider: str, external_id: str, name: str
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.provider = provider
        self.external_id = external_id
        self.name = name
        self.linked = True
        self.balances: dict[str, dict[str, Decimal]] = {}
        self.acknowledged: dict[str, list[str]] = {}

    # Commands ---------------------------------------------------------------

    @classmethod
    def link(
        cls,
        *,
        firm_id: str,
        client_id: UUID,
        provider: AccountingProvider,
        external_id: str,
        name: str,
    ) -> LinkedOrganization:
        """Link a new organization (use `relink` when this link existed before)."""
        provider = AccountingProvider(provider)
        external = required_text("input.externalId", external_id, EXTERNAL_ID_MAX)
        return cls._create(
            cls.OrganizationLinked,
            id=organization_id(firm_id, client_id, provider.value, external),
            client_id=client_id,
            provider=provider.value,
            external_id=external,
            name=required_text("input.name", name, NAME_MAX),
        )

    def relink(self, name: str) -> None:
        """Link this organization again after it was unlinked."""
        cleaned = required_text("input.name", name, NAME_MAX)
        if self.linked:
            raise RuleViolated(
                "ALREADY_LINKED", f"the organization {self.name} is already linked to this client"
            )
        self.trigger_event(self.OrganizationRelinked, client_id=self.client_id, name=cleaned)

    def unlink(self, team_user_ids: Iterable[str]) -> None:
        """Unlink; the client's team at this moment loses access to the organization."""
        self._require_linked()
        self.trigger_event(
            self.OrganizationUnlinked,
            client_id=self.client_id,
            staff_lost_access=sorted(team_user_ids),
        )

    def import_balances(
        self, rows: Iterable[tuple[str, str, Decimal | str]], source: str | None = None
    ) -> int:
        """Record a batch of balances (later imports of an account and period replace it)."""
        cleaned = clean_balances("input.balances", rows)
        self._require_linked()
        self.trigger_event(
            self.LedgerBalancesImported,
            client_id=self.client_id,
            balances=[{**item, "balance": str(item["balance"])} for item in cleaned],
            source=optional_text("input.source", source, NAME_MAX),
        )
        return len(cleaned)

    def acknowledge_alert(self, account: str, period: str, note: str | None) -> None:
        """Acknowledge a current alert; it then stays hidden unless asked for."""
        self._require_linked()
        finding = self.finding(account, period)
        if finding is None or not finding.alert:
            raise NotFound("LedgerAlert", f"{account} {period}")
        if period in self.acknowledged.get(account, []):
            raise RuleViolated(
                "ALREADY_ACKNOWLEDGED", f"the alert on {account} for {period} is acknowledged"
            )
        self.trigger_event(
            self.LedgerAlertAcknowledged,
            client_id=self.client_id,
            account=account,
            period=period,
            change=str(finding.change),
            note=optional_text("input.note", note, REASON_MAX, multiline=True),
        )

    # Queries ----------------------------------------------------------------

    def finding(self, account: str, period: str) -> insights.Finding | None:
        series = self.balances.get(account)
        if series is None or not insights.is_period(period):
            return None
        return insights.evaluate(account, series, period)

    def _require_linked(self) -> None:
        if not self.linked:
            raise RuleViolated(
                "NOT_LINKED", f"the organization {self.name} is not linked to its client"
            )
