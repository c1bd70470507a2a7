"""The HTTP boundary through the whole app: one identity per request, bounded work before
authentication, and malformed input answered 4xx (never 500, never internal text)."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from infra.http_guard import server_limits
from infra.web import create_app
from tests.e2e.conftest import Api, LiveServer, make_settings
from tests.e2e.servers import running
from tests.e2e.test_api_support import names, register
from tests.e2e.test_live_support import PROTOCOL, ws_url

CLIENTS = "{ clients { edges { node { name } } } }"
LEAKS = ("traceback", "select ", "insert ", "sqlalchemy", "psycopg", "sqlite3", 'file "')


def quiet(text: str) -> None:
    lowered = text.lower()
    assert not [leak for leak in LEAKS if leak in lowered], text


def bearer(api: Api, firm: str, role: str = "owner", sub: str = "owner-1") -> str:
    return f"Bearer {api.token(sub=sub, role=role, firm=firm)}"


async def clients_as(api: Api, authorization: str) -> tuple[str, list[str]]:
    response = await api.client.post(
        "/graphql", json={"query": CLIENTS}, headers={"authorization": authorization}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return response.headers.get("x-dossier-cache", "miss"), names(body["data"]["clients"])


# One identity per request ---------------------------------------------------------------------


async def test_two_authorization_headers_never_poison_the_response_cache(api: Api) -> None:
    await register(api, "Acme")  # firm-a
    await register(api, "Beta", firm="firm-b")
    firm_a, firm_b = bearer(api, "firm-a"), bearer(api, "firm-b")

    for pair in ([firm_b, firm_a], [firm_a, firm_b]):
        # The poisoning sequence: firm B's token, then firm A's owner token, in one request.
        response = await api.client.post(
            "/graphql",
            json={"query": CLIENTS},
            headers=[("authorization", pair[0]), ("authorization", pair[1])],
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_request"'
        assert "x-dossier-cache" not in response.headers
        # Neither firm is served the other's clients afterwards, from the cache or not.
        for _ in range(2):
            assert (await clients_as(api, firm_a))[1] == ["Acme"]
            assert (await clients_as(api, firm_b))[1] == ["Beta"]
    assert (await clients_as(api, firm_a)) == ("hit", ["Acme"])
    assert (await clients_as(api, firm_b)) == ("hit", ["Beta"])


async def test_two_authorization_headers_are_refused_on_every_route(api: Api) -> None:
    client_id = await register(api, "Acme")
    two = [("authorization", bearer(api, "firm-b")), ("authorization", bearer(api, "firm-a"))]
    for path in (
        f"/graphql?query={CLIENTS}",
        f"/export/clients/{client_id}.jsonl",
        f"/export/clients/{client_id}.jsonl/manifest",
    ):
        response = await api.client.get(path, headers=two)
        assert response.status_code == 400, (path, response.text)
    one = await api.client.get(
        f"/export/clients/{client_id}.jsonl", headers={"authorization": bearer(api, "firm-a")}
    )
    assert one.status_code == 200
    stranger = await api.client.get(
        f"/export/clients/{client_id}.jsonl", headers={"authorization": bearer(api, "firm-b")}
    )
    assert stranger.status_code == 404


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_websocket_upgrade_with_two_authorization_headers_is_refused(
    live_server: LiveServer,
) -> None:
    headers = [
        ("Authorization", f"Bearer {live_server.token(firm='firm-b')}"),
        ("Authorization", f"Bearer {live_server.token()}"),
    ]
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(
            ws_url(live_server.url),
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            additional_headers=headers,
            open_timeout=10,
        ):
            pass
    assert refused.value.response.status_code == 403


# Malformed input is a 4xx, never a 500 -------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'"query"', 400),
        (b"42", 400),
        (b"null", 400),
        (b"[]", 400),
        (b'[{"query": "{ __typename }"}]', 400),
        (b'{"query": "{ __typename }"', 400),
        (b'{"query": "\xc3\x28"}', 400),
        (b'{"query": "{ clients(search: \\"\\ud800\\") { totalCount } }"}', 400),
        (
            b'{"query": "query($s: String) { clients(search: $s) { totalCount } }", '
            b'"variables": {"s": "\\udc00"}}',
            400,
        ),
        (b'{"query": 42}', 400),
        (b'{"query": "{ __typename }", "variables": "x"}', 400),
        (b'{"notquery": "{ __typename }"}', 400),
        (b"", 400),
    ],
)
async def test_bodies_that_are_not_a_graphql_request_are_400(
    api: Api, body: bytes, status: int
) -> None:
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"content-type": "application/json", "authorization": bearer(api, "firm-a")},
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["message"]
    quiet(response.text)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_headers_that_are_not_utf8(api: Api) -> None:
    bad_auth = await api.client.post(
        "/graphql", json={"query": CLIENTS}, headers=[(b"authorization", b"Bearer \xff\xfe\xfd")]
    )
    assert bad_auth.status_code == 400
    assert "UTF-8" in bad_auth.json()["errors"][0]["message"]

    for raw in (b"\xff\xfe", b"has space", b"x" * 65, b"<script>alert(1)</script>"):
        response = await api.client.post(
            "/graphql",
            json={"query": CLIENTS},
            headers=[(b"authorization", bearer(api, "firm-a").encode()), (b"x-request-id", raw)],
        )
        assert response.status_code == 200, response.text
        fresh = response.headers["x-request-id"]
        assert fresh != raw.decode("latin-1") and len(fresh) == 32 and fresh.isalnum()
    kept = await api.client.post(
        "/graphql",
        json={"query": CLIENTS},
        headers={"authorization": bearer(api, "firm-a"), "x-request-id": "trace-42.a_b"},
    )
    assert kept.headers["x-request-id"] == "trace-42.a_b"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_get_variables_with_a_lone_surrogate_are_400(api: Api) -> None:
    query = "query($s: String) { clients(search: $s) { totalCount } }"
    response = await api.client.get(
        "/graphql",
        params={"query": query, "variables": '{"s": "\\ud800"}'},
        headers={"authorization": bearer(api, "firm-a")},
    )
    assert response.status_code == 400, response.text
    assert "surrogate" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_bodies_over_the_limit_and_posts_without_json(api: Api) -> None:
    big = json.dumps({"query": "{ __typename }", "pad": "x" * (2 * 1024 * 1024)})
    response = await api.client.post(
        "/graphql", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    for headers in ({}, {"content-type": "text/plain"}):
        response = await api.client.post(
            "/graphql", content=b'{"query": "{ __typename }"}', headers=headers
        )
        assert response.status_code == 415, response.text


# Under uvicorn: limits before the application reads anything ---------------------------------


@pytest.fixture
def bounded_server(tmp_path: Path) -> Iterator[str]:
    """The app under uvicorn with the options `dossier serve` uses (server_limits)."""
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'dossier.db'}", env="production"))
    with running(app, **server_limits()) as served:
        yield served.address


def _exchange(address: str, head: bytes, filler: bytes, total: int) -> tuple[bytes, int]:
    """Send `head`, then up to `total` bytes of filler until the server answers or closes;
    (what the server answered, filler bytes sent)."""
    host, port = address.split(":")
    sent = 0
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        chunk = filler * (65536 // len(filler))
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closed the connection: it stopped reading
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                part = sock.recv(65536)
                if not part:
                    break
                answer += part
                if b"\r\n\r\n" in answer:
                    break
        except OSError:
            pass
    return answer, sent


def test_a_20_mb_header_is_refused_before_it_is_read(bounded_server: str) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
    answer, sent = _exchange(bounded_server, head, b"a", 20 * 1024 * 1024)
    assert sent < 10 * 1024 * 1024, sent
    assert answer == b"" or answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 431")), answer[:200]
    # The server is fine afterwards.
    assert httpx.get(f"http://{bounded_server}/healthz").status_code == 200


def test_headers_over_the_asgi_limits_are_431(bounded_server: str) -> None:
    response = httpx.get(f"http://{bounded_server}/healthz", headers={"x-big": "a" * 9000})
    assert response.status_code == 431
    many = {f"x-h{i}": "a" * 7000 for i in range(5)}
    assert httpx.get(f"http://{bounded_server}/healthz", headers=many).status_code == 431


def test_a_declared_300_mb_body_is_refused_at_once(bounded_server: str) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 314572800\r\n\r\n"
    )
    started = time.monotonic()
    answer, sent = _exchange(bounded_server, head, b"x", 300 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 20 * 1024 * 1024, sent
    assert time.monotonic() - started < 10


def test_a_chunked_body_growing_past_the_limit_is_refused_unread(bounded_server: str) -> None:
    head = (
        b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    size = 65536 - 16
    chunk = f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"
    answer, sent = _exchange(bounded_server, head, chunk, 300 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 40 * 1024 * 1024, sent


def test_a_body_within_the_limit_is_served(bounded_server: str) -> None:
    body: dict[str, Any] = {"query": "{ __typename }", "variables": {"pad": "x" * 900_000}}
    response = httpx.post(f"http://{bounded_server}/graphql", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}
