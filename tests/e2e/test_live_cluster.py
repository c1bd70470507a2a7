"""Two uvicorn server processes on one PostgreSQL: live entries cross processes.

Process A runs the projections; process B does not (DOSSIER_RUN_PROJECTIONS=false), so B's
subscribers can only learn of new entries through PostgreSQL LISTEN/NOTIFY. The safety-net
poll is set to an hour in both, so nothing but NOTIFY can wake a subscriber in time.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from infra.auth import TokenIssuer
from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import SECRET
from tests.e2e.test_live_support import connect, http

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """One uvicorn subprocess (duck-typed like the live_server fixture)."""

    url: str
    issuer: TokenIssuer
    process: subprocess.Popen[bytes]

    def token(self, sub: str = "owner-1", role: str = "owner", firm: str = "firm-a") -> str:
        return self.issuer.issue(sub=sub, firm=firm, role=role, name=sub)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(database_url: str, *, projections: bool, log: Path) -> Server:
    port = _free_port()
    env = {
        **os.environ,
        "DOSSIER_DATABASE_URL": database_url,
        "DOSSIER_JWT_SECRET": SECRET,
        "DOSSIER_RUN_PROJECTIONS": "true" if projections else "false",
        "DOSSIER_POLL_INTERVAL": "0.05",
        "DOSSIER_LIVE_POLL_INTERVAL": "3600",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "infra.asgi:app", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", TokenIssuer(SECRET), process)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"uvicorn did not start: {log.read_text()[-2000:]}")
        time.sleep(0.1)


def _stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)


@pytest.fixture
def two_servers(pg_schema: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    url = f"{POSTGRES_URL}?schema={pg_schema}"
    projecting = _start(url, projections=True, log=tmp_path / "a.log")
    try:
        serving = _start(url, projections=False, log=tmp_path / "b.log")
    except BaseException:
        _stop(projecting)
        raise
    yield projecting, serving
    _stop(serving)
    _stop(projecting)


async def test_subscribers_on_each_process_see_writes_through_the_other(
    two_servers: tuple[Server, Server],
) -> None:
    a, b = two_servers
    async with (
        http(a) as api_a,
        http(b) as api_b,
        connect(b.url, payload={"token": b.token()}) as on_b,
        connect(a.url, payload={"token": a.token()}) as on_a,
    ):
        # after="0" (nothing recorded yet) fixes the start: no wait for the subscription.
        await on_b.subscribe(after="0")
        await on_a.subscribe(after="0")
        # Written through A (which projects): B's subscriber hears of it only via NOTIFY.
        acme = await api_a.register("Acme")
        from_b = await on_b.entry()
        from_a = await on_a.entry()
        assert from_b == from_a
        assert (from_b["type"], from_b["client"]["id"]) == ("ClientRegistered", acme)

        # Written through B (which does not project): A projects it, both hear of it.
        await api_b.comment(acme, "via b")
        from_b = await on_b.entry()
        from_a = await on_a.entry()
        assert from_b == from_a
        assert (from_b["type"], from_b["data"]["body"]) == ("CommentAdded", "via b")

        # A subscriber on B resumes with after and then follows writes made on A.
        async with connect(b.url, payload={"token": b.token()}) as resumed:
            await resumed.subscribe(after="0")
            assert [e["type"] for e in await resumed.entries(2)] == [
                "ClientRegistered",
                "CommentAdded",
            ]
            await api_a.hold(acme, "audit")
            assert (await resumed.entry())["type"] == "ClientPutOnHold"
            assert (await on_b.entry())["type"] == "ClientPutOnHold"
            assert (await on_a.entry())["type"] == "ClientPutOnHold"
