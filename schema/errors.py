"""The Error interface and its members, and how domain exceptions map onto them."""

from __future__ import annotations

from enum import Enum

import strawberry

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


@strawberry.enum
class ErrorCode(Enum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    RULE_VIOLATION = "RULE_VIOLATION"


@strawberry.interface(name="Error")
class Error:
    message: str
    code: ErrorCode


@strawberry.type
class ValidationError(Error):
    field: str | None = strawberry.field(
        description="Dotted path of the offending input field, e.g. input.emails.0"
    )


@strawberry.type
class NotFoundError(Error):
    id: strawberry.ID


@strawberry.type
class ConflictError(Error):
    expected_version: int
    actual_version: int


@strawberry.type
class LimitExceededError(Error):
    limit: int


@strawberry.type(
    description="A business rule forbids the change, e.g. unlinking a client's last contact."
)
class RuleViolationError(Error):
    rule: str


ErrorType = (
    ValidationError | NotFoundError | ConflictError | LimitExceededError | RuleViolationError
)


def validation_error(field: str | None, message: str) -> ValidationError:
    return ValidationError(message=message, code=ErrorCode.VALIDATION, field=field)


def not_found_error(given_id: str, message: str | None = None) -> NotFoundError:
    return NotFoundError(
        message=message or f"nothing with id {given_id} was found",
        code=ErrorCode.NOT_FOUND,
        id=strawberry.ID(given_id),
    )


TOP_LEVEL_CODES: dict[type[DomainError], str] = {
    IdempotencyKeyReused: "IDEMPOTENCY_KEY_REUSED",
    WriteContention: "SERVICE_UNAVAILABLE",
}
"""Domain errors no result union has a member for: top-level errors with these codes."""


def top_level_code(error: DomainError) -> str | None:
    """The `extensions.code` of a domain error that is always a top-level error, else None."""
    for kind, code in TOP_LEVEL_CODES.items():
        if isinstance(error, kind):
            return code
    return None


def to_error(error: DomainError, ids: dict[str, str]) -> ErrorType:
    """The contract's error value for a domain exception.

    `ids` maps an entity kind (Client, Contact, StaffMember...) to the id the caller gave.
    """
    if isinstance(error, InvalidInput):
        return validation_error(error.field, error.message)
    if isinstance(error, NotFound):
        # Name what the caller asked for: the id it gave for that kind, else its main input id.
        given = ids.get(error.kind) or next(iter(ids.values()), error.entity_id)
        kind = error.kind if error.kind in ids else next(iter(ids), error.kind)
        return not_found_error(given, f"{kind} {given} was not found")
    if isinstance(error, VersionConflict):
        return ConflictError(
            message=error.message,
            code=ErrorCode.CONFLICT,
            expected_version=error.expected,
            actual_version=error.actual,
        )
    if isinstance(error, LimitExceeded):
        return LimitExceededError(
            message=error.message, code=ErrorCode.LIMIT_EXCEEDED, limit=error.limit
        )
    if isinstance(error, RuleViolated):
        return RuleViolationError(
            message=error.message, code=ErrorCode.RULE_VIOLATION, rule=error.rule
        )
    raise TypeError(f"unmapped domain error {type(error).__name__}")
