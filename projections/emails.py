"""The email log and outbox: one row per email (queued, sent, failed or received).

`rm_emails` is both what the profile lists and the outbox the delivery worker polls: a row
with status QUEUED whose `next_attempt_at` has come is due. Every column comes from the
email's events, so a rebuild gives the same rows. What the worker itself keeps between
sending and recording (its leases, the moment the server accepted a message) is not a read
model: it lives in the infra-owned `mail_deliveries` table (infra/mail/store.py).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from domain.email import FAILED, QUEUED, RECEIVED, SENT, Email, EmailKind
from projections.base import Projection, handles, jsonable
from projections.sentences import Said, join_words, names, says
from projections.tables import FIRM, ID, UTCDateTime, metadata

PREVIEW_MAX = 200

emails = sa.Table(
    "rm_emails",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID),  # none for mail about no client (notices to staff)
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("from_address", sa.Text),  # inbound only
    sa.Column("to", sa.JSON, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("preview", sa.Text, nullable=False),  # the body's first line, at most 200
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("refused", sa.JSON, nullable=False),  # recipients the server refused (SENT)
    sa.Column("next_attempt_at", UTCDateTime),  # QUEUED only: when the worker may try
    sa.Column("queued_at", UTCDateTime, nullable=False),  # or received at
    sa.Column("sent_at", UTCDateTime),
    sa.Column("failed_at", UTCDateTime),
    sa.Column("queued_by", sa.JSON, nullable=False),  # the actor who queued or logged it
    sa.Column("related", sa.JSON, nullable=False),
    sa.Column("document_ids", sa.JSON, nullable=False),  # inbound: documents of attachments
    sa.Column("position", sa.BigInteger, nullable=False),  # of the first event: the order
    sa.Index("ix_rm_emails_client_position", "client_id", "position"),
    sa.Index("ix_rm_emails_outbox", "status", "next_attempt_at"),
)


def preview_of(body: str) -> str:
    """The first non-blank line of a body, at most PREVIEW_MAX characters."""
    for line in body.splitlines():
        if line.strip():
            return line.strip()[:PREVIEW_MAX]
    return ""


class EmailsProjection(Projection):
    """Keeps rm_emails."""

    name = "emails"
    tables = (emails,)

    @handles(Email.EmailQueued)
    def queued(self, conn: sa.Connection, e: Email.EmailQueued, position: int) -> None:
        self._insert(conn, e, position, status=QUEUED, next_attempt_at=e.timestamp)

    @handles(Email.EmailReceived)
    def received(self, conn: sa.Connection, e: Email.EmailReceived, position: int) -> None:
        self._insert(
            conn,
            e,
            position,
            status=RECEIVED,
            from_address=e.from_address,
            document_ids=[str(d) for d in e.document_ids],
            related={},
        )

    def _insert(
        self,
        conn: sa.Connection,
        e: Email.EmailQueued | Email.EmailReceived,
        position: int,
        **values: Any,
    ) -> None:
        row: dict[str, Any] = {
            "id": str(e.originator_id),
            "firm_id": e.firm_id,
            "client_id": None if e.client_id is None else str(e.client_id),
            "kind": e.kind,
            "to": list(e.to),
            "subject": e.subject,
            "preview": preview_of(e.body),
            "body": e.body,
            "message_id": e.message_id,
            "attempts": 0,
            "refused": [],
            "queued_at": e.timestamp,
            "queued_by": e.actor,
            "related": jsonable(getattr(e, "related", {})),
            "document_ids": [],
            "position": position,
        }
        row.update(values)
        conn.execute(sa.insert(emails).values(**row))

    def _update(self, conn: sa.Connection, e: Any, **values: Any) -> None:
        conn.execute(sa.update(emails).where(emails.c.id == str(e.originator_id)).values(**values))

    @handles(Email.EmailAttemptFailed)
    def attempt_failed(
        self, conn: sa.Connection, e: Email.EmailAttemptFailed, position: int
    ) -> None:
        self._update(conn, e, attempts=e.attempt, last_error=e.reason, next_attempt_at=e.retry_at)

    @handles(Email.EmailSent)
    def sent(self, conn: sa.Connection, e: Email.EmailSent, position: int) -> None:
        self._update(
            conn,
            e,
            status=SENT,
            attempts=e.attempts,
            sent_at=e.sent_at,
            refused=list(e.refused),
            last_error=("refused: " + "; ".join(e.refused)) if e.refused else None,
            next_attempt_at=None,
        )

    @handles(Email.EmailFailed)
    def failed(self, conn: sa.Connection, e: Email.EmailFailed, position: int) -> None:
        self._update(
            conn,
            e,
            status=FAILED,
            attempts=e.attempts,
            last_error=e.reason,
            failed_at=e.timestamp,
            next_attempt_at=None,
        )


# The activity history's sentences ---------------------------------------------------------


def _recipients(to: list[str]) -> str:
    shown = to[:3]
    more = len(to) - len(shown)
    return join_words([*shown, f"{more} more"] if more else shown)


def _about(e: Any, said: Said) -> str:
    return "" if e.client_id is None else f" about {said.client(e)}"


def _subject(e: Any, said: Said) -> str:
    """'the email "Subject"' (as the history knew it when queued), else 'an email'."""
    label = said.name_of(e.originator_id, "")
    return f"the email {label}" if label else "an email"


@names(Email.EmailQueued, Email.EmailReceived)
def _email_subject(e: Email.EmailQueued | Email.EmailReceived) -> tuple[str, str]:
    return str(e.originator_id), f'"{e.subject}"'


_KIND_WORDS = {
    EmailKind.MANUAL: "an email",
    EmailKind.NOTIFICATION: "a notification email",
    EmailKind.INVITATION: "an invitation email",
    EmailKind.SYSTEM: "a system email",
}


@says(Email.EmailQueued)
def _queued(e: Email.EmailQueued, said: Said) -> str:
    what = _KIND_WORDS.get(e.kind, "an email")
    return f'{said.who} queued {what} "{e.subject}" to {_recipients(e.to)}{_about(e, said)}.'


@says(Email.EmailReceived)
def _received(e: Email.EmailReceived, said: Said) -> str:
    count = len(e.document_ids)
    files = "" if count == 0 else f" with {count} attachment{'s' if count != 1 else ''}"
    sender = e.from_address or "an unknown sender"
    return f'{said.who} logged the email "{e.subject}" from {sender}{files} for {said.client(e)}.'


@says(Email.EmailAttemptFailed)
def _attempt_failed(e: Email.EmailAttemptFailed, said: Said) -> str:
    return (
        f"Delivery attempt {e.attempt} of {_subject(e, said)} failed ({e.reason}); "
        f"it will be tried again at {e.retry_at.isoformat(timespec='seconds')}."
    )


@says(Email.EmailSent)
def _sent(e: Email.EmailSent, said: Said) -> str:
    refused = f"; refused: {'; '.join(e.refused)}" if e.refused else ""
    return f"{said.who} sent {_subject(e, said)}{refused}."


@says(Email.EmailFailed)
def _failed(e: Email.EmailFailed, said: Said) -> str:
    return f"Delivery of {_subject(e, said)} failed for good: {e.reason}."
