"""A whole-response cache for GraphQL queries, validated on every request.

An entry is keyed by the query text, operation name, variables, the viewer's visibility class
(or the viewer itself when the document selects per-viewer fields) and today's date (figures
such as `overdue` depend on it), and stamped with the read models' position when it was
computed. A hit requires the same stamp now, so anything projected since, from any process,
makes it a miss: stale data is never served. The token is verified on every request, hit or
miss; documents reading the event store directly (audit, time travel) are never cached.

The stamp is read in a worker thread (a database that stopped answering must not stall the
event loop); when it cannot be read because the database is unavailable, the request is
answered here with the same SERVICE_UNAVAILABLE error the schema gives, and not executed.
"""

from __future__ import annotations

import hashlib
import json
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

from infra.auth import AuthError, TokenIssuer
from infra.db_errors import is_transient
from resolvers.unavailable import RETRY_AFTER_SECONDS, unavailable_error

log = structlog.get_logger(__name__)

# Fields whose answers do not come from the read models alone (or depend on the viewer).
UNCACHEABLE_FIELDS = frozenset(
    {"auditTrail", "auditDigest", "verifyAuditDigest", "asOf", "changes", "fieldHistory"}
)
PER_VIEWER_FIELDS = frozenset({"viewer"})
MAX_ENTRIES = 5_000
MAX_BODY = 4 * 1024 * 1024


@lru_cache(maxsize=512)
def analyse(query: str) -> tuple[bool, bool]:
    """(cacheable, per_viewer) for a query document; mutations and bad documents are not."""
    try:
        document = parse(query)
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
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.app = app
        self.issuer = issuer
        self.stamp = stamp
        self.max_entries = max_entries
        self.entries: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def clear(self) -> None:
        self.entries.clear()

    def _key(self, scope: Scope, body: bytes) -> str | None:
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return None
        cacheable, per_viewer = analyse(payload["query"])
        if not cacheable:
            return None
        headers = dict(scope.get("headers") or [])
        try:
            viewer = self.issuer.viewer_from_header(headers.get(b"authorization", b"").decode())
        except AuthError:
            return None
        if not viewer.is_staff:
            return None
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
        return hashlib.sha256(material.encode()).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        key = self._key(scope, body) if len(body) <= MAX_BODY else None
        stamp = 0
        if key is not None:
            try:
                stamp = await anyio.to_thread.run_sync(self.stamp)
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
            found = self.entries.get(key)
            if found is not None and found[0] == stamp:
                self.entries.move_to_end(key)
                self.hits += 1
                await _send_json(send, found[1], hit=True)
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

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, replay, capture if key is not None else send)
        if key is None or status != 200:
            return
        response = b"".join(chunks)
        if b'"errors"' in response or len(response) > MAX_BODY:
            return
        self.entries[key] = (stamp, response)
        self.entries.move_to_end(key)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


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


async def _send_json(send: Send, body: bytes, *, hit: bool) -> None:
    headers: list[Any] = [
        (b"content-type", b"application/json"),
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
