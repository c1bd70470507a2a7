"""Production by default: no GraphiQL, no introspection, no field suggestions, masked errors,
no demo token; development keeps them for the demo. And GraphQL-over-HTTP content negotiation
(application/graphql-response+json) in both modes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from typer.testing import CliRunner

from infra.auth import TokenIssuer
from infra.web import create_app
from resolvers.loaders import Loaders
from tests.e2e.conftest import SECRET, Api, make_settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
LEAKS = ("traceback", "select ", "sqlalchemy", "psycopg", "sqlite3", "rm_clients", 'file "')


@pytest.fixture(params=["development", "production"])
async def app(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    settings = make_settings(f"sqlite:///{tmp_path / 'dossier.db'}", env=str(request.param))
    application = create_app(settings)
    async with LifespanManager(application, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            yield Api(client=client, issuer=TokenIssuer(SECRET), app=application)


def production(api: Api) -> bool:
    return bool(api.container.settings.production)


async def post(
    api: Api,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await api.client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"authorization": f"Bearer {api.token()}", **(headers or {})},
    )


def quiet(text: str) -> None:
    lowered = text.lower()
    assert not [leak for leak in LEAKS if leak in lowered], text


async def test_graphiql_only_in_development(app: Api) -> None:
    page = await app.client.get("/graphql", headers={"accept": "text/html"})
    if production(app):
        assert page.status_code == 404
        assert "graphiql" not in page.text.lower()
        assert page.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    else:
        assert page.status_code == 200 and "graphiql" in page.text.lower()
    # A query by GET works in both modes (mutations never do).
    got = await app.client.get("/graphql", params={"query": "{ __typename }"})
    assert got.json() == {"data": {"__typename": "Query"}}
    mutation = await app.client.get(
        "/graphql", params={"query": "mutation { __typename }"}, headers={"accept": "*/*"}
    )
    assert 400 <= mutation.status_code < 500


@pytest.mark.parametrize(
    "query", ["{ __schema { queryType { name } } }", '{ __type(name: "Client") { name } }']
)
async def test_introspection_only_in_development(app: Api, query: str) -> None:
    body = (await post(app, query)).json()
    if production(app):
        assert body.get("data") is None
        assert "introspection has been disabled" in body["errors"][0]["message"]
    else:
        assert "errors" not in body, body
    typename = (await post(app, "{ __typename }")).json()
    assert typename == {"data": {"__typename": "Query"}}


async def test_no_field_suggestions_in_production(app: Api) -> None:
    cases = [
        ("{ clientz { totalCount } }", None),
        ("{ clients(firstt: 1) { totalCount } }", None),
        (
            'mutation($t: ClientType!) { registerClient(input: {name: "A", type: $t}) '
            "{ __typename } }",
            {"t": "COMPANYY"},
        ),
    ]
    for query, variables in cases:
        messages = [e["message"] for e in (await post(app, query, variables)).json()["errors"]]
        assert messages, query
        if production(app):
            assert not [m for m in messages if "Did you mean" in m], messages
        else:
            assert [m for m in messages if "Did you mean" in m], messages


async def test_unexpected_errors_never_show_their_text(
    app: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(self: Loaders, query: Any) -> Any:
        raise ValueError("SELECT secret FROM rm_clients WHERE firm_id = 'firm-b' -- event data")

    monkeypatch.setattr(Loaders, "run", failing)
    response = await post(
        app, "{ clients { totalCount } }", headers={"x-request-id": "req-unexpected-1"}
    )
    quiet(response.text)
    (error,) = response.json()["errors"]
    if production(app):
        assert error["message"] == "Unexpected error."
    else:
        assert "ValueError" in error["message"] and "req-unexpected-1" in error["message"]


async def test_content_negotiation(app: Api) -> None:
    accept = {"accept": GRAPHQL_RESPONSE}
    ok = await post(app, "{ __typename }", headers=accept)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert ok.json() == {"data": {"__typename": "Query"}}
    plain = await post(app, "{ __typename }")
    assert plain.headers["content-type"].startswith("application/json")

    request_errors = [
        ("{", None),  # does not parse
        ("{ nope }", None),  # does not validate
        ("query($id: ID!) { client(id: $id) { name } }", {"id": None}),  # does not coerce
    ]
    for query, variables in request_errors:
        strict = await post(app, query, variables, accept)
        assert strict.status_code == 400, strict.text
        assert strict.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert "data" not in strict.json() and strict.json()["errors"]
        lenient = await post(app, query, variables, {"accept": "application/json"})
        assert lenient.status_code == 200, lenient.text
        assert lenient.json()["data"] is None

    # A field error is not a request error: 200 with data, whatever the media type.
    anonymous = await app.client.post(
        "/graphql", json={"query": "{ clients { totalCount } }"}, headers=accept
    )
    assert anonymous.status_code == 200
    body = anonymous.json()
    assert "data" in body and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_cache_hit_keeps_the_negotiated_media_type(app: Api) -> None:
    query = "{ clients { totalCount } }"
    first = await post(app, query, headers={"accept": GRAPHQL_RESPONSE})
    second = await post(app, query, headers={"accept": GRAPHQL_RESPONSE})
    third = await post(app, query)
    assert second.headers.get("x-dossier-cache") == "hit"
    assert second.headers["content-type"] == first.headers["content-type"] == GRAPHQL_RESPONSE
    assert third.headers.get("x-dossier-cache") == "hit"
    assert third.headers["content-type"] == "application/json"
    assert first.json() == second.json() == third.json()


# dossier serve --------------------------------------------------------------------------------


def serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str, env: str | None) -> Any:
    import uvicorn

    from infra.cli import app as cli

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: calls.append(options))
    variables = {
        "DOSSIER_JWT_SECRET": SECRET,
        "DOSSIER_DATABASE_URL": f"sqlite:///{tmp_path / 'dossier.db'}",
        "DOSSIER_ENV": env,
    }
    result = CliRunner().invoke(cli, ["serve", *args], env=variables)
    assert result.exit_code == 0, result.output
    (options,) = calls
    return result.output, options


def test_dossier_serve_in_production_prints_no_token_and_seeds_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    output, options = serve(monkeypatch, tmp_path, env=None)
    assert "eyJ" not in output and "token" in output.lower()  # says how to get one
    assert "production" in output
    assert not (tmp_path / "dossier.db").exists()  # no demo firm seeded
    assert options["http"] == "h11"
    assert options["h11_max_incomplete_event_size"] <= 64 * 1024
    assert options["ws_max_size"] == 1024 * 1024


def test_dossier_serve_in_development_prints_a_demo_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    output, _options = serve(monkeypatch, tmp_path, "--no-seed", env="development")
    assert "Demo owner token" in output
    token = next(line for line in output.splitlines() if line.startswith("eyJ"))
    viewer = TokenIssuer(SECRET).verify(token)
    assert viewer.role == "owner"
