"""The authenticated viewer of a request and what its role allows."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain import access
from domain.actor import Actor, ActorKind, display_name


@dataclass(frozen=True)
class Viewer:
    """Who is asking, from the verified token's claims."""

    user_id: str
    firm_id: str
    role: str
    name: str | None = None
    contact_id: str | None = None
    impersonated_by: str | None = None
    issued_at: float | None = field(default=None, compare=False)
    """The token's `iat` (seconds since the epoch): a contact's session issued before its
    portal access was revoked is refused (resolvers.portal_access)."""

    @property
    def actor(self) -> Actor:
        """The actor stamped on the viewer's events (the token's display name made safe; the
        ids are checked by `acting_as`, which refuses ids no read model could hold)."""
        kind = ActorKind.CONTACT if self.role == "contact" else ActorKind.STAFF
        return Actor(
            id=self.user_id,
            kind=kind,
            name=display_name(self.name),
            impersonated_by=self.impersonated_by,
        )

    @property
    def is_staff(self) -> bool:
        return access.is_staff(self.role)

    @property
    def sees_all_clients(self) -> bool:
        return access.sees_all_clients(self.role)

    @property
    def visibility_key(self) -> tuple[str, str]:
        """Viewers with equal keys see exactly the same data."""
        if self.sees_all_clients:
            return (self.firm_id, "firm")
        return (self.firm_id, f"user:{self.user_id}")
