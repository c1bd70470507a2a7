"""The database goes away and comes back: nothing hangs, nothing 500s, nothing is lost.

A real uvicorn server reaches PostgreSQL through a TCP proxy the test controls (see
fault_proxy.py), with DOSSIER_DB_TIMEOUT small. While the proxy cuts every open connection
and holds new ones unanswered (blackhole) or resets them (refuse), for longer than the pools'
reconnect series:

- GraphQL answers HTTP 200 with a top-level error coded SERVICE_UNAVAILABLE and a
  Retry-After header, whether the response cache's position check, a loader or the event
  store met the outage, and no SQL or driver text;
- /readyz and the export routes answer 503 with Retry-After and no error text; /healthz 200.

Each of these must answer in under 4x the timeout: a hang detector, not a performance bound.
After the proxy forwards again the server recovers by itself: /readyz turns 200, a mutation
is read back at once (read-your-writes), and a live subscription opened before the outage
receives what was written after it, with no gap and no repeat.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import sqlalchemy as sa

from infra.auth import TokenIssuer
from infra.container import Container
from infra.database import CIRCUIT_SECONDS, DatabaseConfig
from infra.settings import LiveOptions, Settings
from infra.web import create_app
from projections.tables import activity
from tests.conftest import POSTGRES_URL
from tests.e2e.conftest import SECRET, LiveServer
from tests.e2e.fault_proxy import FaultProxy, Mode
from tests.e2e.servers import running
from tests.e2e.test_live_support import connect, http

DB_TIMEOUT = 1.5
HANG_BOUND = 4 * DB_TIMEOUT
PAUSE = CIRCUIT_SECONDS + 0.2
OUTAGE = 12.0  # more than twice the event store pool's reconnect series (2 x 2 s connects)
RECOVERY_BOUND = 45.0
LEAKS = ("select", "insert", "psycopg", "sqlalchemy", "traceback", "rm_", "notification")

PROFILE = """query($id: ID!) { client(id: $id) { id name overview { latestComments { body } } } }"""
AUDITED = """query($id: ID!) { client(id: $id) { name auditTrail { valid eventCount } } }"""
COMMENT = """mutation($input: AddCommentInput!) { addComment(input: $input) {
  __typename ... on AddCommentSuccess { comment { body } } } }"""


def _via_proxy(url: str, port: int, schema: str) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, f"schema={schema}", ""))


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    parts = urlsplit(POSTGRES_URL)
    fault_proxy = FaultProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    yield fault_proxy
    fault_proxy.close()


@pytest.fixture
def server(pg_schema: str, proxy: FaultProxy) -> Iterator[LiveServer]:
    """uvicorn in a thread, its database behind the proxy."""
    settings = Settings(
        database_url=_via_proxy(POSTGRES_URL, proxy.port, pg_schema),
        jwt_secret=SECRET,
        poll_interval=0.05,
        db_timeout=DB_TIMEOUT,
        live=LiveOptions(poll_interval=0.5),
    )
    container = Container(settings)
    if container.db.timeout != settings.db_timeout:
        # Until infra.container passes DOSSIER_DB_TIMEOUT on to DatabaseConfig.parse itself.
        container.db = DatabaseConfig.parse(settings.database_url, timeout=settings.db_timeout)
    app = create_app(settings, container)
    with running(app) as served:
        yield LiveServer(url=served.url, app=app, issuer=TokenIssuer(SECRET))
        proxy.restore()  # a failed test must not leave the shutdown waiting on the outage


async def _timed(request: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


def _assert_quiet(text: str) -> None:
    """No SQL, driver or traceback text in what a client receives."""
    lowered = text.lower()
    assert not [leak for leak in LEAKS if leak in lowered], text


def _assert_unavailable(response: httpx.Response, elapsed: float) -> dict[str, Any]:
    assert elapsed < HANG_BOUND, f"answered after {elapsed:.1f} s: {response.text}"
    assert response.status_code == 200, response.text
    assert response.headers.get("retry-after") == "1"
    body: dict[str, Any] = response.json()
    codes = [error["extensions"]["code"] for error in body["errors"]]
    assert codes == ["SERVICE_UNAVAILABLE"], body
    _assert_quiet(response.text)
    return body


async def _until_ready(client: httpx.AsyncClient) -> dict[str, Any]:
    deadline = time.monotonic() + RECOVERY_BOUND
    while True:
        response = await client.get("/readyz")
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        assert time.monotonic() < deadline, f"not ready {RECOVERY_BOUND} s after: {response.text}"
        await asyncio.sleep(0.2)


def _activity_positions(container: Container) -> list[int]:
    with container.engine.connect() as conn:
        rows = conn.execute(sa.select(activity.c.position).order_by(activity.c.position))
        return [int(row.position) for row in rows]


@pytest.mark.parametrize("mode", ["blackhole", "refuse"])
async def test_a_database_outage_answers_unavailable_and_the_server_recovers(
    server: LiveServer, proxy: FaultProxy, mode: Mode
) -> None:
    token = server.token()
    auth = {"authorization": f"Bearer {token}"}
    container: Container = server.app.state.container
    received: list[dict[str, Any]] = []
    async with http(server) as api, connect(server.url, payload={"token": token}) as live:
        await live.subscribe(after="0")
        acme = await api.register("Acme")
        await api.comment(acme, "before")
        received += await live.entries(2)
        assert [e["type"] for e in received] == ["ClientRegistered", "CommentAdded"]
        profile = {"query": PROFILE, "variables": {"id": acme}}
        warm = await api.client.post("/graphql", json=profile, headers=auth)
        assert warm.json()["data"]["client"]["name"] == "Acme"

        outage_began = time.monotonic()
        proxy.cut(mode)
        try:
            # Each probe waits out the circuits first (CIRCUIT_SECONDS), so that it meets the
            # outage itself rather than the memory of it.
            # A cacheable query: the response cache's position check meets the outage.
            await asyncio.sleep(PAUSE)
            response, elapsed = await _timed(
                api.client.post("/graphql", json=profile, headers=auth)
            )
            _assert_unavailable(response, elapsed)

            # Not cacheable (reads the event store): the resolvers meet it.
            await asyncio.sleep(PAUSE)
            audited = {"query": AUDITED, "variables": {"id": acme}}
            response, elapsed = await _timed(
                api.client.post("/graphql", json=audited, headers=auth)
            )
            body = _assert_unavailable(response, elapsed)
            assert body["data"] == {"client": None}

            # A mutation: the event store meets it; nothing is recorded.
            await asyncio.sleep(PAUSE)
            during = {"query": COMMENT, "variables": {"input": {"clientId": acme, "body": "lost"}}}
            response, elapsed = await _timed(api.client.post("/graphql", json=during, headers=auth))
            _assert_unavailable(response, elapsed)

            await asyncio.sleep(PAUSE)
            response, elapsed = await _timed(api.client.get("/readyz"))
            assert elapsed < HANG_BOUND, f"/readyz answered after {elapsed:.1f} s"
            assert response.status_code == 503, response.text
            assert response.headers.get("retry-after") == "1"
            assert response.json()["status"] == "unavailable"
            _assert_quiet(response.text)

            await asyncio.sleep(PAUSE)
            response, elapsed = await _timed(
                api.client.get(f"/export/clients/{acme}.jsonl", headers=auth)
            )
            assert elapsed < HANG_BOUND, f"the export answered after {elapsed:.1f} s"
            assert response.status_code == 503, response.text
            assert response.headers.get("retry-after") == "1"
            _assert_quiet(response.text)

            response, elapsed = await _timed(api.client.get("/healthz"))
            assert response.status_code == 200
            assert elapsed < 1.0

            # Long enough for the pools to give up their reconnect series (a long outage).
            await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - outage_began)))
        finally:
            proxy.restore()

        ready = await _until_ready(api.client)
        assert ready["runner"] == {"in_process": True, "alive": True}
        assert ready["lag"] == 0 and ready["parked"] == {}

        # Read-your-writes: the mutation's answer and the very next query show the comment.
        after = {"query": COMMENT, "variables": {"input": {"clientId": acme, "body": "after"}}}
        response = await api.client.post("/graphql", json=after, headers=auth)
        assert response.status_code == 200, response.text
        assert response.json()["data"]["addComment"]["comment"]["body"] == "after", response.text
        response = await api.client.post("/graphql", json=profile, headers=auth)
        comments = response.json()["data"]["client"]["overview"]["latestComments"]
        assert [c["body"] for c in comments][:2] == ["after", "before"], response.text

        # The subscription opened before the outage carries on: the new entry, then nothing.
        received.append(await live.entry())
        assert (received[-1]["type"], received[-1]["data"]["body"]) == ("CommentAdded", "after")
        with pytest.raises(TimeoutError):
            await live.recv(wait=1.0)

    positions = [int(entry["position"]) for entry in received]
    assert positions == _activity_positions(container)  # no gap, no repeat, nothing "lost"
