"""Hardened websockets: authentication at connection_init, token expiry, slow and silent
clients, and cross-origin access (DOSSIER_CORS_ORIGINS) for websockets and HTTP.

Every server here is uvicorn on loopback, built from settings with small timeouts; every wait
is bounded. The backend does not matter to these (SQLite only).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from infra.cors import cors_options
from infra.live import ActivityFanout
from infra.settings import LiveOptions, Settings, SettingsError
from tests.e2e.conftest import make_settings
from tests.e2e.test_live_support import (
    ServedApp,
    connect,
    http,
    refusal,
    serve,
    until,
    until_subscribed,
    ws_url,
)

APP = "https://app.example"
EVIL = "https://evil.example"


def settings_for(tmp_path: Path, **live: Any) -> Settings:
    base = make_settings(f"sqlite:///{tmp_path / 'dossier.db'}")
    cors = live.pop("cors_origins", ())
    return replace(base, live=LiveOptions(**live), cors_origins=tuple(cors))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServedApp]:
    with serve(settings_for(tmp_path)) as served:
        yield served


def fanout(server: ServedApp) -> ActivityFanout:
    live: ActivityFanout = server.app.state.container.live
    return live


def bearer(server: ServedApp, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue(server, **claims)}"}


def issue(server: ServedApp, sub: str = "owner-1", role: str = "owner", **claims: Any) -> str:
    return server.issuer.issue(sub=sub, firm="firm-a", role=role, name=sub, **claims)


async def closed(ws: Any, wait: float = 10.0) -> tuple[int, str, list[dict[str, Any]]]:
    """Read raw frames (answering nothing) until the server closes: code, reason, messages."""
    messages: list[dict[str, Any]] = []
    try:
        while True:
            messages.append(json.loads(await asyncio.wait_for(ws.ws.recv(), wait)))
    except ConnectionClosed as error:
        assert error.rcvd is not None, error
        return error.rcvd.code, error.rcvd.reason, messages


# connection_init: a valid token or no ack ---------------------------------------------------


async def test_no_ack_without_a_valid_token(server: ServedApp) -> None:
    assert await refusal(server.url) == (4401, "Unauthorized: a bearer token is required")
    assert await refusal(server.url, header_token="garbage") == (
        4401,
        "Unauthorized: the token is invalid: Not enough segments",
    )
    expired = issue(server, ttl_seconds=-60)
    assert await refusal(server.url, payload={"token": expired}) == (
        4401,
        "Unauthorized: the token has expired",
    )
    # A token of a staff member the firm's records do not know: valid, but refused.
    async with http(server) as api:
        await api.add_staff("agent-1", "AGENT")
    stranger = issue(server, sub="stranger-1", role="agent")
    code, reason = await refusal(server.url, payload={"token": stranger})
    assert code == 4403, reason
    assert reason.startswith("Forbidden: ")
    # Nothing was ever acknowledged, and a valid token still is.
    async with connect(server.url, payload=bearer(server)) as ws:
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}
    assert fanout(server).closed_connections["refused"] == 4
    assert "token_expired" not in fanout(server).closed_connections


async def test_disagreeing_tokens_are_refused(server: ServedApp) -> None:
    header = issue(server)
    other = issue(server, sub="owner-2")
    code, reason = await refusal(server.url, header_token=header, payload={"token": other})
    assert code == 4400
    assert reason == (
        "Conflicting credentials: the Authorization header and connection_init name "
        "different identities"
    )
    # The same identity in both (say, a fresher token in the payload) is accepted.
    fresher = issue(server, ttl_seconds=3600)
    async with connect(server.url, header_token=header, payload={"token": fresher}) as ws:
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}


async def test_connection_init_must_come_in_time(tmp_path: Path) -> None:
    with serve(settings_for(tmp_path, init_timeout=0.3)) as server:
        async with connect(server.url, init=False) as ws:
            started = time.monotonic()
            code, reason, messages = await closed(ws)
            assert (code, reason, messages) == (4408, "Connection initialisation timeout", [])
            assert 0.25 <= time.monotonic() - started < 5


async def test_the_connection_closes_when_the_token_expires(server: ServedApp) -> None:
    token = issue(server, ttl_seconds=2)
    async with connect(server.url, payload={"token": token}) as ws:
        await ws.subscribe()
        await until_subscribed(server, 1)
        code, reason, messages = await closed(ws, wait=5)
        expires = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["exp"]
        assert time.time() >= expires - 0.05
        assert (code, reason) == (4401, "Unauthorized: the token has expired")
        assert all(m["type"] == "ping" for m in messages), messages
    assert fanout(server).closed_connections == {"token_expired": 1}
    await until(lambda: fanout(server).subscriber_count == 0, "the subscription to end")


# Slow and silent clients -----------------------------------------------------------------------


async def test_a_subscriber_that_never_reads_is_closed_as_too_slow(tmp_path: Path) -> None:
    """It stops reading (and so answering pings): the server sends at most `buffer` frames
    past its last acknowledgement, then closes it within about the stall timeout."""
    options: dict[str, Any] = {
        "buffer": 10,
        "stall_timeout": 1.0,
        "heartbeat_interval": 60.0,
        "pong_timeout": 60.0,
    }
    with serve(settings_for(tmp_path, **options)) as server:
        async with http(server) as api:
            acme = await api.register("Acme")
            for n in range(29):
                await api.comment(acme, f"note {n}")
            every = await api.activity_positions()
            assert len(every) == 30
        live = fanout(server)
        async with connect(server.url, payload=bearer(server)) as ws:
            await ws.subscribe(after="0")
            started = time.monotonic()
            # Never read: the server stops after the window and closes the connection.
            await until(lambda: live.closed_connections["too_slow"] == 1, "the close")
            assert 0.9 <= time.monotonic() - started < 1.0 + 3.0
            assert live.peak_unacknowledged <= 10
            await until(lambda: live.subscriber_count == 0, "the subscription to end")

            code, reason, messages = await closed(ws)
        assert (code, reason) == (4008, "SUBSCRIBER_TOO_SLOW")
        entries = [m for m in messages if m["type"] == "next"]
        assert [m["type"] for m in messages if m["type"] != "next"] == ["ping", "ping", "error"]
        assert len(entries) == 10  # the window, and not one frame more
        positions = [e["payload"]["data"]["activity"]["position"] for e in entries]
        assert positions == every[:10]
        error = messages[-1]
        assert error["id"] == "1"
        assert error["payload"][0]["extensions"] == {
            "code": "SUBSCRIBER_TOO_SLOW",
            "after": positions[-1],
        }

        # Resuming from `after` gives the rest, once each, to a client that keeps up.
        async with connect(server.url, payload=bearer(server)) as ws:
            await ws.subscribe(after=positions[-1])
            rest = await ws.entries(20)
        assert [e["position"] for e in rest] == every[10:]
        assert live.closed_connections == {"too_slow": 1}


async def test_a_client_that_stops_reading_the_socket_is_cut_off(tmp_path: Path) -> None:
    """A client that reads nothing at all, not even the transport: once the buffers between
    the two are full, no send reaches the transport within the stall timeout, and the server
    drops the connection. The server's own write buffer stays bounded meanwhile."""
    options: dict[str, Any] = {
        "buffer": 10_000,  # the window alone would not stop it
        "stall_timeout": 1.0,
        "heartbeat_interval": 60.0,
        "pong_timeout": 60.0,
        "max_subscriptions_per_connection": 50,
    }
    with serve(settings_for(tmp_path, **options)) as server:
        async with http(server) as api:
            acme = await api.register("Acme")
            for n in range(20):
                await api.comment(acme, f"{n} " + "x" * 9_990)
        live = fanout(server)
        total = 50 * 21  # frames of about 10 KB: some 10 MB if nothing stopped them
        sock = RawSocket(server, receive_buffer=1024)
        try:
            sock.init(issue(server))
            for n in range(50):
                sock.subscribe(f"s{n}")
            await until(lambda: live.closed_connections["too_slow"] == 1, "the close")
            # Cut off: the server holds nothing of it any more.
            await until(lambda: server.open_connections == 0, "the connection to be dropped")
            await until(lambda: live.subscriber_count == 0, "the subscriptions to end")
            assert sock.reset_or_closed()
        finally:
            sock.close()
        assert live.frames_sent < total
        # At most uvicorn's high-water mark (64 KiB) plus a frame per waiting sender.
        assert 0 < live.peak_write_buffer < 64 * 1024 + 51 * 11_000


