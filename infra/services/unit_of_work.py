"""The unit of work: how every command builds its change and saves it.

A command is a public service method with a `key` parameter (see `Commands`). It hands the
unit of work a `build` function (or, for the common "load the visible aggregate, act, save"
command, the aggregate's kind, id and what to do with it). The unit of work saves the change
atomically, with an idempotency record when a key is given, replays an earlier result for a
repeated key, and rebuilds from fresh state after losing a race with a concurrent writer.
Expected failures are domain exceptions; nothing here knows about HTTP or GraphQL.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.access import can_see_client
from domain.actor import current_context
from domain.base import DossierAggregate
from domain.client import Client
from domain.comment import Comment
from domain.contact import Contact
from domain.errors import (
    DomainError,
    IdempotencyKeyReused,
    InvalidInput,
    NotFound,
    WriteContention,
)
from domain.idempotency import IdempotencyRecord, idempotency_id
from domain.invoice import Invoice
from domain.organization import LinkedOrganization
from domain.quote import Quote
from domain.service_plan import ServiceSubscription
from domain.staff import StaffMember
from infra.eventstore import EventStore

A = TypeVar("A", bound=DossierAggregate)
F = TypeVar("F", bound=Callable[..., Any])

MAX_ATTEMPTS = 40
"""Saves tried per command; each lost race means another writer's save succeeded."""
BACKOFF_FIRST = 0.002
BACKOFF_MAX = 0.05
MAX_KEY_LENGTH = 200

ID_NAMES: dict[type[DossierAggregate], str] = {
    Client: "client_id",
    Contact: "contact_id",
    Comment: "comment_id",
    StaffMember: "staff_member_id",
    Invoice: "invoice_id",
    Quote: "quote_id",
    ServiceSubscription: "subscription_id",
    LinkedOrganization: "organization_id",
}
"""The name under which a command reports the id of an aggregate it changed. An aggregate
about a client (an invoice, a quote...) also reports its `client_id`, which lets a replay
re-check that the viewer may still see that client. Idempotency records store these names:
they must not change."""


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

    @classmethod
    def of(cls, *aggregates: DossierAggregate, **extra: str) -> Change:
        """The change saving `aggregates` in this order (the last one's event is the
        command's position), reporting their ids under `ID_NAMES` and then `extra`."""
        ids: dict[str, str] = {}
        for aggregate in aggregates:
            name = ID_NAMES.get(type(aggregate))
            if name is not None:
                ids[name] = str(aggregate.id)
            client_id = getattr(aggregate, "client_id", None)
            if isinstance(client_id, UUID):
                ids.setdefault("client_id", str(client_id))
        return cls(list(aggregates), {**ids, **extra})


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
    """Run `method` with its arguments (minus self, key and unset ones) visible to `run`."""
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
    """Base of the application services: each works through the one unit of work.

    Every public method with a `key` parameter is a command: its arguments are what an
    idempotency key is bound to. Arguments left at None are omitted, so adding an optional
    parameter later does not change the fingerprint of older requests.
    """

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.store = uow.store

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


class UnitOfWork:
    """Loads aggregates as the acting viewer may see them and saves a command's change."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    # Loading ----------------------------------------------------------------

    def get(self, kind: type[A], aggregate_id: UUID, label: str | None = None) -> A:
        """The aggregate of `kind` in the actor's firm; NotFound (named `label`) otherwise."""
        label = label or kind.__name__
        try:
            aggregate: Any = self.store.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(label, str(aggregate_id)) from None
        if not isinstance(aggregate, kind) or aggregate.firm_id != current_context().firm_id:
            raise NotFound(label, str(aggregate_id))
        return aggregate

    def find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate of `kind` in the actor's firm, or None."""
        try:
            return self.get(kind, aggregate_id)
        except NotFound:
            return None

    def visible(self, kind: type[A], aggregate_id: UUID) -> A:
        """The client, or the aggregate about a client (its `client_id`), if the actor may
        see that client; otherwise NotFound, exactly as for one that does not exist."""
        aggregate = self.get(kind, aggregate_id)
        client: Any = aggregate
        if not isinstance(aggregate, Client):
            client_id = getattr(aggregate, "client_id", None)
            if not isinstance(client_id, UUID):  # pragma: no cover - a programming error
                raise TypeError(f"{kind.__name__} is not about a client")
            client = self.find(Client, client_id)
        ctx = current_context()
        if client is None or not can_see_client(ctx.role, ctx.actor.id, client.team):
            raise NotFound(kind.__name__, str(aggregate_id))
        return aggregate

    # Commands ---------------------------------------------------------------

    def change(
        self,
        operation: str,
        key: str | None,
        kind: type[A],
        aggregate_id: UUID,
        act: Callable[[A], object],
        *,
        expected_version: int | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> Outcome:
        """Load the visible aggregate, check its version, act on it, save it: most commands
        are exactly this. The outcome reports its ids (see `Change.of`) and `extra`."""

        def alone(aggregate: A) -> tuple[DossierAggregate, ...]:
            act(aggregate)
            return ()

        return self.change_with(
            operation,
            key,
            kind,
            aggregate_id,
            alone,
            expected_version=expected_version,
            extra=extra,
        )

    def change_with(
        self,
        operation: str,
        key: str | None,
        kind: type[A],
        aggregate_id: UUID,
        act: Callable[[A], Iterable[DossierAggregate]],
        *,
        expected_version: int | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> Outcome:
        """`change`, where `act` returns the other aggregates saved with it in the same
        transaction (an index, notifications...): saved before it, so that its event stays the
        command's position."""

        def build() -> Change:
            aggregate = self.visible(kind, aggregate_id)
            aggregate.check_version(expected_version)
            return Change.of(*act(aggregate), aggregate, **(extra or {}))

        return self.run(operation, key, build)

    def run(self, operation: str, key: str | None, build: Callable[[], Change]) -> Outcome:
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
            marker = pending[0].pending_events[0]
            try:
                recordings = self.store.save(*pending)
            except IntegrityError:
                if self._landed(marker):
                    # Our own commit went through and only its acknowledgement was lost (the
                    # recorder retried an insert the server had already committed): it must
                    # not be rebuilt and saved a second time.
                    return Outcome(change.ids, position=self.store.head())
                # Another writer saved one of these aggregates (or index ids) first.
                backoff(attempt)
                continue
            positions = tuple(sorted(r.notification.id for r in recordings))
            return Outcome(change.ids, positions[-1] if positions else None, positions=positions)
        raise WriteContention(
            f"{operation} lost {MAX_ATTEMPTS} races with concurrent writers and recorded "
            "nothing; repeat the request"
        )

    def _landed(self, marker: Any) -> bool:
        """Whether this very event (same aggregate, version, type and timestamp) is stored."""
        version = int(marker.originator_version)
        stored = self.store.recorder.select_events(
            marker.originator_id, gt=version - 1, lte=version
        )
        if not stored:
            return False
        recorded: Any = self.store.mapper.to_domain_event(stored[0])
        return type(recorded) is type(marker) and recorded.timestamp == marker.timestamp

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
            self.visible(Client, UUID(result["client_id"]))
        # Wait for the read models to include everything up to now (the first request may
        # still be waiting for its own events to be projected).
        return Outcome(result, position=self.store.head(), replayed=True)
