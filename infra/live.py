"""Live activity fan-out: one per process, waking the process's subscribers when activity lands.

Subscribers never receive rows from here, only wake-ups; they read the rows themselves from
the activity projection by position (resolvers/live.py), so a missed or duplicated wake-up
costs one read and never an entry.

- In-process: the projection runner calls `projected(position)` after each batch it commits.
- PostgreSQL: `projected` also sends `NOTIFY dossier_activity, '<position>'`, and every
  process with subscribers holds one LISTEN connection (a thread), so a subscriber on one
  server process sees events projected by any other.
- Safety net (and SQLite with projections in another process): the same thread polls the
  activity projection's tracking position once per `poll_interval`.
- The database may go away: the LISTEN connection has the configured timeouts and keepalives,
  and a lost connection (or a failed poll) is re-established with capped backoff. Every
  (re)connection wakes all subscribers, who re-read from their own last position: whatever was
  notified while nobody listened is read then, and nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import structlog
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from infra.database import DatabaseConfig
from infra.db_errors import is_transient
from infra.settings import LiveOptions
from projections.tables import tracking

log = structlog.get_logger(__name__)

CHANNEL = "dossier_activity"
ACTIVITY_PROJECTION = "activity"
RECONNECT_FIRST_DELAY = 0.1
RECONNECT_MAX_DELAY = 5.0


def reconnect_delay(failures: int) -> float:
    """Capped exponential backoff with jitter before reconnect attempt number `failures`."""
    delay = min(RECONNECT_MAX_DELAY, RECONNECT_FIRST_DELAY * 2.0 ** max(0, failures - 1))
    return delay * random.uniform(0.5, 1.0)


def channel_for(config: DatabaseConfig) -> str:
    """The NOTIFY channel: one per database schema, so test schemas do not wake each other."""
    if config.schema:
        return f"{CHANNEL}__{config.schema}"
    return CHANNEL


class Waker:
    """One subscriber's wake-up signal; set from any thread, awaited in its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()
        self.head = 0

    def _wake(self, position: int) -> None:
        self.head = max(self.head, position)
        self.event.set()

    def clear(self) -> None:
        self.event.clear()

    async def wait(self) -> None:
        await self.event.wait()