async def test_unanswered_pings_close_the_connection(tmp_path: Path) -> None:
    options: dict[str, Any] = {"heartbeat_interval": 0.2, "pong_timeout": 0.5}
    with serve(settings_for(tmp_path, **options)) as server:
        async with connect(server.url, payload=bearer(server)) as ws:
            started = time.monotonic()
            code, reason, messages = await closed(ws)
            assert (code, reason) == (4408, "Pong timeout")
            assert messages and all(m == {"type": "ping"} for m in messages)
            assert 0.5 <= time.monotonic() - started < 5  # a ping at 0.2 s, its pong due 0.5 s on
        # A client that answers stays connected well past the same time.
        async with connect(server.url, payload=bearer(server)) as ws:
            pings, deadline = 0, time.monotonic() + 1.6
            while time.monotonic() < deadline:
                try:
                    raw = await asyncio.wait_for(ws.ws.recv(), 0.1)
                except TimeoutError:
                    continue
                assert json.loads(raw) == {"type": "ping"}
                pings += 1
                await ws.send({"type": "pong"})
            assert pings >= 4
            await ws.send({"type": "ping"})
            assert await ws.recv() == {"type": "pong"}
        assert fanout(server).closed_connections == {"pong_timeout": 1}


# Cross-origin access ---------------------------------------------------------------------------


