"""Commands on client requests: open, reply, mark answered, close, remind; and the staff switch
of a contact's portal access that decides who requests can be addressed to.

A request goes only to contacts linked to the client with portal access (until the portal
exists: an email of the contact with `portalAccess`, set by `set_contact_portal_access`); a
client with none refuses requests with rule NO_PORTAL_CONTACT. While the client is on hold,
nothing is sent to it: opening, staff replies and reminders are refused with rule
CLIENT_ON_HOLD (marking answered and closing go on). Opening, each staff reply and each
reminder queue an email (kind SYSTEM) to the addressed contacts' portal emails in the same
change. Attached documents must be live documents of the same client. Everything is read from
aggregates through the unit of work, never from read models.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from domain.actor import ActorKind, current_context
from domain.client import Client
from domain.client_request import CLOSED, ClientRequest
from domain.contact import Contact
from domain.document import Document
from domain.email import Email, EmailKind
from domain.errors import InvalidInput, RuleViolated
from infra.services.clients import ClientsService
from infra.services.unit_of_work import Change, Commands, Outcome, UnitOfWork


class ClientRequestsService(Commands):
    """Client requests (see the module docstring)."""

    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.clients = ClientsService(uow)

    # Reading aggregates --------------------------------------------------------------------

    def _portal_contacts(self, client: Client) -> list[Contact]:
        """The client's linked contacts with portal access, in link order."""
        found: list[Contact] = []
        for contact_id in client.contacts:
            contact = self.uow.find(Contact, UUID(contact_id))
            if contact is not None and contact.has_portal_access:
                found.append(contact)
        return found

    def _addressees(self, client: Client, contact_ids: list[UUID] | None) -> list[Contact]:
        portal = self._portal_contacts(client)
        if not portal:
            raise RuleViolated(
                "NO_PORTAL_CONTACT",
                f"{client.name} has no contact with portal access: requests need one",
            )
        if not contact_ids:
            return portal
        by_id = {c.id: c for c in portal}
        chosen: list[Contact] = []
        for index, contact_id in enumerate(contact_ids):
            field = f"input.contactIds.{index}"
            if str(contact_id) not in client.contacts:
                raise InvalidInput(field, f"contact {contact_id} is not linked to {client.name}")
            contact = by_id.get(contact_id)
            if contact is None:
                raise RuleViolated(
                    "NO_PORTAL_CONTACT",
                    f"the contact {contact_id} has no portal access: requests go only to "
                    "contacts with portal access",
                )
            if contact not in chosen:
                chosen.append(contact)
        return chosen

    def _documents(self, client: Client, document_ids: list[UUID] | None) -> list[UUID]:
        """Live documents of the same client (InvalidInput on the offending entry otherwise)."""
        for index, document_id in enumerate(document_ids or []):
            document = self.uow.find(Document, document_id)
            if document is None or document.client_id != client.id:
                raise InvalidInput(
                    f"input.documentIds.{index}",
                    f"document {document_id} is not a document of {client.name}",
                )
            if document.deleted or document.removed:
                raise InvalidInput(
                    f"input.documentIds.{index}", f"the document {document.name} was removed"
                )
        return list(document_ids or [])

    def _email(
        self, request: ClientRequest, contacts: list[Contact], subject: str, body: str
    ) -> Email:
        to: list[str] = []
        for contact in contacts:
            to.extend(a for a in contact.portal_emails() if a not in to)
        return Email.queue(
            to=to,
            subject=subject,
            body=body,
            kind=EmailKind.SYSTEM,
            client_id=request.client_id,
            related={"client_request_id": str(request.id)},
        )

    def _addressed(self, request: ClientRequest) -> list[Contact]:
        """The request's addressees who still have portal access (NO_PORTAL_CONTACT if none)."""
        contacts = [self.uow.find(Contact, contact_id) for contact_id in request.addressed_to]
        live = [c for c in contacts if c is not None and c.has_portal_access]
        if not live:
            raise RuleViolated(
                "NO_PORTAL_CONTACT", "none of the request's contacts has portal access any more"
            )
        return live

    # Commands ----------------------------------------------------------------------------

    def open_client_request(
        self,
        client_id: UUID,
        *,
        title: str,
        message: str,
        due_on: date | None = None,
        contact_ids: list[UUID] | None = None,
        document_ids: list[UUID] | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Open a request to the client's contacts with portal access (or those named)."""

        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            client.refuse_while_on_hold("requests")
            addressees = self._addressees(client, contact_ids)
            request = ClientRequest.open(
                client_id=client.id,
                title=title,
                body=message,
                due_on=due_on,
                addressed_to=[c.id for c in addressees],
                document_ids=self._documents(client, document_ids),
            )
            due = f"\n\nPlease answer by {request.due_on}." if request.due_on else ""
            email = self._email(
                request, addressees, f"Request: {request.title}", f"{message.strip()}{due}"
            )
            return Change.of(email, request, client_request_id=str(request.id))

        return self.uow.run("openClientRequest", key, build)

    def reply_to_client_request(
        self,
        request_id: UUID,
        *,
        message: str,
        document_ids: list[UUID] | None = None,
        key: str | None = None,
    ) -> Outcome:
        """A message in the request's thread; a staff message is emailed to the contacts."""

        def build() -> Change:
            request = self.uow.visible(ClientRequest, request_id)
            client = self.uow.visible(Client, request.client_id)
            by_staff = current_context().actor.kind != ActorKind.CONTACT
            if by_staff and request.status != CLOSED:
                client.refuse_while_on_hold("requests")
            request.reply(message, self._documents(client, document_ids))
            saved: list[Email] = []
            if by_staff:
                saved.append(
                    self._email(
                        request,
                        self._addressed(request),
                        f"Re: {request.title}",
                        message.strip(),
                    )
                )
            return Change.of(*saved, request, client_request_id=str(request.id))

        return self.uow.run("replyToClientRequest", key, build)

    def mark_client_request_answered(self, request_id: UUID, *, key: str | None = None) -> Outcome:
        return self.uow.change(
            "markClientRequestAnswered",
            key,
            ClientRequest,
            request_id,
            lambda r: r.mark_answered(),
            extra={"client_request_id": str(request_id)},
        )

    def close_client_request(self, request_id: UUID, *, key: str | None = None) -> Outcome:
        return self.uow.change(
            "closeClientRequest",
            key,
            ClientRequest,
            request_id,
            lambda r: r.close(),
            extra={"client_request_id": str(request_id)},
        )

    def send_request_reminder(self, request_id: UUID, *, key: str | None = None) -> Outcome:
        """Email the addressed contacts a reminder of an open request, and count it."""

        def build() -> Change:
            request = self.uow.visible(ClientRequest, request_id)
            request.check_remindable()
            client = self.uow.visible(Client, request.client_id)
            client.refuse_while_on_hold("requests")
            due = f" It is due on {request.due_on}." if request.due_on else ""
            email = self._email(
                request,
                self._addressed(request),
                f"Reminder: {request.title}",
                f"This is a reminder of our request {request.title!r}.{due}",
            )
            request.remind(email.to, email.id)
            return Change.of(email, request, client_request_id=str(request.id))

        return self.uow.run("sendRequestReminder", key, build)

    def set_contact_portal_access(
        self, contact_id: UUID, *, email: str, enabled: bool, key: str | None = None
    ) -> Outcome:
        """Give or take back a contact's portal access through one of its emails (a contact
        the viewer may see)."""

        def build() -> Change:
            contact = self.clients.visible_contact(contact_id)
            contact.set_portal_access(email, enabled)
            return Change.of(contact)

        return self.uow.run("setContactPortalAccess", key, build)
