"""The Error interface and its members, and how an expected failure becomes one of them."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.extensions.field_extension import AsyncExtensionResolver
from strawberry.types import Info
from strawberry.types.union import StrawberryUnion

from resolvers.commands import Failure


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


def error_value(failure: Failure) -> ErrorType:
    """The contract's error value for an expected failure."""
    details = failure.details
    if failure.code == "VALIDATION":
        return validation_error(details.get("field"), failure.message)
    if failure.code == "NOT_FOUND":
        return not_found_error(details["id"], failure.message)
    if failure.code == "CONFLICT":
        return ConflictError(
            message=failure.message,
            code=ErrorCode.CONFLICT,
            expected_version=details["expected_version"],
            actual_version=details["actual_version"],
        )
    if failure.code == "LIMIT_EXCEEDED":
        return LimitExceededError(
            message=failure.message, code=ErrorCode.LIMIT_EXCEEDED, limit=details["limit"]
        )
    if failure.code == "RULE_VIOLATION":
        return RuleViolationError(
            message=failure.message, code=ErrorCode.RULE_VIOLATION, rule=details["rule"]
        )
    raise TypeError(f"unmapped failure code {failure.code}")


def union_members(return_type: object) -> tuple[type, ...]:
    """The Python classes of a result union's members (nothing when it is not a union)."""
    if not isinstance(return_type, StrawberryUnion):
        return ()
    return tuple(member for member in return_type.types if isinstance(member, type))


class ExpectedErrors(FieldExtension):
    """A `Failure` raised by a mutation becomes the member of the field's OWN result union that
    matches it; one the union does not list is a top-level error with the same code (nothing
    is dropped)."""

    def __init__(self) -> None:
        self.members: tuple[type, ...] | None = None

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: Info[Any, Any], **kwargs: Any
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except Failure as failure:
            if self.members is None:
                self.members = union_members(info.return_type)
            value = error_value(failure)
            if isinstance(value, self.members):
                return value
            raise GraphQLError(failure.message, extensions={"code": failure.code}) from None
