"""What a projection is: the events it handles and the rows it writes for them."""

from __future__ import annotations

import inspect
from abc import ABC
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from types import UnionType
from typing import (
    Any,
    ClassVar,
    Generic,
    TypeAlias,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    overload,
)
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from domain.base import DossierEvent

E = TypeVar("E")
E1 = TypeVar("E1", bound=DossierEvent)
E2 = TypeVar("E2", bound=DossierEvent)
E3 = TypeVar("E3", bound=DossierEvent)
E4 = TypeVar("E4", bound=DossierEvent)
P = TypeVar("P", bound="Projection")

HandlerOf: TypeAlias = Callable[[P, sa.Connection, E, int], None]
"""A handler method: (projection, connection, event of the classes it handles, position)."""
Handler = HandlerOf[Any, Any]

_BOOKKEEPING = {
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "firm_id",
    "actor",
}


class HandlerMark(Generic[E]):
    """`@handles(...)`: marks a method as the handler of event classes, typed by them.

    The method's event parameter must accept every class given (annotate it with the class, or
    a union of the classes), so mypy checks the handler's body against the event's fields.
    """

    def __init__(self, event_classes: tuple[type[DossierEvent], ...]) -> None:
        self.event_classes = event_classes

    def __call__(self, method: HandlerOf[P, E]) -> HandlerOf[P, E]:
        method.__dict__["_handles"] = self.event_classes
        return method


@overload
def handles(a: type[E1], /) -> HandlerMark[E1]: ...
@overload
def handles(a: type[E1], b: type[E2], /) -> HandlerMark[E1 | E2]: ...
@overload
def handles(a: type[E1], b: type[E2], c: type[E3], /) -> HandlerMark[E1 | E2 | E3]: ...
@overload
def handles(
    a: type[E1], b: type[E2], c: type[E3], d: type[E4], /
) -> HandlerMark[E1 | E2 | E3 | E4]: ...
@overload
def handles(*event_classes: type[DossierEvent]) -> HandlerMark[Any]: ...
def handles(*event_classes: type[DossierEvent]) -> HandlerMark[Any]:
    """Mark a projection method as the handler of the given event classes."""
    return HandlerMark(event_classes)


def annotated_event_types(method: Callable[..., Any]) -> tuple[type[Any], ...] | None:
    """The classes a handler's event parameter is annotated with (None: missing or Any)."""
    parameters = list(inspect.signature(method).parameters)
    if len(parameters) < 3:
        return None
    annotation = get_type_hints(method).get(parameters[2])
    if annotation is None or annotation is Any:
        return None
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    types = members or (annotation,)
    if not all(isinstance(t, type) for t in types):
        return None
    return types


def handler_type_errors(projection: type[Projection]) -> list[str]:
    """Handlers whose annotated event type does not cover the classes they are registered for."""
    errors: list[str] = []
    seen: set[str] = set()
    for attr in projection._handlers.values():
        if attr in seen:
            continue
        seen.add(attr)
        method = getattr(projection, attr)
        where = f"{projection.__module__}.{projection.__qualname__}.{attr}"
        accepted = annotated_event_types(method)
        if accepted is None:
            errors.append(f"{where}: annotate its event parameter with the event class")
            continue
        for event_class in getattr(method, "_handles", ()):
            if not issubclass(event_class, accepted):
                errors.append(
                    f"{where} handles {event_class.__qualname__} but its event parameter is "
                    f"annotated {' | '.join(t.__qualname__ for t in accepted)}"
                )
    return errors


class Projection(ABC):
    """A read model kept by handling events in order, exactly once.

    Subclasses mark handler methods with @handles(EventClass), annotating the event parameter
    with that class (`def issued(self, conn: sa.Connection, e: Invoice.InvoiceIssued,
    position: int) -> None`); each handler receives the connection of the transaction that
    also advances the tracking record. `handler_type_errors` (run over every registered
    projection by tests/unit/test_projection_handlers.py) checks the annotations.
    """

    name: ClassVar[str]
    tables: ClassVar[tuple[sa.Table, ...]]
    _handlers: ClassVar[dict[type[Any], str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[type[Any], str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                for event_class in getattr(value, "_handles", ()):
                    handlers[event_class] = attr
        cls._handlers = handlers

    def process(
        self, conn: sa.Connection, event: Any, position: int, stored: Notification | None = None
    ) -> None:
        """Apply one event (ignoring event types this projection does not handle).

        `stored` is the event as recorded in the store, for projections that need its stored
        form (the audit chain hashes it).
        """
        method = self._handlers.get(type(event))
        if method is not None:
            getattr(self, method)(conn, event, position)

    def concerns(self, event: Any) -> bool:
        """Whether this projection does anything with the event.

        Projections that override `process` may use any event; the others only the event
        classes they have handlers for. (The runner parks an event held behind a parked one
        only for projections it concerns.)
        """
        if type(self).process is not Projection.process:
            return True
        return type(event) in self._handlers

    def clear(self, conn: sa.Connection) -> None:
        """Delete every row this projection wrote (before a rebuild)."""
        for table in reversed(self.tables):
            conn.execute(sa.delete(table))


def jsonable(value: Any) -> Any:
    """Turn a recorded value into plain JSON (ids and times as strings)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def event_data(event: Any) -> dict[str, Any]:
    """The event's own data, as recorded, without the store's bookkeeping."""
    return {k: jsonable(v) for k, v in vars(event).items() if k not in _BOOKKEEPING}
