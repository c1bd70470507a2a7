"""The HTTP guard in front of every route (infra.http_guard), driven as a bare ASGI app."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from infra.auth import TokenIssuer
from infra.http_guard import (
    GRAPHQL_RESPONSE_JSON,
    IDENTITY_KEY,
    JSON,
    PAYLOAD_KEY,
    BadRequest,
    HttpGuard,
    Identity,
    graphql_payload,
    negotiate,
    request_id_from,
    resolve_identity,
    server_limits,
)

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
ISSUER = TokenIssuer(SECRET)
LIMIT = 1000


class Inner:
    """The application behind the guard: records what reached it, answers 204."""

    def __init__(self) -> None:
        self.calls: list[tuple[Scope, bytes]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        if scope["type"] == "http":
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        self.calls.append((scope, body))


def token(firm: str = "firm-a") -> bytes:
    return f"Bearer {ISSUER.issue(sub='owner-1', firm=firm, role='owner')}".encode()


async def call(
    headers: list[tuple[bytes, bytes]],
    chunks: list[bytes] | None = None,
    *,
    method: str = "POST",
    path: str = "/graphql",
    kind: str = "http",
    inner: Inner | None = None,
) -> tuple[int, dict[str, str], Any, int]:
    """(status, headers, JSON body or None, chunks read) for one request through the guard."""
    inner = inner or Inner()
    guard = HttpGuard(inner, ISSUER, max_body_bytes=LIMIT)
    pending = list(chunks if chunks is not None else [b""])
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        if not pending:
            raise AssertionError("read past the end of the body")
        read += 1
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": kind, "method": method, "path": path, "headers": headers}
    await guard(scope, receive, send)
    if kind == "websocket":
        return (0 if sent and sent[0]["type"] == "websocket.close" else 1), {}, None, read
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    found = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], found, json.loads(body) if body else None, read


JSON_POST = [(b"content-type", b"application/json")]


def code(body: Any) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def test_one_identity_is_resolved_once_and_kept_in_the_state() -> None:
    inner = Inner()
    status, _, _, _ = await call(
        [*JSON_POST, (b"authorization", token())], [b'{"query": "{ a }"}'], inner=inner
    )
    assert status == 204
    scope, body = inner.calls[0]
    identity = scope["state"][IDENTITY_KEY]
    assert isinstance(identity, Identity)
    assert identity.viewer is not None and identity.viewer.firm_id == "firm-a"
    assert resolve_identity(scope, ISSUER) is identity  # never verified twice
    assert scope["state"][PAYLOAD_KEY] == {"query": "{ a }"}
    assert body == b'{"query": "{ a }"}'


@pytest.mark.parametrize("path", ["/graphql", "/export/clients/x.jsonl", "/healthz"])
async def test_two_authorization_headers_are_refused_everywhere(path: str) -> None:
    inner = Inner()
    headers = [*JSON_POST, (b"authorization", token("firm-b")), (b"authorization", token())]
    status, found, body, _ = await call(headers, [b"{}"], method="GET", path=path, inner=inner)
    assert status == 400
    assert code(body) == "BAD_REQUEST"
    assert "exactly one Authorization header" in body["errors"][0]["message"]
    assert found["www-authenticate"] == 'Bearer error="invalid_request"'
    assert inner.calls == []


async def test_two_authorization_headers_close_a_websocket_upgrade() -> None:
    inner = Inner()
    headers = [(b"authorization", token("firm-b")), (b"authorization", token())]
    refused, *_ = await call(headers, kind="websocket", inner=inner)
    assert refused == 0 and inner.calls == []
    accepted, *_ = await call([(b"authorization", token())], kind="websocket", inner=inner)
    assert accepted == 1 and len(inner.calls) == 1


async def test_an_authorization_header_that_is_not_utf8_is_a_400() -> None:
    status, _, body, _ = await call([*JSON_POST, (b"authorization", b"Bearer \xff\xfe")], [b"{}"])
    assert status == 400 and "not valid UTF-8" in body["errors"][0]["message"]


async def test_a_bad_token_is_left_for_the_schema_to_call_unauthenticated() -> None:
    inner = Inner()
    await call([*JSON_POST, (b"authorization", b"Bearer nope")], [b"{}"], inner=inner)
    identity = inner.calls[0][0]["state"][IDENTITY_KEY]
    assert identity.viewer is None and identity.malformed is None
    assert identity.problem and "invalid" in identity.problem


async def test_a_content_length_over_the_limit_is_refused_without_reading() -> None:
    headers = [*JSON_POST, (b"content-length", str(300 * 1024 * 1024).encode())]
    status, found, body, read = await call(headers, [b"x" * 10])
    assert (status, read) == (413, 0)
    assert code(body) == "PAYLOAD_TOO_LARGE"
    assert found["connection"] == "close"


async def test_a_chunked_body_growing_past_the_limit_is_refused_without_reading_the_rest() -> None:
    chunks = [b"x" * 400] * 10
    status, _, body, read = await call(JSON_POST, chunks)
    assert status == 413 and code(body) == "PAYLOAD_TOO_LARGE"
    assert read == 3  # 1,200 bytes > 1,000: the other seven chunks are never read


async def test_a_body_at_the_limit_passes() -> None:
    payload = json.dumps({"query": "{ a }", "pad": "x" * (LIMIT - 30)}).encode()[:LIMIT]
    payload = payload[: payload.rindex(b'"')] + b'"}'
    assert len(payload) <= LIMIT
    status, *_ = await call(JSON_POST, [payload])
    assert status == 204


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'"query"', "must be a JSON object"),
        (b"42", "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b'[{"query": "{ a }"}]', "batches"),
        (b"", "empty"),
        (b'{"query": "\xff"}', "not valid UTF-8"),
        (b'{"query": "{ a }"', "not valid JSON"),
        (b'{"query": "\\ud800"}', "unpaired surrogate"),
        (b'{"query": "{ a }", "variables": {"\\udfff": 1}}', "unpaired surrogate"),
    ],
)
async def test_graphql_bodies_that_are_not_one_json_object_are_400(
    body: bytes, message: str
) -> None:
    inner = Inner()
    status, found, answer, _ = await call(JSON_POST, [body], inner=inner)
    assert status == 400, answer
    assert found["content-type"] == JSON
    assert code(answer) == "BAD_REQUEST"
    assert message in answer["errors"][0]["message"]
    assert inner.calls == []


@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deeply_nested_json_is_a_bad_request_not_a_crash(depth: int) -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        graphql_payload(b"[" * depth + b"]" * depth)


async def test_a_surrogate_pair_escape_is_a_character() -> None:
    status, *_ = await call(
        JSON_POST, [b'{"query": "{ a }", "variables": {"x": "\\ud83c\\udfc3"}}']
    )
    assert status == 204


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        b"text/plain;charset=UTF-8",
        b"application/x-www-form-urlencoded",
        b"application/json; charset=latin-1",
    ],
)
async def test_a_graphql_post_must_be_application_json(content_type: bytes | None) -> None:
    headers = [] if content_type is None else [(b"content-type", content_type)]
    status, _, body, _ = await call(headers, [b'{"query": "{ a }"}'])
    assert status == 415 and code(body) == "UNSUPPORTED_MEDIA_TYPE"


async def test_other_paths_keep_their_bodies_unparsed() -> None:
    inner = Inner()
    status, *_ = await call([], [b"not json"], path="/elsewhere", inner=inner)
    assert status == 204 and inner.calls[0][1] == b"not json"


async def test_oversized_headers_are_431() -> None:
    one = [(b"x-big", b"y" * 9000)]
    status, _, body, _ = await call(one, method="GET")
    assert status == 431 and code(body) == "HEADERS_TOO_LARGE"
    many = [(f"x-h{i}".encode(), b"y" * 7000) for i in range(5)]
    status, _, body, _ = await call(many, method="GET")
    assert status == 431 and "in all" in body["errors"][0]["message"]
    fine = [(f"x-h{i}".encode(), b"y" * 7000) for i in range(4)]
    status, *_ = await call(fine, method="GET")
    assert status == 204


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        (b"abc-123_X.y", True),
        (b"a" * 64, True),
        (b"a" * 65, False),
        (b"", False),
        (b"has space", False),
        (b"<script>", False),
        (b"\xff\xfe", False),
        (b"line\r\nbreak", False),
    ],
)
def test_a_request_id_is_kept_only_when_safe(raw: bytes, kept: bool) -> None:
    found = request_id_from([(b"x-request-id", raw)])
    assert (found == raw.decode("latin-1")) if kept else found is None


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
        ("application/graphql-response+json, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        ("application/json, application/graphql-response+json;q=0.5", JSON),
        ("application/graphql-response+json;q=0", JSON),
        ("text/html, application/graphql-response+json", GRAPHQL_RESPONSE_JSON),
    ],
)
def test_content_negotiation(accept: str | None, media: str) -> None:
    assert negotiate(accept) == media


def test_server_limits_bound_the_header_block() -> None:
    limits = server_limits(2048)
    assert limits["http"] == "h11"
    assert 32 * 1024 < limits["h11_max_incomplete_event_size"] <= 64 * 1024
    assert limits["ws_max_size"] == 2048
