"""Client requests on the profile: a thread between the firm and the client's contacts.

Only clients with a contact with portal access can be sent requests (rule NO_PORTAL_CONTACT;
staff set `ContactEmail.portalAccess` with `setContactPortalAccess`); while a client is on hold
nothing is sent to it (rule CLIENT_ON_HOLD). Statuses: OPEN (awaiting the client), ANSWERED
(awaiting the firm), CLOSED. Opening, staff replies and reminders email the addressed
contacts (the client's email log shows them).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, TypeAlias

import strawberry

from resolvers.billing import today
from resolvers.client_requests import LATEST_REQUESTS, ClientRequestLoaders
from resolvers.commands import local_id, may_change, written
from resolvers.documents import DocumentLoaders
from resolvers.ids import to_global_id
from resolvers.overview import NEW_DESCRIPTION, is_new
from resolvers.pages import Page, check_first, page_after_position, position_after
from resolvers.ports import Outcome
from schema.common import Actor, Info, Node, PageInfo, command, connection_of
from schema.documents import Document
from schema.errors import LimitExceededError, NotFoundError, RuleViolationError, ValidationError
from schema.types import ClientCore, ClientRef, Contact


@strawberry.enum
class ClientRequestStatus(Enum):
    OPEN = "OPEN"
    ANSWERED = "ANSWERED"
    CLOSED = "CLOSED"


@strawberry.type(description="A message of a request's thread.")
class ClientRequestMessage:
    number: int = strawberry.field(description="1 for the message the request was opened with.")
    body: str
    author: Actor = strawberry.field(description="Staff, or (once the portal exists) a contact.")
    posted_at: datetime
    document_ids: strawberry.Private[list[str]]

    @classmethod
    def from_row(cls, row: Any) -> ClientRequestMessage:
        return cls(
            number=row.number,
            body=row.body,
            author=Actor.from_dict(row.author),
            posted_at=row.posted_at,
            document_ids=list(row.document_ids),
        )

    @strawberry.field(description="Documents attached to this message (those still visible).")
    async def attachments(self, info: Info) -> list[Document]:
        return await _documents(info, self.document_ids)


async def _documents(info: Info, ids: list[str]) -> list[Document]:
    rows = await info.context.loaders_of(DocumentLoaders).document.load_many(ids)
    return [Document.from_row(r) for r in rows if r is not None and not r.deleted]


@strawberry.type
class ClientRequestMessageEdge:
    cursor: str
    node: ClientRequestMessage


@strawberry.type
class ClientRequestMessageConnection:
    edges: list[ClientRequestMessageEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="A request to a client's contacts, with its thread of messages.")
class ClientRequest(Node):
    id: strawberry.ID
    title: str
    status: ClientRequestStatus
    due_on: date | None
    overdue: bool = strawberry.field(description="Not closed, and the due date has passed.")
    reminders_sent: int
    last_reminded_at: datetime | None
    message_count: int
    opened_by: Actor
    opened_at: datetime
    last_message_at: datetime
    answered_at: datetime | None
    closed_at: datetime | None
    local_id: strawberry.Private[str]
    client_id: strawberry.Private[str]
    contact_ids: strawberry.Private[list[str]]

    @strawberry.field(description=NEW_DESCRIPTION)
    async def is_new(self, info: Info) -> bool:
        return await is_new(info.context, self.client_id, self.opened_at, self.opened_by.id)

    @classmethod
    async def load(cls, info: Info, request_id: str) -> ClientRequest:
        loader = info.context.loaders_of(ClientRequestLoaders).request
        return cls.from_row(await written(loader, "ClientRequest", request_id))

    @classmethod
    def from_row(cls, row: Any) -> ClientRequest:
        status = ClientRequestStatus(row.status)
        return cls(
            id=strawberry.ID(to_global_id("ClientRequest", row.id)),
            title=row.title,
            status=status,
            due_on=row.due_on,
            overdue=(
                status is not ClientRequestStatus.CLOSED
                and row.due_on is not None
                and row.due_on < today()
            ),
            reminders_sent=row.reminders_sent,
            last_reminded_at=row.last_reminded_at,
            message_count=row.message_count,
            opened_by=Actor.from_dict(row.opened_by),
            opened_at=row.opened_at,
            last_message_at=row.last_message_at,
            answered_at=row.answered_at,
            closed_at=row.closed_at,
            local_id=row.id,
            client_id=row.client_id,
            contact_ids=list(row.addressed_to),
        )

    @strawberry.field
    async def client(self, info: Info) -> ClientRef | None:
        row = await info.context.loaders.client.load(self.client_id)
        return None if row is None else ClientCore.from_row(row)

    @strawberry.field(description="The contacts the request is addressed to.")
    async def addressed_to(self, info: Info) -> list[Contact]:
        rows = await info.context.loaders.contact.load_many(self.contact_ids)
        return [Contact.from_row(r) for r in rows if r is not None]

    @strawberry.field(description="The thread, oldest first.")
    async def messages(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> ClientRequestMessageConnection:
        size = check_first(first, 50)
        start = position_after(after)
        rows = await info.context.loaders_of(ClientRequestLoaders).messages.load(self.local_id)
        remaining = [r for r in rows if start is None or r.number > start]
        page = Page.of(remaining, size, lambda r: r.number, after=after, total=len(rows))
        return connection_of(
            ClientRequestMessageConnection,
            page,
            ClientRequestMessageEdge,
            ClientRequestMessage.from_row,
        )

    @strawberry.field(description="Every document attached to the thread, in message order.")
    async def attachments(self, info: Info) -> list[Document]:
        rows = await info.context.loaders_of(ClientRequestLoaders).messages.load(self.local_id)
        ids = list(dict.fromkeys(d for r in rows for d in r.document_ids))
        return await _documents(info, ids)


@strawberry.type
class ClientRequestEdge:
    cursor: str
    node: ClientRequest


@strawberry.type
class ClientRequestConnection:
    edges: list[ClientRequestEdge]
    page_info: PageInfo
    total_count: int


async def client_request_node(info: Info, local: str) -> ClientRequest | None:
    row = await info.context.loaders_of(ClientRequestLoaders).request.load(local)
    return None if row is None else ClientRequest.from_row(row)


@strawberry.type
class ClientRequestsClientFields:
    """The fields client requests add to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(description="Requests sent to this client, newest first.")
    async def requests(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        status: list[ClientRequestStatus] | None = None,
    ) -> ClientRequestConnection:
        size = check_first(first, 20)
        rows = await info.context.loaders_of(ClientRequestLoaders).requests_by_client.load(
            self.local_id
        )
        if status is not None:
            wanted = {s.value for s in status}
            rows = [r for r in rows if r.status in wanted]
        page = page_after_position(rows, size, after)
        return connection_of(
            ClientRequestConnection, page, ClientRequestEdge, ClientRequest.from_row
        )


