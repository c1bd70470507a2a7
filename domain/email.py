"""The Email aggregate: one outgoing (or logged incoming) message and its delivery.

An email is queued by a command (staff writing from the profile, or the system: notifications,
portal invitations) in the same transaction as whatever caused it; the outbox is the read
model of queued emails, and the delivery worker records what happened to each one. The
Message-ID is fixed when the email is queued, so every retry sends the same message.

Delivery: each failed attempt that may succeed later is an `EmailAttemptFailed` (with when to
try again); the end is either `EmailSent` (the server accepted it, for at least one
recipient; recipients it refused are listed) or `EmailFailed` (refused for good, or attempts
exhausted). A message received for a client is logged by `Email.receive` (kind INBOUND,
status RECEIVED, with the documents made of its attachments); it is never sent.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from domain.base import DossierAggregate, DossierCreated, DossierEvent
from domain.errors import InvalidInput, LimitExceeded, RuleViolated
from domain.text import forbidden_character, sanitise
from domain.values import EMAIL_MAX, NAME_MAX, clean_email, required_text

SUBJECT_MAX = NAME_MAX
BODY_MAX = 100_000
RECIPIENTS_MAX = 50
REASON_MAX = 500
"""Characters of a delivery failure's reason (sanitised: one line, no control characters)."""
MESSAGE_ID_MAX = 998
ATTACHMENTS_MAX = 25
"""Documents one inbound message may bring (the documents' own per-request limit)."""
NO_SUBJECT = "(no subject)"

QUEUED = "QUEUED"
SENT = "SENT"
FAILED = "FAILED"
RECEIVED = "RECEIVED"


STATUSES = (QUEUED, SENT, FAILED, RECEIVED)

# A plain mailbox: an ASCII dot-atom local part and a dotted domain (letters of any script,
# sent IDNA-encoded). Quoted local parts, comments, display names and commas are refused, so an
# address can never turn into two in a header or an SMTP envelope.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_MAILBOX_RE = re.compile(rf"{_ATEXT}(\.{_ATEXT})*@[\w-]+(\.[\w-]+)+")


class EmailKind:
    """Why an email exists (a plain string on the events)."""

    MANUAL = "MANUAL"  # written by staff from the profile
    NOTIFICATION = "NOTIFICATION"  # a notice to staff (comments, holds, ...)
    INVITATION = "INVITATION"  # a portal invitation to a contact
    SYSTEM = "SYSTEM"  # anything else the system sends
    INBOUND = "INBOUND"  # a message received for a client (logged, never sent)

    ALL = (MANUAL, NOTIFICATION, INVITATION, SYSTEM, INBOUND)


def message_id_for(email_id: UUID, domain: str = "dossier.invalid") -> str:
    """The stable RFC 5322 Message-ID of an email: the same for every delivery attempt."""
    return f"<{email_id}@{domain}>"


def clean_recipients(field: str, addresses: list[str]) -> list[str]:
    """Trimmed, validated, de-duplicated (case-insensitively) recipient addresses."""
    if not addresses:
        raise InvalidInput(field, "at least one recipient is required")
    if len(addresses) > RECIPIENTS_MAX:
        raise LimitExceeded(RECIPIENTS_MAX, f"at most {RECIPIENTS_MAX} recipients ({field})")
    seen: set[str] = set()
    out: list[str] = []
    for i, address in enumerate(addresses):
        clean = clean_email(f"{field}.{i}", address)
        if _MAILBOX_RE.fullmatch(clean) is None:
            raise InvalidInput(
                f"{field}.{i}", f"{clean!r} is not a plain email address (name@domain.example)"
            )
        if clean.lower() not in seen:
            seen.add(clean.lower())
            out.append(clean)
    return out


class EmailEvent(DossierEvent):
    """An event of an email's own stream; about its client when it has one. Every event of
    the stream carries the email's kind (notices to staff stay out of the activity history)."""

    client_id: UUID | None
    kind: str

    def about_client(self) -> UUID | None:
        return self.client_id


def clean_reason(reason: str) -> str:
    """A delivery failure's reason as recorded: one line, printable, at most REASON_MAX."""
    return sanitise(reason, REASON_MAX) or "unknown error"


