"""The object types of a client's profile, built from read-model rows."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from strawberry.scalars import JSON

from resolvers.commands import written
from resolvers.ids import to_global_id
from resolvers.overview import NEW_DESCRIPTION, is_new
from resolvers.pages import ActivityArgs, Page, check_first, position_after
from schema.common import (
    Actor,
    ClientType,
    Info,
    Node,
    PageInfo,
    StaffRole,
    connection_of,
)
from schema.portal_status import ContactPortal, contact_portal

if TYPE_CHECKING:
    from schema.client import Client, ClientOverview

ClientRef = Annotated["Client", strawberry.lazy("schema.client")]
"""The composed GraphQL `Client` type (schema/client.py), for fields of the types here."""


@strawberry.type
class Viewer:
    user_id: strawberry.ID
    name: str | None
    role: str
    firm_id: strawberry.ID


@strawberry.type
class StaffMember(Node):
    id: strawberry.ID
    user_id: strawberry.ID
    name: str
    email: str
    role: StaffRole

    @classmethod
    async def load(cls, info: Info, member_id: str) -> StaffMember:
        return cls.from_row(
            await written(info.context.loaders.staff_by_id, "StaffMember", member_id)
        )

    @classmethod
    def from_row(cls, row: Any) -> StaffMember:
        return cls(
            id=strawberry.ID(to_global_id("StaffMember", row.id)),
            user_id=strawberry.ID(row.user_id),
            name=row.name,
            email=row.email,
            role=StaffRole(row.role),
        )


@strawberry.type
class Address:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Address | None:
        if not data:
            return None
        return cls(**{k: data.get(k) for k in cls.__annotations__})


@strawberry.type
class CustomFieldValue:
    key: str
    value: str | None


@strawberry.type
class HoldPeriod:
    placed_at: datetime
    placed_by: Actor
    reason: str | None
    released_at: datetime | None
    released_by: Actor | None

    @classmethod
    def from_row(cls, row: Any) -> HoldPeriod:
        return cls(
            placed_at=row.placed_at,
            placed_by=Actor.from_dict(row.placed_by),
            reason=row.reason,
            released_at=row.released_at,
            released_by=Actor.from_dict(row.released_by) if row.released_by else None,
        )


@strawberry.type
class ContactEmail:
    address: str
    primary: bool
    portal_access: bool
    notifications: bool
    signing_authority: bool


@strawberry.type
class Contact(Node):
    id: strawberry.ID
    first_name: str
    last_name: str
    emails: list[ContactEmail]
    phone: str | None
    local_id: strawberry.Private[str]

    @classmethod
    async def load(cls, info: Info, contact_id: str) -> Contact:
        return cls.from_row(await written(info.context.loaders.contact, "Contact", contact_id))

    @classmethod
    def from_row(cls, row: Any) -> Contact:
        return cls(
            id=strawberry.ID(to_global_id("Contact", row.id)),
            first_name=row.first_name,
            last_name=row.last_name,
            emails=[ContactEmail(**e) for e in row.emails],
            phone=row.phone,
            local_id=row.id,
        )

    @strawberry.field(description="Every client this contact is linked to.")
    async def clients(self, info: Info) -> list[ClientRef]:
        rows = await info.context.loaders.contact_clients.load(self.local_id)
        return [ClientCore.from_row(r) for r in rows]

    @strawberry.field(description="The contact's client portal access: status, last login.")
    async def portal(self, info: Info) -> ContactPortal:
        return await contact_portal(info, self.local_id)


@strawberry.type(
    description="A contact as linked to one client; the description is specific to that link."
)
class ClientContact:
    contact: Contact
    description: str | None
    linked_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> ClientContact:
        """A contact as linked to a client (the link's description and time)."""
        return cls(
            contact=Contact.from_row(row), description=row.description, linked_at=row.linked_at
        )


@strawberry.type
class ClientContactEdge:
    cursor: str
    node: ClientContact


@strawberry.type
class ClientContactConnection:
    edges: list[ClientContactEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class TeamAssignment:
    member: StaffMember
    assigned_at: datetime
    assigned_by: Actor


@strawberry.enum
class TeamChangeKind(Enum):
    ASSIGNED = "ASSIGNED"
    REMOVED = "REMOVED"


@strawberry.type
class TeamChange:
    member: StaffMember
    change: TeamChangeKind
    at: datetime
    by: Actor


@strawberry.type
class Comment(Node):
    id: strawberry.ID
    body: str
    author: Actor
    created_at: datetime
    client_id: strawberry.Private[str]

    @strawberry.field(description=NEW_DESCRIPTION)
    async def is_new(self, info: Info) -> bool:
        return await is_new(info.context, self.client_id, self.created_at, self.author.id)

    @classmethod
    async def load(cls, info: Info, comment_id: str) -> Comment:
        return cls.from_row(await written(info.context.loaders.comment, "Comment", comment_id))

    @classmethod
    def from_row(cls, row: Any) -> Comment:
        return cls(
            id=strawberry.ID(to_global_id("Comment", row.id)),
            body=row.body,
            author=Actor.from_dict(row.author),
            created_at=row.created_at,
            client_id=row.client_id,
        )


@strawberry.type
class CommentEdge:
    cursor: str
    node: Comment


@strawberry.type
class CommentConnection:
    edges: list[CommentEdge]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Page) -> CommentConnection:
        return connection_of(cls, page, CommentEdge, Comment.from_row)


@strawberry.input
class ActivityFilter:
    types: list[str] | None = None
    client_ids: list[strawberry.ID] | None = None
    actor_ids: list[strawberry.ID] | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_args(self) -> ActivityArgs:
        return ActivityArgs(
            types=tuple(self.types) if self.types is not None else None,
            client_ids=tuple(self.client_ids) if self.client_ids is not None else None,
            actor_ids=tuple(self.actor_ids) if self.actor_ids is not None else None,
            since=self.since,
            until=self.until,
        )


def activity_args(flt: ActivityFilter | None) -> ActivityArgs:
    return flt.to_args() if flt is not None else ActivityArgs()


@strawberry.type
class ActivityEntry(Node):
    id: strawberry.ID
    position: str = strawberry.field(
        description="Position of the event in the firm's global event order; increases strictly."
    )
    occurred_at: datetime
    type: str = strawberry.field(
        description="Event type name, e.g. ClientRegistered, ContactLinked, InvoicePaymentRecorded."
    )
    actor: Actor
    summary: str = strawberry.field(
        description="One human-readable sentence describing what happened."
    )
    data: JSON = strawberry.field(description="The event's own data, as recorded.")
    client_id: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: Any) -> ActivityEntry:
        return cls(
            id=strawberry.ID(to_global_id("ActivityEntry", row.position)),
            position=str(row.position),
            occurred_at=row.occurred_at,
            type=row.type,
            actor=Actor.from_dict(row.actor),
            summary=row.summary,
            data=row.data,
            client_id=row.client_id,
        )

    @strawberry.field
    async def client(self, info: Info) -> ClientRef | None:
        if self.client_id is None:
            return None
        row = await info.context.loaders.client.load(self.client_id)
        return None if row is None else ClientCore.from_row(row)


