"""Types shared across the schema: Node, PageInfo, Actor, enums."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from resolvers.context import RequestContext
from resolvers.pages import Page

Info = strawberry.Info[RequestContext, None]


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
