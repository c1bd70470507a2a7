"""The application service: commands take ids and plain values and return ids.

Every command runs inside `domain.actor.acting_as(...)`, which stamps the actor and firm on
the events and supplies the role used for visibility. Expected failures are domain
exceptions; nothing here knows about HTTP or GraphQL.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import random
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.access import can_see_client, sees_all_clients
from domain.actor import current_context
from domain.base import DossierAggregate
from domain.billing import (
    ClientAccount,
    FirmSettings,
    account_id,
    firm_settings_id,
)
from domain.client import Client
from domain.comment import Comment
from domain.contact import Contact
from domain.contact_links import ContactLinks, contact_links_id
from domain.errors import (
    DomainError,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    RuleViolated,
    VersionConflict,
    WriteContention,
)
from domain.idempotency import IdempotencyRecord, idempotency_id
from domain.invoice import Invoice
from domain.lines import Line
from domain.money import clean_amount, quantize
from domain.numbering import (
    DocumentKind,
    DocumentNumber,
    NumberSequence,
    clean_document_number,
    document_number_id,
    format_document_number,
    number_sequence_id,
)
from domain.staff import StaffMember, staff_member_id
from domain.values import ClientType, StaffRole
from infra.eventstore import EventStore

A = TypeVar("A", bound=DossierAggregate)
F = TypeVar("F", bound=Callable[..., Any])

MAX_ATTEMPTS = 40
"""Saves tried per command; each lost race means another writer's save succeeded."""
BACKOFF_FIRST = 0.002
BACKOFF_MAX = 0.05
MAX_KEY_LENGTH = 200


def backoff(attempt: int) -> None:
    """Sleep before retry `attempt + 1`: full jitter, doubling from 2 ms up to 50 ms."""
    ceiling = min(BACKOFF_MAX, BACKOFF_FIRST * 2**attempt)
    time.sleep(random.uniform(0, ceiling))


@dataclass(frozen=True)
class Outcome:
    """What a command did: the ids it touched and the last position it recorded."""

    ids: dict[str, str]
    position: int | None = None
    replayed: bool = False
    positions: tuple[int, ...] = ()
    """Every position the command recorded (empty for a replay or a no-op)."""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Change:
    """Aggregates with pending events and the ids a command reports."""

    aggregates: list[DossierAggregate]
    ids: dict[str, str]


# Idempotency fingerprints ---------------------------------------------------------------