@strawberry.type
class ClientRequestsOverviewFields:
    """The fields client requests add to a client's overview (composed in schema/client.py)."""

    client_id: strawberry.Private[str]

    @strawberry.field(
        description="The client's latest requests (up to 5), newest first; all: Client.requests."
    )
    async def latest_requests(self, info: Info) -> list[ClientRequest]:
        rows = await info.context.loaders_of(ClientRequestLoaders).requests_by_client.load(
            self.client_id
        )
        return [ClientRequest.from_row(r) for r in rows[:LATEST_REQUESTS]]


# Mutations ---------------------------------------------------------------------


@strawberry.input
class OpenClientRequestInput:
    client_id: strawberry.ID
    title: str
    message: str
    due_on: date | None = None
    contact_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Linked contacts with portal access (default: every such contact).",
    )
    document_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Documents of the same client to attach."
    )
    idempotency_key: str | None = None


@strawberry.input
class ReplyToClientRequestInput:
    request_id: strawberry.ID
    message: str
    document_ids: list[strawberry.ID] | None = None
    idempotency_key: str | None = None


@strawberry.input
class ClientRequestInput:
    request_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class SetContactPortalAccessInput:
    contact_id: strawberry.ID
    email: str = strawberry.field(description="One of the contact's emails.")
    enabled: bool
    idempotency_key: str | None = None


