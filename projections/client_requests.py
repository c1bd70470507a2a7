"""The client requests read model: one row per request, one per message of its thread; and
how requests and contacts' portal access read in the activity history."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from domain.client_request import ANSWERED, CLOSED, OPEN, ClientRequest, ClientRequestEvent
from domain.contact import Contact
from projections.base import Projection, handles
from projections.sentences import Said, names, says
from projections.tables import FIRM, ID, UTCDateTime, metadata

client_requests = sa.Table(
    "rm_client_requests",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("due_on", sa.Date),
    sa.Column("addressed_to", sa.JSON, nullable=False),  # contact ids, in order
    sa.Column("message_count", sa.Integer, nullable=False),
    sa.Column("reminders_sent", sa.Integer, nullable=False),
    sa.Column("last_reminded_at", UTCDateTime),
    sa.Column("opened_by", sa.JSON, nullable=False),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.Column("last_message_at", UTCDateTime, nullable=False),
    sa.Column("answered_at", UTCDateTime),
    sa.Column("closed_at", UTCDateTime),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_client_requests_client", "client_id", "position"),
)

client_request_messages = sa.Table(
    "rm_client_request_messages",
    metadata,
    sa.Column("request_id", ID, primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("author", sa.JSON, nullable=False),
    sa.Column("posted_at", UTCDateTime, nullable=False),
    sa.Column("document_ids", sa.JSON, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
)


class ClientRequestsProjection(Projection):
    """Keeps rm_client_requests and rm_client_request_messages."""

    name = "client_requests"
    tables = (client_requests, client_request_messages)

    def _message(
        self,
        conn: sa.Connection,
        e: ClientRequestEvent,
        number: int,
        body: str,
        document_ids: list[Any],
        position: int,
    ) -> None:
        conn.execute(
            sa.insert(client_request_messages).values(
                request_id=str(e.originator_id),
                number=number,
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                body=body,
                author=e.actor,
                posted_at=e.timestamp,
                document_ids=[str(d) for d in document_ids],
                position=position,
            )
        )

    def _update(self, conn: sa.Connection, e: ClientRequestEvent, **values: Any) -> None:
        conn.execute(
            sa.update(client_requests)
            .where(client_requests.c.id == str(e.originator_id))
            .values(**values)
        )

    @handles(ClientRequest.ClientRequestOpened)
    def opened(
        self, conn: sa.Connection, e: ClientRequest.ClientRequestOpened, position: int
    ) -> None:
        conn.execute(
            sa.insert(client_requests).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                title=e.title,
                status=OPEN,
                due_on=None if e.due_on is None else date.fromisoformat(e.due_on),
                addressed_to=[str(c) for c in e.addressed_to],
                message_count=1,
                reminders_sent=0,
                opened_by=e.actor,
                opened_at=e.timestamp,
                last_message_at=e.timestamp,
                position=position,
            )
        )
        self._message(conn, e, 1, e.body, e.document_ids, position)

    @handles(ClientRequest.ClientRequestReplied)
    def replied(
        self, conn: sa.Connection, e: ClientRequest.ClientRequestReplied, position: int
    ) -> None:
        self._message(conn, e, e.message_number, e.body, e.document_ids, position)
        answered = {"answered_at": e.timestamp} if e.status == ANSWERED else {}
        self._update(
            conn,
            e,
            status=e.status,
            message_count=e.message_number,
            last_message_at=e.timestamp,
            **answered,
        )

    @handles(ClientRequest.ClientRequestMarkedAnswered)
    def marked_answered(
        self, conn: sa.Connection, e: ClientRequest.ClientRequestMarkedAnswered, position: int
    ) -> None:
        self._update(conn, e, status=ANSWERED, answered_at=e.timestamp)

    @handles(ClientRequest.ClientRequestClosed)
    def closed(
        self, conn: sa.Connection, e: ClientRequest.ClientRequestClosed, position: int
    ) -> None:
        self._update(conn, e, status=CLOSED, closed_at=e.timestamp)

    @handles(ClientRequest.ClientRequestReminderSent)
    def reminded(
        self, conn: sa.Connection, e: ClientRequest.ClientRequestReminderSent, position: int
    ) -> None:
        self._update(conn, e, reminders_sent=e.reminder_number, last_reminded_at=e.timestamp)


# How requests read in the activity history -------------------------------------------------


def _request(said: Said, e: ClientRequestEvent) -> str:
    return said.name_of(e.originator_id, "a request")


@names(ClientRequest.ClientRequestOpened)
def _request_names(e: ClientRequest.ClientRequestOpened) -> tuple[str, str]:
    return str(e.originator_id), f"the request “{e.title}”"


@says(ClientRequest.ClientRequestOpened)
def _opened(e: ClientRequest.ClientRequestOpened, said: Said) -> str:
    due = f", due {e.due_on}" if e.due_on else ""
    return f"{said.who} sent {said.client(e)} the request “{e.title}”{due}."


@says(ClientRequest.ClientRequestReplied)
def _replied(e: ClientRequest.ClientRequestReplied, said: Said) -> str:
    files = len(e.document_ids)
    attached = f" with {files} document{'s' if files != 1 else ''}" if files else ""
    return f"{said.who} replied to {_request(said, e)} of {said.client(e)}{attached}."


@says(ClientRequest.ClientRequestMarkedAnswered)
def _marked_answered(e: ClientRequest.ClientRequestMarkedAnswered, said: Said) -> str:
    return f"{said.who} marked {_request(said, e)} of {said.client(e)} as answered."


@says(ClientRequest.ClientRequestClosed)
def _closed(e: ClientRequest.ClientRequestClosed, said: Said) -> str:
    return f"{said.who} closed {_request(said, e)} of {said.client(e)}."


@says(ClientRequest.ClientRequestReminderSent)
def _reminded(e: ClientRequest.ClientRequestReminderSent, said: Said) -> str:
    return (
        f"{said.who} reminded {said.client(e)} of {_request(said, e)} "
        f"(reminder {e.reminder_number})."
    )


@says(Contact.ContactPortalAccessSet)
def _portal_access(e: Contact.ContactPortalAccessSet, said: Said) -> str:
    contact = said.name_of(e.originator_id, "a contact")
    if e.enabled:
        return f"{said.who} gave {contact} portal access through {e.email}."
    return f"{said.who} took back {contact}'s portal access through {e.email}."
