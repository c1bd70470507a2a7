"""Query root: node, viewer, client, clients and the firm-wide activity."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers.ids import from_global_id
from resolvers.pages import (
    MAX_POSITION,
    ClientFilter,
    check_first,
    clients_page,
    firm_activity_page,
)
from schema.billing import Invoice
from schema.client import Client, ClientConnection
from schema.common import Info, Node
from schema.types import (
    ActivityConnection,
    ActivityEntry,
    ActivityFilter,
    Comment,
    Contact,
    StaffMember,
    Viewer,
    activity_args,
)


async def load_node(info: Info, global_id: str) -> Node | None:
    """Any entity by its global id, or null when it is unknown or not visible."""
    loaders = info.context.loaders
    parsed = from_global_id(global_id)
    if parsed is None:
        return None
    kind, local_id = parsed
    if kind == "Client":
        row = await loaders.client.load(local_id)
        return None if row is None else Client.from_row(row)
    if kind == "Contact":
        row = await loaders.contact.load(local_id)
        return None if row is None else Contact.from_row(row)
    if kind == "StaffMember":
        row = await loaders.staff_by_id.load(local_id)
        return None if row is None else StaffMember.from_row(row)
    if kind == "Comment":
        row = await loaders.comment.load(local_id)
        return None if row is None else Comment.from_row(row)
    if kind == "Invoice":
        row = await info.context.billing.invoice.load(local_id)
        return None if row is None else Invoice.from_row(row)
    if kind in ("LinkedOrganization", "LedgerAlert"):
        from schema.organizations import load_organization_node

        return await load_organization_node(info, kind, local_id)
    if kind == "Quote":
        from schema.quotes import quote_node

        return await quote_node(info, local_id)
    if kind == "ServiceSubscription":
        from schema.service_subscriptions import subscription_node

        return await subscription_node(info, local_id)
    if kind == "ActivityEntry" and local_id.isascii() and local_id.isdigit():
        if int(local_id) > MAX_POSITION:
            return None
        row = await loaders.activity_entry.load(int(local_id))
        return None if row is None else ActivityEntry.from_row(row)
    return None


@strawberry.type
class Query:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        info.context.require_viewer()
        return await load_node(info, id)

    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        viewer = info.context.require_viewer()
        return Viewer(
            user_id=strawberry.ID(viewer.user_id),
            name=viewer.name,
            role=viewer.role,
            firm_id=strawberry.ID(viewer.firm_id),
        )

    @strawberry.field
    async def client(self, info: Info, id: strawberry.ID) -> Client | None:
        info.context.require_viewer()
        parsed = from_global_id(id)
        if parsed is None or parsed[0] != "Client":
            return None
        row = await info.context.loaders.client.load(parsed[1])
        return None if row is None else Client.from_row(row)

    @strawberry.field(
        description="Clients the viewer may see. search matches the client's name or any part "
        "of a linked contact's email."
    )
    async def clients(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        search: str | None = None,
        tags: list[str] | None = None,
        on_hold: bool | None = None,
        assigned_to: strawberry.ID | None = None,
    ) -> ClientConnection:
        info.context.require_viewer()
        size = check_first(first, 20)
        flt = ClientFilter(
            search=search,
            tags=tuple(tags) if tags is not None else None,
            on_hold=on_hold,
            assigned_to=str(assigned_to) if assigned_to is not None else None,
        )
        page = await clients_page(info.context.loaders, size, after, flt)
        return ClientConnection.of(page)

    @strawberry.field(description="Firm-wide activity the viewer may see, newest first.")
    async def activity(
        self,
        info: Info,
        first: int | None = 50,
        after: str | None = None,
        filter: Annotated[ActivityFilter | None, strawberry.argument()] = None,
    ) -> ActivityConnection:
        info.context.require_viewer()
        size = check_first(first, 50)
        page = await firm_activity_page(info.context.loaders, size, after, activity_args(filter))
        return ActivityConnection.of(page)
