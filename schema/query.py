"""Query root: node, viewer, client, clients and the firm-wide activity."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from schema.chat import chat_message_node, chat_thread_node
from schema.client import Client, ClientConnection, Viewer
from schema.client_requests import client_request_node
from schema.common import Info, Node
from schema.documents import document_node
from schema.emails import email_node
from schema.notifications import notification_node
from schema.organizations import ledger_alert_node, organization_node
from schema.portal_preferences import pending_change_node
from schema.quotes import quote_node
from schema.service_subscriptions import subscription_node
from schema.time_entries import time_entry_node, timer_node
from schema.types import (
    ActivityConnection,
    ActivityEntry,
    ActivityFilter,
    Comment,
    Contact,
    StaffMember,
    activity_args,
)
from schema.work import job_node, pipeline_node, task_comment_node, task_node


async def _client(info: Info, local_id: str) -> Node | None:
    row = await info.context.loaders.client.load(local_id)
    return None if row is None else Client.from_row(row)


async def _contact(info: Info, local_id: str) -> Node | None:
    row = await info.context.loaders.contact.load(local_id)
    return None if row is None else Contact.from_row(row)


async def _staff_member(info: Info, local_id: str) -> Node | None:
    row = await info.context.loaders.staff_by_id.load(local_id)
    return None if row is None else StaffMember.from_row(row)


async def _comment(info: Info, local_id: str) -> Node | None:
    row = await info.context.loaders.comment.load(local_id)
    return None if row is None else Comment.from_row(row)


async def _invoice(info: Info, local_id: str) -> Node | None:
    row = await info.context.billing.invoice.load(local_id)
    return None if row is None else Invoice.from_row(row)


async def _activity_entry(info: Info, local_id: str) -> Node | None:
    if not (local_id.isascii() and local_id.isdigit()) or int(local_id) > MAX_POSITION:
        return None
    row = await info.context.loaders.activity_entry.load(int(local_id))
    return None if row is None else ActivityEntry.from_row(row)


NodeLoader = Callable[[Info, str], Awaitable[Node | None]]

NODE_LOADERS: dict[str, NodeLoader] = {
    "Client": _client,
    "Contact": _contact,
    "StaffMember": _staff_member,
    "Comment": _comment,
    "Invoice": _invoice,
    "LinkedOrganization": organization_node,
    "LedgerAlert": ledger_alert_node,
    "Quote": quote_node,
    "ServiceSubscription": subscription_node,
    "Document": document_node,
    "ActivityEntry": _activity_entry,
    "Notification": notification_node,
    "ChatThread": chat_thread_node,
    "ChatMessage": chat_message_node,
    "Email": email_node,
    "ClientRequest": client_request_node,
    "TimeEntry": time_entry_node,
    "Timer": timer_node,
    "Task": task_node,
    "TaskComment": task_comment_node,
    "Job": job_node,
    "Pipeline": pipeline_node,
    "PendingChange": pending_change_node,
}
"""Every kind of global id `node(id:)` resolves, and how (as the viewer may see it)."""


async def load_node(info: Info, global_id: str) -> Node | None:
    """Any entity by its global id, or null when it is unknown or not visible."""
    parsed = from_global_id(global_id)
    if parsed is None:
        return None
    kind, local_id = parsed
    loader = NODE_LOADERS.get(kind)
    return None if loader is None else await loader(info, local_id)


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
