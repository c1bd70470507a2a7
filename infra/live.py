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

Websocket connections (graphql-transport-ws, `HeartbeatTransportWSHandler`):

- connection_init must come within DOSSIER_WS_INIT_TIMEOUT (else 4408) and carry a valid
  token, in the upgrade request's Authorization header or in its payload; if both carry one,
  both must be valid and name the same identity. No connection_ack otherwise: 4401 for a
  missing, invalid or expired token, 4403 when the firm's staff records refuse a valid one,
  4400 for conflicting credentials (two Authorization headers, or two identities).
- The connection is closed with 4401 ("Unauthorized: the token has expired") at the earliest
  `exp` of the tokens it presented.
- The server pings every heartbeat interval and after every half window of `next` frames; a
  pong answers the oldest ping, acknowledging every frame sent before it. At most `buffer`
  frames go out unacknowledged: a client that stays that far behind for the stall timeout, or
  any send that cannot reach the transport within it (the client stopped reading and the
  buffers are full), closes the connection with 4008 "SUBSCRIBER_TOO_SLOW", after an `error`
  (code SUBSCRIBER_TOO_SLOW, with `after`) for each operation. A ping unanswered for
  DOSSIER_LIVE_PONG_TIMEOUT closes it with 4408 "Pong timeout".
- Whatever the close, a client that has not taken the rest within the stall timeout is cut off
  (the transport is aborted), so a client that never reads holds nothing for long.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

import anyio.to_thread
import jwt
import sqlalchemy as sa
import structlog
from graphql import GraphQLError
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    PongMessage,
    SubscribeMessage,
)
from strawberry.types.unset import UnsetType

from infra.auth import AuthError
from infra.cors import allowed_origins
from infra.database import DatabaseConfig
from infra.db_errors import is_transient
from infra.settings import LiveOptions
from projections.tables import tracking
from resolvers.live import DELIVERY, Delivery, too_slow
from resolvers.viewer import Viewer

log = structlog.get_logger(__name__)

CHANNEL = "dossier_activity"
ACTIVITY_PROJECTION = "activity"
RECONNECT_FIRST_DELAY = 0.1
RECONNECT_MAX_DELAY = 5.0

# Websocket close codes (graphql-transport-ws defines 4400, 4401, 4403, 4408 and 4429).
CLOSE_BAD_REQUEST = 4400  # also: conflicting credentials
CLOSE_UNAUTHORIZED = 4401  # no valid token at connection_init; the token expired
CLOSE_FORBIDDEN = 4403  # a valid token the firm's staff records refuse
CLOSE_PONG_TIMEOUT = 4408  # like the protocol's connection_init timeout: a deadline missed
CLOSE_TOO_MANY_INITS = 4429
CLOSE_TOO_SLOW = 4008  # the client fell behind (resume with `after`)
TOO_SLOW = "SUBSCRIBER_TOO_SLOW"
PONG_TIMEOUT = "Pong timeout"
TOKEN_EXPIRED = "Unauthorized: the token has expired"
MAX_REASON_BYTES = 123
TRANSPORT_KEY = "dossier.transport"


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
        self.closed_connections: Counter[str] = Counter()
        """Websocket connections the server closed, by kind (see connection_closed)."""
        self.peak_unacknowledged = 0
        """The most frames one connection has had out without the client's acknowledgement."""
        self.peak_write_buffer = 0
        """The largest write buffer (bytes) seen on a connection's transport after a send."""

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

    def observe_connection(self, unacknowledged: int, write_buffer: int) -> None:
        """A websocket connection's backlog after a send (its event loop)."""
        self.peak_unacknowledged = max(self.peak_unacknowledged, unacknowledged)
        self.peak_write_buffer = max(self.peak_write_buffer, write_buffer)

    def connection_closed(self, why: str) -> None:
        """The server closed a websocket connection (its event loop): refused, too_slow,
        pong_timeout or token_expired."""
        self.closed_connections[why] += 1

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


