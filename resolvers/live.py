"""Live activity streams: the entries after a position, then live ones, each checked per viewer.

A stream fixes its start (`after`, or the current head), registers for wake-ups, then reads
the backlog, then reads again from the last position it read on every wake-up, so nothing
falls between the backlog and the live part and nothing is sent twice. Every read applies
the viewer's visibility in SQL (and `deliverable` per row), so permissions are checked for
each streamed event, not once at subscribe time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, cast

import anyio.to_thread
import sqlalchemy as sa
from graphql import GraphQLError

from projections.tables import activity
from resolvers.errors import bad_input, unavailable
from resolvers.pages import ActivityArgs, position_after
from resolvers.viewer import Viewer
from resolvers.visibility import visible_activity

RETRY_FIRST = 0.1  # seconds before re-reading after a failed read, doubling
RETRY_CAP = 5.0

Row = sa.Row[Any]


class Waker(Protocol):
    """A subscriber's wake-up signal (infra.live.Waker)."""

    def clear(self) -> None: ...

    async def wait(self) -> None: ...


class StreamLimits(Protocol):
    """The per-subscriber limits (infra.live.LiveOptions)."""

    buffer: int
    stall_timeout: float
    batch: int


class LiveSource(Protocol):
    """What a stream needs from the process's fan-out (infra.live.ActivityFanout)."""

    engine: sa.Engine
    options: Any

    def register(self) -> Waker: ...

    def unregister(self, waker: Any) -> None: ...

    def head(self) -> int: ...

    def projected_position(self) -> int: ...

    def is_transient(self, error: BaseException) -> bool:
        """Whether a failed read may succeed if simply tried again (a database blip)."""
        ...

    def frame_sent(self) -> None:
        """Count one entry handed to a subscriber (operator metrics)."""
        ...


def live_source(ports: Any) -> LiveSource:
    source = getattr(ports, "live", None)
    if source is None:
        raise unavailable("live activity is not available on this server")
    return cast(LiveSource, source)


# What a viewer may receive ------------------------------------------------------------


def stream_conditions(viewer: Viewer) -> list[sa.ColumnElement[bool]]:
    """SQL conditions on rm_activity for what the viewer may receive, evaluated on every read."""
    return [visible_activity(viewer)]


def deliverable(viewer: Viewer, row: Row) -> bool:
    """The per-event check after SQL: where the portal restricts contacts to shared entries."""
    return viewer.is_staff


@dataclass
class Delivery:
    """How far one websocket operation got: the transport sets one per operation (DELIVERY),
    its stream records the position of the last entry the transport took."""

    after: int | None = None


DELIVERY: ContextVar[Delivery | None] = ContextVar("dossier_live_delivery", default=None)
"""The current operation's Delivery, when it runs under infra.live's websocket handler."""


def too_slow(after: int, buffer: int) -> GraphQLError:
    """The error that closes a subscriber that fell too far behind."""
    return GraphQLError(
        f"the subscriber fell more than {buffer} entries behind and was closed; "
        f'subscribe again with after: "{after}" to resume without a gap',
        extensions={"code": "SUBSCRIBER_TOO_SLOW", "after": str(after)},
    )


# Streams --------------------------------------------------------------------------------


async def open_activity_stream(
    ports: Any, viewer: Viewer, args: ActivityArgs, after: str | None
) -> ActivityStream:
    """Validate the arguments (errors here reach the client before any entry)."""
    source = live_source(ports)
    start = position_after(after)
    if start is not None:
        head = await anyio.to_thread.run_sync(source.head)
        if start > head:
            raise bad_input(f"after {start} is beyond the last recorded position ({head})", "after")
    return ActivityStream(source, viewer, args, start)


class ActivityStream:
    """One subscriber: a pump reads rows into a bounded buffer; `rows()` hands them out."""

    def __init__(
        self, source: LiveSource, viewer: Viewer, args: ActivityArgs, start: int | None
    ) -> None:
        self.source = source
        self.viewer = viewer
        self.conditions = [*stream_conditions(viewer), *args.conditions()]
        self.start = start
        limits = cast(StreamLimits, source.options)
        self.buffer = max(1, limits.buffer)
        self.batch = max(1, limits.batch)
        self.stall_timeout = limits.stall_timeout
        self.queue: asyncio.Queue[Row | BaseException] = asyncio.Queue(maxsize=self.buffer)
        self.delivered = 0
        self.closed = asyncio.Event()

    async def rows(self) -> AsyncIterator[Row]:
        """Entries after `start` (or after the current head), then live ones, until closed."""
        if self.start is None:
            self.start = await anyio.to_thread.run_sync(self.source.projected_position)
        self.delivered = self.start
        delivery = DELIVERY.get()
        if delivery is not None:
            delivery.after = self.start
        # Registered before the pump's first read: whatever that read misses wakes it.
        waker = self.source.register()
        pump: asyncio.Task[None] | None = None
        try:
            pump = asyncio.create_task(self._pump(waker, self.start))
            while True:
                item = await self.queue.get()
                if isinstance(item, BaseException):
                    raise item
                self.delivered = int(item.position)
                self.source.frame_sent()
                yield item
                # Asked for the next one: the consumer has handed this one to the transport.
                if delivery is not None:
                    delivery.after = self.delivered
        finally:
            if pump is not None:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump
            self.source.unregister(waker)

    async def _pump(self, waker: Waker, last: int) -> None:
        failures = 0
        try:
            while True:
                waker.clear()
                try:
                    rows = await anyio.to_thread.run_sync(self._read, last)
                except Exception as error:
                    # A database blip: read again from the same position after a pause (capped
                    # exponential backoff), so the subscriber sees no gap, no repeat, no error.
                    if not self.source.is_transient(error):
                        raise
                    failures += 1
                    await asyncio.sleep(min(RETRY_CAP, RETRY_FIRST * 2.0**failures))
                    continue
                failures = 0
                for row in rows:
                    last = int(row.position)
                    if deliverable(self.viewer, row):
                        await self._put(row)
                if len(rows) < self.batch:
                    await waker.wait()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._fail(error)

    def _read(self, after: int) -> list[Row]:
        with self.source.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(activity)
                    .where(activity.c.position > after, *self.conditions)
                    .order_by(activity.c.position)
                    .limit(self.batch)
                ).all()
            )

    async def _put(self, row: Row) -> None:
        if not self.queue.full():
            self.queue.put_nowait(row)
            return
        try:
            await asyncio.wait_for(self.queue.put(row), self.stall_timeout)
        except TimeoutError:
            raise too_slow(self.delivered, self.buffer) from None

    def _fail(self, error: BaseException) -> None:
        """Close the stream: drop what is buffered and hand the error to the subscriber."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(error)
        self.closed.set()
