"""The HTTP boundary: bounded work before authentication, and one identity per request.

`HttpGuard` is an ASGI middleware in front of every route (only the request id is outside it).
Before anything else reads the request it:

- refuses a header over MAX_HEADER_BYTES or headers over MAX_HEADERS_BYTES in total (431);
- resolves the request's identity once (`resolve_identity`): more than one `Authorization`
  header, or one that is not UTF-8, is refused (400, `WWW-Authenticate: Bearer
  error="invalid_request"`, RFC 6750 section 3.1); otherwise the verified viewer, or why there
  is none, is kept in `scope["state"]`, and the response cache, the GraphQL context, the exports
  and websocket upgrades all read that one value;
- reads a request body (any method but GET and HEAD) only up to `max_body_bytes`
  (DOSSIER_MAX_BODY_BYTES): a Content-Length over it is refused at once, and a chunked body that
  grows past it is refused without reading the rest (413, the connection is closed);
- for a POST to the GraphQL path with `Content-Type: multipart/form-data` (file uploads),
  requires a valid bearer token (401) and checks the body while it streams in, with its own
  limits (infra.multipart_check: 5 MB per file, 25 files' worth in all);
- for any other POST to the GraphQL path, requires `Content-Type: application/json` (415 otherwise),
  and a body that is UTF-8 text holding one JSON object without unpaired surrogate escapes
  (400 otherwise; batches are not supported); the parsed object is kept in `scope["state"]`.

A websocket upgrade that fails these checks is closed before it is accepted (HTTP 403).
Refusals are JSON bodies shaped like GraphQL errors: `{"errors": [{"message": ...,
"extensions": {"code": ...}}]}`.

uvicorn reads a whole header block before the application sees it; `server_limits()` gives the
options that bound it there (`dossier serve` uses them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.auth import AuthError, TokenIssuer
from infra.multipart_check import (
    MAX_MULTIPART_BYTES,
    MultipartBody,
    MultipartRefused,
    is_multipart,
    refusal_body,
)
from resolvers.viewer import Viewer

MAX_HEADER_BYTES = 8 * 1024
"""The longest single header (name and value) accepted."""
MAX_HEADERS_BYTES = 32 * 1024
"""The most header bytes accepted in one request, all headers together."""
H11_MAX_INCOMPLETE_EVENT_SIZE = 64 * 1024
"""uvicorn (h11) refuses a request line and header block longer than this before parsing it."""
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
"""An X-Request-ID a client sends is kept only when it matches this; else one is generated."""

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"

IDENTITY_KEY = "dossier.identity"
PAYLOAD_KEY = "dossier.graphql_payload"
STANDING_KEY = "dossier.standing"
"""What the staff records said of the identity's viewer, when already read (the cache does)."""

BODYLESS_METHODS = frozenset({"GET", "HEAD"})

_OWN_BODY_PATHS = re.compile(r"/clients/[^/]{1,300}/inbound-email")


def reads_own_body(scope: Scope) -> bool:
    """A route that checks the identity itself and reads its request body with its own bound
    (POST /clients/{id}/inbound-email: raw messages up to infra.mail.inbound's limit)."""
    path = scope.get("path")
    return (
        scope.get("method") == "POST"
        and isinstance(path, str)
        and _OWN_BODY_PATHS.fullmatch(path) is not None
    )


class BadRequest(Exception):
    """The request cannot be understood: answered 400 with this message."""


@dataclass(frozen=True)
class Identity:
    """Who a request is from, resolved once from its Authorization header."""

    viewer: Viewer | None
    problem: str | None = None
    """Why there is no viewer (no token, an invalid or expired one): UNAUTHENTICATED."""
    malformed: str | None = None
    """Why the request is refused outright (more than one Authorization header, not UTF-8)."""

    @property
    def auth_error(self) -> str | None:
        return self.malformed or self.problem


def resolve_identity(scope: Scope, issuer: TokenIssuer) -> Identity:
    """The request's identity, verified on the first call and kept in `scope["state"]`."""
    state = scope.setdefault("state", {})
    found = state.get(IDENTITY_KEY)
    if isinstance(found, Identity):
        return found
    identity = _identity(scope.get("headers") or (), issuer)
    state[IDENTITY_KEY] = identity
    return identity


def _identity(headers: Iterable[tuple[bytes, bytes]], issuer: TokenIssuer) -> Identity:
    values = [value for name, value in headers if name.lower() == b"authorization"]
    if len(values) > 1:
        return Identity(None, malformed="send exactly one Authorization header, not several")
    raw = values[0] if values else b""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Identity(None, malformed="the Authorization header is not valid UTF-8")
    try:
        return Identity(issuer.viewer_from_header(text or None))
    except AuthError as error:
        return Identity(None, problem=str(error))


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The client's X-Request-ID when it is safe to log and echo (else None)."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            return value.decode("ascii") if SAFE_REQUEST_ID.fullmatch(value) else None
    return None


