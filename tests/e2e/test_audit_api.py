"""The audit chain over HTTP: auditTrail, auditDigest, verifyAuditDigest and the export
endpoint with its signed manifest, on both backends."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from asgi_lifespan import LifespanManager

from infra.audit import verify_export
from infra.auth import TokenIssuer
from infra.web import create_app
from resolvers.ids import uuid_of
from tests.e2e.conftest import SECRET, Api, make_settings
from tests.e2e.test_api_support import (
    add_staff,
    assign,
    comment,
    global_id,
    ok,
    register,
    top_error_code,
)
from tests.integration.test_audit_support import tamper

SIGNING_KEY = "export-signing-key-for-tests"

TRAIL = """
query($id: ID!) { client(id: $id) {
  auditTrail { valid eventCount headHash firstBrokenVersion }
  activity(first: 1) { totalCount }
} }
"""
DIGEST = "{ auditDigest { at rootHash clients { clientId eventCount headHash } } }"
VERIFY = """
query($digest: AuditDigestInput!) { verifyAuditDigest(digest: $digest) {
  valid rootMatches checkedClients
  mismatches { clientId reason message keptEventCount currentEventCount firstBrokenVersion }
} }
"""
UPDATE = """
mutation($input: UpdateClientDetailsInput!) { updateClientDetails(input: $input) {
  __typename ... on ClientPayload { client { version } } } }
