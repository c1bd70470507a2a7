"""The RFC 5322 message of a queued email: the same bytes on every attempt.

Headers: From (DOSSIER_MAIL_FROM), To, Subject, Date (when the email was queued), the
Message-ID fixed when it was queued, and X-Dossier-Email-Id naming the email; mail the
system writes by itself also carries `Auto-Submitted: auto-generated` (RFC 3834), so
well-behaved auto-responders do not answer it. The body is plain UTF-8 text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from domain.email import EmailKind

EMAIL_ID_HEADER = "X-Dossier-Email-Id"


@dataclass(frozen=True)
class OutgoingEmail:
    """What the worker needs of a queued email to build and send its message."""

    id: str
    firm_id: str
    kind: str
    to: list[str]
    subject: str
    body: str
    message_id: str
    queued_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> OutgoingEmail:
        return cls(
            id=str(row.id),
            firm_id=str(row.firm_id),
            kind=str(row.kind),
            to=list(row.to),
            subject=str(row.subject),
            body=str(row.body),
            message_id=str(row.message_id),
            queued_at=row.queued_at,
        )


def envelope_sender(mail_from: str) -> str:
    """The address part of DOSSIER_MAIL_FROM ("Name <a@b>" gives "a@b")."""
    return parseaddr(mail_from)[1] or mail_from


class UnsendableAddress(ValueError):
    """An address that cannot be written in a message (a domain IDNA cannot encode)."""


def ascii_address(address: str) -> str:
    """The address with its domain IDNA-encoded (local parts are ASCII by the domain rule)."""
    local, _, domain = address.rpartition("@")
    try:
        encoded = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsendableAddress(f"{address} cannot be encoded for sending") from None
    return f"{local}@{encoded}"


def build_message(email: OutgoingEmail, mail_from: str) -> EmailMessage:
    """The message as sent (and as written to an .eml file)."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = mail_from
    message["To"] = [Address(addr_spec=ascii_address(address)) for address in email.to]
    message["Subject"] = email.subject
    message["Date"] = format_datetime(email.queued_at)
    message["Message-ID"] = email.message_id
    message[EMAIL_ID_HEADER] = email.id
    if email.kind != EmailKind.MANUAL:
        message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.body, charset="utf-8")
    return message
