"""Inbound email: a raw RFC 822 message for a client becomes documents and an email log entry.

The message is parsed with the standard library (`email`, policy.default), bounded to
MESSAGE_BYTES_MAX bytes. Its attachments (parts with a file name or marked as attachments,
and attached messages as .eml files; empty ones are skipped) are checked against the
documents' limits before a single byte is stored: at most 25 files, each at most 5 MB;
otherwise the whole message is refused and nothing is stored. The attachments are then stored
as documents of the client (`DocumentsService.upload_documents`, source kind EMAIL) and the
email is logged (`EmailsService.receive_email`, kind INBOUND, with the documents' ids).

Both steps are idempotent by the message: the email's id is derived from the firm, the client
and the Message-ID, and the documents are added under an idempotency key made of that id. A
message received twice is logged once; a failure between the two steps (the database went
away) is completed by receiving the same message again, which adds no second set of documents.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain.actor import SYSTEM_ACTOR, acting_as
from domain.document import FILE_BYTES_MAX, FILE_NAME_MAX, FILES_PER_UPLOAD_MAX
from domain.email import Email
from domain.errors import DomainError, InvalidInput, LimitExceeded, NotFound
from domain.text import sanitise
from infra.services import Services
from infra.services.documents import FileBytes

MESSAGE_BYTES_MAX = 180 * 1024 * 1024
"""The largest raw message accepted: 25 attachments of 5 MB each, base64-encoded, and text."""

_NAMESPACE = uuid5(NAMESPACE_URL, "https://dossier.invalid/inbound-email")
_TAGS = re.compile(r"<[^>]*>")


class InboundRefused(Exception):
    """The message is refused as a whole; nothing was stored."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.details}}


@dataclass(frozen=True)
class ParsedMessage:
    """What Dossier keeps of a received message."""

    from_address: str | None
    to: list[str]
    subject: str | None
    body: str
    message_id: str | None
    attachments: list[FileBytes]


@dataclass(frozen=True)
class InboundResult:
    email_id: str
    client_id: str
    document_ids: list[str]
    position: int | None


def _addresses(message: Message, name: str) -> list[str]:
    found: list[str] = []
    for header in message.get_all(name) or []:
        for address in getattr(header, "addresses", ()):
            spec = str(address.addr_spec)
            if spec and spec not in found:
                found.append(spec)
    return found


def _text_of(part: Message) -> str:
    try:
        content = part.get_content() if isinstance(part, EmailMessage) else part.get_payload()
    except (LookupError, ValueError):  # an unknown charset, a broken encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = content if isinstance(content, str) else ""
    if part.get_content_type() == "text/html":
        text = html.unescape(_TAGS.sub(" ", text))
    return text


def attachment_name(name: str | None, index: int) -> str:
    """A safe document name for an attachment's file name (never refused)."""
    raw = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    clean = (sanitise(raw, FILE_NAME_MAX) or "").strip(". ")
    return clean or f"attachment-{index + 1}"


