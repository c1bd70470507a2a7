"""Concurrent writers on one client over HTTP: no database error ever reaches a client.

Without expectedVersion every request succeeds (a lost race is retried on fresh state); with
the same expectedVersion exactly one succeeds and the others get ConflictError; a request that
loses every retry gets a top-level SERVICE_UNAVAILABLE, never the database's message.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from infra.services import unit_of_work as service_module
from tests.e2e.conftest import Api
from tests.e2e.test_api_support import COMMENT, LINK, UPDATE, register

VERSION = "query($id: ID!) { client(id: $id) { version tags contacts { totalCount } comments { totalCount } } }"


async def at_once(api: Api, query: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(api.gql(query, {"input": i}) for i in inputs)))


def no_top_level_errors(responses: list[dict[str, Any]]) -> None:
    assert [r.get("errors") for r in responses] == [None] * len(responses), [
        r["errors"] for r in responses if r.get("errors")
    ]


@pytest.mark.parametrize("writers", [8, 16])
async def test_concurrent_writers_without_expected_version_all_succeed(
    api: Api, writers: int
) -> None:
    client_id = await register(api, "Acme")
    updates = [{"clientId": client_id, "tags": [f"t{i}"]} for i in range(writers)]
    links = [
        {"clientId": client_id, "newContact": {"firstName": f"C{i}", "lastName": "X", "emails": []}}
        for i in range(writers)
    ]
    comments = [{"clientId": client_id, "body": f"note {i}"} for i in range(writers)]
    responses = await asyncio.gather(
        at_once(api, UPDATE, updates), at_once(api, LINK, links), at_once(api, COMMENT, comments)
    )
    for batch, success in zip(
        responses, ("ClientPayload", "LinkContactSuccess", "AddCommentSuccess"), strict=True
    ):
        no_top_level_errors(batch)
        field = next(iter(batch[0]["data"]))
        assert {r["data"][field]["__typename"] for r in batch} == {success}
    client = (await api.gql(VERSION, {"id": client_id}))["data"]["client"]
    assert client["version"] == 1 + 2 * writers
    assert client["contacts"]["totalCount"] == writers
    assert client["comments"]["totalCount"] == writers


async def test_concurrent_writers_with_expected_version_one_wins(api: Api) -> None:
    writers = 8
    client_id = await register(api, "Acme")
    count = api.event_count()
    inputs = [
        {"clientId": client_id, "name": f"Name {i}", "expectedVersion": 1} for i in range(writers)
    ]
    responses = await at_once(api, UPDATE, inputs)
    no_top_level_errors(responses)
    results = [r["data"]["updateClientDetails"] for r in responses]
    kinds = sorted(r["__typename"] for r in results)
    assert kinds == ["ClientPayload"] + ["ConflictError"] * (writers - 1)
    conflicts = [r for r in results if r["__typename"] == "ConflictError"]
    assert {(c["code"], c["expectedVersion"], c["actualVersion"]) for c in conflicts} == {
        ("CONFLICT", 1, 2)
    }
    assert api.event_count() == count + 1


async def test_a_writer_that_keeps_losing_gets_service_unavailable(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never a raw database error: after MAX_ATTEMPTS lost races, a retryable top-level error."""
    client_id = await register(api, "Acme")
    count = api.event_count()

    def always_loses(*aggregates: Any) -> Any:
        raise IntegrityError("UNIQUE constraint failed: stored_events.originator_id")

    monkeypatch.setattr(api.container.store, "save", always_loses)
    monkeypatch.setattr(service_module, "backoff", lambda attempt: None)
    response = await api.gql(UPDATE, {"input": {"clientId": client_id, "name": "X"}})
    assert response["data"] is None
    [error] = response["errors"]
    assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}
    assert "UNIQUE" not in error["message"]
    assert api.event_count() == count