class ActivityFanout:
    """Wakes this process's live subscribers whenever the activity projection advances."""

    def __init__(
        self,
        engine: sa.Engine,
        config: DatabaseConfig,
        store_head: Callable[[], int],
        options: LiveOptions | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.options = options or LiveOptions()
        self.channel = channel_for(config)
        self._store_head = store_head
        self._lock = threading.Lock()
        self._wakers: set[Waker] = set()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._published = 0
        self.frames_sent = 0

    # Positions ----------------------------------------------------------------

    def head(self) -> int:
        """The position of the last recorded event."""
        return self._store_head()

    def projected_position(self) -> int:
        """The position the activity projection has reached."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(tracking.c.notification_id).where(
                    tracking.c.application_name == ACTIVITY_PROJECTION
                )
            ).scalar()
        return int(value or 0)

    # Publishing -----------------------------------------------------------------

    def projected(self, position: int) -> None:
        """The runner committed a batch up to `position` (runner listener, any thread)."""
        self.publish(position)
        if self.config.is_postgres:
            try:
                with self.engine.connect() as conn:
                    conn.execute(sa.select(sa.func.pg_notify(self.channel, str(position))))
                    conn.commit()
            except Exception:  # the watchers' poll still finds the position
                log.warning("live_notify_failed", position=position, exc_info=True)

    def publish(self, position: int) -> None:
        """Wake every local subscriber (thread-safe, never blocks on a subscriber)."""
        with self._lock:
            self._published = max(self._published, position)
            wakers = list(self._wakers)
        for waker in wakers:
            with contextlib.suppress(RuntimeError):  # its event loop has closed
                waker.loop.call_soon_threadsafe(waker._wake, position)

    # Subscribers ----------------------------------------------------------------

    def register(self) -> Waker:
        """A wake-up signal for a new subscriber (call from its event loop)."""
        waker = Waker(asyncio.get_running_loop())
        with self._lock:
            self._wakers.add(waker)
            if self._watcher is None and not self._stopping.is_set():
                self._watcher = threading.Thread(
                    target=self._watch, name="live-fanout", daemon=True
                )
                self._watcher.start()
        return waker

    def unregister(self, waker: Waker) -> None:
        with self._lock:
            self._wakers.discard(waker)

    def frame_sent(self) -> None:
        """A subscriber of this process was handed one more entry."""
        self.frames_sent += 1

    @staticmethod
    def is_transient(error: BaseException) -> bool:
        """Whether a subscriber's failed read may succeed if tried again (see infra.db_errors)."""
        return is_transient(error)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._wakers)

    # Watching other processes -----------------------------------------------------

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.join(timeout)

    def _poll(self) -> None:
        position = self.projected_position()
        if position > self._published:
            self.publish(position)

    def _watch(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                if self.config.is_postgres:
                    self._listen(failures)
                else:
                    self._poll()
                    if failures:
                        log.info("live_watcher_recovered", after_failures=failures)
                    failures = 0
                    self._stopping.wait(self.options.poll_interval)
            except Exception as error:
                # A session that was established and then lost starts the backoff afresh.
                failures = 1 if self._established else failures + 1
                self._established = False
                delay = reconnect_delay(failures)
                if is_transient(error):
                    log.warning(
                        "live_watcher_disconnected",
                        error_class=type(error).__name__,
                        failures=failures,
                        retry_in=round(delay, 2),
                    )
                else:
                    log.warning("live_watcher_failed", failures=failures, exc_info=True)
                self._stopping.wait(delay)

    _established = False
    """Whether the current LISTEN session got as far as listening."""

    def _listen(self, failures: int = 0) -> None:
        import psycopg
        from psycopg import sql

        config = self.config
        with psycopg.connect(
            host=config.host,
            port=config.port,
            user=config.user,
            password=config.password or None,
            dbname=config.dbname,
            autocommit=True,
            **config.libpq_params(search_path=False),
        ) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            # Anything projected while we were not listening: wake every subscriber, who reads
            # on from its own last position (a wake-up with nothing new costs one read).
            self.publish(max(self.projected_position(), self._published))
            self._established = True
            if failures:
                log.info("live_listen_restored", after_failures=failures)
            polled = time.monotonic()
            while not self._stopping.is_set():
                for notify in conn.notifies(timeout=min(1.0, self.options.poll_interval)):
                    if notify.payload.isdigit():
                        self.publish(int(notify.payload))
                    if self._stopping.is_set():
                        return
                if time.monotonic() - polled >= self.options.poll_interval:
                    self._poll()
                    polled = time.monotonic()


# Authentication of websocket connections --------------------------------------------


def authorization_from_params(params: Any) -> str | None:
    """The Authorization value in a connection_init payload, if it has one.

    Accepts {"Authorization": "Bearer <jwt>"}, {"authorization": ...}, {"token": "<jwt>"}
    and Apollo's {"headers": {"Authorization": ...}}.
    """
    if not isinstance(params, dict):
        return None
    headers = params.get("headers")
    for source in (params, headers if isinstance(headers, dict) else {}):
        for key in ("Authorization", "authorization"):
            value = source.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    token = params.get("token")
    if isinstance(token, str) and token.strip():
        token = token.strip()
        return token if token.lower().startswith("bearer ") else f"Bearer {token}"
    return None


# Heartbeats ---------------------------------------------------------------------------


class HeartbeatTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws with server pings every `heartbeat_interval` seconds."""

    heartbeat_interval: float = LiveOptions.heartbeat_interval
    _heartbeat: asyncio.Task[None] | None = None

    def on_request_accepted(self) -> None:
        super().on_request_accepted()
        interval = getattr(self.view, "heartbeat_interval", self.heartbeat_interval)
        self._heartbeat = asyncio.create_task(self._beat(float(interval)))

    async def _beat(self, interval: float) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(interval)
                if self.connection_acknowledged:
                    await self.send_message({"type": "ping"})

    async def shutdown(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        await super().shutdown()
