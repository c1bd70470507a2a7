"""The email log on the profile: every email about a client (written by staff, sent by the
system, or received), its delivery status, and `sendEmail`.

Statuses: QUEUED (waiting for the delivery worker, possibly after failed attempts: see
`attempts`, `lastError`, `nextAttemptAt`), SENT (the mail server accepted it; recipients it
refused are in `refused`), FAILED (refused for good or attempts exhausted; `lastError` says
why), RECEIVED (an inbound message, never sent; its attachments are documents).

`sendEmail` accepts any plain address as a recipient (at most 50): staff write from the profile
to the client's contacts, colleagues or anyone the client works with.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, TypeAlias

import strawberry

from resolvers.commands import may_change, written
from resolvers.emails import LATEST_EMAILS, EmailLoaders
from resolvers.ids import to_global_id
from resolvers.pages import check_first, page_after_position
from schema.common import Actor, Info, Node, PageInfo, command, connection_of
from schema.documents import Document, document_node
from schema.errors import LimitExceededError, NotFoundError, ValidationError
from schema.types import ClientCore, ClientRef


@strawberry.enum
class EmailStatus(Enum):
    QUEUED = "QUEUED"
    SENT = "SENT"
    FAILED = "FAILED"
    RECEIVED = "RECEIVED"


@strawberry.enum
class EmailKind(Enum):
    MANUAL = "MANUAL"
    NOTIFICATION = "NOTIFICATION"
    INVITATION = "INVITATION"
    SYSTEM = "SYSTEM"
    INBOUND = "INBOUND"


def _loaders(info: Info) -> EmailLoaders:
    return info.context.loaders_of(EmailLoaders)


@strawberry.type(description="An email about a client: sent from Dossier, or received.")
class Email(Node):
    id: strawberry.ID
    kind: EmailKind = strawberry.field(
        description="MANUAL (written by staff), NOTIFICATION, INVITATION, SYSTEM, or INBOUND."
    )
    status: EmailStatus
    from_address: str | None = strawberry.field(
        description="The sender of a received email (outgoing mail is from the firm)."
    )
    to: list[str]
    subject: str
    preview: str = strawberry.field(description="The body's first line (at most 200 characters).")
    message_id: str = strawberry.field(
        description="The RFC 5322 Message-ID: fixed when queued, the same on every attempt."
    )
    attempts: int = strawberry.field(description="Delivery attempts made so far.")
    last_error: str | None = strawberry.field(
        description="Why the last attempt failed (QUEUED, FAILED), or the recipients the "
        "server refused (SENT)."
    )
    refused: list[str] = strawberry.field(
        description="Recipients the server refused while accepting the others, with its reply."
    )
    next_attempt_at: datetime | None = strawberry.field(
        description="When the worker tries again (QUEUED only)."
    )
    queued_at: datetime = strawberry.field(description="When it was queued (or received).")
    sent_at: datetime | None
    failed_at: datetime | None
    queued_by: Actor = strawberry.field(description="Who wrote it, or the system.")
    local_id: strawberry.Private[str]
    client_id: strawberry.Private[str]
    document_ids: strawberry.Private[list[str]]

    @classmethod
    def from_row(cls, row: Any) -> Email:
        return cls(
            id=strawberry.ID(to_global_id("Email", row.id)),
            kind=EmailKind(row.kind),
            status=EmailStatus(row.status),
            from_address=row.from_address,
            to=list(row.to),
            subject=row.subject,
            preview=row.preview,
            message_id=row.message_id,
            attempts=row.attempts,
            last_error=row.last_error,
            refused=list(row.refused),
            next_attempt_at=row.next_attempt_at,
            queued_at=row.queued_at,
            sent_at=row.sent_at,
            failed_at=row.failed_at,
            queued_by=Actor.from_dict(row.queued_by),
            local_id=row.id,
            client_id=row.client_id,
            document_ids=list(row.document_ids),
        )

    @classmethod
    async def load(cls, info: Info, email_id: str) -> Email:
        return cls.from_row(await written(_loaders(info).email, "Email", email_id))

    @strawberry.field(description="The full text of the email.")
    async def body(self, info: Info) -> str:
        return await _loaders(info).body.load(self.local_id) or ""

    @strawberry.field
    async def client(self, info: Info) -> ClientRef:
        row = await info.context.loaders.client_in_firm.load(self.client_id)
        return ClientCore.from_row(row)

    @strawberry.field(description="The documents made of a received email's attachments.")
    async def attachments(self, info: Info) -> list[Document]:
        found = await asyncio.gather(*(document_node(info, d) for d in self.document_ids))
        return [document for document in found if document is not None]


@strawberry.type
class EmailEdge:
    cursor: str
    node: Email


@strawberry.type
class EmailConnection:
    edges: list[EmailEdge]
    page_info: PageInfo
    total_count: int


async def client_emails(
    info: Info,
    client_id: str,
    first: int | None,
    after: str | None,
    status: list[EmailStatus] | None,
    kind: list[EmailKind] | None = None,
) -> EmailConnection:
    """A client's emails, newest first, optionally only some statuses and kinds."""
    size = check_first(first, 20)
    rows = await _loaders(info).emails_by_client.load(client_id)
    if status is not None:
        wanted = {s.value for s in status}
        rows = [r for r in rows if r.status in wanted]
    if kind is not None:
        kinds = {k.value for k in kind}
        rows = [r for r in rows if r.kind in kinds]
    page = page_after_position(rows, size, after)
    return connection_of(EmailConnection, page, EmailEdge, Email.from_row)