@strawberry.type
class ClientRequestPayload:
    request: ClientRequest

    @classmethod
    async def load(cls, info: Info, done: Outcome) -> ClientRequestPayload:
        return cls(request=await ClientRequest.load(info, done.ids["client_request_id"]))


@strawberry.type
class ContactPortalAccessPayload:
    contact: Contact


ClientRequestResult: TypeAlias = Annotated[
    ClientRequestPayload
    | ValidationError
    | NotFoundError
    | RuleViolationError
    | LimitExceededError,
    strawberry.union("ClientRequestResult"),
]
SetContactPortalAccessResult: TypeAlias = Annotated[
    ContactPortalAccessPayload | ValidationError | NotFoundError,
    strawberry.union("SetContactPortalAccessResult"),
]


def _documents_of(ids: list[strawberry.ID] | None) -> list[Any] | None:
    return None if ids is None else [local_id(d, "Document") for d in ids]


@strawberry.type
class ClientRequestsMutation:
    @command(
        may_change("send requests"),
        description="Send a client's contacts a request (refused while on hold).",
    )
    async def open_client_request(
        self, info: Info, input: OpenClientRequestInput
    ) -> ClientRequestResult:
        contacts = None
        if input.contact_ids is not None:
            contacts = [local_id(c, "Contact") for c in input.contact_ids]
        documents = _documents_of(input.document_ids)
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.services.client_requests.open_client_request(
                client_id,
                title=input.title,
                message=input.message,
                due_on=input.due_on,
                contact_ids=contacts,
                document_ids=documents,
                key=input.idempotency_key,
            ),
        )
        return await ClientRequestPayload.load(info, done)

    @command(may_change("reply to requests"), description="Add a message to a request's thread.")
    async def reply_to_client_request(
        self, info: Info, input: ReplyToClientRequestInput
    ) -> ClientRequestResult:
        documents = _documents_of(input.document_ids)
        done = await info.context.run_on(
            "ClientRequest",
            input.request_id,
            lambda app, request_id: app.services.client_requests.reply_to_client_request(
                request_id,
                message=input.message,
                document_ids=documents,
                key=input.idempotency_key,
            ),
        )
        return await ClientRequestPayload.load(info, done)

    @command(may_change("close requests"), description="Close a request: no more messages.")
    async def close_client_request(
        self, info: Info, input: ClientRequestInput
    ) -> ClientRequestResult:
        return await _change_request(info, input, lambda requests: requests.close_client_request)

    @command(
        may_change("change requests"),
        description="Record that the client answered (e.g. by phone): the firm's turn.",
    )
    async def mark_client_request_answered(
        self, info: Info, input: ClientRequestInput
    ) -> ClientRequestResult:
        return await _change_request(
            info, input, lambda requests: requests.mark_client_request_answered
        )

    @command(
        may_change("send requests"),
        description="Email the addressed contacts a reminder of an open request, and count it.",
    )
    async def send_request_reminder(
        self, info: Info, input: ClientRequestInput
    ) -> ClientRequestResult:
        return await _change_request(info, input, lambda requests: requests.send_request_reminder)

    @command(
        may_change("change contacts"),
        description="Give or take back a contact's portal access through one of its emails.",
    )
    async def set_contact_portal_access(
        self, info: Info, input: SetContactPortalAccessInput
    ) -> SetContactPortalAccessResult:
        done = await info.context.run_on(
            "Contact",
            input.contact_id,
            lambda app, contact_id: app.services.client_requests.set_contact_portal_access(
                contact_id, email=input.email, enabled=input.enabled, key=input.idempotency_key
            ),
        )
        return ContactPortalAccessPayload(contact=await Contact.load(info, done.ids["contact_id"]))


async def _change_request(
    info: Info, input: ClientRequestInput, method: Callable[[Any], Callable[..., Outcome]]
) -> ClientRequestPayload:
    """Close a request, mark it answered or remind: `method` picks the service's command."""
    done = await info.context.run_on(
        "ClientRequest",
        input.request_id,
        lambda app, request_id: method(app.services.client_requests)(
            request_id, key=input.idempotency_key
        ),
    )
    return await ClientRequestPayload.load(info, done)
