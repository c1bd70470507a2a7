"""Database outages as one top-level error: SERVICE_UNAVAILABLE, never SQL or driver text.

Reads (loaders), commands (the event store) and read-your-writes polls all raise the
driver's own errors when the database is unreachable or too busy. Rather than catching them
in every resolver, `UnavailableErrors` replaces each error whose original exception the
injected predicate (infra.db_errors.is_transient, wired by infra.web) calls transient with a
GraphQLError coded SERVICE_UNAVAILABLE at the same path, and logs the detail instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import structlog
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult as StrawberryExecutionResult
from strawberry.types.execution import StreamExecutionResult

log = structlog.get_logger(__name__)

CODE = "SERVICE_UNAVAILABLE"
MESSAGE = "the database is unavailable at the moment; try again shortly"
RETRY_AFTER_SECONDS = 1


def unavailable_error(like: GraphQLError | None = None) -> GraphQLError:
    """The error a client sees (at `like`'s path and location, if given)."""
    extensions: dict[str, object] = {"code": CODE, "retryAfter": RETRY_AFTER_SECONDS}
    if like is None:
        return GraphQLError(MESSAGE, extensions=extensions)
    return GraphQLError(
        MESSAGE,
        nodes=like.nodes,
        source=like.source,
        positions=like.positions,
        path=like.path,
        extensions=extensions,
    )


class UnavailableErrors(SchemaExtension):
    """Maps database-outage errors to SERVICE_UNAVAILABLE (register as a factory).

    Register it after MaskErrors, whose predicate must leave these errors alone: on the way
    out of an operation this one then runs first; streamed results reach it after MaskErrors.
    """

    def __init__(self, *, is_unavailable: Callable[[BaseException], bool]) -> None:
        self.is_unavailable = is_unavailable

    def on_operation(self) -> Iterator[None]:
        yield
        self._map(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        """Each result of a subscription (or other streamed operation), before it is sent."""
        self._map(result)
        yield

    def _map(self, result: object) -> None:
        if not isinstance(result, (GraphQLExecutionResult, StrawberryExecutionResult)):
            return
        if result.errors:
            result.errors = [self._mapped(error) for error in result.errors]

    def _mapped(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None or not self.is_unavailable(original):
            return error
        log.warning(
            "database_unavailable",
            path=list(error.path) if error.path else None,
            error_class=type(original).__name__,
            detail=str(original)[:1000],
        )
        return unavailable_error(error)
