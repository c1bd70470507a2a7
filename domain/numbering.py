"""Document numbers unique per firm (invoices, quotes): index aggregates and sequences.

A number is reserved by an index aggregate whose id is derived from (kind, firm, number),
saved atomically with the document, so two documents can never share a number. Generated
numbers come from a per-firm sequence aggregate (INV-000001, Q-000001, ...).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import Bookkeeping, DossierAggregate, DossierCreated, DossierEvent
from domain.values import required_text

NUMBER_MAX = 40


class DocumentKind(StrEnum):
    """What a number numbers, with its generated-number prefix."""

    INVOICE = "invoice"
    QUOTE = "quote"

    @property
    def prefix(self) -> str:
        return {DocumentKind.INVOICE: "INV-", DocumentKind.QUOTE: "Q-"}[self]


def _id(*parts: str) -> UUID:
    return uuid5(NAMESPACE_URL, json.dumps(["dossier", *parts]))


def document_number_id(kind: DocumentKind, firm_id: str, number: str) -> UUID:
    """Numbers are unique per firm and kind, ignoring case."""
    return _id(f"{kind.value}-number", firm_id, number.casefold())


def number_sequence_id(kind: DocumentKind, firm_id: str) -> UUID:
    return _id(f"{kind.value}-sequence", firm_id)


def format_document_number(kind: DocumentKind, value: int) -> str:
    return f"{kind.prefix}{value:06d}"


def clean_document_number(number: str) -> str:
    return required_text("input.number", number, NUMBER_MAX)


class DocumentNumber(DossierAggregate):
    """Index aggregate: one per (kind, firm, number), saved with the document it names."""

    class DocumentNumberReserved(DossierCreated, Bookkeeping):
        kind: str
        number: str
        document_id: UUID

    def __init__(self, firm_id: str, kind: str, number: str, document_id: UUID) -> None:
        self.firm_id = firm_id
        self.kind = kind
        self.number = number
        self.document_id = document_id

    @classmethod
    def reserve(
        cls, *, kind: DocumentKind, firm_id: str, number: str, document_id: UUID
    ) -> DocumentNumber:
        return cls._create(
            cls.DocumentNumberReserved,
            id=document_number_id(kind, firm_id, number),
            firm_id=firm_id,
            kind=kind.value,
            number=number,
            document_id=document_id,
        )


class NumberSequence(DossierAggregate):
    """A firm's counter for generated numbers of one kind of document."""

    class NumberSequenceStarted(DossierCreated, Bookkeeping):
        kind: str

    class NumberTaken(DossierEvent, Bookkeeping):
        value: int

        def apply(self, aggregate: Any) -> None:
            aggregate.last = self.value

    def __init__(self, firm_id: str, kind: str) -> None:
        self.firm_id = firm_id
        self.kind = kind
        self.last = 0

    @classmethod
    def start(cls, kind: DocumentKind, firm_id: str) -> NumberSequence:
        return cls._create(
            cls.NumberSequenceStarted,
            id=number_sequence_id(kind, firm_id),
            firm_id=firm_id,
            kind=kind.value,
        )

    def take(self, value: int) -> str:
        """Record `value` as used and return its formatted number."""
        self.trigger_event(self.NumberTaken, value=value)
        return format_document_number(DocumentKind(self.kind), value)
