"""What a projection is: the events it handles and the rows it writes for them."""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar, TypeVar
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.persistence import Notification

from domain.base import DossierEvent

Handler = Callable[[Any, sa.Connection, Any, int], None]
H = TypeVar("H", bound=Handler)

_BOOKKEEPING = {
    "originator_id",
    "originator_version",
    "timestamp",
    "originator_topic",
    "firm_id",
    "actor",
}


def handles(*event_classes: type[DossierEvent]) -> Callable[[H], H]:
    """Mark a projection method as the handler of the given event classes."""

    def mark(method: H) -> H:
        method.__dict__["_handles"] = event_classes
        return method

    return mark


class Projection(ABC):
    """A read model kept by handling events in order, exactly once.

    Subclasses mark handler methods with @handles(EventClass); each handler receives
    the connection of the transaction that also advances the tracking record.
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
