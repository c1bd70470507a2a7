"""The PortalAccess aggregate: one contact's access to the client portal, and its invitations.

There is one PortalAccess per contact (a deterministic id from the firm and the contact). Staff
invite the contact through one of its emails; the invitation carries a secret link token of
which only the SHA-256 hash is recorded. The token names the aggregate
(`<access id hex>.<secret>`), so accepting it needs no firm and no bearer token, and an unknown
or forged token is refused exactly like one that names nothing. Accepting activates the access
and starts a session; every session issued is recorded. Resending replaces the pending token;
revoking ends access and every session issued before it (the API refuses those tokens).

Status: NONE (never invited) → INVITED → ACTIVE; REVOKED from INVITED or ACTIVE (or NONE, for
a contact that signed in through an identity provider); a revoked contact may be invited again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4, uuid5

from domain.base import Bookkeeping, DossierAggregate, DossierCreated, DossierEvent
from domain.errors import RuleViolated

NONE = "NONE"
INVITED = "INVITED"
ACTIVE = "ACTIVE"
REVOKED = "REVOKED"
STATUSES = (NONE, INVITED, ACTIVE, REVOKED)

DEFAULT_INVITATION_TTL = 7 * 24 * 3600
"""Seconds an invitation link stays valid unless configured (DOSSIER_PORTAL_INVITATION_TTL)."""

TOKEN_MAX = 200
"""The longest link token looked at (a real one is 32 + 1 + 32 characters)."""

# Why an invitation token is refused (the RuleViolationError's rule).
INVITATION_INVALID = "INVITATION_INVALID"
INVITATION_USED = "INVITATION_USED"
INVITATION_EXPIRED = "INVITATION_EXPIRED"
INVITATION_REPLACED = "INVITATION_REPLACED"
INVITATION_REVOKED = "INVITATION_REVOKED"

_NAMESPACE = UUID("5d0b6c52-8f61-4a55-9d5e-3f7c2b1a9e40")


def portal_access_id(firm_id: str, contact_id: UUID) -> UUID:
    """The id of a contact's PortalAccess in a firm (deterministic: one per contact)."""
    return uuid5(_NAMESPACE, f"portal-access:{firm_id}:{contact_id}")


