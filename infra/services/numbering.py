"""Document numbers: unique in the firm, given by the caller or taken from a sequence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID, uuid4

from domain.actor import current_context
from domain.base import DossierAggregate
from domain.client import Client
from domain.errors import InvalidInput
from domain.numbering import (
    DocumentKind,
    DocumentNumber,
    NumberSequence,
    clean_document_number,
    document_number_id,
    format_document_number,
    number_sequence_id,
)
from infra.services.unit_of_work import Change, UnitOfWork


def allocate_number(
    uow: UnitOfWork, kind: DocumentKind, given: str | None, document_id: UUID
) -> tuple[str, list[DossierAggregate]]:
    """A number unique in the firm for a new document, and the aggregates reserving it.

    A given number must be free; otherwise the firm's sequence gives the next free one.
    The returned aggregates must be saved together with the document.
    """
    firm = current_context().firm_id

    def taken(number: str) -> bool:
        return uow.find(DocumentNumber, document_number_id(kind, firm, number)) is not None

    changed: list[DossierAggregate] = []
    if given is None:
        sequence = uow.find(NumberSequence, number_sequence_id(kind, firm))
        if sequence is None:
            sequence = NumberSequence.start(kind, firm)
        value = sequence.last + 1
        while taken(format_document_number(kind, value)):
            value += 1
        chosen = sequence.take(value)
        changed.append(sequence)
    else:
        chosen = clean_document_number(given)
        if taken(chosen):
            raise InvalidInput("input.number", f"{kind.value} number {chosen} is already used")
    index = DocumentNumber.reserve(kind=kind, firm_id=firm, number=chosen, document_id=document_id)
    return chosen, [*changed, index]


@dataclass(frozen=True)
class NewDocument:
    """What a new numbered document (invoice, quote) is issued with."""

    client: Client
    id: UUID
    number: str
    reservations: list[DossierAggregate]
    """The aggregates reserving the number: save them with the document."""


def new_document(
    uow: UnitOfWork, kind: DocumentKind, client_id: UUID, given: str | None, *, on_hold: str
) -> NewDocument:
    """A new document for a client the actor may see and that is not on hold (else rule
    CLIENT_ON_HOLD, refusing `on_hold`): its id and its number, given or allocated."""
    client = uow.visible(Client, client_id)
    client.refuse_while_on_hold(on_hold)
    document_id = uuid4()
    number, reservations = allocate_number(uow, kind, given, document_id)
    return NewDocument(client, document_id, number, reservations)


def issue_document(
    uow: UnitOfWork,
    kind: DocumentKind,
    client_id: UUID,
    given: str | None,
    *,
    on_hold: str,
    issue: Callable[[NewDocument], DossierAggregate],
) -> Change:
    """The unsaved change issuing a new numbered document (`new_document`): `issue` creates it
    from the new document's client, id and number; it is saved first, then the aggregates
    reserving its number."""
    new = new_document(uow, kind, client_id, given, on_hold=on_hold)
    return Change.of(issue(new), *new.reservations)
