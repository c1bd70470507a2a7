"""Commands on contacts' portal access: invite, resend, revoke (staff) and accept (public).

Staff act on a contact they may see (firm-wide roles: any contact; agents: one linked to a
client on their team). Inviting and resending queue the invitation email (kind INVITATION,
through the outbox) in the same change as the invitation; the link token is only ever in that
email (the event store keeps its hash). Accepting needs no bearer token: the token names the
access, the command runs as the contact, turns portal access on for the invited email, records
the session and signs its JWT (role `contact`, claim `contact` = the contact's id). Revoking
turns portal access off on every email of the contact; the API refuses the contact's tokens
issued before it (resolvers.portal_sessions).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from domain.actor import Actor, ActorKind, acting_as, current_context
from domain.client import Client
from domain.contact import Contact
from domain.contact_links import ContactLinks, contact_links_id
from domain.email import Email, EmailKind
from domain.errors import InvalidInput, NotFound
from domain.portal_access import (
    DEFAULT_INVITATION_TTL,
    PortalAccess,
    invalid_token,
    parse_token,
    portal_access_id,
)
from domain.values import clean_email
from infra.auth import TokenIssuer, WeakSecretError
from infra.services.clients import ClientsService
from infra.services.unit_of_work import Change, Commands, Outcome, UnitOfWork
from infra.settings import Settings

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PortalOptions:
    """How invitations are made: the link's base, how long it is valid, who signs sessions."""

    public_url: str = DEFAULT_PUBLIC_URL
    invitation_ttl: int = DEFAULT_INVITATION_TTL
    issuer: TokenIssuer | None = None
    clock: Callable[[], datetime] = field(default=_utcnow)

    def accept_link(self, token: str) -> str:
        return f"{self.public_url.rstrip('/')}/portal/accept?token={token}"


def portal_options(settings: Settings) -> PortalOptions:
    """The options DOSSIER_PUBLIC_URL, DOSSIER_PORTAL_INVITATION_TTL and the JWT settings give
    (no signer without a usable DOSSIER_JWT_SECRET: acceptance then cannot issue sessions)."""
    try:
        issuer: TokenIssuer | None = TokenIssuer.from_settings(settings)
    except (WeakSecretError, ValueError):
        issuer = None
    return PortalOptions(
        public_url=settings.public_url or DEFAULT_PUBLIC_URL,
        invitation_ttl=settings.portal_invitation_ttl,
        issuer=issuer,
    )


@dataclass(frozen=True)
class PortalSession:
    """A session issued on acceptance: its JWT and when it expires."""

    token: str
    expires_at: datetime
    contact_id: str
    first_name: str
    last_name: str