def negotiate(accept: str | None) -> str:
    """The response media type for an Accept header: application/graphql-response+json when
    the client names it with a quality at least that of application/json (which `*/*` and
    `application/*` give), else application/json (also without an Accept header)."""
    if not accept or "graphql-response+json" not in accept:
        return JSON
    wanted, plain = 0.0, 0.0
    for part in accept.split(","):
        media, _, params = part.partition(";")
        media = media.strip().lower()
        quality = _quality(params)
        if media == GRAPHQL_RESPONSE_JSON:
            wanted = max(wanted, quality)
        elif media in (JSON, "application/*", "*/*"):
            plain = max(plain, quality)
    return GRAPHQL_RESPONSE_JSON if wanted > 0 and wanted >= plain else JSON


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def decode_graphql_json(data: bytes | str) -> Any:
    """JSON from a request: strict UTF-8, no unpaired surrogate escapes (BadRequest if not)."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("the request body is not valid UTF-8") from None
    else:
        text = data
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON") from None
    if "\\u" in text or not isinstance(data, bytes):
        try:  # a lone surrogate (\ud800) decodes to a str that no UTF-8 codec can write
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except (UnicodeEncodeError, RecursionError):
            raise BadRequest(
                "the request holds an unpaired surrogate escape (\\uD800-\\uDFFF), which is not "
                "a Unicode character"
            ) from None
    return value


def graphql_payload(body: bytes) -> dict[str, Any]:
    """The JSON object of a GraphQL POST body, or BadRequest."""
    if not body.strip():
        raise BadRequest('the request body is empty: send a JSON object {"query": ...}')
    payload = decode_graphql_json(body)
    if not isinstance(payload, dict):
        raise BadRequest(
            'the request body must be a JSON object {"query": ..., "variables": {...}}; '
            "batches (lists) are not supported"
        )
    return payload


def content_type_problem(value: bytes | None) -> str | None:
    """Why a GraphQL POST's Content-Type is not accepted (None: application/json, UTF-8)."""
    if not value:
        return "a POST to /graphql needs the header Content-Type: application/json"
    media, _, params = value.decode("latin-1").partition(";")
    if media.strip().lower() != JSON:
        return f"Content-Type {media.strip()[:100]!r} is not supported: send application/json"
    for param in params.split(";"):
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return "only UTF-8 request bodies are accepted (charset=utf-8)"
    return None


def error_body(message: str, code: str) -> bytes:
    return json.dumps(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, separators=(",", ":")
    ).encode()


