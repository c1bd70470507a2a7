"""The server verifies tokens with the configured issuer, audience and maximum lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from infra.auth import TokenIssuer
from infra.settings import Settings
from infra.web import create_app
from tests.e2e.conftest import SECRET

VIEWER = "{ viewer { userId role } }"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'dossier.db'}",
        jwt_secret=SECRET,
        jwt_issuer="https://id.example",
        jwt_audience="dossier-api",
        jwt_max_lifetime=600,
        poll_interval=0.05,
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as http:
            yield http, settings


async def viewer_as(http: httpx.AsyncClient, token: str) -> dict[str, object]:
    response = await http.post(
        "/graphql", json={"query": VIEWER}, headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_the_server_applies_the_jwt_settings(
    client: tuple[httpx.AsyncClient, Settings],
) -> None:
    http, settings = client
    configured = TokenIssuer.from_settings(settings)
    good = await viewer_as(http, configured.issue(sub="owner-1", firm="firm-a", role="owner"))
    assert good == {"data": {"viewer": {"userId": "owner-1", "role": "owner"}}}

    plain = TokenIssuer(SECRET)  # no iss, no aud, a 24-hour lifetime
    refused = await viewer_as(http, plain.issue(sub="owner-1", firm="firm-a", role="owner"))
    assert refused["data"] is None
    errors = refused["errors"]
    assert isinstance(errors, list)
    assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}

    long_lived = TokenIssuer(
        SECRET, issuer="https://id.example", audience="dossier-api", max_lifetime=3600
    ).issue(sub="owner-1", firm="firm-a", role="owner")
    too_long = await viewer_as(http, long_lived)
    assert "longer than the maximum of 600 s" in str(too_long["errors"])
