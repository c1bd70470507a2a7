"""A whole-response cache for GraphQL queries, validated on every request.

An entry is keyed by the query text, operation name, variables, the viewer's visibility class
(or the viewer itself when the document selects per-viewer fields) and today's date (figures
such as `overdue` depend on it), and stamped with the read models' position when it was
computed. A hit requires the same stamp now, so anything projected since, from any process,
makes it a miss: stale data is never served. The token is verified on every request, hit or
miss; documents reading the event store directly (audit, time travel) are never cached.

The viewer is the request's one identity (infra.http_guard.resolve_identity), with the role the
firm's staff records give it (resolvers.staff_roles): a demoted or removed member never gets
an answer computed for the role their token names. What the records said is kept in the
request's state, so the GraphQL context does not read them again, and remembered per viewer
with the stamp it was read at: the records are a read model, so while the stamp is unchanged
they are too, and a repeated query costs the one statement reading the stamp.

The stamp and the staff records are read in a worker thread (a database that stopped answering
must not stall the event loop); when they cannot be read because the database is unavailable,
the request is answered here with the same SERVICE_UNAVAILABLE error the schema gives, and not
executed.

Memory is bounded in bytes (DOSSIER_RESPONSE_CACHE_MB, 64 by default; 0 turns the cache off):
a response over MAX_ENTRY_BYTES is not kept, and the least recently used entries are evicted
while the total is over the budget.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import anyio.to_thread
import structlog
from graphql import FieldNode, OperationDefinitionNode, OperationType, parse
from graphql.error import GraphQLError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.auth import TokenIssuer
from infra.db_errors import is_transient
from infra.http_guard import (
    PAYLOAD_KEY,
    STANDING_KEY,
    BadRequest,
    graphql_payload,
    negotiate,
    resolve_identity,
)
from infra.multipart_check import is_multipart
from resolvers.staff_roles import Standing
from resolvers.unavailable import RETRY_AFTER_SECONDS, unavailable_error
from resolvers.viewer import Viewer

log = structlog.get_logger(__name__)

# Fields whose answers do not come from the read models alone (or depend on the viewer).
UNCACHEABLE_FIELDS = frozenset(
    {"auditTrail", "auditDigest", "verifyAuditDigest", "asOf", "changes", "fieldHistory"}
)
# notifications and unread counts are the viewer's own
PER_VIEWER_FIELDS = frozenset(
    {"viewer", "notifications", "notificationPreferences", "unreadCount"}
    # documents are new until each viewer opens them (isNew, filter new)
    | {"isNew", "documents", "latestDocuments"}
)
MAX_ENTRIES = 5_000
MAX_BYTES = 64 * 1024 * 1024
MAX_ENTRY_BYTES = 1024 * 1024
"""A response larger than this is not kept."""
ENTRY_OVERHEAD = 256
"""Bytes an entry costs beyond its response and key (the tuple, the dict slot, the stamp)."""
MAX_REQUEST_BYTES = 1024 * 1024
MAX_STANDINGS = 10_000
"""Viewers whose standing (staff records) is remembered, least recently used dropped first."""
"""A request body larger than this is forwarded without being looked up."""


MAX_QUERY_LENGTH = 20_000
"""Longer documents are never cached (nor parsed here): the schema's own limits judge them."""
MAX_QUERY_TOKENS = 2_000


@lru_cache(maxsize=512)
def analyse(query: str) -> tuple[bool, bool]:
    """(cacheable, per_viewer) for a query document; mutations and bad documents are not.

    Bounded before any work: an over-long document is not parsed, and the parser stops after
    MAX_QUERY_TOKENS tokens (the cache runs before the query limiter).
    """
    if len(query) > MAX_QUERY_LENGTH:
        return False, False
    try:
        document = parse(query, max_tokens=MAX_QUERY_TOKENS)
    except GraphQLError:
        return False, False
    names: set[str] = set()
    for definition in document.definitions:
        if (
            isinstance(definition, OperationDefinitionNode)
            and definition.operation is not OperationType.QUERY
        ):
            return False, False
        stack = [definition]
        while stack:
            node = stack.pop()
            if isinstance(node, FieldNode):
                names.add(node.name.value)
            selection_set = getattr(node, "selection_set", None)
            if selection_set is not None:
                stack.extend(selection_set.selections)
    if names & UNCACHEABLE_FIELDS:
        return False, False
    return True, bool(names & PER_VIEWER_FIELDS)


