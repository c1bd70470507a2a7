"""What a staff member has seen of a client's overview: the moment they last opened it.

Items added to the client after that moment (and not by the member) are new for them. One
aggregate per (firm, member, client), with a deterministic id; its events are record-keeping,
not activity.
"""

from __future__ import annotations

import json
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import Bookkeeping, DossierAggregate, DossierCreated, DossierEvent


def overview_seen_id(firm_id: str, user_id: str, client_id: UUID) -> UUID:
    return uuid5(
        NAMESPACE_URL, json.dumps(["dossier:overview-seen", firm_id, user_id, str(client_id)])
    )


class OverviewSeen(DossierAggregate):
    """A member's mark on one client's overview."""

    class Started(DossierCreated, Bookkeeping):
        user_id: str
        client_id: UUID

    class Marked(DossierEvent, Bookkeeping):
        """The member opened the overview at this event's timestamp."""

    def __init__(self, firm_id: str, user_id: str, client_id: UUID) -> None:
        self.firm_id = firm_id
        self.user_id = user_id
        self.client_id = client_id

    @classmethod
    def start(cls, *, firm_id: str, user_id: str, client_id: UUID) -> OverviewSeen:
        return cls._create(
            cls.Started,
            id=overview_seen_id(firm_id, user_id, client_id),
            user_id=user_id,
            client_id=client_id,
        )

    def mark(self) -> None:
        self.trigger_event(self.Marked)