@dataclass(frozen=True)
class Refusal:
    """An answer given before the application sees the request."""

    status: int
    code: str
    message: str
    close: bool = False
    """Close the connection afterwards (the body was not read)."""
    invalid_credentials: bool = False

    async def send(self, scope: Scope, send: Send) -> None:
        headers: list[tuple[bytes, bytes]] = []
        for name, value in scope.get("headers") or ():
            if name.lower() == b"accept":
                media = negotiate(value.decode("latin-1"))
                break
        else:
            media = JSON
        body = error_body(self.message, self.code)
        headers += [
            (b"content-type", media.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        if self.close:
            headers.append((b"connection", b"close"))
        if self.invalid_credentials:
            headers.append((b"www-authenticate", b'Bearer error="invalid_request"'))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class HttpGuard:
    """ASGI middleware: header and body limits, one identity, well-formed GraphQL POSTs."""

    def __init__(
        self,
        app: ASGIApp,
        issuer: TokenIssuer,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        graphql_path: str = "/graphql",
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_headers_bytes: int = MAX_HEADERS_BYTES,
    ) -> None:
        self.app = app
        self.issuer = issuer
        self.max_body_bytes = max_body_bytes
        self.graphql_path = graphql_path
        self.max_header_bytes = max_header_bytes
        self.max_headers_bytes = max_headers_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self._check_headers(scope)
        if refusal is None:
            identity = resolve_identity(scope, self.issuer)
            if identity.malformed is not None:
                refusal = Refusal(400, "BAD_REQUEST", identity.malformed, invalid_credentials=True)
        if kind == "websocket":
            if refusal is not None:  # closing before accepting answers the handshake 403
                await send({"type": "websocket.close", "code": 1008, "reason": ""})
                return
            await self.app(scope, receive, send)
            return
        if refusal is None and reads_own_body(scope):
            await self.app(scope, receive, send)  # the route bounds and reads its own body
            return
        if refusal is None and self._is_upload(scope):
            await self._upload(scope, receive, send)
            return
        if refusal is None and scope.get("method") not in BODYLESS_METHODS:
            body, refusal = await self._read_body(scope, receive)
            if refusal is None:
                if body is None:
                    return  # the client went away while sending
                refusal = self._check_graphql(scope, body)
                receive = _replay(body, receive)
        if refusal is not None:
            await refusal.send(scope, send)
            return
        await self.app(scope, receive, send)

    # Uploads (GraphQL multipart requests; see infra.multipart_check) --------------

    def _is_upload(self, scope: Scope) -> bool:
        if scope.get("path") != self.graphql_path or scope.get("method") != "POST":
            return False
        for name, value in scope.get("headers") or ():
            if name.lower() == b"content-type":
                return is_multipart(value)
        return False

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a multipart body while it streams in, then hand it to the app."""
        identity = resolve_identity(scope, self.issuer)
        if identity.viewer is None:
            await Refusal(
                401,
                "UNAUTHENTICATED",
                identity.problem or "uploads need a valid bearer token",
            ).send(scope, send)
            return
        content_type = b""
        for name, value in scope.get("headers") or ():
            if name.lower() == b"content-type":
                content_type = value
            elif name.lower() == b"content-length" and (
                not value.isdigit() or len(value) > 18 or int(value) > MAX_MULTIPART_BYTES
            ):
                refused = MultipartRefused(
                    413, "PAYLOAD_TOO_LARGE", f"an upload is at most {MAX_MULTIPART_BYTES} bytes"
                )
                await _send_refused(scope, send, refused)
                return
        try:
            body = MultipartBody(
                content_type,
                max_bytes=MAX_MULTIPART_BYTES,
                max_field_bytes=self.max_body_bytes,
            )
            if not await body.receive(receive):
                return  # the client went away while sending: nothing reaches the app
        except MultipartRefused as refused:
            await _send_refused(scope, send, refused)
            return
        await self.app(scope, body.replay(receive), send)

    def _check_headers(self, scope: Scope) -> Refusal | None:
        total = 0
        for name, value in scope.get("headers") or ():
            size = len(name) + len(value)
            if size > self.max_header_bytes:
                return Refusal(
                    431,
                    "HEADERS_TOO_LARGE",
                    f"a request header is longer than {self.max_header_bytes} bytes",
                    close=True,
                )
            total += size + 4  # ": " and CRLF
        if total > self.max_headers_bytes:
            return Refusal(
                431,
                "HEADERS_TOO_LARGE",
                f"the request headers are longer than {self.max_headers_bytes} bytes in all",
                close=True,
            )
        return None

    def _too_large(self) -> Refusal:
        return Refusal(
            413,
            "PAYLOAD_TOO_LARGE",
            f"the request body is larger than {self.max_body_bytes} bytes",
            close=True,
        )

    async def _read_body(
        self, scope: Scope, receive: Receive
    ) -> tuple[bytes | None, Refusal | None]:
        """The whole body, read while it stays within the limit."""
        for name, value in scope.get("headers") or ():
            if name.lower() == b"content-length":
                if not value.isdigit() or len(value) > 18:
                    return None, Refusal(400, "BAD_REQUEST", "invalid Content-Length", close=True)
                if int(value) > self.max_body_bytes:
                    return None, self._too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None, None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None, self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    def _check_graphql(self, scope: Scope, body: bytes) -> Refusal | None:
        if scope.get("path") != self.graphql_path or scope.get("method") != "POST":
            return None
        content_type = None
        for name, value in scope.get("headers") or ():
            if name.lower() == b"content-type":
                content_type = value
                break
        problem = content_type_problem(content_type)
        if problem is not None:
            return Refusal(415, "UNSUPPORTED_MEDIA_TYPE", problem)
        try:
            payload = graphql_payload(body)
        except BadRequest as error:
            return Refusal(400, "BAD_REQUEST", str(error))
        scope.setdefault("state", {})[PAYLOAD_KEY] = payload
        return None


async def _send_refused(scope: Scope, send: Send, refused: MultipartRefused) -> None:
    """A multipart refusal (the connection is closed: the rest of the body is not read)."""
    body = json.dumps(refusal_body(refused), separators=(",", ":")).encode()
    media = JSON
    for name, value in scope.get("headers") or ():
        if name.lower() == b"accept":
            media = negotiate(value.decode("latin-1"))
    headers = [
        (b"content-type", media.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then what the server says next."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def server_limits(max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> dict[str, Any]:
    """uvicorn options bounding what is read before the application sees a request: the h11
    protocol with a bounded header block (httptools has no such limit) and websocket messages
    no larger than a request body."""
    return {
        "http": "h11",
        "h11_max_incomplete_event_size": H11_MAX_INCOMPLETE_EVENT_SIZE,
        "ws_max_size": max_body_bytes,
    }