async def test_websocket_origins(tmp_path: Path) -> None:
    with serve(settings_for(tmp_path, cors_origins=[APP])) as server:
        async with connect(server.url, payload=bearer(server), origin=APP) as ws:
            await ws.send({"type": "ping"})
            assert await ws.recv() == {"type": "pong"}
        with pytest.raises(InvalidStatus) as refused:
            async with connect(server.url, payload=bearer(server), origin=EVIL):
                pass
        assert refused.value.response.status_code == 403
        # Without an Origin (not a browser), and from the server's own origin: allowed.
        async with connect(server.url, payload=bearer(server)):
            pass
        async with connect(server.url, payload=bearer(server), origin=server.url):
            pass


async def test_websocket_origins_by_default(server: ServedApp) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.url, payload=bearer(server), origin=APP):
            pass
    assert refused.value.response.status_code == 403


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def test_cors(tmp_path: Path) -> None:
    with serve(settings_for(tmp_path, cors_origins=[APP])) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            allowed = await client.options("/graphql", headers=preflight(APP))
            assert allowed.status_code == 200
            assert allowed.headers["access-control-allow-origin"] == APP
            methods = allowed.headers["access-control-allow-methods"]
            assert set(methods.replace(" ", "").split(",")) == {"GET", "POST"}
            headers = allowed.headers["access-control-allow-headers"].lower()
            assert "authorization" in headers and "content-type" in headers
            assert "access-control-allow-credentials" not in allowed.headers

            refused = await client.options("/graphql", headers=preflight(EVIL))
            assert refused.status_code == 400
            assert "access-control-allow-origin" not in refused.headers

            query = {"query": "{ __typename }"}
            auth = {"Authorization": f"Bearer {issue(server)}"}
            answer = await client.post("/graphql", json=query, headers={**auth, "Origin": APP})
            assert answer.status_code == 200
            assert answer.headers["access-control-allow-origin"] == APP
            other = await client.post("/graphql", json=query, headers={**auth, "Origin": EVIL})
            assert "access-control-allow-origin" not in other.headers


async def test_no_cross_origin_access_by_default(server: ServedApp) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        refused = await client.options("/graphql", headers=preflight(APP))
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        # Non-browser clients (no Origin) are not concerned.
        answer = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"Authorization": f"Bearer {issue(server)}"},
        )
        assert answer.status_code == 200
        assert "access-control-allow-origin" not in answer.headers


def test_settings() -> None:
    settings = Settings.from_env(
        {
            "DOSSIER_CORS_ORIGINS": " https://app.example , https://admin.example:8443,",
            "DOSSIER_WS_INIT_TIMEOUT": "3",
            "DOSSIER_LIVE_PONG_TIMEOUT": "4.5",
        }
    )
    assert settings.cors_origins == ("https://app.example", "https://admin.example:8443")
    assert (settings.live.init_timeout, settings.live.pong_timeout) == (3.0, 4.5)
    assert Settings.from_env({}).cors_origins == ()
    assert LiveOptions().init_timeout == 10.0
    with pytest.raises(SettingsError, match="DOSSIER_WS_INIT_TIMEOUT must be positive"):
        LiveOptions.from_env({"DOSSIER_WS_INIT_TIMEOUT": "0"})
    with pytest.raises(SettingsError, match="DOSSIER_CORS_ORIGINS"):
        cors_options(["https://app.example/path"])
    with pytest.raises(SettingsError, match="DOSSIER_CORS_ORIGINS"):
        cors_options(["app.example"])
    assert cors_options(["HTTPS://App.Example:443"])["allow_origins"] == [APP]


# A client over a bare socket -------------------------------------------------------------------


class RawSocket:
    """A websocket client over a plain TCP socket with a tiny receive buffer, which reads
    nothing once subscribed (not even the kernel's buffer drains)."""

    def __init__(self, server: ServedApp, receive_buffer: int) -> None:
        host, port = ws_url(server.url).removeprefix("ws://").split("/")[0].split(":")
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(10)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /graphql HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        if len(data) < 126:
            header = struct.pack("!BB", 0x81, 0x80 | len(data))
        else:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, len(data))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def receive(self) -> dict[str, Any]:
        first, second = self._exactly(2)
        assert first & 0x0F == 0x1, first  # a text frame
        size = second & 0x7F
        if size == 126:
            (size,) = struct.unpack("!H", self._exactly(2))
        elif size == 127:
            (size,) = struct.unpack("!Q", self._exactly(8))
        message: dict[str, Any] = json.loads(self._exactly(size))
        return message

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            assert chunk, "closed"
            data += chunk
        return data

    def init(self, token: str) -> None:
        self.send({"type": "connection_init", "payload": {"token": token}})
        assert self.receive() == {"type": "connection_ack"}

    def subscribe(self, op_id: str) -> None:
        query = 'subscription { activity(after: "0") { position summary data } }'
        self.send({"id": op_id, "type": "subscribe", "payload": {"query": query}})

    def reset_or_closed(self) -> bool:
        """Whether the server has dropped the connection (reading what is left, bounded)."""
        self.sock.settimeout(5)
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.sock.close()
