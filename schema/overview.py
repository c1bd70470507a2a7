"""What the overview adds for the viewer: what needs attention, and what is new for them.

`needsAttention` counts what on the client waits for the firm; `markOverviewSeen` records that
the viewer opened the overview, after which only items added later by someone else are new
for them (`isNew` on tasks, jobs, requests, time entries and comments: resolvers/overview.py
`is_new`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeAlias

import strawberry

from resolvers.commands import may_as_staff
from resolvers.overview import Attention, OverviewLoaders
from schema.common import Info, command
from schema.errors import NotFoundError, ValidationError
from schema.types import ClientCore, ClientRef


@strawberry.type(description="What on a client waits for the firm.")
class NeedsAttention:
    overdue_tasks: int = strawberry.field(description="Open or in-progress tasks past due.")
    requests_awaiting_firm: int = strawberry.field(
        description="Client requests a contact answered (ANSWERED): the firm's turn."
    )
    jobs_past_due: int = strawberry.field(description="Active jobs past their due date.")
    total: int

    @classmethod
    def of(cls, found: Attention) -> NeedsAttention:
        return cls(
            overdue_tasks=found.overdue_tasks,
            requests_awaiting_firm=found.requests_awaiting_firm,
            jobs_past_due=found.jobs_past_due,
            total=found.total,
        )


@strawberry.type
class AttentionOverviewFields:
    """The fields this feature adds to a client's overview (composed in schema/client.py)."""

    client_id: strawberry.Private[str]

    @strawberry.field(description="What on this client waits for the firm, counted.")
    async def needs_attention(self, info: Info) -> NeedsAttention:
        found = await info.context.loaders_of(OverviewLoaders).attention.load(self.client_id)
        return NeedsAttention.of(found)

    @strawberry.field(
        description="When the viewer last marked this overview seen (markOverviewSeen); "
        "null if never. Items added after it by someone else are new (isNew)."
    )
    async def seen_at(self, info: Info) -> datetime | None:
        return await info.context.loaders_of(OverviewLoaders).seen_at.load(self.client_id)


@strawberry.input
class MarkOverviewSeenInput:
    client_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.type
class MarkOverviewSeenPayload:
    client: ClientRef
    seen_at: datetime | None


MarkOverviewSeenResult: TypeAlias = Annotated[
    MarkOverviewSeenPayload | NotFoundError | ValidationError,
    strawberry.union("MarkOverviewSeenResult"),
]


@strawberry.type
class OverviewMutation:
    @command(
        may_as_staff("mark a client's overview seen"),
        description="Mark what is on a client's profile now as seen by you: from now on only "
        "what others add later is new (isNew) for you.",
    )
    async def mark_overview_seen(
        self, info: Info, input: MarkOverviewSeenInput
    ) -> MarkOverviewSeenResult:
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.services.overview.mark_overview_seen(
                client_id, key=input.idempotency_key
            ),
            own=True,
        )
        local = done.ids["client_id"]
        seen = await info.context.loaders_of(OverviewLoaders).seen_at.load(local)
        return MarkOverviewSeenPayload(client=await ClientCore.load(info, local), seen_at=seen)
