"""Commands on a client's overview: a staff member marks what they have seen."""

from __future__ import annotations

from uuid import UUID

from domain.actor import current_context
from domain.client import Client
from domain.overview_seen import OverviewSeen, overview_seen_id
from infra.services.unit_of_work import Change, Commands, Outcome


class OverviewService(Commands):
    """Mark a client's overview seen by the acting staff member."""

    def mark_overview_seen(self, client_id: UUID, *, key: str | None = None) -> Outcome:
        """From now on, only what is added to the client after this moment is new for them."""

        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            ctx = current_context()
            user_id = str(ctx.actor.id)
            seen = self.uow.find(
                OverviewSeen, overview_seen_id(ctx.firm_id, user_id, client.id)
            ) or OverviewSeen.start(firm_id=ctx.firm_id, user_id=user_id, client_id=client.id)
            seen.mark()
            return Change.of(seen, client_id=str(client.id))

        return self.uow.run("markOverviewSeen", key, build)
