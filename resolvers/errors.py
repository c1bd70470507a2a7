"""Top-level GraphQL errors with an extensions.code."""

from __future__ import annotations

from graphql import GraphQLError


def unauthenticated(message: str = "a valid bearer token is required") -> GraphQLError:
    return GraphQLError(message, extensions={"code": "UNAUTHENTICATED"})


def forbidden(message: str = "you are not allowed to do this") -> GraphQLError:
    return GraphQLError(message, extensions={"code": "FORBIDDEN"})


def bad_input(message: str, argument: str | None = None) -> GraphQLError:
    extensions: dict[str, object] = {"code": "BAD_USER_INPUT"}
    if argument is not None:
        extensions["argument"] = argument
    return GraphQLError(message, extensions=extensions)


def unavailable(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "SERVICE_UNAVAILABLE"})


def recorded_not_projected(position: int) -> GraphQLError:
    """The change was saved, but a read model parked its event instead of applying it."""
    return GraphQLError(
        f"the change was recorded at position {position}, but a read model could not apply it; "
        "it is parked for an operator to retry and will show once it is applied",
        extensions={"code": "RECORDED_NOT_PROJECTED", "position": position},
    )
