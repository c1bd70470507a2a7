"""Commands on emails: staff write to a client, inbound messages are logged, and the delivery
worker records what happened to each queued email.

`send_email` queues a MANUAL email about a client the viewer may see; any plain address is
accepted as a recipient (the client's contacts, staff, or anyone the client works with), since
staff write from the profile on the client's behalf. Delivery commands are run by the worker
as the system actor of the email's firm; they are idempotent by the email's state (recording
an accepted message twice records it once).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from domain.client import Client
from domain.email import Email, EmailKind
from infra.services.unit_of_work import Change, Commands, Outcome


class EmailsService(Commands):
    """Queue, log and record the delivery of emails."""

    def send_email(
        self,
        client_id: UUID,
        *,
        to: list[str],
        subject: str,
        body: str,
        key: str | None = None,
    ) -> Outcome:
        """Queue an email written by staff from a client's profile."""

        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            email = Email.queue(
                to=to, subject=subject, body=body, kind=EmailKind.MANUAL, client_id=client.id
            )
            return Change.of(email, email_id=str(email.id))

        return self.uow.run("sendEmail", key, build)

    def receive_email(
        self,
        client_id: UUID,
        *,
        from_address: str | None,
        to: list[str],
        subject: str | None,
        body: str | None,
        message_id: str | None,
        document_ids: list[UUID],
        email_id: UUID | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Log a message received for a client, with the documents made of its attachments.
        An email of the same id already logged (the same message received again) is kept."""

        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            if email_id is not None and (logged := self.uow.find(Email, email_id)) is not None:
                return Change.of(logged, email_id=str(logged.id))  # this message, again
            email = Email.receive(
                client_id=client.id,
                from_address=from_address,
                to=to,
                subject=subject,
                body=body,
                message_id=message_id,
                document_ids=document_ids,
                email_id=email_id,
            )
            return Change.of(email, email_id=str(email.id))

        return self.uow.run("receiveEmail", key, build)

    def get_email(self, email_id: UUID) -> Email:
        """The email of the acting firm (NotFound otherwise)."""
        return self.uow.get(Email, email_id)

    # Delivery, recorded by the worker ------------------------------------------------------

    def _record(self, operation: str, email_id: UUID, act: Callable[[Email], object]) -> Outcome:
        """Load the email of the acting firm (about a client or not), act, save."""

        def build() -> Change:
            email = self.uow.get(Email, email_id)
            act(email)
            return Change.of(email, email_id=str(email.id))

        return self.uow.run(operation, None, build)

    def record_attempt_failed(
        self, email_id: UUID, *, reason: str, retry_at: datetime, max_attempts: int
    ) -> Outcome:
        """A transient failure: tried again at `retry_at` (or failed, attempts exhausted)."""
        return self._record(
            "recordEmailAttemptFailed",
            email_id,
            lambda e: e.attempt_failed(reason, retry_at, max_attempts=max_attempts),
        )

    def record_sent(
        self, email_id: UUID, *, sent_at: datetime, refused: list[str] | None = None
    ) -> Outcome:
        """The server accepted the message (nothing new if that is already recorded)."""
        return self._record("recordEmailSent", email_id, lambda e: e.mark_sent(sent_at, refused))

    def record_failed(self, email_id: UUID, *, reason: str) -> Outcome:
        """The server refused the message for good."""
        return self._record("recordEmailFailed", email_id, lambda e: e.fail(reason))