def hash_secret(secret: str) -> str:
    """The SHA-256 hash (hex) recorded for a token's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(access_id: UUID) -> tuple[str, str]:
    """A fresh link token for an access and the hash of its secret: (token, hash)."""
    secret = secrets.token_urlsafe(24)  # 192 bits; the token fits one line of an email
    return f"{access_id.hex}.{secret}", hash_secret(secret)


def parse_token(token: str) -> tuple[UUID, str]:
    """(access id, secret hash) of a link token; INVITATION_INVALID for anything malformed."""
    text = token.strip() if isinstance(token, str) else ""
    head, _, secret = text.partition(".")
    if len(text) > TOKEN_MAX or len(head) != 32 or not secret:
        raise invalid_token()
    try:
        access_id = UUID(hex=head)
    except ValueError:
        raise invalid_token() from None
    return access_id, hash_secret(secret)


def invalid_token() -> RuleViolated:
    """The one refusal for a token that names no invitation (no hint of what exists)."""
    return RuleViolated(INVITATION_INVALID, "this invitation link is not valid")


class PortalEvent(DossierEvent):
    """An event of a contact's portal access (which contact it is about, and the client it
    was invited through)."""

    contact_id: UUID
    client_id: UUID | None

    def about_client(self) -> UUID | None:
        return self.client_id


class PortalAccess(DossierAggregate):
    """A contact's portal access (see the module docstring)."""

    class Opened(DossierCreated, PortalEvent, Bookkeeping):
        """The record of a contact's portal access starts (status NONE)."""

    class Invited(PortalEvent):
        """Staff invited the contact (again, for a resend) through one of its emails."""

        email: str
        token_hash: str
        expires_at: datetime
        resent: bool

        def apply(self, aggregate: Any) -> None:
            if aggregate.pending_hash is not None:
                aggregate.spent[aggregate.pending_hash] = INVITATION_REPLACED
            aggregate.status = INVITED if aggregate.status != ACTIVE else ACTIVE
            aggregate.email = self.email
            aggregate.pending_hash = self.token_hash
            aggregate.expires_at = self.expires_at
            aggregate.invited_at = self.timestamp

    class Accepted(PortalEvent):
        """The contact accepted its invitation: portal access is on."""

        email: str

        def apply(self, aggregate: Any) -> None:
            if aggregate.pending_hash is not None:
                aggregate.spent[aggregate.pending_hash] = INVITATION_USED
            aggregate.pending_hash = None
            aggregate.status = ACTIVE
            aggregate.accepted_at = self.timestamp

    class SessionStarted(PortalEvent):
        """A portal session token was issued to the contact."""

        session_id: UUID
        expires_at: datetime
        via: str

        def apply(self, aggregate: Any) -> None:
            aggregate.last_login_at = self.timestamp

    class Revoked(PortalEvent):
        """Staff took back the contact's portal access: its sessions end."""

        def apply(self, aggregate: Any) -> None:
            if aggregate.pending_hash is not None:
                aggregate.spent[aggregate.pending_hash] = INVITATION_REVOKED
            aggregate.pending_hash = None
            aggregate.status = REVOKED
            aggregate.revoked_at = self.timestamp

    def __init__(self, firm_id: str, contact_id: UUID, client_id: UUID | None) -> None:
        self.firm_id = firm_id
        self.contact_id = contact_id
        self.client_id = client_id
        self.status = NONE
        self.email: str | None = None
        self.pending_hash: str | None = None
        self.expires_at: datetime | None = None
        self.spent: dict[str, str] = {}
        self.invited_at: datetime | None = None
        self.accepted_at: datetime | None = None
        self.last_login_at: datetime | None = None
        self.revoked_at: datetime | None = None

    @classmethod
    def open(cls, firm_id: str, contact_id: UUID, client_id: UUID | None) -> PortalAccess:
        """The record of a contact's portal access, status NONE."""
        return cls._create(
            cls.Opened,
            id=portal_access_id(firm_id, contact_id),
            contact_id=contact_id,
            client_id=client_id,
        )

    def invite(self, email: str, now: datetime, ttl_seconds: int) -> str:
        """Invite the contact through `email` (already checked to be one of its own);
        the link token, to send and never record. Refused while access is active."""
        if self.status == ACTIVE:
            raise RuleViolated("PORTAL_ALREADY_ACTIVE", "the contact already has portal access")
        if self.status == INVITED:
            raise RuleViolated(
                "PORTAL_ALREADY_INVITED",
                "the contact is already invited: resend the invitation instead",
            )
        return self._invite(email, now, ttl_seconds, resent=False)

    def resend(self, now: datetime, ttl_seconds: int) -> str:
        """A new link token for the pending invitation (the previous one stops working)."""
        if self.status != INVITED or self.email is None:
            raise RuleViolated("PORTAL_NOT_INVITED", "the contact has no pending invitation")
        return self._invite(self.email, now, ttl_seconds, resent=True)

    def _invite(self, email: str, now: datetime, ttl_seconds: int, *, resent: bool) -> str:
        if ttl_seconds <= 0:
            raise ValueError("an invitation must be valid for some time")
        token, token_hash = new_token(self.id)
        self.trigger_event(
            self.Invited,
            contact_id=self.contact_id,
            client_id=self.client_id,
            email=email,
            token_hash=token_hash,
            expires_at=now + timedelta(seconds=ttl_seconds),
            resent=resent,
        )
        return token

    def check_token(self, token_hash: str, now: datetime) -> None:
        """Refuse a token that is not the pending, unexpired invitation's (with why, for a
        token of this access; INVITATION_INVALID for anything else)."""
        pending = self.pending_hash
        if pending is not None and hmac.compare_digest(pending, token_hash):
            if self.expires_at is not None and now >= self.expires_at:
                raise RuleViolated(INVITATION_EXPIRED, "this invitation link has expired")
            return
        for spent_hash, why in self.spent.items():
            if hmac.compare_digest(spent_hash, token_hash):
                raise RuleViolated(why, _SPENT_MESSAGES[why])
        raise invalid_token()

    def accept(self, token_hash: str, now: datetime) -> str:
        """Accept the pending invitation; the email it was sent to."""
        self.check_token(token_hash, now)
        assert self.email is not None
        self.trigger_event(
            self.Accepted, contact_id=self.contact_id, client_id=self.client_id, email=self.email
        )
        return self.email

    def start_session(self, expires_at: datetime, via: str = "invitation") -> UUID:
        """Record a session issued to the contact; its id."""
        if self.status != ACTIVE:
            raise RuleViolated("PORTAL_NOT_ACTIVE", "the contact has no portal access")
        session_id = uuid4()
        self.trigger_event(
            self.SessionStarted,
            contact_id=self.contact_id,
            client_id=self.client_id,
            session_id=session_id,
            expires_at=expires_at,
            via=via,
        )
        return session_id

    def revoke(self) -> None:
        """End the contact's portal access and every session it has."""
        if self.status == REVOKED:
            raise RuleViolated("PORTAL_ALREADY_REVOKED", "the contact's access is already revoked")
        self.trigger_event(self.Revoked, contact_id=self.contact_id, client_id=self.client_id)


_SPENT_MESSAGES = {
    INVITATION_USED: "this invitation link was already used",
    INVITATION_REPLACED: "this invitation link was replaced by a newer one",
    INVITATION_REVOKED: "this invitation was withdrawn",
}
