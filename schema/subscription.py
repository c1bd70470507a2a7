"""Subscription root: live activity over graphql-transport-ws."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

import strawberry

from resolvers.live import open_activity_stream
from schema.common import Info
from schema.types import ActivityEntry, ActivityFilter, activity_args


async def _entries(info: Info, rows: AsyncIterator[Any]) -> AsyncGenerator[ActivityEntry, None]:
    async for row in rows:
        # One connection lives long: read each entry's related data afresh.
        info.context.forget_loaded()
        yield ActivityEntry.from_row(row)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Live activity the viewer may see. With after (a position or cursor), "
        "entries after it are sent first, then live ones, with no gap and no repeat."
    )
    async def activity(
        self,
        info: Info,
        filter: Annotated[ActivityFilter | None, strawberry.argument()] = None,
        after: str | None = None,
    ) -> AsyncGenerator[ActivityEntry, None]:
        await info.context.resolve_standing()  # the staff records, read off the event loop
        viewer = info.context.require_viewer()
        stream = await open_activity_stream(
            info.context.ports, viewer, activity_args(filter), after
        )
        return _entries(info, stream.rows())