def token_expiry(authorization: str) -> float | None:
    """The `exp` (seconds since the epoch) of a bearer token that was already verified."""
    _, _, token = authorization.strip().partition(" ")
    try:
        claims = jwt.decode(token.strip(), options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def identity(viewer: Viewer) -> tuple[str, str, str, str | None]:
    """What two tokens must agree on to be presented on one connection."""
    return (viewer.firm_id, viewer.user_id, viewer.role, viewer.contact_id)


def close_reason(text: str) -> str:
    """A websocket close reason: at most 123 bytes of UTF-8."""
    data = text.encode()
    if len(data) <= MAX_REASON_BYTES:
        return text
    return data[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


# The server's transport (uvicorn) ------------------------------------------------------


@runtime_checkable
class Transport(Protocol):
    """What the handler uses of a server's transport (asyncio's, or uvloop's, which does not
    derive from asyncio.WriteTransport)."""

    def abort(self) -> None: ...

    def get_write_buffer_size(self) -> int: ...


class ExposeTransport:
    """ASGI middleware, registered outermost: puts the server's asyncio transport of a websocket
    in its scope (TRANSPORT_KEY), so a connection whose client stopped reading can be dropped.

    Through ASGI alone a server cannot close such a connection: uvicorn's `send` (the close
    frame's too) waits for room in the write buffer, which a client that never reads never
    makes. uvicorn's `send` is a method of its protocol, which holds the transport; servers
    without one simply get no entry, and such connections are left to the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if isinstance(transport, Transport):
                scope[TRANSPORT_KEY] = transport
        await self.app(scope, receive, send)


def websocket_transport(websocket: Any) -> Transport | None:
    """The transport ExposeTransport found for a Strawberry websocket adapter, if any."""
    scope = getattr(getattr(websocket, "ws", None), "scope", None)
    transport = scope.get(TRANSPORT_KEY) if isinstance(scope, dict) else None
    return transport if isinstance(transport, Transport) else None


def view_options(live: LiveOptions, cors_origins: Sequence[str] = ()) -> dict[str, Any]:
    """Keyword arguments for Strawberry's GraphQL view: the connection_init timeout, the
    subscriptions per connection and the origins allowed to open a websocket (infra.cors;
    same-origin pages and clients without an Origin header are always allowed)."""
    return {
        "connection_init_wait_timeout": timedelta(seconds=live.init_timeout),
        "max_subscriptions_per_connection": live.max_subscriptions_per_connection,
        "allowed_origins": allowed_origins(cors_origins),
    }


def _fanout(view: Any) -> ActivityFanout | None:
    container = getattr(view, "container", None)
    try:
        live = getattr(container, "live", None)
    except AssertionError:  # the container is not open
        return None
    return live if isinstance(live, ActivityFanout) else None


class _Closing(Exception):
    """An operation's frame cannot go out: its connection is being closed."""


# The hardened graphql-transport-ws handler ----------------------------------------------


class HeartbeatTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws with authentication at connection_init, server pings that must be
    answered, a bounded window of frames the client has not acknowledged, sends that must not
    stall, and a close at the token's expiry."""

    heartbeat_interval: float = LiveOptions.heartbeat_interval

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fanout = _fanout(self.view)
        options = self.fanout.options if self.fanout is not None else LiveOptions()
        self.heartbeat_interval = float(
            getattr(self.view, "heartbeat_interval", options.heartbeat_interval)
        )
        self.pong_timeout = options.pong_timeout
        self.stall_timeout = options.stall_timeout
        self.window = max(1, options.buffer)
        self.ack_every = max(1, self.window // 2)
        self.expires_at: float | None = None
        self.closed_with: tuple[int, str] | None = None
        self._sent = 0  # `next` frames handed to the websocket
        self._acked = 0  # of which the client's pongs acknowledged this many
        self._asked = 0  # frames sent when the last ping went out
        self._pings: deque[tuple[float, int]] = deque()  # (sent at, frames sent before it)
        self._acknowledged = asyncio.Event()
        self._wake = asyncio.Event()
        self._last_ping = 0.0
        self._closing = False
        self._heartbeat: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._deliveries: dict[str, Delivery] = {}

    # Lifecycle ------------------------------------------------------------------------

    def on_request_accepted(self) -> None:
        super().on_request_accepted()
        self._last_ping = asyncio.get_running_loop().time()
        self._heartbeat = asyncio.create_task(self._beat())

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        for task in (self._heartbeat, self._closer):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await super().shutdown()

    # connection_init: a valid token, or no connection_ack ----------------------------------

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out or self._closing:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload", {})
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            await self._close(CLOSE_BAD_REQUEST, "Invalid connection init payload")
            return
        if self.connection_init_received:
            await self._close(CLOSE_TOO_MANY_INITS, "Too many initialisation requests")
            return
        self.connection_init_received = True
        if isinstance(self.context, dict):
            self.context["connection_params"] = payload
        elif hasattr(self.context, "connection_params"):
            self.context.connection_params = payload
        try:
            ack_payload = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError:
            await self._close(CLOSE_FORBIDDEN, "Forbidden")
            return
        refusal = await self._authenticate(payload)
        if refusal is not None:
            await self._close(*refusal)
            return
        if isinstance(ack_payload, UnsetType):
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": ack_payload})
        if self._closing:
            return
        self.connection_acknowledged = True
        self._last_ping = asyncio.get_running_loop().time()  # the first ping: an interval on
        self._wake.set()
        if self.expires_at is not None:
            delay = max(0.0, self.expires_at - time.time())
            self._expiry = asyncio.get_running_loop().call_later(
                delay, self._begin_close, CLOSE_UNAUTHORIZED, TOKEN_EXPIRED
            )

    async def _authenticate(self, payload: dict[str, Any]) -> tuple[int, str] | None:
        """None when every token presented (upgrade header, connection_init payload) is valid
        and names one identity; else the close code and reason. Sets the context's viewer."""
        issuer = getattr(self.view, "issuer", None)
        if issuer is None:
            return None  # a view without Dossier's authentication (never in the app)
        ws = getattr(self.websocket, "ws", None)
        headers = ws.headers.getlist("authorization") if ws is not None else []
        if len(headers) > 1:
            return CLOSE_BAD_REQUEST, "Conflicting credentials: more than one Authorization header"
        presented = [*headers, authorization_from_params(payload)]
        tokens = [value for value in presented if value]
        if not tokens:
            return CLOSE_UNAUTHORIZED, "Unauthorized: a bearer token is required"
        viewers: list[Viewer] = []
        expiries: list[float] = []
        for value in tokens:
            try:
                viewers.append(issuer.viewer_from_header(value))
            except AuthError as error:
                return CLOSE_UNAUTHORIZED, close_reason(f"Unauthorized: {error}")
            expiry = token_expiry(value)
            if expiry is not None:
                expiries.append(expiry)
        if len({identity(viewer) for viewer in viewers}) > 1:
            return CLOSE_BAD_REQUEST, (
                "Conflicting credentials: the Authorization header and connection_init "
                "name different identities"
            )
        self.expires_at = min(expiries, default=None)
        if self.expires_at is not None and self.expires_at <= time.time():
            return CLOSE_UNAUTHORIZED, TOKEN_EXPIRED
        context = self.context
        if hasattr(context, "viewer"):
            context.viewer, context.auth_error = viewers[-1], None
        require = getattr(context, "require_viewer", None)
        if require is None:
            return None
        try:
            # The firm's staff records may refuse a valid token (a contact, a removed member).
            await anyio.to_thread.run_sync(require)
        except GraphQLError as error:
            code = (error.extensions or {}).get("code")
            if code == "UNAUTHENTICATED":
                return CLOSE_UNAUTHORIZED, close_reason(f"Unauthorized: {error.message}")
            if code == "FORBIDDEN":
                return CLOSE_FORBIDDEN, close_reason(f"Forbidden: {error.message}")
        except Exception as error:  # the database is away: each subscribe will say so
            log.warning("live_standing_unavailable", error_class=type(error).__name__)
        return None

    # Operations -----------------------------------------------------------------------

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if not self._closing:
            await super().handle_subscribe(message)

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        delivery = Delivery()
        self._deliveries[operation.id] = delivery
        DELIVERY.set(delivery)  # this task's context: its stream records what went out
        try:
            await super().run_operation(operation)
        except _Closing:
            pass
        finally:
            if self._deliveries.get(operation.id) is delivery:
                del self._deliveries[operation.id]

    async def handle_task_exception(self, error: Exception) -> None:
        if not isinstance(error, _Closing):
            await super().handle_task_exception(error)

    def forget_id(self, id: str) -> None:
        self.operations.pop(id, None)  # the close may have dropped it already

    # Sending: a window of unacknowledged frames, and no send may stall ------------------------

    async def send_message(self, message: Message) -> None:
        """Send one frame. A `next` waits while `window` frames are unacknowledged by the
        client's pongs; a client that stays that far behind for the stall timeout, or any send
        that cannot reach the transport within it, closes the connection as too slow."""
        data = message.get("type") == "next"
        if self._closing:
            if data:
                raise _Closing
            return
        if data and not await self._room():
            self._begin_close(CLOSE_TOO_SLOW, TOO_SLOW, too_slow=True)
            raise _Closing
        if data:
            self._sent += 1
        if not await self._send(message):
            if data:
                raise _Closing
            return
        if data and self._sent - self._asked >= self.ack_every:
            await self._ping()  # ask the client to acknowledge what it has read

    async def _send(self, message: Message) -> bool:
        try:
            async with asyncio.timeout(self.stall_timeout):
                await super().send_message(message)
        except TimeoutError:
            self._begin_close(CLOSE_TOO_SLOW, TOO_SLOW, too_slow=True)
            return False
        if self.fanout is not None:
            transport = websocket_transport(self.websocket)
            buffered = transport.get_write_buffer_size() if transport is not None else 0
            self.fanout.observe_connection(self._sent - self._acked, buffered)
        return True

    async def _room(self) -> bool:
        """Whether the window has room for one more frame, waiting at most the stall timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.stall_timeout
        while not self._closing:
            if self._sent - self._acked < self.window:
                return True
            if self._asked < self._sent:
                await self._ping()  # one ping covering everything sent so far
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._acknowledged.clear()  # no await since the check: no pong is missed
            try:
                async with asyncio.timeout(remaining):
                    await self._acknowledged.wait()
            except TimeoutError:
                return False
        return False

    async def _ping(self) -> None:
        now = asyncio.get_running_loop().time()
        self._pings.append((now, self._sent))
        self._asked = self._sent
        self._last_ping = now
        self._wake.set()
        await self._send({"type": "ping"})

    async def handle_pong(self, message: PongMessage) -> None:
        """A pong answers the oldest ping: every frame sent before that ping has been read."""
        if not self._pings:
            return  # unsolicited (a heartbeat from the client)
        _, frames = self._pings.popleft()
        self._acked = max(self._acked, frames)
        self._acknowledged.set()
        self._wake.set()

    async def _beat(self) -> None:
        """Ping every heartbeat interval once acknowledged; close when a ping goes unanswered
        for the pong timeout."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            while not self._closing:
                now = loop.time()
                if self._pings and now - self._pings[0][0] >= self.pong_timeout:
                    self._begin_close(CLOSE_PONG_TIMEOUT, PONG_TIMEOUT)
                    return
                if not self.connection_acknowledged:
                    wake_at = now + self.heartbeat_interval  # the ack wakes this loop
                elif now - self._last_ping >= self.heartbeat_interval:
                    await self._ping()
                    continue
                else:
                    wake_at = self._last_ping + self.heartbeat_interval
                if self._pings:
                    wake_at = min(wake_at, self._pings[0][0] + self.pong_timeout)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, wake_at - now)):
                        await self._wake.wait()

    # Closing ----------------------------------------------------------------------------

    def _why(self, code: int) -> str:
        """A close's kind, for operators: refused (before connection_ack), too_slow,
        pong_timeout or token_expired."""
        if not self.connection_acknowledged:
            return "refused"
        kinds = {
            CLOSE_TOO_SLOW: "too_slow",
            CLOSE_PONG_TIMEOUT: "pong_timeout",
            CLOSE_UNAUTHORIZED: "token_expired",
        }
        return kinds.get(code, str(code))

    def _begin_close(self, code: int, reason: str, *, too_slow: bool = False) -> None:
        """Close the connection (from any task of it): its operations stop at once, and each
        learns why when it was too slow (with the position to resume after)."""
        if self._closing:
            return
        errors: list[tuple[str, GraphQLError]] = []
        if too_slow:
            for op_id in self.operations:
                delivery = self._deliveries.get(op_id)
                after = delivery.after if delivery is not None else None
                errors.append((op_id, connection_too_slow(after, self.window)))
        self._closing = True
        self._closer = asyncio.create_task(self._close(code, reason, errors))

    async def _close(
        self, code: int, reason: str, errors: Sequence[tuple[str, GraphQLError]] = ()
    ) -> None:
        """Stop every operation, send the errors and the close frame; a client that does not
        take them (and the rest of what was sent) within the stall timeout is cut off."""
        self._closing = True
        self.closed_with = (code, reason)
        if self.fanout is not None:
            self.fanout.connection_closed(self._why(code))
        transport = websocket_transport(self.websocket)
        log.info(
            "live_connection_closed", code=code, reason=reason, can_cut_off=transport is not None
        )
        if transport is not None:
            asyncio.get_running_loop().call_later(self.stall_timeout, transport.abort)
        for op_id in list(self.operations):
            await self.cleanup_operation(op_id)
        try:
            async with asyncio.timeout(self.stall_timeout):
                for op_id, error in errors:
                    await super().send_message(
                        {"id": op_id, "type": "error", "payload": [error.formatted]}
                    )
                await self.websocket.close(code=code, reason=reason)
        except TimeoutError:
            if transport is not None:
                transport.abort()
        except Exception:  # the client is gone already
            pass


def connection_too_slow(after: int | None, window: int) -> GraphQLError:
    """The error each operation of a connection closed as too slow receives."""
    if after is not None:
        return too_slow(after, window)
    return GraphQLError(
        f"the connection fell more than {window} messages behind and was closed",
        extensions={"code": "SUBSCRIBER_TOO_SLOW"},
    )
