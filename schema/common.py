"""Types shared across the schema: Node, PageInfo, Actor, enums."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError, StringValueNode, ValueNode, print_ast
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types.scalar import ScalarDefinition

from resolvers.context import RequestContext
from resolvers.pages import Page
from resolvers.values import MONEY_TEXT_MAX, parse_money_text
from schema.errors import ExpectedErrors

Info = strawberry.Info[RequestContext, None]


def command(permission: BasePermission, *, description: str | None = None) -> Any:
    """A mutation: the permission first (a top-level error when refused), then the body, whose
    expected failures (`resolvers.commands.Failure`) land in the field's own result union."""
    return strawberry.mutation(
        description=description,
        extensions=[PermissionExtension([permission], use_directives=False), ExpectedErrors()],
    )


# Money and other Decimals --------------------------------------------------------------------

DECIMAL_FORMAT = (
    "a string of ASCII digits with an optional sign and at most one decimal point, "
    'such as "1250.00" (no exponent, separators, spaces or JSON numbers)'
)


def _bad_decimal(shown: str) -> GraphQLError:
    return GraphQLError(
        f"{shown} is not a valid Decimal: write {DECIMAL_FORMAT}",
        extensions={"code": "BAD_USER_INPUT"},
    )


def parse_decimal_value(value: object) -> Decimal:
    """A Decimal from a variable's JSON value: only a strict money string is accepted."""
    if not isinstance(value, str):
        raise _bad_decimal(f"the JSON {type(value).__name__} {str(value)[:MONEY_TEXT_MAX]}")
    number = parse_money_text(value)
    if number is None:
        raise _bad_decimal(repr(value[:MONEY_TEXT_MAX]))
    return number


def parse_decimal_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Decimal:
    """A Decimal from a literal in the document: only a string literal is accepted."""
    if not isinstance(node, StringValueNode):
        raise _bad_decimal(f"the literal {print_ast(node)[:MONEY_TEXT_MAX]}")
    return parse_decimal_value(node.value)


DECIMAL = ScalarDefinition(
    name="Decimal",
    description="Decimal (fixed-point)",
    specified_by_url=None,
    serialize=str,
    parse_value=parse_decimal_value,
    parse_literal=parse_decimal_literal,
    origin=Decimal,
)
"""Strawberry's Decimal scalar made strict (its own accepts "1e3", "1_000", Arabic-Indic
digits and JSON numbers); the schema must use it through `SCALAR_OVERRIDES`."""

SCALAR_OVERRIDES: dict[object, Any] = {Decimal: DECIMAL}
"""Pass as `strawberry.Schema(..., scalar_overrides=SCALAR_OVERRIDES)`."""


@strawberry.interface
class Node:
    """An object with a globally unique, opaque id."""

    id: strawberry.ID


@strawberry.enum
class ActorKind(Enum):
    STAFF = "STAFF"
    CONTACT = "CONTACT"
    SYSTEM = "SYSTEM"


@strawberry.enum
class ClientType(Enum):
    INDIVIDUAL = "INDIVIDUAL"
    COMPANY = "COMPANY"
    OTHER = "OTHER"


@strawberry.enum
class StaffRole(Enum):
    OWNER = "OWNER"
    ADMIN = "ADMIN"
    MANAGER = "MANAGER"
    AGENT = "AGENT"
    WATCHER = "WATCHER"


@strawberry.type(
    description="Who did something: a staff member, a client's contact through the portal, "
    "or the system."
)
class Actor:
    id: strawberry.ID
    kind: ActorKind
    name: str | None
    impersonated_by: strawberry.ID | None = strawberry.field(
        description="Set when a staff member acted while impersonating a client contact."
    )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Actor:
        return cls(
            id=strawberry.ID(str(data["id"])),
            kind=ActorKind(data["kind"]),
            name=data.get("name"),
            impersonated_by=data.get("impersonated_by"),
        )


E = TypeVar("E")
C = TypeVar("C")


def edges_of(page: Page, edge: Callable[..., E], node: Callable[[Any], Any]) -> list[E]:
    """A connection's edges: each of the page's rows made a node, with its cursor."""
    return [
        edge(cursor=cursor, node=node(row))
        for row, cursor in zip(page.rows, page.cursors, strict=True)
    ]


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page) -> PageInfo:
        return cls(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        )


def connection_of(
    connection: Callable[..., C],
    page: Page,
    edge: Callable[..., E],
    node: Callable[[Any], Any],
    **fields: Any,
) -> C:
    """A connection over one page: its edges (`edges_of`), its `PageInfo` and its
    `total_count`, the page's total (0 when the page was not counted) unless `fields` give
    another; `fields` also give a connection's further fields."""
    fields.setdefault("total_count", page.total or 0)
    return connection(edges=edges_of(page, edge, node), page_info=PageInfo.of(page), **fields)