def received_text(value: str | None, max_length: int) -> str:
    """Multi-line text of a received message made storable without refusing it: line ends as
    LF, characters the text rules refuse dropped, cut to max_length."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize(
        "NFC", "".join(char for char in text if forbidden_character(char, multiline=True) is None)
    )
    return text.strip()[:max_length].strip()


def received_addresses(addresses: list[str]) -> list[str]:
    """Addresses of a received message as logged (sanitised, bounded; never refused)."""
    out: list[str] = []
    for address in addresses[:RECIPIENTS_MAX]:
        clean = sanitise(address, EMAIL_MAX)
        if clean is not None and clean not in out:
            out.append(clean)
    return out


class Email(DossierAggregate):
    """An email of the firm: queued, then sent or failed for good (or received, for inbound)."""

    class EmailQueued(DossierCreated, EmailEvent):
        kind: str
        to: list[str]
        subject: str
        body: str
        message_id: str
        related: dict[str, Any]

    class EmailReceived(DossierCreated, EmailEvent):
        """A message received for a client, logged with the documents of its attachments."""

        kind: str
        from_address: str
        to: list[str]
        subject: str
        body: str
        message_id: str
        document_ids: list[UUID]

        def apply(self, aggregate: Any) -> None:
            aggregate.status = RECEIVED
            aggregate.from_address = self.from_address
            aggregate.document_ids = list(self.document_ids)

    class EmailAttemptFailed(EmailEvent):
        """A delivery attempt failed in a way that may pass: tried again at `retry_at`."""

        attempt: int
        reason: str
        retry_at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.attempts = self.attempt
            aggregate.last_error = self.reason
            aggregate.retry_at = self.retry_at

    class EmailSent(EmailEvent):
        """The mail server accepted the message (for every recipient but `refused`)."""

        sent_at: datetime
        attempts: int
        refused: list[str]

        def apply(self, aggregate: Any) -> None:
            aggregate.status = SENT
            aggregate.attempts = self.attempts
            aggregate.sent_at = self.sent_at
            aggregate.refused = list(self.refused)

    class EmailFailed(EmailEvent):
        """Delivery gave up for good: the server refused it, or attempts ran out."""

        reason: str
        attempts: int

        def apply(self, aggregate: Any) -> None:
            aggregate.status = FAILED
            aggregate.attempts = self.attempts
            aggregate.last_error = self.reason

    def __init__(
        self,
        firm_id: str,
        client_id: UUID | None,
        to: list[str],
        subject: str,
        body: str,
        message_id: str,
        kind: str = EmailKind.INBOUND,
        related: dict[str, Any] | None = None,
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.kind = kind
        self.to = to
        self.subject = subject
        self.body = body
        self.message_id = message_id
        self.related = dict(related or {})
        self.status = QUEUED
        self.attempts = 0
        self.last_error: str | None = None
        self.retry_at: datetime | None = None
        self.sent_at: datetime | None = None
        self.refused: list[str] = []
        self.from_address: str | None = None
        self.document_ids: list[UUID] = []

    @classmethod
    def queue(
        cls,
        *,
        to: list[str],
        subject: str,
        body: str,
        kind: str = EmailKind.MANUAL,
        client_id: UUID | None = None,
        related: dict[str, Any] | None = None,
        email_id: UUID | None = None,
    ) -> Email:
        """Queue a message for delivery; `related` names what caused it (plain JSON values)."""
        if kind not in EmailKind.ALL or kind == EmailKind.INBOUND:
            raise InvalidInput("input.kind", f"cannot queue an email of kind {kind}")
        new_id = email_id or uuid4()
        return cls._create(
            cls.EmailQueued,
            id=new_id,
            client_id=client_id,
            kind=kind,
            to=clean_recipients("input.to", to),
            subject=required_text("input.subject", subject, SUBJECT_MAX),
            body=required_text("input.body", body, BODY_MAX, multiline=True),
            message_id=message_id_for(new_id),
            related=dict(related or {}),
        )

    @classmethod
    def receive(
        cls,
        *,
        client_id: UUID,
        from_address: str | None,
        to: list[str],
        subject: str | None,
        body: str | None,
        message_id: str | None,
        document_ids: list[UUID],
        email_id: UUID | None = None,
    ) -> Email:
        """Log a message received for a client (never sent). What the message says is
        sanitised, not refused: the sender chose it, not the person recording it."""
        if len(document_ids) > ATTACHMENTS_MAX:
            raise LimitExceeded(
                ATTACHMENTS_MAX, f"at most {ATTACHMENTS_MAX} attachments per message"
            )
        new_id = email_id or uuid4()
        return cls._create(
            cls.EmailReceived,
            id=new_id,
            client_id=client_id,
            kind=EmailKind.INBOUND,
            from_address=sanitise(from_address, EMAIL_MAX) or "",
            to=received_addresses(to),
            subject=sanitise(subject, SUBJECT_MAX) or NO_SUBJECT,
            body=received_text(body, BODY_MAX),
            message_id=sanitise(message_id, MESSAGE_ID_MAX) or message_id_for(new_id),
            document_ids=list(document_ids),
        )

    # Delivery (recorded by the delivery worker, as the system) ----------------------------

    def _require_queued(self) -> None:
        if self.status != QUEUED:
            raise RuleViolated(
                "EMAIL_NOT_QUEUED", f"the email is {self.status.lower()}, not queued for delivery"
            )

    def attempt_failed(self, reason: str, retry_at: datetime, *, max_attempts: int) -> None:
        """Record a failed attempt; once `max_attempts` have failed the email fails for good."""
        self._require_queued()
        attempt = self.attempts + 1
        if attempt >= max_attempts:
            self.trigger_event(
                self.EmailFailed,
                client_id=self.client_id,
                kind=self.kind,
                reason=clean_reason(f"gave up after {attempt} attempts: {reason}"),
                attempts=attempt,
            )
            return
        self.trigger_event(
            self.EmailAttemptFailed,
            client_id=self.client_id,
            kind=self.kind,
            attempt=attempt,
            reason=clean_reason(reason),
            retry_at=retry_at,
        )

    def mark_sent(self, sent_at: datetime, refused: list[str] | None = None) -> None:
        """Record that the server accepted the message; nothing if that is already recorded
        (a worker that finds an accepted message after a crash records it again)."""
        if self.status == SENT:
            return
        self._require_queued()
        self.trigger_event(
            self.EmailSent,
            client_id=self.client_id,
            kind=self.kind,
            sent_at=sent_at,
            attempts=self.attempts + 1,
            refused=[clean_reason(r) for r in (refused or [])][:RECIPIENTS_MAX],
        )

    def fail(self, reason: str) -> None:
        """Record that delivery failed for good (the server refused the message)."""
        self._require_queued()
        self.trigger_event(
            self.EmailFailed,
            client_id=self.client_id,
            kind=self.kind,
            reason=clean_reason(reason),
            attempts=self.attempts + 1,
        )

    def due(self, now: datetime) -> bool:
        """Whether a delivery attempt may be made now."""
        return self.status == QUEUED and (self.retry_at is None or self.retry_at <= now)
