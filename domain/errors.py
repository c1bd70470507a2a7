"""Domain exceptions: every expected failure a command can meet."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every expected failure of a command."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """A value breaks a validation rule (blank, too long, malformed...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    """An entity does not exist, or is not visible to the actor's firm."""

    def __init__(self, kind: str, entity_id: str) -> None:
        super().__init__(f"{kind} {entity_id} was not found")
        self.kind = kind
        self.entity_id = entity_id


class VersionConflict(DomainError):
    """The aggregate's version is not the version the caller expected."""

    def __init__(self, expected: int, actual: int, message: str | None = None) -> None:
        super().__init__(
            message or f"expected version {expected} but the current version is {actual}"
        )
        self.expected = expected
        self.actual = actual


class LimitExceeded(DomainError):
    """A count limit would be exceeded."""

    def __init__(self, limit: int, message: str) -> None:
        super().__init__(message)
        self.limit = limit


class RuleViolated(DomainError):
    """A business rule forbids the change."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class IdempotencyKeyReused(DomainError):
    """An idempotency key was sent again with another mutation or different input.

    Nothing is recorded; the first request's result stays bound to the key.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)


class WriteContention(DomainError):
    """Concurrent writers kept changing the same records; the command recorded nothing.

    Raised only after many attempts on fresh state; repeating the request is safe.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