def _attachments(message: Message, body_part: Message | None) -> list[tuple[str | None, bytes]]:
    found: list[tuple[str | None, bytes]] = []

    def visit(part: Message) -> None:
        if part is body_part:
            return
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            inner = part.get_payload(0) if part.is_multipart() else None
            if isinstance(inner, Message):
                name = (
                    part.get_filename() or f"{sanitise(inner.get('Subject'), 100) or 'message'}.eml"
                )
                found.append((name, inner.as_bytes(policy=policy.default)))
            return
        if part.is_multipart():
            for child in part.iter_parts() if isinstance(part, EmailMessage) else []:
                visit(child)
            return
        if part.get_content_disposition() == "attachment" or part.get_filename():
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            if data:
                found.append((part.get_filename(), data))

    visit(message)
    return found


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse and check a raw message; InboundRefused when it cannot be taken as a whole."""
    if len(raw) > MESSAGE_BYTES_MAX:
        raise InboundRefused(
            413, "PAYLOAD_TOO_LARGE", f"a message is at most {MESSAGE_BYTES_MAX} bytes"
        )
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception:
        raise InboundRefused(400, "BAD_MESSAGE", "the body is not an RFC 822 message") from None
    if not message.keys() or not (message.get("From") or message.get("Message-ID")):
        raise InboundRefused(
            400, "BAD_MESSAGE", "the body is not an RFC 822 message (no From or Message-ID)"
        )
    try:
        body_part = message.get_body(preferencelist=("plain", "html"))
        senders = _addresses(message, "From")
        recipients = _addresses(message, "To") + _addresses(message, "Cc")
        subject = message.get("Subject")
        message_id = message.get("Message-ID")
        files = _attachments(message, body_part)
    except Exception:
        raise InboundRefused(400, "BAD_MESSAGE", "the message could not be read") from None
    if len(files) > FILES_PER_UPLOAD_MAX:
        raise InboundRefused(
            413,
            "LIMIT_EXCEEDED",
            f"a message may bring at most {FILES_PER_UPLOAD_MAX} attachments "
            f"({len(files)} found); nothing was stored",
            limit=FILES_PER_UPLOAD_MAX,
        )
    for index, (name, data) in enumerate(files):
        if len(data) > FILE_BYTES_MAX:
            raise InboundRefused(
                413,
                "LIMIT_EXCEEDED",
                f"attachment {index + 1} ({attachment_name(name, index)}) is larger than "
                f"{FILE_BYTES_MAX} bytes; nothing was stored",
                limit=FILE_BYTES_MAX,
            )
    return ParsedMessage(
        from_address=senders[0] if senders else None,
        to=recipients,
        subject=None if subject is None else str(subject),
        body="" if body_part is None else _text_of(body_part),
        message_id=None if message_id is None else str(message_id).strip(),
        attachments=[
            FileBytes(attachment_name(name, index), data)
            for index, (name, data) in enumerate(files)
        ],
    )


def inbound_email_id(firm_id: str, client_id: UUID, message_id: str | None) -> UUID:
    """The email's id: the same for the same message received again for the same client."""
    if not message_id:
        return uuid4()
    return uuid5(_NAMESPACE, f"{firm_id}\n{client_id}\n{message_id}")


def receive(services: Services, firm_id: str, client_id: UUID, raw: bytes) -> InboundResult:
    """Store the attachments as documents and log the email, as the acting viewer (who must
    be able to see and change the client). Domain failures become InboundRefused."""
    parsed = parse_message(raw)
    email_id = inbound_email_id(firm_id, client_id, parsed.message_id)
    try:
        services.clients.visible_client(client_id)
        document_ids: list[str] = []
        if parsed.attachments:
            stored = services.documents.upload_documents(
                client_id,
                list(parsed.attachments),
                source={"kind": "EMAIL", "email_id": str(email_id)},
                idempotency_key=f"inbound-email:{email_id}",
            )
            document_ids = [d for d in stored.ids.get("document_ids", "").split(",") if d]
        done = services.emails.receive_email(
            client_id,
            from_address=parsed.from_address,
            to=parsed.to,
            subject=parsed.subject,
            body=parsed.body,
            message_id=parsed.message_id,
            document_ids=[UUID(d) for d in document_ids],
            email_id=email_id,
        )
    except NotFound:
        raise InboundRefused(404, "NOT_FOUND", f"client {client_id} was not found") from None
    except LimitExceeded as error:
        raise InboundRefused(413, "LIMIT_EXCEEDED", error.message, limit=error.limit) from None
    except InvalidInput as error:
        raise InboundRefused(422, "VALIDATION", error.message, field=error.field) from None
    except DomainError as error:
        raise InboundRefused(409, "REFUSED", error.message) from None
    logged: Email = services.emails.get_email(email_id)
    return InboundResult(
        email_id=str(email_id),
        client_id=str(client_id),
        document_ids=[str(d) for d in logged.document_ids],
        position=done.position,
    )


def receive_as_system(container: Any, firm_id: str, client: str, raw: bytes) -> InboundResult:
    """The CLI's path: the client by uuid or global id, acting as the system of the firm."""
    from resolvers.ids import uuid_of

    try:
        client_id = UUID(client)
    except ValueError:
        found = uuid_of(client, "Client")
        if found is None:
            raise InboundRefused(404, "NOT_FOUND", f"client {client} was not found") from None
        client_id = found
    with acting_as(SYSTEM_ACTOR, firm_id, "system"):
        result = receive(container.services, firm_id, client_id, raw)
    container.wait_for(result.position)
    return result
