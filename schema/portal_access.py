"""Client portal sign-in: staff invite, re-invite and revoke a contact; the contact accepts
its invitation (no bearer token) and gets a portal session token; `portalSession` shows a
contact's session.

Invitations go by email (kind INVITATION, through the outbox): the link token is never shown
to staff. A refused invitation token is a `RuleViolationError` whose rule says why
(INVITATION_INVALID, INVITATION_USED, INVITATION_EXPIRED, INVITATION_REPLACED,
INVITATION_REVOKED) and nothing changes. Session tokens are JWTs with role `contact` and the
claim `contact` (the contact's id); any such token signed with the server's key is a portal
session (an identity provider can issue them) until the contact's access is revoked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeAlias

import anyio.to_thread
import strawberry
from strawberry.permission import BasePermission

from resolvers.commands import may_change
from resolvers.ids import to_global_id
from resolvers.portal_access import accept_invitation, session_view
from resolvers.ports import Outcome
from schema.common import Info, command
from schema.errors import NotFoundError, RuleViolationError, ValidationError
from schema.types import Contact


class Anyone(BasePermission):
    """No bearer token needed (the input itself is the credential)."""

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return True


@strawberry.input
class InviteContactToPortalInput:
    contact_id: strawberry.ID
    email: str = strawberry.field(description="One of the contact's emails: the invitation's.")
    idempotency_key: str | None = None


@strawberry.input
class PortalContactInput:
    contact_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class AcceptPortalInvitationInput:
    token: str = strawberry.field(description="The token of the invitation email's link.")
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Accepted for uniformity; a token is single-use, so a repeated "
        "acceptance is refused with INVITATION_USED.",
    )


@strawberry.type
class PortalAccessPayload:
    contact: Contact


@strawberry.type(description="The contact a portal session is for.")
class PortalSessionContact:
    id: strawberry.ID
    first_name: str
    last_name: str


@strawberry.type(description="A portal session: a bearer token for the contact.")
class PortalSessionToken:
    token: str = strawberry.field(description="A JWT (role contact); send it as a bearer token.")
    expires_at: datetime
    contact: PortalSessionContact


@strawberry.type(description="The signed-in contact's portal session.")
class PortalSession:
    contact: PortalSessionContact
    client_ids: list[strawberry.ID] = strawberry.field(
        description="The clients the contact is linked to."
    )


PortalAccessResult: TypeAlias = Annotated[
    PortalAccessPayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("PortalAccessResult"),
]
AcceptPortalInvitationResult: TypeAlias = Annotated[
    PortalSessionToken | RuleViolationError,
    strawberry.union("AcceptPortalInvitationResult"),
]


@strawberry.type
class PortalQuery:
    @strawberry.field(
        description="The signed-in contact's portal session (contacts only); null when the "
        "token's contact does not exist in its firm."
    )
    async def portal_session(self, info: Info) -> PortalSession | None:
        viewer = info.context.require_contact()
        found = await anyio.to_thread.run_sync(session_view, info.context.ports.engine, viewer)
        if found is None:
            return None
        row = found.contact
        return PortalSession(
            contact=PortalSessionContact(
                id=strawberry.ID(to_global_id("Contact", row.id)),
                first_name=row.first_name,
                last_name=row.last_name,
            ),
            client_ids=[strawberry.ID(to_global_id("Client", c)) for c in found.client_ids],
        )


@strawberry.type
class PortalMutation:
    @command(
        may_change("invite contacts to the portal"),
        description="Invite a contact to the client portal: an email with a single-use link.",
    )
    async def invite_contact_to_portal(
        self, info: Info, input: InviteContactToPortalInput
    ) -> PortalAccessResult:
        return await _change(
            info,
            input.contact_id,
            lambda portal, contact_id: portal.invite(
                contact_id, email=input.email, key=input.idempotency_key
            ),
        )

    @command(
        may_change("invite contacts to the portal"),
        description="Send a pending invitation again with a new link (the old link stops working).",
    )
    async def resend_portal_invitation(
        self, info: Info, input: PortalContactInput
    ) -> PortalAccessResult:
        return await _change(
            info,
            input.contact_id,
            lambda portal, contact_id: portal.resend(contact_id, key=input.idempotency_key),
        )

    @command(
        may_change("revoke portal access"),
        description="Take back a contact's portal access: its link and sessions stop working.",
    )
    async def revoke_portal_access(
        self, info: Info, input: PortalContactInput
    ) -> PortalAccessResult:
        return await _change(
            info,
            input.contact_id,
            lambda portal, contact_id: portal.revoke(contact_id, key=input.idempotency_key),
        )

    @command(
        Anyone(),
        description="Accept a portal invitation (no bearer token needed): a session token.",
    )
    async def accept_portal_invitation(
        self, info: Info, input: AcceptPortalInvitationInput
    ) -> AcceptPortalInvitationResult:
        _done, session = await accept_invitation(info.context.ports, input.token)
        return PortalSessionToken(
            token=session.token,
            expires_at=session.expires_at,
            contact=PortalSessionContact(
                id=strawberry.ID(to_global_id("Contact", session.contact_id)),
                first_name=session.first_name,
                last_name=session.last_name,
            ),
        )


async def _change(
    info: Info, contact_id: strawberry.ID, act: Callable[[Any, Any], Outcome]
) -> PortalAccessPayload:
    done = await info.context.run_on(
        "Contact",
        contact_id,
        lambda app, uuid: act(app.services.portal_access, uuid),
    )
    return PortalAccessPayload(contact=await Contact.load(info, done.ids["contact_id"]))