"""


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    """The app in-process, with an HMAC key for export manifests."""
    settings = dataclasses.replace(make_settings(database_url), export_signing_key=SIGNING_KEY)
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://dossier.test") as client:
            yield Api(client=client, issuer=TokenIssuer(SECRET), app=app)


async def history(api: Api) -> tuple[str, str]:
    """Acme (register v1, rename v2, a comment, retag v3) and Globex (register v1)."""
    acme = await register(api, "Acme")
    globex = await register(api, "Globex", "INDIVIDUAL")
    for change in ({"name": "Acme Ltd"}, {"tags": ["audit"]}):
        result = ok(
            await api.gql(UPDATE, {"input": {"clientId": acme, **change}}), "updateClientDetails"
        )
        assert result["__typename"] == "ClientPayload"
        if "name" in change:
            await comment(api, acme, "Year-end accounts received.")
    return acme, globex


async def trail(api: Api, client_id: str, **kwargs: Any) -> dict[str, Any]:
    return ok(await api.gql(TRAIL, {"id": client_id}, **kwargs), "client")


def local(global_client_id: str) -> UUID:
    found = uuid_of(global_client_id, "Client")
    assert found is not None
    return found


async def test_audit_trail_counts_the_activity_and_names_an_edited_event(api: Api) -> None:
    acme, globex = await history(api)
    before = await trail(api, acme)
    assert before["auditTrail"]["valid"] is True
    assert before["auditTrail"]["eventCount"] == 4 == before["activity"]["totalCount"]
    assert before["auditTrail"]["firstBrokenVersion"] is None
    assert len(before["auditTrail"]["headHash"]) == 64

    tamper(api.container, local(acme), 3, lambda s: s.update(changes={"tags": ["clean"]}))

    after = await trail(api, acme)
    assert after["auditTrail"] == {
        "valid": False,
        "eventCount": 4,
        "headHash": before["auditTrail"]["headHash"],
        "firstBrokenVersion": 3,
    }
    other = await trail(api, globex)
    assert other["auditTrail"]["valid"] is True
    assert other["auditTrail"]["eventCount"] == 1


async def test_digest_verifies_and_reports_tampering_and_foreign_clients(api: Api) -> None:
    acme, globex = await history(api)
    digest = ok(await api.gql(DIGEST), "auditDigest")
    assert sorted(c["clientId"] for c in digest["clients"]) == sorted([acme, globex])
    assert [c["eventCount"] for c in digest["clients"] if c["clientId"] == acme] == [4]

    result = ok(await api.gql(VERIFY, {"digest": digest}), "verifyAuditDigest")
    assert result == {"valid": True, "rootMatches": True, "checkedClients": 2, "mismatches": []}

    # Later events extend the history: still valid.
    await comment(api, globex, "Another note")
    assert ok(await api.gql(VERIFY, {"digest": digest}), "verifyAuditDigest")["valid"] is True

    tamper(api.container, local(acme), 1, lambda s: s.update(name="Acme Forged"))
    result = ok(await api.gql(VERIFY, {"digest": digest}), "verifyAuditDigest")
    assert result["valid"] is False and result["rootMatches"] is True
    assert result["mismatches"] == [
        {
            "clientId": acme,
            "reason": "TAMPERED",
            "message": "the stored event at version 1 no longer matches its chain link",
            "keptEventCount": 4,
            "currentEventCount": 4,
            "firstBrokenVersion": 1,
        }
    ]

    # Another firm's owner learns nothing about firm-a's clients.
    foreign = ok(await api.gql(VERIFY, {"digest": digest}, firm="firm-b"), "verifyAuditDigest")
    assert foreign["valid"] is False
    assert {
        (m["clientId"], m["reason"], m["currentEventCount"]) for m in foreign["mismatches"]
    } == {
        (acme, "NOT_FOUND", None),
        (globex, "NOT_FOUND", None),
    }
    assert ok(await api.gql(DIGEST, firm="firm-b"), "auditDigest")["clients"] == []


async def test_tampered_or_malformed_digests(api: Api) -> None:
    await history(api)
    digest = ok(await api.gql(DIGEST), "auditDigest")
    forged = json.loads(json.dumps(digest))
    forged["clients"].reverse()  # the same heads, but not the list the root was taken over
    result = ok(await api.gql(VERIFY, {"digest": forged}), "verifyAuditDigest")
    assert (result["valid"], result["rootMatches"], result["mismatches"]) == (False, False, [])

    bad_root = {**digest, "rootHash": "not-a-hash"}
    response = await api.gql(VERIFY, {"digest": bad_root})
    assert top_error_code(response) == "BAD_USER_INPUT"
    assert response["errors"][0]["extensions"]["argument"] == "digest.rootHash"

    twice = {**digest, "clients": digest["clients"] + digest["clients"][:1]}
    assert top_error_code(await api.gql(VERIFY, {"digest": twice})) == "BAD_USER_INPUT"

    unknown = {
        "rootHash": "0" * 64,
        "clients": [
            {"clientId": "garbage", "eventCount": 1, "headHash": "0" * 64},
            {
                "clientId": global_id("Client", str(UUID(int=7))),
                "eventCount": 1,
                "headHash": "0" * 64,
            },
        ],
    }
    result = ok(await api.gql(VERIFY, {"digest": unknown}), "verifyAuditDigest")
    assert [m["reason"] for m in result["mismatches"]] == ["NOT_FOUND", "NOT_FOUND"]

    assert top_error_code(await api.gql(DIGEST, token="nonsense")) == "UNAUTHENTICATED"


async def test_an_agent_digest_covers_only_assigned_clients(api: Api) -> None:
    acme, globex = await history(api)
    await add_staff(api, "agent-1", "AGENT")
    await assign(api, globex, "agent-1")
    digest = ok(await api.gql(DIGEST, as_user=("agent-1", "agent")), "auditDigest")
    assert [c["clientId"] for c in digest["clients"]] == [globex]
    owner_digest = ok(await api.gql(DIGEST), "auditDigest")
    result = ok(
        await api.gql(VERIFY, {"digest": owner_digest}, as_user=("agent-1", "agent")),
        "verifyAuditDigest",
    )
    assert [(m["clientId"], m["reason"]) for m in result["mismatches"]] == [(acme, "NOT_FOUND")]


async def export(api: Api, path: str, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token or api.token()}"}
    return await api.client.get(path, headers=headers)


async def test_export_endpoint_streams_a_verifiable_export(api: Api) -> None:
    acme, _globex = await history(api)
    response = await export(api, f"/export/clients/{acme}.jsonl")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    through = response.headers["x-dossier-through-position"]
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["type"] for line in lines] == [
        "ClientRegistered",
        "ClientDetailsUpdated",
        "CommentAdded",
        "ClientDetailsUpdated",
    ]
    assert lines[0]["data"]["name"] == "Acme"
    assert lines[2]["data"]["body"] == "Year-end accounts received."
    assert lines[1]["actor"]["id"] == "owner-1"
    head = (await trail(api, acme))["auditTrail"]["headHash"]
    assert lines[-1]["hash"] == head

    manifest_response = await export(
        api, f"/export/clients/{acme}.jsonl/manifest?through={through}"
    )
    assert manifest_response.status_code == 200, manifest_response.text
    manifest = manifest_response.json()
    assert (manifest["eventCount"], manifest["headHash"]) == (4, head)
    assert manifest["signature"]["algorithm"] == "HMAC-SHA256"
    check = verify_export(response.content, manifest, hmac_key=SIGNING_KEY.encode())
    assert check.ok, check.problems
    assert verify_export(response.content, manifest, hmac_key=b"wrong").problems == [
        "the signature does not match"
    ]

    csv_response = await export(api, f"/export/clients/{acme}.csv?through={through}")
    assert csv_response.status_code == 200
    assert csv_response.text.splitlines()[0] == (
        "position,time,type,actor,data,hash,originator_id,originator_version,topic,state"
    )
    csv_manifest = (await export(api, f"/export/clients/{acme}.csv/manifest")).json()
    assert verify_export(csv_response.content, csv_manifest, hmac_key=SIGNING_KEY.encode()).ok


async def test_export_endpoint_applies_the_api_visibility(api: Api) -> None:
    acme, globex = await history(api)
    await add_staff(api, "agent-1", "AGENT")
    await assign(api, globex, "agent-1")
    path = f"/export/clients/{acme}.jsonl"
    assert (await export(api, path, api.token(firm="firm-b"))).status_code == 404
    assert (await export(api, path, api.token("agent-1", "agent"))).status_code == 404
    agent_globex = await export(
        api, f"/export/clients/{globex}.jsonl", api.token("agent-1", "agent")
    )
    assert agent_globex.status_code == 200
    assert [json.loads(line)["type"] for line in agent_globex.text.splitlines()] == [
        "ClientRegistered",
        "TeamMemberAssigned",
    ]
    assert (await api.client.get(path)).status_code == 401
    assert (await export(api, f"/export/clients/{acme}.xml")).status_code == 404
    assert (await export(api, "/export/clients/garbage.jsonl")).status_code == 404
    assert (await export(api, f"{path}?through=999999")).status_code == 400
    assert (await export(api, f"{path}?through=-1")).status_code == 400


async def test_audit_trail_of_many_clients_in_one_query(api: Api) -> None:
    acme, globex = await history(api)
    tamper(api.container, local(globex), 1, lambda s: s.update(name="Globex Forged"))
    response = await api.gql(
        "{ clients(first: 10) { edges { node { id auditTrail { valid eventCount "
        "firstBrokenVersion } activity(first: 1) { totalCount } } } } }"
    )
    nodes = {e["node"]["id"]: e["node"] for e in ok(response, "clients")["edges"]}
    assert nodes[acme]["auditTrail"] == {"valid": True, "eventCount": 4, "firstBrokenVersion": None}
    assert nodes[globex]["auditTrail"] == {"valid": False, "eventCount": 1, "firstBrokenVersion": 1}
    assert all(n["auditTrail"]["eventCount"] == n["activity"]["totalCount"] for n in nodes.values())