class PortalAccessService(Commands):
    """Portal access per contact (see the module docstring)."""

    def __init__(self, uow: UnitOfWork, options: PortalOptions | None = None) -> None:
        super().__init__(uow)
        self.clients = ClientsService(uow)
        self.options = options or PortalOptions()

    # Staff -----------------------------------------------------------------------------------

    def invite(self, contact_id: UUID, *, email: str, key: str | None = None) -> Outcome:
        """Invite a contact the viewer may see through one of its emails."""

        def build() -> Change:
            contact = self.clients.visible_contact(contact_id)
            address = _own_email(contact, email)
            access = self._access(contact)
            token = access.invite(address, self.options.clock(), self.options.invitation_ttl)
            mail = self._invitation_email(contact, access, address, token)
            return Change.of(
                contact, access, mail, contact_id=str(contact.id), email_id=str(mail.id)
            )

        return self.uow.run("inviteContactToPortal", key, build)

    def resend(self, contact_id: UUID, *, key: str | None = None) -> Outcome:
        """A new invitation link for a pending invitation (the previous link stops working)."""

        def build() -> Change:
            contact = self.clients.visible_contact(contact_id)
            access = self._access(contact)
            token = access.resend(self.options.clock(), self.options.invitation_ttl)
            assert access.email is not None
            mail = self._invitation_email(contact, access, access.email, token)
            return Change.of(
                contact, access, mail, contact_id=str(contact.id), email_id=str(mail.id)
            )

        return self.uow.run("resendPortalInvitation", key, build)

    def revoke(self, contact_id: UUID, *, key: str | None = None) -> Outcome:
        """Take back a contact's portal access: pending link and sessions end."""

        def build() -> Change:
            contact = self.clients.visible_contact(contact_id)
            access = self._access(contact)
            access.revoke()
            for address in contact.portal_emails():
                contact.set_portal_access(address, False)
            return Change.of(access, contact, contact_id=str(contact.id))

        return self.uow.run("revokePortalAccess", key, build)

    def _access(self, contact: Contact) -> PortalAccess:
        """The contact's portal access record (opened, about its first visible client)."""
        firm_id = current_context().firm_id
        found = self.uow.find(PortalAccess, portal_access_id(firm_id, contact.id))
        if found is not None:
            return found
        return PortalAccess.open(firm_id, contact.id, self._first_client(contact))

    def _first_client(self, contact: Contact) -> UUID | None:
        links = self.uow.find(ContactLinks, contact_links_id(current_context().firm_id, contact.id))
        for linked in links.client_ids if links is not None else ():
            try:
                return self.uow.visible(Client, UUID(linked)).id
            except NotFound:  # a client the viewer may not see: try the next
                continue
        return None

    def _invitation_email(
        self, contact: Contact, access: PortalAccess, address: str, token: str
    ) -> Email:
        link = self.options.accept_link(token)
        days = max(1, round(self.options.invitation_ttl / 86400))
        body = (
            f"Hello {contact.first_name},\n\n"
            "You are invited to the client portal. Open this link to sign in:\n\n"
            f"{link}\n\n"
            "Your sign-in code, if the link does not open:\n\n"
            f"{token}\n\n"
            f"The link works once and expires in {days} day{'s' if days != 1 else ''}.\n"
        )
        return Email.queue(
            to=[address],
            subject="Your invitation to the client portal",
            body=body,
            kind=EmailKind.INVITATION,
            client_id=access.client_id,
            related={"contact_id": str(contact.id)},
        )

    # Public ----------------------------------------------------------------------------------

    def accept(self, token: str) -> tuple[Outcome, PortalSession]:
        """Accept an invitation: access on, a session recorded and signed. A refused token
        (malformed, unknown, forged, used, replaced, revoked, expired) changes nothing."""
        issuer = self.options.issuer
        if issuer is None:
            raise RuntimeError("portal sessions need DOSSIER_JWT_SECRET")
        access_id, token_hash = parse_token(token)
        try:
            found: object = self.uow.store.repository.get(access_id)
        except AggregateNotFoundError:
            raise invalid_token() from None
        if not isinstance(found, PortalAccess):
            raise invalid_token()
        found.check_token(token_hash, self.options.clock())  # refuse before acting as anyone
        person: object = self.uow.store.repository.get(found.contact_id)
        if not isinstance(person, Contact) or person.firm_id != found.firm_id:
            raise invalid_token()
        actor = Actor(id=str(person.id), kind=ActorKind.CONTACT, name=person.full_name)
        with acting_as(actor, found.firm_id, "contact"):
            session_ttl = issuer.max_lifetime

            def build() -> Change:
                now = self.options.clock()
                access = self.uow.get(PortalAccess, access_id)
                contact = self.uow.get(Contact, access.contact_id)
                address = access.accept(token_hash, now)
                contact.set_portal_access(address, True)
                access.start_session(now + timedelta(seconds=session_ttl))
                return Change.of(contact, access, contact_id=str(contact.id))

            done = self.uow.run("acceptPortalInvitation", None, build)
        if found.revoked_at is not None:
            # Tokens carry whole seconds (iat): one issued in the second access was revoked in
            # would read as issued before it, so a session after a revocation waits for the
            # next second (only when accepted again within that second).
            time.sleep(max(0.0, math.ceil(found.revoked_at.timestamp()) - time.time()))
        jwt = issuer.issue(
            sub=str(person.id),
            firm=found.firm_id,
            role="contact",
            name=person.full_name,
            contact=str(person.id),
            ttl_seconds=session_ttl,
        )
        expires = _utcnow() + timedelta(seconds=session_ttl)
        return done, PortalSession(
            jwt, expires.replace(microsecond=0), str(person.id), person.first_name, person.last_name
        )


def _own_email(contact: Contact, email: str) -> str:
    """The contact's own address matching `email` (case-insensitively), as recorded."""
    wanted = clean_email("input.email", email).lower()
    for entry in contact.emails:
        if str(entry["address"]).lower() == wanted:
            return str(entry["address"])
    raise InvalidInput("input.email", f"{email.strip()} is not one of the contact's emails")
