"""A slow live subscriber is closed with a clear reason and resumes; others and writers go on.

These drive the streams behind Subscription.activity directly (the same objects the
websocket operations consume), with a tiny buffer, while the writes go through the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from graphql import GraphQLError

from infra.settings import LiveOptions
from resolvers.live import ActivityStream, open_activity_stream
from resolvers.pages import ActivityArgs
from resolvers.viewer import Viewer
from tests.e2e.conftest import Api
from tests.e2e.test_api_support import comment, register

OWNER = Viewer(user_id="owner-1", firm_id="firm-a", role="owner", name="owner-1")
WAIT = 10.0


async def next_row(rows: AsyncIterator[Any]) -> Any:
    return await asyncio.wait_for(anext(rows), WAIT)


async def open_stream(api: Api, after: int) -> tuple[ActivityStream, AsyncIterator[Any]]:
    stream = await open_activity_stream(api.container, OWNER, ActivityArgs(), str(after))
    return stream, stream.rows()


async def test_a_slow_subscriber_is_closed_and_can_resume(api: Api) -> None:
    api.container.live.options = LiveOptions(buffer=2, stall_timeout=0.2, batch=50)
    start = api.event_count()
    slow, slow_rows = await open_stream(api, start)
    fast, fast_rows = await open_stream(api, start)
    acme = await register(api, "Acme")
    first = await next_row(slow_rows)
    assert first.type == "ClientRegistered"

    # The slow one takes nothing more; the writes and the fast subscriber are not held up.
    for n in range(6):
        await comment(api, acme, f"note {n}")
    fast_got = [await next_row(fast_rows) for _ in range(7)]
    assert [r.type for r in fast_got] == ["ClientRegistered"] + ["CommentAdded"] * 6

    await asyncio.wait_for(slow.closed.wait(), WAIT)
    assert not fast.closed.is_set()
    with pytest.raises(GraphQLError) as closed:
        await next_row(slow_rows)
    error = closed.value
    assert error.extensions == {"code": "SUBSCRIBER_TOO_SLOW", "after": str(first.position)}
    assert error.message == (
        "the subscriber fell more than 2 entries behind and was closed; "
        f'subscribe again with after: "{first.position}" to resume without a gap'
    )
    await slow_rows.aclose()  # type: ignore[attr-defined]

    # Resuming from the reported position gives exactly what the slow one missed.
    _, resumed = await open_stream(api, int(error.extensions["after"]))
    again = [await next_row(resumed) for _ in range(6)]
    assert [r.position for r in again] == [r.position for r in fast_got[1:]]
    assert [r.data["body"] for r in again] == [f"note {n}" for n in range(6)]

    await resumed.aclose()  # type: ignore[attr-defined]
    await fast_rows.aclose()  # type: ignore[attr-defined]
    assert api.container.live.subscriber_count == 0


async def test_a_subscriber_that_keeps_up_is_never_closed_by_a_burst(api: Api) -> None:
    """Entries beyond the buffer wait in the read model, not in memory, while it keeps up."""
    api.container.live.options = LiveOptions(buffer=2, stall_timeout=5.0, batch=3)
    stream, rows = await open_stream(api, api.event_count())
    acme = await register(api, "Acme")
    for n in range(10):
        await comment(api, acme, f"note {n}")
    got = [await next_row(rows) for _ in range(11)]
    assert [r.data.get("body") for r in got[1:]] == [f"note {n}" for n in range(10)]
    assert not stream.closed.is_set()
    await rows.aclose()  # type: ignore[attr-defined]
