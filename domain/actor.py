"""Who acts: the actor and firm stamped on every event, from a request-scoped context."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.errors import InvalidInput
from domain.text import forbidden_character, sanitise

# Ids of people (a token's `sub`, a staff member's user id, an impersonator) and of firms (a
# token's `firm`) are stamped on every event and kept in read-model columns of 200 characters
# (and in composite keys such as "staff:{firm}:{user}"), so they are bounded here, where every
# event gets them: 1 to 200 printable ASCII characters, no spaces; a firm id has no ":" either.
ACTOR_ID_MAX = 200
FIRM_ID_MAX = 200
ACTOR_NAME_MAX = 200
_ACTOR_ID = re.compile(r"[!-~]+")
_FIRM_ID = re.compile(r"[!-9;-~]+")


def clean_actor_id(field: str, value: object) -> str:
    """A user id as stored: 1-200 printable ASCII characters without spaces (ends trimmed)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(field, f"{field} must not be blank")
    if len(text) > ACTOR_ID_MAX:
        raise InvalidInput(field, f"{field} must be at most {ACTOR_ID_MAX} characters")
    if _ACTOR_ID.fullmatch(text) is None:
        raise InvalidInput(field, f"{field} must be printable ASCII without spaces")
    return text


def check_firm_id(field: str, value: object) -> str:
    """A firm id as given (never trimmed): 1-200 printable ASCII characters, no space or ":"."""
    text = value if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(field, f"{field} must not be blank")
    if len(text) > FIRM_ID_MAX:
        raise InvalidInput(field, f"{field} must be at most {FIRM_ID_MAX} characters")
    if _FIRM_ID.fullmatch(text) is None:
        raise InvalidInput(field, f"{field} must be printable ASCII without spaces or ':'")
    return text


def display_name(value: object) -> str | None:
    """A display name from an identity provider, made safe to show and store (never refused):
    characters the text rules refuse are dropped, whitespace collapsed, at most 200 kept."""
    return sanitise(value, ACTOR_NAME_MAX) if isinstance(value, str) else None


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


def check_acting(actor: Actor, firm_id: str) -> None:
    """Refuse (InvalidInput on token.*) an actor or firm that no event may carry."""
    if clean_actor_id("token.sub", actor.id) != actor.id:
        raise InvalidInput("token.sub", "token.sub must not start or end with spaces")
    check_firm_id("token.firm", firm_id)
    if actor.impersonated_by is not None:
        clean_actor_id("token.impersonatedBy", actor.impersonated_by)
    name = actor.name
    if name is not None and (
        not isinstance(name, str)
        or len(name) > ACTOR_NAME_MAX
        or forbidden_character(name) is not None
    ):
        raise InvalidInput("token.name", "the actor's name must be clean display text")


@contextmanager
def acting_as(actor: Actor, firm_id: str, role: str = "system") -> Iterator[ActingContext]:
    """Stamp every event recorded inside the block with this actor and firm.

    The role is the actor's role in the firm; commands use it to decide visibility.
    """
    check_acting(actor, firm_id)
    ctx = ActingContext(actor=actor, firm_id=firm_id, role=role)
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)