async def email_node(info: Info, local: str) -> Email | None:
    row = await _loaders(info).email.load(local)
    return None if row is None else Email.from_row(row)


@strawberry.type
class EmailsClientFields:
    """The fields the email log adds to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(
        description="Every email about this client, newest first: with the client, and the "
        "notices to staff about it (kind NOTIFICATION); `kind` keeps only some kinds."
    )
    async def emails(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        status: list[EmailStatus] | None = None,
        kind: list[EmailKind] | None = None,
    ) -> EmailConnection:
        return await client_emails(info, self.local_id, first, after, status, kind)


@strawberry.type
class EmailsOverviewFields:
    """The fields the email log adds to a client's overview (composed in schema/client.py)."""

    client_id: strawberry.Private[str]

    @strawberry.field(
        description="The latest emails with the client (up to 5), newest first: notices to "
        "staff (kind NOTIFICATION) are left out here; all: Client.emails."
    )
    async def latest_emails(self, info: Info) -> list[Email]:
        rows = await _loaders(info).emails_by_client.load(self.client_id)
        with_client = [r for r in rows if r.kind != EmailKind.NOTIFICATION.value]
        return [Email.from_row(r) for r in with_client[:LATEST_EMAILS]]


# Mutations --------------------------------------------------------------------------------


@strawberry.input
class SendEmailInput:
    client_id: strawberry.ID
    to: list[str] = strawberry.field(description="1 to 50 plain addresses (name@domain.example).")
    subject: str = strawberry.field(description="One line, at most 200 characters.")
    body: str = strawberry.field(description="Plain text, at most 100,000 characters.")
    idempotency_key: str | None = None


@strawberry.type
class SendEmailPayload:
    email: Email


SendEmailResult: TypeAlias = Annotated[
    SendEmailPayload | ValidationError | NotFoundError | LimitExceededError,
    strawberry.union("SendEmailResult"),
]


@strawberry.type
class EmailsMutation:
    @command(
        may_change("send emails"),
        description="Write an email to a client from the profile: it is queued (status QUEUED) "
        "and delivered by the mail worker.",
    )
    async def send_email(self, info: Info, input: SendEmailInput) -> SendEmailResult:
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.services.emails.send_email(
                client_id,
                to=list(input.to),
                subject=input.subject,
                body=input.body,
                key=input.idempotency_key,
            ),
        )
        return SendEmailPayload(email=await Email.load(info, done.ids["email_id"]))
