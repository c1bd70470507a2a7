"""The whole-response cache: repeated queries are served from memory, never stale."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Api

PROFILE = "query($id: ID!) { client(id: $id) { name version tags } }"


async def post(api: Api, query: str, variables: dict[str, Any], token: str) -> tuple[str, Any]:
    response = await api.client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    return response.headers.get("x-dossier-cache", "miss"), response.json()


async def register(api: Api, name: str) -> str:
    result = await api.gql(
        "mutation($n: String!) { registerClient(input: {name: $n, type: COMPANY}) { ... on ClientPayload { client { id } } } }",
        {"n": name},
    )
    return str(result["data"]["registerClient"]["client"]["id"])


async def test_a_repeated_query_is_a_hit_and_a_mutation_is_visible_to_the_next_query(
    api: Api,
) -> None:
    client = await register(api, "Acme")
    owner = api.token()
    first = await post(api, PROFILE, {"id": client}, owner)
    second = await post(api, PROFILE, {"id": client}, owner)
    assert first == ("miss", {"data": {"client": {"name": "Acme", "version": 1, "tags": []}}})
    assert second == ("hit", first[1])

    renamed = await api.gql(
        'mutation($id: ID!) { updateClientDetails(input: {clientId: $id, name: "Acme Two"}) { __typename } }',
        {"id": client},
    )
    assert renamed["data"]["updateClientDetails"]["__typename"] == "ClientPayload"
    after = await post(api, PROFILE, {"id": client}, owner)
    assert after == ("miss", {"data": {"client": {"name": "Acme Two", "version": 2, "tags": []}}})
    assert (await post(api, PROFILE, {"id": client}, owner))[0] == "hit"


async def test_viewers_with_other_visibility_never_share_answers(api: Api) -> None:
    client = await register(api, "Acme")
    owner, manager = api.token(), api.token(sub="m-1", role="manager")
    agent = api.token(sub="agent-1", role="agent")
    await post(api, PROFILE, {"id": client}, owner)
    assert (await post(api, PROFILE, {"id": client}, manager))[0] == "miss"
    assert await post(api, PROFILE, {"id": client}, agent) == ("miss", {"data": {"client": None}})
    other_firm = api.token(firm="firm-b")
    assert await post(api, PROFILE, {"id": client}, other_firm) == (
        "miss",
        {"data": {"client": None}},
    )
    assert (await post(api, PROFILE, {"id": client}, api.token(sub="owner-2")))[0] == "hit"


async def test_per_viewer_fields_are_keyed_by_the_viewer(api: Api) -> None:
    query = "{ viewer { userId } }"
    first = await post(api, query, {}, api.token(sub="owner-1"))
    second = await post(api, query, {}, api.token(sub="owner-2"))
    assert first[1] == {"data": {"viewer": {"userId": "owner-1"}}}
    assert second == ("miss", {"data": {"viewer": {"userId": "owner-2"}}})


async def test_tokens_are_checked_on_every_request(api: Api) -> None:
    client = await register(api, "Acme")
    await post(api, PROFILE, {"id": client}, api.token())
    expired = api.issuer.issue(sub="owner-1", firm="firm-a", role="owner", ttl_seconds=-10)
    status, body = await post(api, PROFILE, {"id": client}, expired)
    assert status == "miss"
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert body["data"] == {"client": None}


async def test_errors_and_audit_reads_are_not_cached(api: Api) -> None:
    client = await register(api, "Acme")
    owner = api.token()
    bad = "{ clients(first: 101) { totalCount } }"
    assert (await post(api, bad, {}, owner))[0] == "miss"
    assert (await post(api, bad, {}, owner))[0] == "miss"
    audit = "query($id: ID!) { client(id: $id) { auditTrail { valid eventCount } } }"
    await post(api, audit, {"id": client}, owner)
    assert (await post(api, audit, {"id": client}, owner))[0] == "miss"
