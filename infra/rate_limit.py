"""A per-viewer rate limit by query cost over a sliding window (in memory, per process).

Each viewer (the token's firm and `sub`; without a valid token, the client's address) may spend
`budget` cost points per `window` seconds. `RateLimit` wraps the GraphQL HTTP app: a request
from a viewer whose budget is already spent is answered 429 at once; otherwise the request's
meter is made current (schema.limits.CURRENT_METER) and schema.limits.QueryLimiter charges the
document's cost once it is known (after parsing, before validation and execution). A document
that does not fit is refused before any resolver runs and the response becomes a 429; both
carry `Retry-After` (seconds) and a GraphQL error coded RATE_LIMITED. A request charged nothing
by the schema (a response-cache hit, a document that does not parse or is over a limit) costs
one point.

The limiter lives in the process's memory: with several API processes, each keeps its own
budgets (a viewer spread over N processes may spend up to N budgets). Keys idle for a whole
window are dropped (their usage has expired anyway), and at most `max_keys` are kept (the least
recently used go first).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.auth import AuthError, TokenIssuer
from infra.settings import Settings
from schema.limits import CURRENT_METER, QueryLimits, rate_limited

BUCKETS = 20
MAX_KEYS = 100_000


class _Usage:
    """A key's points in the window: (expiry, points) per slot, oldest first."""

    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.total = 0
        self.entries: deque[tuple[float, int]] = deque()

    def expire(self, now: float) -> None:
        entries = self.entries
        while entries and entries[0][0] <= now:
            self.total -= entries.popleft()[1]

    def add(self, expiry: float, points: int) -> None:
        entries = self.entries
        if entries and entries[-1][0] == expiry:
            entries[-1] = (expiry, entries[-1][1] + points)
        else:
            entries.append((expiry, points))
        self.total += points

    def idle(self, now: float) -> bool:
        return not self.entries or self.entries[-1][0] <= now


class SlidingWindowLimiter:
    """Cost points per key over the last `window` seconds, thread and task safe.

    Spending is recorded in `buckets` slots per window: points spent at time t count until
    between t + window and t + window + window / buckets (never less than a whole window).
    """

    def __init__(
        self,
        budget: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        buckets: int = BUCKETS,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if budget <= 0 or window <= 0 or buckets <= 0 or max_keys <= 0:
            raise ValueError("a rate limit needs a positive budget, window, buckets and keys")
        self.budget = budget
        self.window = window
        self.clock = clock
        self.slot = window / buckets
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, _Usage] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        return len(self._keys)

    def spend(self, key: str, points: int, *, force: bool = False) -> float | None:
        """Record `points` for `key`; when they do not fit the budget (and not `force`),
        record nothing and return the seconds until they would (the window when never)."""
        now = self.clock()
        with self._lock:
            self._evict_idle(now)
            usage = self._keys.get(key)
            if usage is None:
                usage = self._keys[key] = _Usage()
                while len(self._keys) > self.max_keys:
                    self._keys.popitem(last=False)
            else:
                self._keys.move_to_end(key)
                usage.expire(now)
            if not force and usage.total + points > self.budget:
                return self._wait(usage, points, now)
            usage.add((math.floor(now / self.slot) + 1) * self.slot + self.window, points)
            return None

    def wait(self, key: str, points: int = 1) -> float | None:
        """Seconds until `points` would fit the key's budget (None: they fit now)."""
        now = self.clock()
        with self._lock:
            self._evict_idle(now)
            usage = self._keys.get(key)
            if usage is not None:
                usage.expire(now)
                if usage.total + points > self.budget:
                    return self._wait(usage, points, now)
            return None if points <= self.budget else self.window

    def used(self, key: str) -> int:
        """Points the key has spent in the current window."""
        now = self.clock()
        with self._lock:
            usage = self._keys.get(key)
            if usage is None:
                return 0
            usage.expire(now)
            return usage.total

    def _evict_idle(self, now: float) -> None:
        """Drop keys from the least recently used end while all their points have expired
        (a key's last expiry grows with its last use, so the first active key ends it)."""
        keys = self._keys
        while keys:
            key = next(iter(keys))
            if not keys[key].idle(now):
                return
            del keys[key]

    def _wait(self, usage: _Usage, points: int, now: float) -> float:
        if points > self.budget:
            return self.window
        freed = 0
        for expiry, spent in usage.entries:
            freed += spent
            if usage.total - freed + points <= self.budget:
                return max(0.0, expiry - now)
        return self.window  # pragma: no cover - once every entry expires, all points fit


@dataclass
class Meter:
    """One request's view of the limiter (schema.limits.CostMeter)."""

    limiter: SlidingWindowLimiter
    key: str
    charged: int = 0
    refused: float | None = None

    def charge(self, points: int) -> float | None:
        wait = self.limiter.spend(self.key, points)
        if wait is None:
            self.charged += points
        else:
            self.refused = wait
        return wait


class RateLimit:
    """ASGI wrapper around the GraphQL HTTP app enforcing the per-viewer cost budget."""

    def __init__(self, app: ASGIApp, limiter: SlidingWindowLimiter, issuer: TokenIssuer) -> None:
        self.app = app
        self.limiter = limiter
        self.issuer = issuer

    def key(self, scope: Scope) -> str:
        """`viewer:<firm>:<sub>` for a valid token, else `address:<client host>`."""
        values = [v for k, v in scope.get("headers") or () if k == b"authorization"]
        if len(values) == 1:
            try:
                viewer = self.issuer.viewer_from_header(values[0].decode("latin-1"))
            except AuthError:
                pass
            else:
                return f"viewer:{viewer.firm_id}:{viewer.user_id}"
        client = scope.get("client")
        return f"address:{client[0] if client else 'unknown'}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        key = self.key(scope)
        wait = self.limiter.wait(key)
        if wait is not None:
            await _send_limited(send, wait)
            return
        meter = Meter(self.limiter, key)

        async def send_limited(message: Message) -> None:
            if message["type"] == "http.response.start" and meter.refused is not None:
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"retry-after"]
                headers.append((b"retry-after", _seconds(meter.refused).encode()))
                message = {**message, "status": 429, "headers": headers}
            await send(message)

        token = CURRENT_METER.set(meter)
        try:
            await self.app(scope, receive, send_limited)
        finally:
            CURRENT_METER.reset(token)
            if meter.charged == 0:
                self.limiter.spend(key, 1, force=True)


def _seconds(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


async def _send_limited(send: Send, wait: float) -> None:
    error = rate_limited(wait)
    body = json.dumps(
        {"data": None, "errors": [{"message": error.message, "extensions": error.extensions}]}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", _seconds(wait).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def query_limits(settings: Settings) -> QueryLimits:
    """The per-document limits from the DOSSIER_MAX_QUERY_* settings."""
    return QueryLimits(
        max_depth=settings.max_query_depth,
        max_tokens=settings.max_query_tokens,
        max_aliases=settings.max_query_aliases,
        max_directives=settings.max_query_directives,
        max_cost=settings.max_query_cost,
    )


def rate_limit(app: ASGIApp, settings: Settings, issuer: TokenIssuer) -> RateLimit | None:
    """The GraphQL HTTP app behind the per-viewer cost budget (None when
    DOSSIER_RATE_LIMIT_COST is 0)."""
    if settings.rate_limit_cost <= 0:
        return None
    limiter = SlidingWindowLimiter(settings.rate_limit_cost, settings.rate_limit_window)
    return RateLimit(app, limiter, issuer)
