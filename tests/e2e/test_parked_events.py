"""Fault test: a projection made to fail on one event type parks those events; every other
firm, client and read model goes on; the mutation says RECORDED_NOT_PROJECTED; an operator
lists and retries the parked events from the CLI, and the result equals a rebuild.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from infra.cli import app as cli
from projections.comments import CommentsProjection
from projections.registry import all_projections
from tests.e2e.conftest import Api
from tests.e2e.test_api_support import COMMENT, REGISTER, mutate

FIRM_B = "firm-b"
CLIENT_COMMENTS = """query($id: ID!) { client(id: $id) { id name
  overview { latestComments { body } } } }"""


def dump(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table's rows, sorted (volatile columns kept: rebuilds are exact)."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for projection in all_projections():
            for table in projection.tables:
                rows = conn.execute(sa.select(table)).all()
                found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return found


def flat(text: str) -> str:
    return " ".join(text.split())


async def test_a_failing_projection_parks_one_event_type_and_the_rest_goes_on(
    api: Api, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = api.container
    acme = (await mutate(api, REGISTER, "registerClient", name="Acme", type="COMPANY"))["client"]

    def boom(*_: Any) -> None:
        raise RuntimeError("comments cannot be stored today")

    # Broken for every runner in this process (the server's and the CLI's).
    monkeypatch.setattr(CommentsProjection, "comment_added", boom)
    answer = await api.gql(COMMENT, {"input": {"clientId": acme["id"], "body": "Called"}})
    assert answer["data"] is None  # addComment is non-null: the error nulls the response
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == "RECORDED_NOT_PROJECTED"
    position = error["extensions"]["position"]
    assert position == container.store.head()
    assert "comments cannot be stored" not in str(answer)  # the detail is for operators

    # Another firm's registration and later changes to the same client that this projection
    # does not use are read-your-writes visible.
    other = (
        await mutate(api, REGISTER, "registerClient", firm=FIRM_B, name="Beta", type="COMPANY")
    )["client"]
    assert other["name"] == "Beta"
    renamed = await api.gql(
        """mutation($id: ID!) { updateClientDetails(input: {clientId: $id, name: "Acme Ltd"}) {
          ... on ClientPayload { client { name } } } }""",
        {"id": acme["id"]},
    )
    assert renamed["data"]["updateClientDetails"]["client"]["name"] == "Acme Ltd"
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["parked"] == {"comments": 1}
    assert "cannot be stored" not in ready.text

    env = {"DOSSIER_DATABASE_URL": database_url, "DOSSIER_JWT_SECRET": "x" * 40}
    runner = CliRunner()
    listed = runner.invoke(cli, ["projections", "parked"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "1 parked event(s)" in flat(listed.output)
    as_json = runner.invoke(cli, ["projections", "parked", "--json"], env=env)
    (line,) = as_json.output.splitlines()
    entry = json.loads(line)
    assert {k: entry[k] for k in ("projection", "position", "event_type", "held_behind")} == {
        "projection": "comments",
        "position": position,
        "event_type": "CommentAdded",
        "held_behind": None,
    }
    assert (entry["error_class"], entry["error_message"], entry["firm_id"]) == (
        "RuntimeError",
        "comments cannot be stored today",
        "firm-a",
    )

    # The profile is read (and cached) while the comment is parked.
    stale = await api.gql(CLIENT_COMMENTS, {"id": acme["id"]})
    assert stale["data"]["client"]["overview"]["latestComments"] == []
    again_stale = await api.client.post(
        "/graphql",
        json={"query": CLIENT_COMMENTS, "variables": {"id": acme["id"]}},
        headers={"authorization": f"Bearer {api.token()}"},
    )
    assert again_stale.headers.get("x-dossier-cache") == "hit"

    # Still broken: the retry keeps it parked and says so.
    again = runner.invoke(cli, ["projections", "retry", "--projection", "comments"], env=env)
    assert again.exit_code == 1, again.output
    assert "Applied 0 parked event(s); 1 still parked." in flat(again.output)

    # Fixed: the retry applies it, the comment shows, and the read models equal a rebuild.
    monkeypatch.undo()
    fixed = runner.invoke(cli, ["projections", "retry"], env=env)
    assert fixed.exit_code == 0, fixed.output
    assert "Applied 1 parked event(s); 0 still parked." in flat(fixed.output)
    # The retry changed rows without moving any position: the cached answer is not served.
    shown = await api.gql(CLIENT_COMMENTS, {"id": acme["id"]})
    assert shown["data"]["client"]["overview"]["latestComments"] == [{"body": "Called"}]
    assert (await api.client.get("/readyz")).json()["parked"] == {}
    before = dump(container.engine)
    for projection in container.runner.projections:
        container.runner.rebuild(projection)
    assert dump(container.engine) == before
    unknown = runner.invoke(cli, ["projections", "retry", "-p", "nope"], env=env)
    assert unknown.exit_code == 2


async def test_a_replayed_request_whose_events_are_parked_still_says_so(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = (await mutate(api, REGISTER, "registerClient", name="Acme", type="COMPANY"))["client"]

    def boom(*_: Any) -> None:
        raise RuntimeError("comments cannot be stored today")

    monkeypatch.setattr(CommentsProjection, "comment_added", boom)
    keyed = {"input": {"clientId": acme["id"], "body": "Called", "idempotencyKey": "call-1"}}
    first = await api.gql(COMMENT, keyed)
    head = api.container.store.head()
    again = await api.gql(COMMENT, keyed)  # the replay records nothing, and says the same
    assert api.container.store.head() == head
    for answer in (first, again):
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["RECORDED_NOT_PROJECTED"]
    parked_at = first["errors"][0]["extensions"]["position"]
    assert again["errors"][0]["extensions"]["position"] == parked_at