def canonical(value: Any) -> Any:
    """A command argument as plain JSON data: equal arguments give equal data.

    Decimals keep their exact text ("10.0" and "10.00" differ: a retry sends the same input).
    """
    if isinstance(value, Enum):
        return canonical(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    raise TypeError(f"no canonical form for a command argument of type {type(value).__name__}")


def request_fingerprint(operation: str, arguments: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the operation and its arguments (key excluded)."""
    document = json.dumps(
        {"operation": operation, "input": canonical(arguments)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    # surrogatepass: a lone surrogate (refused later by validation) must not crash the hash.
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


_command_arguments: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "dossier_command_arguments", default=None
)


def _command(method: F) -> F:
    """Run `method` with its arguments (minus self, key and unset ones) visible to `_run`."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def command(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = {
            name: value
            for name, value in list(bound.arguments.items())[1:]  # without self
            if name != "key" and value is not None
        }
        token = _command_arguments.set(arguments)
        try:
            return method(*args, **kwargs)
        finally:
            _command_arguments.reset(token)

    return command  # type: ignore[return-value]


class Commands:
    """Base of the application services.

    Every public method with a `key` parameter is a command: its arguments are what an
    idempotency key is bound to. Arguments left at None are omitted, so adding an optional
    parameter later does not change the fingerprint of older requests.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if name.startswith("_") or not inspect.isfunction(member):
                continue
            if "key" in inspect.signature(member).parameters:
                setattr(cls, name, _command(member))


@dataclass(frozen=True)
class KeyedRequest:
    """A command carrying an idempotency key: where its record lives and what it binds."""

    record_id: UUID
    firm_id: str
    viewer_id: str
    key: str
    operation: str
    fingerprint: str

    def record(self, result: dict[str, str]) -> IdempotencyRecord:
        return IdempotencyRecord.record(
            firm_id=self.firm_id,
            viewer_id=self.viewer_id,
            key=self.key,
            operation=self.operation,
            result=result,
            fingerprint=self.fingerprint,
        )


class DossierService(Commands):
    """Commands on clients, contacts, staff and comments."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    # Loading ----------------------------------------------------------------

    def _get(self, kind: type[A], aggregate_id: UUID, label: str) -> A:
        try:
            aggregate: Any = self.store.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(label, str(aggregate_id)) from None
        if not isinstance(aggregate, kind) or aggregate.firm_id != current_context().firm_id:
            raise NotFound(label, str(aggregate_id))
        return aggregate

    def visible_client(self, client_id: UUID) -> Client:
        """The client, if it exists in the actor's firm and the actor may see it."""
        client = self._get(Client, client_id, "Client")
        ctx = current_context()
        if not can_see_client(ctx.role, ctx.actor.id, client.team):
            raise NotFound("Client", str(client_id))
        return client

    def get_contact(self, contact_id: UUID) -> Contact:
        return self._get(Contact, contact_id, "Contact")

    def visible_contact(self, contact_id: UUID) -> Contact:
        """The contact, if it is in the actor's firm and the actor may see it: firm-wide roles
        see every contact of the firm, agents only those linked to a client they may see.
        Otherwise NotFound, exactly as for a contact that does not exist."""
        contact = self.get_contact(contact_id)
        ctx = current_context()
        if sees_all_clients(ctx.role):
            return contact
        links = self._contact_links(contact_id)
        for linked_id in links.client_ids if links is not None else ():
            try:
                client = self._get(Client, UUID(linked_id), "Client")
            except NotFound:  # pragma: no cover - the index only names the firm's clients
                continue
            if can_see_client(ctx.role, ctx.actor.id, client.team):
                return contact
        raise NotFound("Contact", str(contact_id))

    def _contact_links(self, contact_id: UUID) -> ContactLinks | None:
        """The index of the clients a contact is linked to (None for a contact linked only
        before the index existed)."""
        try:
            return self._get(
                ContactLinks, contact_links_id(current_context().firm_id, contact_id), "Contact"
            )
        except NotFound:
            return None

    def find_staff(self, user_id: str) -> StaffMember | None:
        try:
            return self._get(
                StaffMember, staff_member_id(current_context().firm_id, user_id), "StaffMember"
            )
        except NotFound:
            return None

    # The unit of work -------------------------------------------------------

    def _run(self, operation: str, key: str | None, build: Callable[[], Change]) -> Outcome:
        """Build a change and save it atomically, with its idempotency record if a key is given.

        A save that loses a race with a concurrent writer (the event store's unique
        constraint on an aggregate version, or on a uuid5 index such as the key's own record)
        is rebuilt from fresh state after a short jittered backoff, up to MAX_ATTEMPTS times:
        without an expected version the command then applies on top of the winner's change;
        with one, `check_version` reports the conflict. A key is bound to the request's
        fingerprint (operation and input): the same request replays the first result, another
        one is refused with `IdempotencyKeyReused` and records nothing.
        """
        request = self._request(operation, key)
        for attempt in range(MAX_ATTEMPTS):
            if request is not None:
                replay = self._replay(request)
                if replay is not None:
                    return replay
            try:
                change = build()
            except DomainError:
                # A concurrent request with the same key may have just succeeded.
                replay = self._replay(request) if request is not None else None
                if replay is not None:
                    return replay
                raise
            pending = [a for a in change.aggregates if a.pending_events]
            if request is not None:
                pending.append(request.record(change.ids))
            if not pending:
                return Outcome(change.ids)
            try:
                recordings = self.store.save(*pending)
            except IntegrityError:
                # Another writer saved one of these aggregates (or index ids) first.
                backoff(attempt)
                continue
            positions = tuple(sorted(r.notification.id for r in recordings))
            return Outcome(change.ids, positions[-1] if positions else None, positions=positions)
        raise WriteContention(
            f"{operation} lost {MAX_ATTEMPTS} races with concurrent writers and recorded "
            "nothing; repeat the request"
        )

    def _request(self, operation: str, key: str | None) -> KeyedRequest | None:
        """The idempotency record's id and the request's fingerprint, for a keyed command."""
        if key is None:
            return None
        if not key:
            raise InvalidInput("input.idempotencyKey", "idempotencyKey must not be empty")
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidInput("input.idempotencyKey", "idempotencyKey is too long")
        arguments = _command_arguments.get()
        if arguments is None:  # pragma: no cover - a programming error
            raise RuntimeError(f"{operation} takes a key but is not a service command")
        ctx = current_context()
        return KeyedRequest(
            record_id=idempotency_id(ctx.firm_id, ctx.actor.id, key),
            firm_id=ctx.firm_id,
            viewer_id=ctx.actor.id,
            key=key,
            operation=operation,
            fingerprint=request_fingerprint(operation, arguments),
        )

    def _replay(self, request: KeyedRequest) -> Outcome | None:
        try:
            record: Any = self.store.repository.get(request.record_id)
        except AggregateNotFoundError:
            return None
        assert isinstance(record, IdempotencyRecord)
        if record.operation != request.operation:
            raise IdempotencyKeyReused("this idempotencyKey was already used for another mutation")
        if not record.matches(request.operation, request.fingerprint):
            raise IdempotencyKeyReused(
                "this idempotencyKey was already used with different input; nothing was recorded"
            )
        result = dict(record.result)
        if "client_id" in result:
            # The viewer may have lost sight of the client since: say nothing about it.
            self.visible_client(UUID(result["client_id"]))
        # Wait for the read models to include everything up to now (the first request may
        # still be waiting for its own events to be projected).
        return Outcome(result, position=self.store.head(), replayed=True)

    # Document numbers -------------------------------------------------------

    def allocate_number(
        self, kind: DocumentKind, given: str | None, document_id: UUID
    ) -> tuple[str, list[DossierAggregate]]:
        """A number unique in the firm for a new document, and the aggregates reserving it.

        A given number must be free; otherwise the firm's sequence gives the next free one.
        The returned aggregates must be saved together with the document.
        """
        firm = current_context().firm_id

        def taken(number: str) -> bool:
            try:
                self._get(DocumentNumber, document_number_id(kind, firm, number), "Number")
            except NotFound:
                return False
            return True

        changed: list[DossierAggregate] = []
        if given is None:
            sequence: NumberSequence
            try:
                sequence = self._get(NumberSequence, number_sequence_id(kind, firm), "Sequence")
            except NotFound:
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
        index = DocumentNumber.reserve(
            kind=kind, firm_id=firm, number=chosen, document_id=document_id
        )
        return chosen, [*changed, index]

    # Staff ------------------------------------------------------------------

    def add_staff_member(
        self, *, user_id: str, name: str, email: str, role: StaffRole, key: str | None = None
    ) -> Outcome:
        ctx = current_context()

        def build() -> Change:
            member = StaffMember.add(
                firm_id=ctx.firm_id, user_id=user_id, name=name, email=email, role=role
            )
            existing = self.find_staff(member.user_id)
            if existing is not None:
                raise VersionConflict(
                    0, existing.version, f"{member.user_id} is already a member of the staff"
                )
            return Change([member], {"staff_member_id": str(member.id)})

        return self._run("addStaffMember", key, build)

    # Clients ----------------------------------------------------------------

    def register_client(
        self,
        *,
        name: str,
        client_type: ClientType,
        tags: list[str] | None = None,
        address: dict[str, str | None] | None = None,
        custom_fields: list[tuple[str, str | None]] | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            client = Client.register(
                name=name,
                client_type=client_type,
                tags=tags,
                address=address,
                custom_fields=custom_fields,
            )
            return Change([client], {"client_id": str(client.id)})

        return self._run("registerClient", key, build)

    def _client_change(
        self,
        operation: str,
        client_id: UUID,
        expected_version: int | None,
        key: str | None,
        change: Callable[[Client], None],
    ) -> Outcome:
        def build() -> Change:
            client = self.visible_client(client_id)
            client.check_version(expected_version)
            change(client)
            return Change([client], {"client_id": str(client.id)})

        return self._run(operation, key, build)

    def update_client_details(
        self,
        client_id: UUID,
        *,
        expected_version: int | None = None,
        name: str | None = None,
        client_type: ClientType | None = None,
        tags: list[str] | None = None,
        address: dict[str, str | None] | None = None,
        custom_fields: list[tuple[str, str | None]] | None = None,
        key: str | None = None,
    ) -> Outcome:
        return self._client_change(
            "updateClientDetails",
            client_id,
            expected_version,
            key,
            lambda c: c.update_details(
                name=name,
                client_type=client_type,
                tags=tags,
                address=address,
                custom_fields=custom_fields,
            ),
        )

    def link_contact(
        self,
        client_id: UUID,
        *,
        contact_id: UUID | None = None,
        new_contact: dict[str, Any] | None = None,
        description: str | None = None,
        expected_version: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Link an existing contact, or create one and link it, in one atomic save."""
        if (contact_id is None) == (new_contact is None):
            raise InvalidInput("input", "give exactly one of contactId and newContact")

        def build() -> Change:
            client = self.visible_client(client_id)
            client.check_version(expected_version)
            if contact_id is not None:
                # Only a contact the actor may already see: linking is no way to read one.
                contact = self.visible_contact(contact_id)
                links = self._contact_links(contact.id)
            else:
                assert new_contact is not None
                contact = Contact.create(**new_contact)
                links = None
            client.link_contact(contact.id, description)
            if links is None:  # a new contact, or one linked before the index existed
                links = ContactLinks.start(contact.id, client.id)
            else:
                links.linked(client.id)
            ids = {"client_id": str(client.id), "contact_id": str(contact.id)}
            # The client's event last: the command's position is the link's.
            return Change([contact, links, client], ids)

        return self._run("linkContact", key, build)

    def unlink_contact(
        self,
        client_id: UUID,
        contact_id: UUID,
        *,
        expected_version: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            client = self.visible_client(client_id)
            client.check_version(expected_version)
            client.unlink_contact(contact_id)
            changed: list[DossierAggregate] = []
            links = self._contact_links(contact_id)
            if links is not None:
                links.unlinked(client.id)
                changed.append(links)
            return Change([*changed, client], {"client_id": str(client.id)})

        return self._run("unlinkContact", key, build)

    def assign_team_member(
        self,
        client_id: UUID,
        user_id: str,
        *,
        expected_version: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        def assign(client: Client) -> None:
            if self.find_staff(user_id) is None:
                raise NotFound("StaffMember", user_id)
            client.assign_team_member(user_id)

        return self._client_change("assignTeamMember", client_id, expected_version, key, assign)

    def remove_team_member(
        self,
        client_id: UUID,
        user_id: str,
        *,
        expected_version: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        return self._client_change(
            "removeTeamMember",
            client_id,
            expected_version,
            key,
            lambda c: c.remove_team_member(user_id),
        )

    def put_client_on_hold(
        self,
        client_id: UUID,
        *,
        reason: str | None = None,
        expected_version: int | None = None,
        key: str | None = None,
    ) -> Outcome:
        return self._client_change(
            "putClientOnHold", client_id, expected_version, key, lambda c: c.put_on_hold(reason)
        )

    def release_client_hold(
        self, client_id: UUID, *, expected_version: int | None = None, key: str | None = None
    ) -> Outcome:
        return self._client_change(
            "releaseClientHold", client_id, expected_version, key, lambda c: c.release_hold()
        )

    # Comments ---------------------------------------------------------------

    def add_comment(self, client_id: UUID, body: str, *, key: str | None = None) -> Outcome:
        def build() -> Change:
            client = self.visible_client(client_id)
            comment = Comment.add(client_id=client.id, body=body)
            return Change([comment], {"client_id": str(client.id), "comment_id": str(comment.id)})

        return self._run("addComment", key, build)


def invoice_ids(invoice: Invoice) -> dict[str, str]:
    """What an invoice command reports (the client id lets a replay re-check visibility)."""
    return {"invoice_id": str(invoice.id), "client_id": str(invoice.client_id)}


class BillingService(Commands):
    """Commands on invoices, payments, client credit and the firm's billing currency."""

    def __init__(self, core: DossierService) -> None:
        self.core = core
        self.store = core.store

    def _find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        try:
            return self.core._get(kind, aggregate_id, kind.__name__)
        except NotFound:
            return None

    def _account(self, client_id: UUID) -> ClientAccount:
        firm = current_context().firm_id
        return self._find(ClientAccount, account_id(firm, client_id)) or ClientAccount.open(
            firm_id=firm, client_id=client_id
        )

    def visible_invoice(self, invoice_id: UUID) -> Invoice:
        """The invoice, if its client is visible to the actor."""
        invoice = self.core._get(Invoice, invoice_id, "Invoice")
        try:
            self.core.visible_client(invoice.client_id)
        except NotFound:
            raise NotFound("Invoice", str(invoice_id)) from None
        return invoice

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
        return self.core._run(
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
        client = self.core.visible_client(client_id)
        client.refuse_while_on_hold("invoices")
        invoice_id = uuid4()
        chosen, numbering = self.core.allocate_number(DocumentKind.INVOICE, number, invoice_id)
        invoice = Invoice.issue(
            client_id=client.id,
            number=chosen,
            issued_on=issued_on,
            due_on=due_on,
            currency=currency,
            lines=lines,
            invoice_id=invoice_id,
        )
        ids = {"invoice_id": str(invoice.id), "client_id": str(client.id)}
        return Change([invoice, *numbering], ids)

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
            return Change(changed, invoice_ids(invoice))

        return self.core._run("recordPayment", key, build)

    def void_invoice(
        self, invoice_id: UUID, *, reason: str | None, key: str | None = None
    ) -> Outcome:
        def build() -> Change:
            invoice = self.visible_invoice(invoice_id)
            invoice.void(reason)
            return Change([invoice], invoice_ids(invoice))

        return self.core._run("voidInvoice", key, build)

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
            client = self.core.visible_client(client_id)
            account = self._account(client.id)
            account.add_credit_note(amount, currency, reason)
            return Change([account], {"client_id": str(client.id)})

        return self.core._run("issueCreditNote", key, build)

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
            return Change([account, invoice], invoice_ids(invoice))

        return self.core._run("applyCredit", key, build)

    def set_firm_currency(self, currency: str, *, key: str | None = None) -> Outcome:
        firm = current_context().firm_id

        def build() -> Change:
            settings = self._find(FirmSettings, firm_settings_id(firm)) or FirmSettings.create(firm)
            settings.set_currency(currency)
            return Change([settings], {"firm_id": firm})

        return self.core._run("setFirmCurrency", key, build)
