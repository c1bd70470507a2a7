"""The ClientRequest aggregate: a conversation between the firm and a client's contacts.

Staff open a request for a client (a title, the first message, an optional due date, the
contacts it is addressed to: contacts with portal access) and the thread goes on with
messages; each message may attach documents of the same client (by id). The author of a
message is the event's actor: staff now, the client's contacts (actor kind CONTACT) once the
portal exists.

Statuses: OPEN (awaiting the client), ANSWERED (a contact replied, or staff marked it
answered: awaiting the firm), CLOSED (nothing more can be said). A staff message on an
ANSWERED request asks again (OPEN). Reminders are counted; each one is an email queued to
the addressed contacts by the command that records it.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

from domain.actor import ActorKind, current_context
from domain.base import ClientRelatedEvent, DossierAggregate, DossierCreated
from domain.errors import InvalidInput, LimitExceeded, RuleViolated
from domain.values import COMMENT_MAX, NAME_MAX, clean_date, required_text

OPEN = "OPEN"
ANSWERED = "ANSWERED"
CLOSED = "CLOSED"
STATUSES = (OPEN, ANSWERED, CLOSED)

TITLE_MAX = NAME_MAX
MESSAGE_MAX = COMMENT_MAX
ADDRESSEES_MAX = 20
ATTACHMENTS_MAX = 25
MESSAGES_MAX = 1_000
"""Messages one request may hold (a thread longer than this is a new request)."""


def clean_ids(field: str, ids: list[UUID] | None, limit: int, what: str) -> list[UUID]:
    """Ids in their order, each once; at most `limit`."""
    out: list[UUID] = []
    for value in ids or []:
        if value not in out:
            out.append(value)
    if len(out) > limit:
        raise LimitExceeded(limit, f"at most {limit} {what} ({field})")
    return out


class ClientRequestEvent(ClientRelatedEvent):
    """An event of a client request's stream; it is about the request's client."""


class ClientRequest(DossierAggregate):
    """A request to a client's contacts (see the module docstring)."""

    class ClientRequestOpened(DossierCreated, ClientRequestEvent):
        title: str
        body: str
        due_on: str | None
        addressed_to: list[UUID]
        document_ids: list[UUID]

    class ClientRequestReplied(ClientRequestEvent):
        message_number: int
        body: str
        document_ids: list[UUID]
        status: str
        """The request's status after this message."""

        def apply(self, aggregate: Any) -> None:
            aggregate.message_count = self.message_number
            aggregate.status = self.status

    class ClientRequestMarkedAnswered(ClientRequestEvent):
        def apply(self, aggregate: Any) -> None:
            aggregate.status = ANSWERED

    class ClientRequestClosed(ClientRequestEvent):
        def apply(self, aggregate: Any) -> None:
            aggregate.status = CLOSED

    class ClientRequestReminderSent(ClientRequestEvent):
        reminder_number: int
        to: list[str]
        email_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.reminders_sent = self.reminder_number

    def __init__(
        self,
        firm_id: str,
        client_id: UUID,
        title: str,
        body: str,
        due_on: str | None,
        addressed_to: list[UUID],
        document_ids: list[UUID],
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.title = title
        self.due_on = due_on
        self.addressed_to = list(addressed_to)
        self.status = OPEN
        self.message_count = 1
        self.reminders_sent = 0

    @classmethod
    def open(
        cls,
        *,
        client_id: UUID,
        title: str,
        body: str,
        due_on: date | None,
        addressed_to: list[UUID],
        document_ids: list[UUID] | None = None,
        request_id: UUID | None = None,
    ) -> ClientRequest:
        """Open a request addressed to contacts (checked by the caller: linked, with portal
        access); documents are the client's (checked by the caller)."""
        to = clean_ids("input.contactIds", addressed_to, ADDRESSEES_MAX, "addressed contacts")
        if not to:
            raise InvalidInput("input.contactIds", "a request is addressed to at least one contact")
        return cls._create(
            cls.ClientRequestOpened,
            id=request_id or uuid4(),
            client_id=client_id,
            title=required_text("input.title", title, TITLE_MAX),
            body=required_text("input.message", body, MESSAGE_MAX, multiline=True),
            due_on=None if due_on is None else clean_date("input.dueOn", due_on).isoformat(),
            addressed_to=to,
            document_ids=clean_ids("input.documentIds", document_ids, ATTACHMENTS_MAX, "documents"),
        )

    def _require_not_closed(self, doing: str) -> None:
        if self.status == CLOSED:
            raise RuleViolated("REQUEST_CLOSED", f"the request {self.title!r} is closed: {doing}")

    def reply(self, body: str, document_ids: list[UUID] | None = None) -> None:
        """A message in the thread. A contact's reply answers the request; a staff message
        on an answered request asks again."""
        self._require_not_closed("no more messages")
        if self.message_count >= MESSAGES_MAX:
            raise LimitExceeded(MESSAGES_MAX, f"a request holds at most {MESSAGES_MAX} messages")
        by_contact = current_context().actor.kind == ActorKind.CONTACT
        self.trigger_event(
            self.ClientRequestReplied,
            client_id=self.client_id,
            message_number=self.message_count + 1,
            body=required_text("input.message", body, MESSAGE_MAX, multiline=True),
            document_ids=clean_ids("input.documentIds", document_ids, ATTACHMENTS_MAX, "documents"),
            status=ANSWERED if by_contact else OPEN,
        )

    def mark_answered(self) -> None:
        """Staff record that the client answered (elsewhere); nothing new if already so."""
        self._require_not_closed("it cannot be marked answered")
        if self.status == ANSWERED:
            return
        self.trigger_event(self.ClientRequestMarkedAnswered, client_id=self.client_id)

    def close(self) -> None:
        self._require_not_closed("it is already closed")
        self.trigger_event(self.ClientRequestClosed, client_id=self.client_id)

    def check_remindable(self) -> None:
        """Only an open request (awaiting the client) is reminded of."""
        self._require_not_closed("no reminders")
        if self.status == ANSWERED:
            raise RuleViolated(
                "REQUEST_ANSWERED", f"the request {self.title!r} was answered: no reminders"
            )

    def remind(self, to: list[str], email_id: UUID) -> None:
        """Count a reminder emailed to `to` (the email is queued by the same command)."""
        self.check_remindable()
        self.trigger_event(
            self.ClientRequestReminderSent,
            client_id=self.client_id,
            reminder_number=self.reminders_sent + 1,
            to=list(to),
            email_id=email_id,
        )