class ResponseCache:
    """ASGI wrapper around the GraphQL app answering repeated queries from memory."""

    def __init__(
        self,
        app: ASGIApp,
        issuer: TokenIssuer,
        stamp: Callable[[], int],
        standing: Callable[[Viewer], Standing] | None = None,
        *,
        max_bytes: int = MAX_BYTES,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.app = app
        self.issuer = issuer
        self.stamp = stamp
        self.standing = standing
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_entry_bytes, max_bytes)
        self.max_entries = max_entries
        self.entries: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self.bytes = 0
        """What the entries cost, as counted against max_bytes (responses, keys, overhead)."""
        self.hits = 0
        self.misses = 0
        self.standings: OrderedDict[Viewer, tuple[int, Standing]] = OrderedDict()
        """What the staff records said of a viewer, and at which stamp (worker threads share
        it: `_standings_lock`)."""
        self._standings_lock = threading.Lock()

    def clear(self) -> None:
        self.entries.clear()
        self.bytes = 0
        with self._standings_lock:
            self.standings.clear()

    def _cacheable(self, scope: Scope, body: bytes) -> tuple[dict[str, Any], Viewer, bool] | None:
        """(payload, token viewer, per_viewer) for a request the cache may answer."""
        if self.max_bytes <= 0:
            return None
        payload = scope.get("state", {}).get(PAYLOAD_KEY)
        if not isinstance(payload, dict):
            if len(body) > MAX_REQUEST_BYTES:
                return None
            try:
                payload = graphql_payload(body)
            except BadRequest:
                return None
        if not isinstance(payload.get("query"), str):
            return None
        # Who asks first: an anonymous caller never makes the cache parse anything.
        viewer = resolve_identity(scope, self.issuer).viewer
        if viewer is None or not viewer.is_staff:
            return None
        cacheable, per_viewer = analyse(payload["query"])
        if not cacheable:
            return None
        return payload, viewer, per_viewer

    def _lookup(self, viewer: Viewer) -> tuple[int, Standing | None]:
        """(the read models' position, what the staff records say of the viewer), in a worker
        thread; the records are read again only when the position moved."""
        stamp = self.stamp()
        if self.standing is None:
            return stamp, None
        with self._standings_lock:
            known = self.standings.get(viewer)
            if known is not None and known[0] == stamp:
                self.standings.move_to_end(viewer)
                return stamp, known[1]
        found = self.standing(viewer)
        with self._standings_lock:
            self.standings[viewer] = (stamp, found)
            self.standings.move_to_end(viewer)
            while len(self.standings) > MAX_STANDINGS:
                self.standings.popitem(last=False)
        return stamp, found

    @staticmethod
    def _key(payload: dict[str, Any], viewer: Viewer, per_viewer: bool) -> str:
        who: tuple[str, ...] = (viewer.role, *viewer.visibility_key)
        if per_viewer:
            who = (*who, viewer.user_id, viewer.name or "")
        material = json.dumps(
            [
                payload["query"],
                payload.get("operationName"),
                payload.get("variables") or {},
                who,
                datetime.now(UTC).date().isoformat(),
            ],
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or _is_upload(scope):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        found = self._cacheable(scope, body)
        if found is None:
            await self._forward(scope, body, send, None, 0)
            return
        payload, viewer, per_viewer = found
        try:
            stamp, standing = await anyio.to_thread.run_sync(self._lookup, viewer)
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning(
                "database_unavailable",
                where="response_cache",
                error_class=type(error).__name__,
                detail=str(error)[:1000],
            )
            await _send_unavailable(send)
            return
        effective: Viewer | None = viewer
        if standing is not None:
            scope.setdefault("state", {})[STANDING_KEY] = (viewer, standing)
            effective = standing.viewer
        if effective is None:  # the staff records refuse this viewer: the schema says so
            await self._forward(scope, body, send, None, 0)
            return
        key = self._key(payload, effective, per_viewer)
        entry = self.entries.get(key)
        if entry is not None and entry[0] == stamp:
            self.entries.move_to_end(key)
            self.hits += 1
            await _send_json(send, entry[1], media=_media(scope), hit=True)
            return
        self.misses += 1
        await self._forward(scope, body, send, key, stamp)

    async def _forward(
        self, scope: Scope, body: bytes, send: Send, key: str | None, stamp: int
    ) -> None:
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 0
        chunks: list[bytes] = []
        size = 0

        async def capture(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and size <= self.max_entry_bytes:
                chunk = message.get("body", b"")
                size += len(chunk)
                if size <= self.max_entry_bytes:
                    chunks.append(chunk)
                else:
                    chunks.clear()  # too large to keep: stop collecting it
            await send(message)

        await self.app(scope, replay, capture if key is not None else send)
        if key is None or status != 200 or size > self.max_entry_bytes:
            return
        response = b"".join(chunks)
        if b'"errors"' in response:
            return
        self._store(key, stamp, response)

    def _store(self, key: str, stamp: int, response: bytes) -> None:
        """Keep a response, then evict the least recently used entries over the budget."""
        old = self.entries.pop(key, None)
        if old is not None:
            self.bytes -= _cost(key, old[1])
        self.entries[key] = (stamp, response)
        self.bytes += _cost(key, response)
        while self.entries and (
            self.bytes > self.max_bytes or len(self.entries) > self.max_entries
        ):
            evicted, (_stamp, evicted_response) = self.entries.popitem(last=False)
            self.bytes -= _cost(evicted, evicted_response)


def _is_upload(scope: Scope) -> bool:
    """A multipart request (file uploads) is never cached nor read into memory here."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"content-type":
            return is_multipart(value)
    return False


def _cost(key: str, response: bytes) -> int:
    return len(response) + len(key) + ENTRY_OVERHEAD


def _media(scope: Scope) -> str:
    for name, value in scope.get("headers") or ():
        if name.lower() == b"accept":
            return negotiate(value.decode("latin-1"))
    return negotiate(None)


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(parts)


async def _send_json(send: Send, body: bytes, *, media: str, hit: bool) -> None:
    headers: list[Any] = [
        (b"content-type", media.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"x-dossier-cache", b"hit" if hit else b"miss"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_unavailable(send: Send) -> None:
    body = json.dumps(
        {"data": None, "errors": [unavailable_error().formatted]}, separators=(",", ":")
    ).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
