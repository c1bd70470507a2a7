"""Where a database outage surfaces, in process (SQLite, with the failures injected).

Every path answers SERVICE_UNAVAILABLE (GraphQL, HTTP 200 + Retry-After) or 503 +
Retry-After (readiness, exports), with no SQL, bound values or driver text, in production
mode too (MaskErrors must not turn it into "Unexpected error."); an error that is not a
database outage is still an unexpected error. The real outage is tests/e2e/
test_database_outage.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from eventsourcing import persistence as es

from infra.auth import TokenIssuer
from infra.export_http import ExportEndpoint
from infra.settings import Settings
from infra.web import create_app
from resolvers.live import ActivityStream
from resolvers.loaders import Loaders
from tests.e2e.conftest import SECRET, Api, LiveServer
from tests.e2e.test_live_support import connect, http

SECRET_SQL = "SELECT name FROM rm_clients WHERE secret = 'hunter2'"
REGISTER = """mutation { registerClient(input: {name: "Acme", type: COMPANY}) {
  ... on ClientPayload { client { id } } } }"""
CLIENTS = "{ clients(first: 5) { edges { node { name } } } }"
COMMENT = """mutation($input: AddCommentInput!) { addComment(input: $input) { __typename } }"""


def lost_connection() -> sa.exc.OperationalError:
    """What SQLAlchemy raises when the server went away mid-query."""
    return sa.exc.OperationalError(
        SECRET_SQL, {"secret": "hunter2"}, psycopg.OperationalError("server closed the connection")
    )


def store_unreachable() -> es.OperationalError:
    """What the event store raises when its pool cannot connect."""
    try:
        raise psycopg.OperationalError("connection to server at 10.0.0.9 failed: hunter2")
    except psycopg.OperationalError as error:
        try:
            raise es.OperationalError(f"{SECRET_SQL}: {error}") from error
        except es.OperationalError as wrapped:
            return wrapped


def assert_quiet(text: str) -> None:
    for leak in ("hunter2", "rm_clients", "SELECT", "10.0.0.9", "psycopg", "Traceback"):
        assert leak not in text, text


def assert_unavailable(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers.get("retry-after") == "1"
    body: dict[str, Any] = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["SERVICE_UNAVAILABLE"], body
    assert_quiet(response.text)
    return body


@pytest.fixture(params=["development", "production"])
async def api(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Api]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'dossier.db'}",
        jwt_secret=SECRET,
        poll_interval=0.05,
        env=str(request.param),
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            yield Api(client=client, issuer=TokenIssuer(SECRET), app=app)


async def post(api: Api, query: str, variables: dict[str, Any] | None = None) -> httpx.Response:
    return await api.client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"authorization": f"Bearer {api.token()}"},
    )


async def test_a_loader_meeting_the_outage(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def failing(self: Loaders, query: Any) -> Any:
        raise lost_connection()

    monkeypatch.setattr(Loaders, "run", failing)
    body = assert_unavailable(await post(api, CLIENTS))
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["clients"]


async def test_an_unexpected_error_is_not_called_an_outage(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(self: Loaders, query: Any) -> Any:
        raise ValueError("a bug, not an outage")

    monkeypatch.setattr(Loaders, "run", failing)
    response = await post(api, CLIENTS)
    assert "retry-after" not in response.headers
    (error,) = response.json()["errors"]
    assert "code" not in (error.get("extensions") or {})
    if api.container.settings.production:
        assert error["message"] == "Unexpected error."


async def test_the_event_store_meeting_the_outage(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id = (await post(api, REGISTER)).json()["data"]["registerClient"]["client"]["id"]
    head = api.event_count()

    def failing(*_aggregates: Any, **_kwargs: Any) -> Any:
        raise store_unreachable()

    monkeypatch.setattr(api.container.store, "save", failing)
    response = await post(api, COMMENT, {"input": {"clientId": client_id, "body": "hello"}})
    body = assert_unavailable(response)
    assert body["errors"][0]["path"] == ["addComment"]
    monkeypatch.undo()
    assert api.event_count() == head


async def test_the_response_cache_check_meeting_the_outage(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    executed: list[object] = []
    cache = api.app.state.response_cache

    def failing() -> int:
        raise lost_connection()

    async def never(*args: object) -> None:
        executed.append(args)

    monkeypatch.setattr(cache, "stamp", failing)
    monkeypatch.setattr(cache, "app", never)
    body = assert_unavailable(await post(api, CLIENTS))
    assert body["data"] is None
    assert executed == []


async def test_readiness_says_unavailable_without_detail(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    report = ready.json()
    assert report["status"] == "ready"
    assert report["runner"] == {"in_process": True, "alive": True}
    assert report["parked"] == {}
    assert set(report) == {"status", "head", "projections", "lag", "runner", "parked"}

    def unreachable() -> int:
        raise store_unreachable()

    monkeypatch.setattr(api.container.store, "head", unreachable)
    response = await api.client.get("/readyz")
    assert response.status_code == 503
    assert response.headers.get("retry-after") == "1"
    assert response.json()["status"] == "unavailable"
    assert response.json()["reason"] == "database_unavailable"
    assert_quiet(response.text)

    def broken() -> int:
        raise RuntimeError(f"{SECRET_SQL} failed")

    monkeypatch.setattr(api.container.store, "head", broken)
    response = await api.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["reason"] == "check_failed"
    assert_quiet(response.text)
    assert (await api.client.get("/healthz")).status_code == 200


async def test_exports_meeting_the_outage(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    client_id = (await post(api, REGISTER)).json()["data"]["registerClient"]["client"]["id"]

    def failing(*_args: Any) -> bool:
        raise lost_connection()

    monkeypatch.setattr(ExportEndpoint, "_visible", failing)
    headers = {"authorization": f"Bearer {api.token()}"}
    for path in (f"/export/clients/{client_id}.jsonl", f"/export/clients/{client_id}.csv/manifest"):
        response = await api.client.get(path, headers=headers)
        assert response.status_code == 503, response.text
        assert response.headers.get("retry-after") == "1"
        assert_quiet(response.text)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_subscription_rides_out_the_outage(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscriber whose reads fail while the database is away keeps its subscription: the
    stream re-reads from its own position with backoff and then delivers what it missed, with
    no error, no gap and no repeat."""
    token = live_server.token()
    async with (
        http(live_server) as writes,
        connect(live_server.url, payload={"token": token}) as ws,
    ):
        await ws.subscribe(after="0")
        acme = await writes.register("Acme")
        assert (await ws.entry())["type"] == "ClientRegistered"

        real_read = ActivityStream._read
        failures: list[int] = []

        def failing(self: ActivityStream, after: int) -> list[Any]:
            if len(failures) < 3:
                failures.append(after)
                raise lost_connection()
            return real_read(self, after)

        monkeypatch.setattr(ActivityStream, "_read", failing)
        await writes.comment(acme, "wakes the stream, whose reads fail for a while")
        entry = await ws.entry()
        assert entry["type"] == "CommentAdded"
        assert len(failures) == 3
        await writes.comment(acme, "and the next one follows")
        assert (await ws.entry())["data"]["body"] == "and the next one follows"
        assert_quiet(str(entry))
