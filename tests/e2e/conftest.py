"""End-to-end fixtures: the ASGI app over HTTP, in-process or under a real uvicorn server."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from infra.auth import TokenIssuer
from infra.settings import MailOptions, Settings
from infra.web import create_app
from tests.e2e.servers import free_port, running

SECRET = "test-secret-that-is-long-enough-for-hs256!!"
FIRM = "firm-a"


@dataclass
class Api:
    """A GraphQL client bound to one app, with helpers to act as different viewers."""

    client: httpx.AsyncClient
    issuer: TokenIssuer
    app: Any

    def token(
        self, sub: str = "owner-1", role: str = "owner", firm: str = FIRM, **claims: Any
    ) -> str:
        return self.issuer.issue(
            sub=sub, firm=firm, role=role, name=claims.pop("name", sub), **claims
        )

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        as_user: tuple[str, str] | None = None,
        firm: str = FIRM,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """POST a query; by default as the firm's owner (sub owner-1)."""
        if token is None:
            sub, role = as_user or ("owner-1", "owner")
            token = self.token(sub=sub, role=role, firm=firm)
        all_headers = {"authorization": f"Bearer {token}", **(headers or {})}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    @property
    def container(self) -> Any:
        return self.app.state.container

    def event_count(self) -> int:
        """How many events requests recorded (to check that bad input recorded nothing): the
        store's events but the mail worker's delivery records, which it adds in the background
        for emails queued earlier (notices to the team, for instance)."""
        found = self.container.store.recorder.select_notifications(start=1, limit=10_000_000)
        return sum(1 for n in found if n.topic not in DELIVERY_TOPICS)


DELIVERY_TOPICS = frozenset(
    f"domain.email:Email.{name}" for name in ("EmailSent", "EmailAttemptFailed", "EmailFailed")
)
"""The events the mail delivery worker records (not a request)."""


def make_settings(database_url: str, env: str = "development") -> Settings:
    """The e2e settings. Development explicitly (Settings defaults to production): these tests
    read unmasked details such as GraphiQL; production behaviour has its own tests
    (tests/e2e/test_http_boundary.py), which pass env="production"."""
    files = Path(tempfile.mkdtemp(prefix="dossier-e2e-"))  # per app, never the project's var/
    return Settings(
        database_url=database_url,
        jwt_secret=SECRET,
        poll_interval=0.05,
        env=env,
        blob_dir=str(files / "blobs"),  # documents' bytes
        mail=MailOptions(mail_dir=files / "mail"),  # the .eml files the mail worker writes
    )


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    """The app served in-process through httpx's ASGI transport, on both backends."""
    app = create_app(make_settings(database_url))
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            yield Api(client=client, issuer=TokenIssuer(SECRET), app=app)


_free_port = free_port  # the older name (tests/e2e/servers.py holds the server helpers)


@dataclass
class LiveServer:
    """A uvicorn server in a background thread."""

    url: str
    app: Any
    issuer: TokenIssuer

    def token(self, sub: str = "owner-1", role: str = "owner", firm: str = FIRM) -> str:
        return self.issuer.issue(sub=sub, firm=firm, role=role, name=sub)


@pytest.fixture
def live_server(database_url: str) -> Iterator[LiveServer]:
    """The app under a real uvicorn server on a free loopback port."""
    app = create_app(make_settings(database_url))
    with running(app) as served:
        yield LiveServer(url=served.url, app=app, issuer=TokenIssuer(SECRET))
