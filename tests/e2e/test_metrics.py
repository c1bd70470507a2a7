"""/metrics: Prometheus text, off unless DOSSIER_METRICS is true, with bounded labels."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families

from infra.auth import TokenIssuer
from infra.metrics import MAX_OPERATION_LABELS
from infra.web import create_app
from tests.e2e.conftest import SECRET, Api, make_settings
from tests.e2e.servers import free_port
from tests.e2e.test_api_support import COMMENT, REGISTER, mutate


@pytest.fixture
async def metered(database_url: str) -> AsyncIterator[Api]:
    settings = dataclasses.replace(make_settings(database_url), metrics=True)
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            yield Api(client=client, issuer=TokenIssuer(SECRET), app=app)


async def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_are_off_by_default(api: Api) -> None:
    assert (await api.client.get("/metrics")).status_code == 404


async def test_operations_errors_projections_and_cache_are_measured(metered: Api) -> None:
    api = metered
    acme = (await mutate(api, REGISTER, "registerClient", name="Acme", type="COMPANY"))["client"]
    await mutate(api, COMMENT, "addComment", clientId=acme["id"], body="Hello")
    named = "query Profile($id: ID!) { client(id: $id) { name } }"
    for _ in range(3):
        answer = await api.gql(named, {"id": acme["id"]})
        assert answer["data"]["client"]["name"] == "Acme"
    denied = await api.client.post(
        "/graphql", json={"query": "query Nobody { clients { totalCount } }"}
    )
    assert denied.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    samples = await scrape(api)
    assert (
        value(samples, "dossier_graphql_operations_total", operation="Profile", type="query") == 1
    )
    assert value(samples, "dossier_response_cache_lookups_total", result="hit") == 2
    assert value(samples, "dossier_response_cache_lookups_total", result="miss") >= 1
    assert value(samples, "dossier_response_cache_bytes") > 0
    assert value(samples, "dossier_graphql_errors_total", code="UNAUTHENTICATED") == 1
    assert (
        value(samples, "dossier_graphql_operations_total", operation="anonymous", type="mutation")
        == 2
    )
    assert value(samples, "dossier_http_requests_total", route="/graphql", status="200") == 6
    assert value(samples, "dossier_projection_lag_events", projection="comments") == 0
    assert value(samples, "dossier_projection_lag_seconds") == 0
    assert value(samples, "dossier_parked_events", projection="comments") == 0
    assert value(samples, "dossier_projection_runner_up") == 1
    # The registration, the comment and the client's commenters index (saved with it).
    assert value(samples, "dossier_projection_events_total", projection="comments") == 3
    assert value(samples, "dossier_projection_batch_seconds_count", projection="comments") >= 1
    assert value(samples, "dossier_live_subscribers") == 0
    assert value(samples, "dossier_live_peak_unacknowledged_frames") == 0
    # The fan-out's close counters (kept by the websocket handler) are exported by reason.
    api.container.live.closed_connections["too_slow"] += 2
    samples = await scrape(api)
    assert value(samples, "dossier_live_connections_closed_total", reason="too_slow") == 2


async def test_caller_chosen_labels_are_bounded(metered: Api) -> None:
    api = metered
    token = api.token()
    for index in range(MAX_OPERATION_LABELS + 20):
        await api.client.post(
            "/graphql",
            json={"query": f"query Op{index} {{ __typename }}"},
            headers={"authorization": f"Bearer {token}"},
        )
    await api.client.post(
        "/graphql",
        json={"query": "query Bad { __typename }", "operationName": "Bad"},
        headers={"authorization": f"Bearer {token}"},
    )
    samples = await scrape(api)
    operations = {
        dict(labels)["operation"]
        for (name, labels) in samples
        if name == "dossier_graphql_operations_total"
    }
    assert len(operations) <= MAX_OPERATION_LABELS + 2  # + "other" and "anonymous"
    assert value(samples, "dossier_graphql_operations_total", operation="other", type="query") >= 20


async def test_metrics_can_be_served_apart_on_their_own_port(database_url: str) -> None:
    port = free_port()
    settings = dataclasses.replace(make_settings(database_url), metrics_port=port)
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            assert (await client.get("/metrics")).status_code == 404  # never on the API's port
        async with httpx.AsyncClient() as apart:
            response = await apart.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert "dossier_projection_runner_up 1.0" in response.text
