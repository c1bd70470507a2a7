"""A contact's client portal access as staff see it on `Contact.portal` (types only, so that
schema/types.py can use them without importing the portal's mutations)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from resolvers.portal_access import PortalLoaders
from schema.common import Info


@strawberry.enum(description="Where a contact stands with the client portal.")
class PortalStatus(Enum):
    NONE = "NONE"
    INVITED = "INVITED"
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"


@strawberry.type(description="A contact's client portal access: invitation, status, last login.")
class ContactPortal:
    status: PortalStatus
    email: str | None = strawberry.field(description="The address the invitation went to.")
    invited_at: datetime | None = strawberry.field(description="When the last invitation went.")
    invitation_expires_at: datetime | None = strawberry.field(
        description="When the pending invitation's link stops working (INVITED only)."
    )
    accepted_at: datetime | None
    last_login_at: datetime | None = strawberry.field(
        description="When the contact was last issued a portal session."
    )
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> ContactPortal:
        if row is None:
            return cls(
                status=PortalStatus.NONE,
                email=None,
                invited_at=None,
                invitation_expires_at=None,
                accepted_at=None,
                last_login_at=None,
                revoked_at=None,
            )
        return cls(
            status=PortalStatus(row.status),
            email=row.email,
            invited_at=row.invited_at,
            invitation_expires_at=row.invitation_expires_at,
            accepted_at=row.accepted_at,
            last_login_at=row.last_login_at,
            revoked_at=row.revoked_at,
        )


async def contact_portal(info: Info, contact_id: str) -> ContactPortal:
    """A contact's portal access (batched over every contact of the request)."""
    row = await info.context.loaders_of(PortalLoaders).access.load(contact_id)
    return ContactPortal.from_row(row)