@strawberry.type
class ActivityEdge:
    cursor: str
    node: ActivityEntry


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge]
    page_info: PageInfo
    total_count: int | None

    @classmethod
    def of(cls, page: Page) -> ActivityConnection:
        return connection_of(
            cls, page, ActivityEdge, ActivityEntry.from_row, total_count=page.total
        )


@strawberry.type
class OverviewCore:
    """The overview's own fields; each feature adds its own (composed in schema/client.py)."""

    client_id: strawberry.Private[str]

    @strawberry.field
    async def latest_comments(self, info: Info) -> list[Comment]:
        rows = await info.context.loaders.latest_comments.load(self.client_id)
        return [Comment.from_row(r) for r in rows]

    @strawberry.field
    async def latest_activity(self, info: Info) -> list[ActivityEntry]:
        rows = await info.context.loaders.latest_activity.load(self.client_id)
        return [ActivityEntry.from_row(r) for r in rows]


@strawberry.type
class ClientCore(Node):
    """The client's own fields; each feature adds its fields in its module, and
    schema/client.py composes them all into the GraphQL type `Client`.

    Feature modules that cannot import the composed type build `ClientCore` objects:
    Strawberry serves them as `Client` (it accepts any `Node` there), and the fields the
    features add read only `local_id`.
    """

    id: strawberry.ID
    version: int = strawberry.field(
        description="Version of the client's own event stream; pass it back as expectedVersion."
    )
    name: str
    type: ClientType
    tags: list[str]
    address: Address | None
    custom_fields: list[CustomFieldValue]
    on_hold: bool
    details_complete: bool = strawberry.field(
        description="True when the fields the firm marks as required are all filled in."
    )
    created_at: datetime
    updated_at: datetime
    local_id: strawberry.Private[str]

    @classmethod
    async def load(cls, info: Info, client_id: str) -> Client:
        return cls.from_row(await written(info.context.loaders.client_in_firm, "Client", client_id))

    @classmethod
    def from_row(cls, row: Any) -> Client:
        return cast("Client", cls._of_row(row))

    @classmethod
    def _of_row(cls, row: Any) -> ClientCore:
        return cls(
            id=strawberry.ID(to_global_id("Client", row.id)),
            version=row.version,
            name=row.name,
            type=ClientType(row.client_type),
            tags=list(row.tags),
            address=Address.from_dict(row.address),
            custom_fields=[
                CustomFieldValue(key=f["key"], value=f["value"]) for f in row.custom_fields
            ],
            on_hold=row.on_hold,
            details_complete=row.details_complete,
            created_at=row.created_at,
            updated_at=row.updated_at,
            local_id=row.id,
        )

    @strawberry.field
    async def holds(self, info: Info) -> list[HoldPeriod]:
        rows = await info.context.loaders.holds.load(self.local_id)
        return [HoldPeriod.from_row(r) for r in rows]

    @strawberry.field
    async def contacts(
        self, info: Info, first: int | None = 100, after: str | None = None
    ) -> ClientContactConnection:
        size = check_first(first, 100)
        start = position_after(after)
        rows = await info.context.loaders.client_contacts.load(self.local_id)
        remaining = [r for r in rows if start is None or r.position > start]
        page = Page.of(remaining, size, lambda r: r.position, after=after, total=len(rows))
        return connection_of(
            ClientContactConnection, page, ClientContactEdge, ClientContact.from_row
        )

    @strawberry.field
    async def team(self, info: Info) -> list[TeamAssignment]:
        rows = await info.context.loaders.team.load(self.local_id)
        return [
            TeamAssignment(
                member=StaffMember.from_row(r),
                assigned_at=r.assigned_at,
                assigned_by=Actor.from_dict(r.assigned_by),
            )
            for r in rows
        ]

    @strawberry.field(description="Every assignment and removal of team members, oldest first.")
    async def team_history(self, info: Info) -> list[TeamChange]:
        rows = await info.context.loaders.team_history.load(self.local_id)
        return [
            TeamChange(
                member=StaffMember.from_row(r),
                change=TeamChangeKind(r.change),
                at=r.at,
                by=Actor.from_dict(r.by),
            )
            for r in rows
        ]

    @strawberry.field(description="Other clients that share at least one contact with this one.")
    async def related_clients(self, info: Info) -> list[ClientRef]:
        rows = await info.context.loaders.related_clients.load(self.local_id)
        return [ClientCore.from_row(r) for r in rows]

    @strawberry.field
    def overview(self) -> Annotated[ClientOverview, strawberry.lazy("schema.client")]:
        return cast("ClientOverview", OverviewCore(client_id=self.local_id))

    @strawberry.field
    async def comments(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> CommentConnection:
        size = check_first(first, 20)
        position_after(after)
        page = await info.context.pages.comments.load((self.local_id, size, after))
        return CommentConnection.of(page)

    @strawberry.field(description="This client's activity history, newest first.")
    async def activity(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: ActivityFilter | None = None,
    ) -> ActivityConnection:
        size = check_first(first, 50)
        position_after(after)
        key = (self.local_id, size, after, activity_args(filter))
        page = await info.context.pages.activity.load(key)
        return ActivityConnection.of(page)
