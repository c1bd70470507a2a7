"""Authentication, roles, team-based visibility and firm isolation."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from infra.auth import TokenIssuer
from tests.e2e.conftest import FIRM, Api
from tests.e2e.test_api_support import (
    ADD_STAFF,
    ASSIGN,
    CLIENT_QUERY,
    COMMENT,
    HOLD,
    LINK,
    REGISTER,
    RELEASE,
    REMOVE,
    UNLINK,
    UPDATE,
    add_staff,
    assign,
    comment,
    get_client,
    link_new,
    mutate,
    names,
    ok,
    register,
    top_error_code,
)

VIEWER = "{ viewer { userId firmId role name } }"
AGENT = ("agent-1", "agent")
WATCHER = ("watcher-1", "watcher")
FIRM_B = "firm-b"


async def post(api: Api, query: str, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
    """POST a query with exactly the given headers (no default token)."""
    response = await api.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# Authentication -------------------------------------------------------------------------


def bad_headers(api: Api) -> dict[str, dict[str, str]]:
    other_secret = TokenIssuer("another-secret-that-is-long-enough-for-hs256!")
    no_exp = jwt.encode(
        {"sub": "owner-1", "firm": FIRM, "role": "owner"},
        "test-secret-that-is-long-enough-for-hs256!!",
        algorithm="HS256",
    )
    return {
        "missing": {},
        "empty bearer": {"authorization": "Bearer "},
        "garbage": bearer("garbage"),
        "basic scheme": {"authorization": f"Basic {api.token()}"},
        "wrong secret": bearer(other_secret.issue(sub="owner-1", firm=FIRM, role="owner")),
        "expired": bearer(
            api.issuer.issue(sub="owner-1", firm=FIRM, role="owner", ttl_seconds=-10)
        ),
        "unknown role": bearer(api.issuer.issue(sub="owner-1", firm=FIRM, role="superuser")),
        "contact without contact claim": bearer(
            api.issuer.issue(sub="c-1", firm=FIRM, role="contact")
        ),
        "no exp claim": bearer(no_exp),
    }


CASES = [
    "missing",
    "empty bearer",
    "garbage",
    "basic scheme",
    "wrong secret",
    "expired",
    "unknown role",
    "contact without contact claim",
    "no exp claim",
]


@pytest.mark.parametrize("case", CASES)
async def test_queries_without_a_valid_token_are_unauthenticated(api: Api, case: str) -> None:
    client_id = await register(api, "Acme")
    headers = bad_headers(api)[case]
    for query, variables in [
        (VIEWER, {}),
        ("{ clients { totalCount } }", {}),
        ("{ activity { totalCount } }", {}),
        ("query($id: ID!) { client(id: $id) { name } }", {"id": client_id}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": client_id}),
    ]:
        response = await post(api, query, headers, **variables)
        # Non-null roots null the whole data; the nullable client and node read as null.
        assert response["data"] is None or set(response["data"].values()) == {None}, response
        assert top_error_code(response) == "UNAUTHENTICATED", query


@pytest.mark.parametrize("case", ["missing", "garbage", "expired"])
async def test_mutations_without_a_valid_token_are_unauthenticated(api: Api, case: str) -> None:
    client_id = await register(api, "Acme")
    before = api.event_count()
    headers = bad_headers(api)[case]
    for query, input_ in [
        (REGISTER, {"name": "Sneaky", "type": "COMPANY"}),
        (UPDATE, {"clientId": client_id, "name": "Sneaky"}),
        (COMMENT, {"clientId": client_id, "body": "hi"}),
    ]:
        response = await post(api, query, headers, input=input_)
        assert response["data"] is None
        assert top_error_code(response) == "UNAUTHENTICATED"
    assert api.event_count() == before


async def test_expired_token_message(api: Api) -> None:
    token = api.issuer.issue(sub="owner-1", firm=FIRM, role="owner", ttl_seconds=-10)
    response = await post(api, VIEWER, bearer(token))
    assert response["errors"][0]["message"] == "the token has expired"
    assert response["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


# The viewer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [("owner", "owner"), ("ADMIN", "admin"), ("Manager", "manager"), ("agent", "agent")],
)
async def test_viewer_comes_from_the_token(api: Api, role: str, expected: str) -> None:
    token = api.issuer.issue(sub="user-42", firm="firm-x", role=role, name="Zoë Example")
    response = await post(api, VIEWER, bearer(token))
    assert response == {
        "data": {
            "viewer": {
                "userId": "user-42",
                "firmId": "firm-x",
                "role": expected,
                "name": "Zoë Example",
            }
        }
    }


async def test_viewer_without_a_name_claim(api: Api) -> None:
    token = api.issuer.issue(sub="watcher-9", firm=FIRM, role="watcher")
    response = await post(api, VIEWER, bearer(token))
    assert response["data"]["viewer"] == {
        "userId": "watcher-9",
        "firmId": FIRM,
        "role": "watcher",
        "name": None,
    }


# Roles ----------------------------------------------------------------------------------


async def every_mutation(api: Api) -> list[tuple[str, dict[str, Any]]]:
    """One valid input for every mutation, on a client with a contact and a team."""
    await add_staff(api, "agent-1")
    await add_staff(api, "watcher-1", "WATCHER")
    await add_staff(api, "agent-3")
    client_id = await register(api, "Acme")
    ada = await link_new(api, client_id, "Ada", "Lovelace")
    await link_new(api, client_id, "Bob", "Babbage")
    await assign(api, client_id, "agent-1")
    await assign(api, client_id, "watcher-1")
    return [
        (ADD_STAFF, {"userId": "x-1", "name": "X", "email": "x@f.example", "role": "AGENT"}),
        (REGISTER, {"name": "New", "type": "COMPANY"}),
        (UPDATE, {"clientId": client_id, "name": "Renamed"}),
        (
            LINK,
            {
                "clientId": client_id,
                "newContact": {"firstName": "C", "lastName": "D", "emails": []},
            },
        ),
        (UNLINK, {"clientId": client_id, "contactId": ada}),
        (ASSIGN, {"clientId": client_id, "userId": "agent-3"}),
        (REMOVE, {"clientId": client_id, "userId": "agent-1"}),
        (HOLD, {"clientId": client_id}),
        (RELEASE, {"clientId": client_id}),
        (COMMENT, {"clientId": client_id, "body": "hi"}),
    ]


async def test_a_watcher_cannot_mutate_anything(api: Api) -> None:
    mutations = await every_mutation(api)
    before = api.event_count()
    for query, input_ in mutations:
        response = await api.gql(query, {"input": input_}, as_user=WATCHER)
        assert response["data"] is None, query
        assert top_error_code(response) == "FORBIDDEN", query
    assert api.event_count() == before
    # ...but reads the clients it is assigned to.
    page = ok(await api.gql("{ clients { edges { node { name } } } }", as_user=WATCHER), "clients")
    assert names(page) == ["Acme"]


@pytest.mark.parametrize(
    ("role", "forbidden"),
    [
        ("agent", {"addStaffMember", "registerClient", "assignTeamMember", "removeTeamMember"}),
        ("manager", {"addStaffMember"}),
        ("admin", set()),
    ],
)
async def test_what_each_role_may_change(api: Api, role: str, forbidden: set[str]) -> None:
    mutations = await every_mutation(api)
    # The role acted with is the one on the firm's staff records (agent-1 is an agent there).
    user = ("agent-1", role) if role == "agent" else (f"{role}-9", role)
    if role != "agent":
        await add_staff(api, user[0], role.upper())
    for query, input_ in mutations:
        field = query.split("(input")[0].split()[-1]
        before = api.event_count()
        response = await api.gql(query, {"input": input_}, as_user=user)
        if field in forbidden:
            assert response["data"] is None, field
            assert top_error_code(response) == "FORBIDDEN", field
            assert api.event_count() == before, field
        else:
            assert "errors" not in response, (field, response)
            assert not response["data"][field]["__typename"].endswith("Error"), response
            assert api.event_count() > before, field


async def test_a_contact_is_forbidden_everywhere(api: Api) -> None:
    client_id = await register(api, "Acme")
    token = api.issuer.issue(sub="c-1", firm=FIRM, role="contact", contact="contact-1")
    before = api.event_count()
    cases: list[tuple[str, dict[str, Any]]] = [
        (VIEWER, {}),
        ("{ clients { totalCount } }", {}),
        ("{ activity { totalCount } }", {}),
        ("query($id: ID!) { client(id: $id) { name } }", {"id": client_id}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": client_id}),
        (COMMENT, {"input": {"clientId": client_id, "body": "hi"}}),
        (UPDATE, {"input": {"clientId": client_id, "name": "x"}}),
        (REGISTER, {"input": {"name": "x", "type": "OTHER"}}),
    ]
    for query, variables in cases:
        response = await post(api, query, bearer(token), **variables)
        assert response["data"] is None or set(response["data"].values()) == {None}, response
        assert top_error_code(response) == "FORBIDDEN", query
    assert api.event_count() == before


# Team-based visibility ------------------------------------------------------------------


async def agent_world(api: Api) -> dict[str, str]:
    """Acme (agent-1 on the team) and Beta (not), sharing the contact Ada."""
    await add_staff(api, "agent-1", name="Alice Agent")
    acme = await register(api, "Acme")
    beta = await register(api, "Beta")
    ada = await link_new(api, acme, "Ada", "Lovelace")
    await mutate(api, LINK, "linkContact", clientId=beta, contactId=ada)
    await assign(api, acme, "agent-1")
    mine = await comment(api, acme, "on acme")
    theirs = await comment(api, beta, "on beta")
    return {
        "acme": acme,
        "beta": beta,
        "ada": ada,
        "acme_comment": mine["comment"]["id"],
        "beta_comment": theirs["comment"]["id"],
    }


async def test_an_agent_sees_only_assigned_clients(api: Api) -> None:
    ids = await agent_world(api)
    page = ok(
        await api.gql("{ clients { totalCount edges { node { id } } } }", as_user=AGENT), "clients"
    )
    assert page == {"totalCount": 1, "edges": [{"node": {"id": ids["acme"]}}]}
    assert (await get_client(api, ids["beta"], as_user=AGENT)) is None
    acme = await get_client(api, ids["acme"], as_user=AGENT)
    assert acme is not None
    assert acme["name"] == "Acme"
    # The shared contact does not reveal Beta.
    assert acme["relatedClients"] == []
    contact = ok(
        await api.gql(
            "query($id: ID!) { node(id: $id) { ... on Contact { clients { name } } } }",
            {"id": ids["ada"]},
            as_user=AGENT,
        ),
        "node",
    )
    assert contact == {"clients": [{"name": "Acme"}]}
    # The owner sees both sides.
    owner_view = await get_client(api, ids["acme"])
    assert owner_view is not None
    assert owner_view["relatedClients"] == [{"id": ids["beta"], "name": "Beta"}]
    search = ok(await api.gql('{ clients(search: "a") { totalCount } }', as_user=AGENT), "clients")
    assert search["totalCount"] == 1


async def test_an_agent_cannot_reach_unassigned_clients_through_node(api: Api) -> None:
    ids = await agent_world(api)
    beta_entry = ok(
        await api.gql(
            "query($id: ID!) { activity(first: 1, filter: {clientIds: [$id]}) "
            "{ edges { node { id } } } }",
            {"id": ids["beta"]},
        ),
        "activity",
    )["edges"][0]["node"]["id"]
    for node_id, visible in [
        (ids["acme"], True),
        (ids["acme_comment"], True),
        (ids["beta"], False),
        (ids["beta_comment"], False),
        (beta_entry, False),
    ]:
        response = await api.gql(
            "query($id: ID!) { node(id: $id) { id } }", {"id": node_id}, as_user=AGENT
        )
        assert response["data"]["node"] == ({"id": node_id} if visible else None), node_id


async def test_an_agents_firm_activity_covers_only_assigned_clients(api: Api) -> None:
    ids = await agent_world(api)
    page = ok(
        await api.gql(
            "{ activity { totalCount edges { node { type client { id } } } } }", as_user=AGENT
        ),
        "activity",
    )
    assert page["totalCount"] == 4
    assert [(e["node"]["type"], e["node"]["client"]["id"]) for e in page["edges"]] == [
        ("CommentAdded", ids["acme"]),
        ("TeamMemberAssigned", ids["acme"]),
        ("ContactLinked", ids["acme"]),
        ("ClientRegistered", ids["acme"]),
    ]
    filtered = ok(
        await api.gql(
            "query($id: ID!) { activity(filter: {clientIds: [$id]}) { totalCount } }",
            {"id": ids["beta"]},
            as_user=AGENT,
        ),
        "activity",
    )
    assert filtered["totalCount"] == 0


async def test_an_agent_cannot_change_an_unassigned_client(api: Api) -> None:
    ids = await agent_world(api)
    before = api.event_count()
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (UPDATE, "updateClientDetails", {"name": "Mine now"}),
        (HOLD, "putClientOnHold", {}),
        (COMMENT, "addComment", {"body": "sneaky"}),
        (LINK, "linkContact", {"newContact": {"firstName": "E", "lastName": "F", "emails": []}}),
    ]
    for query, field, input_ in cases:
        result = await mutate(api, query, field, AGENT, clientId=ids["beta"], **input_)
        assert result["__typename"] == "NotFoundError", field
        assert result["id"] == ids["beta"]
    assert api.event_count() == before
    changed = await mutate(api, HOLD, "putClientOnHold", AGENT, clientId=ids["acme"])
    assert changed["client"]["onHold"] is True


async def test_an_agent_removed_from_the_team_loses_sight_of_the_client(api: Api) -> None:
    ids = await agent_world(api)
    await mutate(api, REMOVE, "removeTeamMember", clientId=ids["acme"], userId="agent-1")
    assert (await get_client(api, ids["acme"], as_user=AGENT)) is None
    page = ok(
        await api.gql("{ clients { totalCount } activity { totalCount } }", as_user=AGENT),
        "clients",
    )
    assert page == {"totalCount": 0}
    activity = ok(await api.gql("{ activity { totalCount } }", as_user=AGENT), "activity")
    assert activity == {"totalCount": 0}


# Firm isolation -------------------------------------------------------------------------


async def test_another_firm_cannot_see_a_client(api: Api) -> None:
    ids = await agent_world(api)
    firm_b = ("owner-1", "owner")
    assert await get_client(api, ids["acme"], as_user=firm_b, firm=FIRM_B) is None
    response = await api.gql(
        """query($c: ID!, $k: ID!, $m: ID!) { client(id: $c) { id }
             a: node(id: $c) { id } b: node(id: $k) { id } c: node(id: $m) { id }
             clients { totalCount } activity { totalCount } }""",
        {"c": ids["acme"], "k": ids["ada"], "m": ids["acme_comment"]},
        firm=FIRM_B,
    )
    assert response == {
        "data": {
            "client": None,
            "a": None,
            "b": None,
            "c": None,
            "clients": {"totalCount": 0},
            "activity": {"totalCount": 0},
        }
    }
    own = await register(api, "Bravo B", firm=FIRM_B)
    listing = ok(await api.gql("{ clients { edges { node { id } } } }", firm=FIRM_B), "clients")
    assert listing["edges"] == [{"node": {"id": own}}]


async def test_another_firm_cannot_change_a_client(api: Api) -> None:
    ids = await agent_world(api)
    await add_staff(api, "agent-1", firm=FIRM_B)
    own = await register(api, "Bravo B", firm=FIRM_B)
    await link_new_in_b(api, own)
    before = api.event_count()
    cases: list[tuple[str, str, dict[str, Any]]] = [
        (UPDATE, "updateClientDetails", {"name": "Hijacked"}),
        (LINK, "linkContact", {"newContact": {"firstName": "E", "lastName": "F", "emails": []}}),
        (UNLINK, "unlinkContact", {"contactId": ids["ada"]}),
        (ASSIGN, "assignTeamMember", {"userId": "agent-1"}),
        (REMOVE, "removeTeamMember", {"userId": "agent-1"}),
        (HOLD, "putClientOnHold", {}),
        (RELEASE, "releaseClientHold", {}),
        (COMMENT, "addComment", {"body": "hello from b"}),
    ]
    for query, field, input_ in cases:
        result = await mutate(api, query, field, firm=FIRM_B, clientId=ids["acme"], **input_)
        assert result["__typename"] == "NotFoundError", field
        assert result["id"] == ids["acme"], field
    # Nor link firm A's contact to its own client.
    stolen = await mutate(api, LINK, "linkContact", firm=FIRM_B, clientId=own, contactId=ids["ada"])
    assert stolen["__typename"] == "NotFoundError"
    assert stolen["id"] == ids["ada"]
    assert api.event_count() == before
    acme = await get_client(api, ids["acme"])
    assert acme is not None
    assert (acme["name"], acme["version"], acme["onHold"]) == ("Acme", 3, False)


async def link_new_in_b(api: Api, client_id: str) -> None:
    response = await api.gql(
        LINK,
        {
            "input": {
                "clientId": client_id,
                "newContact": {"firstName": "Bee", "lastName": "Bee", "emails": []},
            }
        },
        firm=FIRM_B,
    )
    assert response["data"]["linkContact"]["__typename"] == "LinkContactSuccess"


async def test_staff_of_another_firm_cannot_be_assigned(api: Api) -> None:
    await add_staff(api, "agent-b", firm=FIRM_B)
    client_id = await register(api, "Acme")
    before = api.event_count()
    result = await mutate(api, ASSIGN, "assignTeamMember", clientId=client_id, userId="agent-b")
    assert result["__typename"] == "NotFoundError"
    assert result["id"] == "agent-b"
    assert api.event_count() == before


async def test_client_query_shape_is_the_same_for_every_firm_wide_role(api: Api) -> None:
    ids = await agent_world(api)
    views = []
    await add_staff(api, "admin-1", "ADMIN")
    await add_staff(api, "manager-1", "MANAGER")
    for role in ("owner", "admin", "manager"):
        response = await api.gql(CLIENT_QUERY, {"id": ids["beta"]}, as_user=(f"{role}-1", role))
        views.append(response["data"]["client"])
    assert views[0] is not None
    assert views[0] == views[1] == views[2]


# Replays after losing sight of the client -------------------------------------------------


async def test_a_replay_does_not_show_a_client_the_agent_no_longer_sees(api: Api) -> None:
    ids = await agent_world(api)
    first = await mutate(
        api, HOLD, "putClientOnHold", AGENT, clientId=ids["acme"], reason="x", idempotencyKey="k"
    )
    assert first["__typename"] == "ClientPayload"
    await mutate(api, REMOVE, "removeTeamMember", clientId=ids["acme"], userId="agent-1")
    await mutate(api, UPDATE, "updateClientDetails", clientId=ids["acme"], name="Acme Secret")
    assert await get_client(api, ids["acme"], as_user=AGENT) is None

    replay = await mutate(
        api, HOLD, "putClientOnHold", AGENT, clientId=ids["acme"], reason="x", idempotencyKey="k"
    )
    assert replay.get("client", {}).get("name") != "Acme Secret"
    assert replay["__typename"] == "NotFoundError"
    assert replay["id"] == ids["acme"]


async def test_a_comment_replay_after_leaving_the_team_is_not_found(api: Api) -> None:
    ids = await agent_world(api)
    first = await mutate(
        api, COMMENT, "addComment", AGENT, clientId=ids["acme"], body="hi", idempotencyKey="k"
    )
    assert first["__typename"] == "AddCommentSuccess"
    await mutate(api, REMOVE, "removeTeamMember", clientId=ids["acme"], userId="agent-1")
    response = await api.gql(
        COMMENT,
        {"input": {"clientId": ids["acme"], "body": "hi", "idempotencyKey": "k"}},
        as_user=AGENT,
    )
    assert "errors" not in response, response["errors"]
    result = response["data"]["addComment"]
    assert (result["__typename"], result["id"]) == ("NotFoundError", ids["acme"])


async def test_only_an_owner_adds_another_owner(api: Api) -> None:
    await add_staff(api, "owner-1", "OWNER")
    await add_staff(api, "admin-1", "ADMIN")
    before = api.event_count()
    response = await api.gql(
        ADD_STAFF,
        {
            "input": {
                "userId": "admin-2nd-identity",
                "name": "Me Again",
                "email": "again@firm.example",
                "role": "OWNER",
            }
        },
        as_user=("admin-1", "admin"),
    )
    assert response["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert api.event_count() == before
    assert await add_staff(api, "owner-2", "OWNER")  # an owner may
