"""Who acts: the actor and firm stamped on every event, from a request-scoped context."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ActorKind(StrEnum):
    """What kind of party performed an action."""

    STAFF = "STAFF"
    CONTACT = "CONTACT"
    SYSTEM = "SYSTEM"


@dataclass(frozen=True)
class Actor:
    """A staff member, a client's contact, or the system, with an optional impersonator."""

    id: str
    kind: ActorKind
    name: str | None = None
    impersonated_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.name,
            "impersonated_by": self.impersonated_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        return cls(
            id=str(data["id"]),
            kind=ActorKind(data["kind"]),
            name=data.get("name"),
            impersonated_by=data.get("impersonated_by"),
        )


SYSTEM_ACTOR = Actor(id="system", kind=ActorKind.SYSTEM, name="Dossier")


@dataclass(frozen=True)
class ActingContext:
    """The actor and the firm on whose behalf commands are executed."""

    actor: Actor
    firm_id: str
    role: str = "system"


_current: contextvars.ContextVar[ActingContext | None] = contextvars.ContextVar(
    "dossier_acting_context", default=None
)


class NoActingContext(RuntimeError):
    """A command was executed outside an `acting_as` block."""


def current_context() -> ActingContext:
    """The context set by the innermost `acting_as` block."""
    ctx = _current.get()
    if ctx is None:
        raise NoActingContext("events can only be recorded inside acting_as(...)")
    return ctx


@contextmanager
def acting_as(actor: Actor, firm_id: str, role: str = "system") -> Iterator[ActingContext]:
    """Stamp every event recorded inside the block with this actor and firm.

    The role is the actor's role in the firm; commands use it to decide visibility.
    """
    ctx = ActingContext(actor=actor, firm_id=firm_id, role=role)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
