"""One path for a command: who may run it, which ids it names, what an expected failure is.

A mutation resolver says only its permission (`May`, on the field), its ids and its command
(`RequestContext.run_on`, or `local_id` and `RequestContext.run`) and its payload. An expected
failure is raised as a `Failure` (plain data); `schema.errors.ExpectedErrors` turns it into the
member of the field's own result union that matches it, or into a top-level error with the same
code when the union has none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from graphql import GraphQLError
from strawberry.permission import BasePermission

from domain import access
from domain.errors import (
    DomainError,
    IdempotencyKeyReused,
    InvalidInput,
    LimitExceeded,
    NotFound,
    RuleViolated,
    VersionConflict,
    WriteContention,
)
from resolvers.errors import forbidden
from resolvers.ids import to_global_id, uuid_of


class Failure(Exception):
    """An expected failure of a command, as plain data: a code (VALIDATION, NOT_FOUND,
    CONFLICT, LIMIT_EXCEEDED, RULE_VIOLATION), a message and the code's details (field; id;
    expected_version and actual_version; limit; rule)."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def not_found(cls, kind: str, given_id: str, message: str | None = None) -> Failure:
        """Nothing of `kind` the viewer may see has the id the caller gave."""
        return cls("NOT_FOUND", message or f"{kind} {given_id} was not found", id=given_id)


TOP_LEVEL_CODES: dict[type[DomainError], str] = {
    IdempotencyKeyReused: "IDEMPOTENCY_KEY_REUSED",
    WriteContention: "SERVICE_UNAVAILABLE",
}
"""Domain errors no result union has a member for: top-level errors with these codes."""


def failure_of(error: DomainError, given: Mapping[str, str | None]) -> Failure | GraphQLError:
    """The expected failure a domain error stands for, or the top-level error it always is.

    `given` maps an entity kind (Client, Contact, StaffMember...) to the id the caller gave: a
    NOT_FOUND names what the caller asked for (the id it gave for that kind, else its first).
    """
    for kind, code in TOP_LEVEL_CODES.items():
        if isinstance(error, kind):
            return GraphQLError(error.message, extensions={"code": code})
    if isinstance(error, InvalidInput):
        return Failure("VALIDATION", error.message, field=error.field)
    if isinstance(error, NotFound):
        ids = {kind: gid for kind, gid in given.items() if gid is not None}
        named = error.kind if error.kind in ids else next(iter(ids), error.kind)
        return Failure.not_found(named, ids.get(named, error.entity_id))
    if isinstance(error, VersionConflict):
        return Failure(
            "CONFLICT",
            error.message,
            expected_version=error.expected,
            actual_version=error.actual,
        )
    if isinstance(error, LimitExceeded):
        return Failure("LIMIT_EXCEEDED", error.message, limit=error.limit)
    if isinstance(error, RuleViolated):
        return Failure("RULE_VIOLATION", error.message, rule=error.rule)
    raise TypeError(f"unmapped domain error {type(error).__name__}")


def local_id(global_id: str, kind: str) -> UUID:
    """The uuid inside a global id of `kind`; a NOT_FOUND failure naming the caller's id
    otherwise."""
    found = uuid_of(global_id, kind)
    if found is None:
        raise Failure.not_found(kind, global_id)
    return found


class May(BasePermission):
    """The viewer's role allows `doing`; otherwise a top-level UNAUTHENTICATED or FORBIDDEN
    error says why (see RequestContext.require)."""

    def __init__(self, rule: Callable[[str], bool], doing: str) -> None:
        self.rule = rule
        self.doing = doing

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        info.context.require(self.rule, self.doing)
        return True


def may_change(doing: str) -> May:
    """Any role that may make changes (not a watcher)."""
    return May(access.can_mutate, doing)


class MayOwn(May):
    """For commands on the viewer's own marks: the role allows `doing`, watchers included."""

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        viewer = info.context.require_viewer()
        if not self.rule(viewer.role):
            raise forbidden(f"the {viewer.role} role cannot {self.doing}")
        return True


def may_as_staff(doing: str) -> May:
    """Any staff role, watchers included (for what only touches the member's own marks; run
    it with `RequestContext.run(..., own=True)`)."""
    return MayOwn(access.is_staff, doing)


def may_manage_clients(doing: str) -> May:
    return May(access.can_manage_clients, doing)


def may_manage_staff(doing: str) -> May:
    return May(access.can_manage_staff, doing)


async def written(loader: Any, kind: str, key: Any, global_id: str | None = None) -> Any:
    """The one rule for a command's payload: the row it wrote, read as the viewer through
    `loader`; when the viewer can no longer read it (access lost meanwhile), a NOT_FOUND
    failure: the result union's NotFoundError where it has one, else a top-level NOT_FOUND."""
    row = await loader.load(key)
    if row is None:
        shown = global_id or to_global_id(kind, key)
        raise Failure.not_found(kind, shown, f"the {kind} {shown} is no longer visible to you")
    return row
