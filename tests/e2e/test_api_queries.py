"""Relay connections, the clients filters, firm-wide activity and node(id:)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Api
from tests.e2e.test_api_support import (
    HOLD,
    UNLINK,
    UPDATE,
    add_staff,
    assign,
    comment,
    global_id,
    link_existing,
    link_new,
    mutate,
    names,
    ok,
    register,
    staff_actor,
    top_error_code,
)

CLIENTS = """
query($first: Int, $after: String, $search: String, $tags: [String!], $onHold: Boolean,
      $assignedTo: ID) {
  clients(first: $first, after: $after, search: $search, tags: $tags, onHold: $onHold,
          assignedTo: $assignedTo) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
  }
}
"""

ACTIVITY = """
query($first: Int, $after: String, $filter: ActivityFilter) {
  activity(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id position type summary actor { id } client { id name } } }
  }
}
"""


async def clients(api: Api, **variables: Any) -> dict[str, Any]:
    return ok(await api.gql(CLIENTS, variables), "clients")


async def activity(api: Api, **variables: Any) -> dict[str, Any]:
    return ok(await api.gql(ACTIVITY, variables), "activity")


def types(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["type"] for edge in connection["edges"]]


# Paging through clients -----------------------------------------------------------------


async def test_clients_page_through_by_name_with_cursors(api: Api) -> None:
    for name in ("Echo", "alpha", "Charlie", "bravo", "Delta"):
        await register(api, name)

    pages: list[list[str]] = []
    infos: list[dict[str, Any]] = []
    after = None
    while True:
        page = await clients(api, first=2, after=after)
        assert page["totalCount"] == 5
        pages.append(names(page))
        infos.append(page["pageInfo"])
        cursors = [edge["cursor"] for edge in page["edges"]]
        assert page["pageInfo"]["startCursor"] == cursors[0]
        assert page["pageInfo"]["endCursor"] == cursors[-1]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == [["alpha", "bravo"], ["Charlie", "Delta"], ["Echo"]]
    assert [(i["hasNextPage"], i["hasPreviousPage"]) for i in infos] == [
        (True, False),
        (True, True),
        (False, True),
    ]

    everything = await clients(api, first=5)
    assert names(everything) == ["alpha", "bravo", "Charlie", "Delta", "Echo"]
    assert everything["pageInfo"]["hasNextPage"] is False
    default = await clients(api)
    assert names(default) == names(everything)


async def test_clients_with_equal_names_are_neither_skipped_nor_repeated(api: Api) -> None:
    ids = {await register(api, "Same") for _ in range(4)}
    seen: list[str] = []
    after = None
    for _ in range(4):
        page = await clients(api, first=1, after=after)
        seen.extend(edge["node"]["id"] for edge in page["edges"])
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 4
    assert set(seen) == ids
    last = await clients(api, first=1, after=after)
    assert last["edges"] == []
    assert last["pageInfo"]["hasNextPage"] is False
    assert last["totalCount"] == 4


async def test_clients_first_100_is_allowed(api: Api) -> None:
    await register(api, "Acme")
    page = await clients(api, first=100)
    assert names(page) == ["Acme"]


@pytest.mark.parametrize("first", [101, 1000, -1])
async def test_clients_first_out_of_range_is_a_top_level_error(api: Api, first: int) -> None:
    await register(api, "Acme")
    response = await api.gql(CLIENTS, {"first": first})
    assert response["data"] is None
    assert top_error_code(response) == "BAD_USER_INPUT"
    error = response["errors"][0]
    assert error["extensions"]["argument"] == "first"
    assert error["message"] == f"first must be between 0 and 100, got {first}"
    assert error["path"] == ["clients"]


async def test_other_connections_cap_first_at_100(api: Api) -> None:
    client_id = await register(api, "Acme")
    response = await api.gql(ACTIVITY, {"first": 101})
    assert response["data"] is None
    assert top_error_code(response) == "BAD_USER_INPUT"
    for field in ("contacts", "comments", "activity"):
        nested = await api.gql(
            f"query($id: ID!) {{ client(id: $id) {{ {field}(first: 101) {{ totalCount }} }} }}",
            {"id": client_id},
        )
        assert nested["data"] == {"client": None}, field
        assert top_error_code(nested) == "BAD_USER_INPUT", field


async def test_a_garbage_cursor_is_a_top_level_error(api: Api) -> None:
    await register(api, "Acme")
    response = await api.gql(CLIENTS, {"after": "not a cursor"})
    assert response["data"] is None
    assert top_error_code(response) == "BAD_USER_INPUT"
    assert response["errors"][0]["extensions"]["argument"] == "after"


# Filters --------------------------------------------------------------------------------


async def test_clients_search_matches_name_and_any_part_of_a_contact_email(api: Api) -> None:
    acme = await register(api, "Acme Trading")
    beta = await register(api, "Beta Holdings")
    await register(api, "Gamma")
    ada = await link_new(api, acme, "Ada", "Lovelace", emails=["ada@lovelace.example"])
    await link_new(api, acme, "Bob", "Babbage", emails=["bob@engines.example"])
    await link_new(api, beta, "Cy", "Lone", emails=["c.lone@corp.example", "cy@home.example"])

    async def search(text: str) -> list[str]:
        page = await clients(api, search=text)
        assert page["totalCount"] == len(page["edges"])
        return names(page)

    assert await search("acme") == ["Acme Trading"]
    assert await search("  TRAD ") == ["Acme Trading"]
    assert await search("ing") == ["Acme Trading", "Beta Holdings"]
    assert await search("lovelace.ex") == ["Acme Trading"]
    assert await search("HOME.example") == ["Beta Holdings"]
    assert await search(".example") == ["Acme Trading", "Beta Holdings"]
    assert await search("a") == ["Acme Trading", "Beta Holdings", "Gamma"]
    assert await search("zzz") == []
    # Wildcards are literal characters, not patterns.
    assert await search("%") == []
    assert await search("_") == []
    assert await search("") == ["Acme Trading", "Beta Holdings", "Gamma"]
    # Names are kept in NFC: a decomposed "é" in the search finds a composed one, and back.
    await register(api, "Caf\u00e9 Ltd")
    assert await search("CAFE\u0301") == ["Caf\u00e9 Ltd"]
    assert await search("caf\u00e9") == ["Caf\u00e9 Ltd"]

    # Unlinking the contact drops its emails from the search; Bob keeps Acme linked.
    await mutate(api, UNLINK, "unlinkContact", clientId=acme, contactId=ada)
    assert await search("lovelace") == []
    assert await search("engines") == ["Acme Trading"]
    # Linking an existing contact makes its emails find the new client too.
    await link_existing(api, beta, ada)
    assert await search("lovelace") == ["Beta Holdings"]


async def test_clients_filter_by_tags_on_hold_and_assignee(api: Api) -> None:
    await add_staff(api, "agent-1")
    await add_staff(api, "agent-2")
    acme = await register(api, "Acme", tags=["VIP", "retail"])
    beta = await register(api, "Beta", tags=["vip"])
    gamma = await register(api, "Gamma", tags=["retail"])
    await register(api, "Delta")
    await mutate(api, HOLD, "putClientOnHold", clientId=beta)
    await mutate(api, HOLD, "putClientOnHold", clientId=gamma)
    await assign(api, acme, "agent-1")
    await assign(api, gamma, "agent-1")
    await assign(api, gamma, "agent-2")

    async def filtered(**variables: Any) -> list[str]:
        page = await clients(api, **variables)
        assert page["totalCount"] == len(page["edges"])
        return names(page)

    assert await filtered(tags=["vip"]) == ["Acme", "Beta"]
    assert await filtered(tags=[" Retail "]) == ["Acme", "Gamma"]
    assert await filtered(tags=["vip", "retail"]) == ["Acme"]
    assert await filtered(tags=["unknown"]) == []
    assert await filtered(tags=[]) == ["Acme", "Beta", "Delta", "Gamma"]
    assert await filtered(onHold=True) == ["Beta", "Gamma"]
    assert await filtered(onHold=False) == ["Acme", "Delta"]
    assert await filtered(assignedTo="agent-1") == ["Acme", "Gamma"]
    assert await filtered(assignedTo="agent-2") == ["Gamma"]
    assert await filtered(assignedTo="nobody") == []
    assert await filtered(assignedTo="agent-1", onHold=True, tags=["retail"]) == ["Gamma"]
    assert await filtered(search="a", onHold=False) == ["Acme", "Delta"]

    page = await clients(api, first=1, tags=["vip"])
    assert (names(page), page["totalCount"], page["pageInfo"]["hasNextPage"]) == (
        ["Acme"],
        2,
        True,
    )
    rest = await clients(api, first=1, tags=["vip"], after=page["pageInfo"]["endCursor"])
    assert (names(rest), rest["totalCount"], rest["pageInfo"]["hasNextPage"]) == (
        ["Beta"],
        2,
        False,
    )


# Firm-wide activity ---------------------------------------------------------------------


async def seed_activity(api: Api) -> dict[str, str]:
    """Two clients with some history by two actors; returns their ids."""
    acme = await register(api, "Acme")
    beta = await register(api, "Beta", as_user=("manager-1", "manager"))
    await link_new(api, acme, "Ada", "Lovelace")
    await mutate(api, HOLD, "putClientOnHold", ("manager-1", "manager"), clientId=acme)
    await comment(api, beta, "hello", as_user=("manager-1", "manager"))
    return {"acme": acme, "beta": beta}


async def test_firm_activity_newest_first_with_strictly_decreasing_positions(api: Api) -> None:
    ids = await seed_activity(api)
    page = await activity(api)
    assert page["totalCount"] == 6
    assert types(page) == [
        "CommentAdded",
        "ClientPutOnHold",
        "ContactLinked",
        "ContactCreated",
        "ClientRegistered",
        "ClientRegistered",
    ]
    positions = [int(edge["node"]["position"]) for edge in page["edges"]]
    assert positions == sorted(positions, reverse=True)
    assert len(set(positions)) == 6
    assert [edge["node"]["summary"] for edge in page["edges"]] == [
        "manager-1 commented on Beta.",
        "manager-1 put Acme on hold.",
        "owner-1 linked Ada Lovelace to Acme.",
        "owner-1 created the contact Ada Lovelace.",
        "manager-1 registered the company client Beta.",
        "owner-1 registered the company client Acme.",
    ]
    assert [(edge["node"]["client"] or {}).get("id") for edge in page["edges"]] == [
        ids["beta"],
        ids["acme"],
        ids["acme"],
        None,
        ids["beta"],
        ids["acme"],
    ]
    assert page["pageInfo"]["hasNextPage"] is False


async def test_firm_activity_pages(api: Api) -> None:
    await seed_activity(api)
    everything = types(await activity(api))
    seen: list[str] = []
    after = None
    flags = []
    while True:
        page = await activity(api, first=4, after=after)
        assert page["totalCount"] == 6
        seen.extend(types(page))
        flags.append((page["pageInfo"]["hasNextPage"], page["pageInfo"]["hasPreviousPage"]))
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == everything
    assert flags == [(True, False), (False, True)]


async def test_firm_activity_filters(api: Api) -> None:
    ids = await seed_activity(api)

    by_type = await activity(api, filter={"types": ["ClientRegistered", "CommentAdded"]})
    assert by_type["totalCount"] == 3
    assert types(by_type) == ["CommentAdded", "ClientRegistered", "ClientRegistered"]

    by_client = await activity(api, filter={"clientIds": [ids["beta"]]})
    assert by_client["totalCount"] == 2
    assert types(by_client) == ["CommentAdded", "ClientRegistered"]
    assert {edge["node"]["client"]["name"] for edge in by_client["edges"]} == {"Beta"}

    by_actor = await activity(api, filter={"actorIds": ["manager-1"]})
    assert by_actor["totalCount"] == 3
    assert types(by_actor) == ["CommentAdded", "ClientPutOnHold", "ClientRegistered"]
    assert {edge["node"]["actor"]["id"] for edge in by_actor["edges"]} == {"manager-1"}

    combined = await activity(
        api,
        first=1,
        filter={"actorIds": ["owner-1"], "clientIds": [ids["acme"], ids["beta"]]},
    )
    assert combined["totalCount"] == 2
    assert types(combined) == ["ContactLinked"]
    assert combined["pageInfo"]["hasNextPage"] is True
    rest = await activity(
        api,
        first=1,
        after=combined["pageInfo"]["endCursor"],
        filter={"actorIds": ["owner-1"], "clientIds": [ids["acme"], ids["beta"]]},
    )
    assert types(rest) == ["ClientRegistered"]
    assert rest["pageInfo"]["hasNextPage"] is False

    none = await activity(api, filter={"types": ["NoSuchEvent"]})
    assert (none["totalCount"], none["edges"]) == (0, [])
    unknown_client = await activity(api, filter={"clientIds": ["garbage"]})
    assert (unknown_client["totalCount"], unknown_client["edges"]) == (0, [])


async def test_client_activity_filters_and_pages(api: Api) -> None:
    ids = await seed_activity(api)
    response = await api.gql(
        """query($id: ID!, $after: String) { client(id: $id) {
             all: activity { totalCount edges { node { type } } }
             page: activity(first: 2, after: $after) {
               totalCount pageInfo { hasNextPage endCursor } edges { node { type } } }
             holds: activity(filter: {types: ["ClientPutOnHold"]}) {
               totalCount edges { node { type } } } } }""",
        {"id": ids["acme"], "after": None},
    )
    client = ok(response, "client")
    assert types(client["all"]) == ["ClientPutOnHold", "ContactLinked", "ClientRegistered"]
    assert client["all"]["totalCount"] == 3
    assert types(client["page"]) == ["ClientPutOnHold", "ContactLinked"]
    assert client["page"]["pageInfo"]["hasNextPage"] is True
    assert (types(client["holds"]), client["holds"]["totalCount"]) == (["ClientPutOnHold"], 1)

    response = await api.gql(
        """query($id: ID!, $after: String) { client(id: $id) {
             activity(first: 2, after: $after) {
               totalCount pageInfo { hasNextPage } edges { node { type } } } } }""",
        {"id": ids["acme"], "after": client["page"]["pageInfo"]["endCursor"]},
    )
    rest = ok(response, "client")["activity"]
    assert types(rest) == ["ClientRegistered"]
    assert (rest["totalCount"], rest["pageInfo"]["hasNextPage"]) == (3, False)


# node(id:) ------------------------------------------------------------------------------

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Client { name version }
    ... on Contact { firstName lastName clients { name } }
    ... on StaffMember { userId name role }
    ... on Comment { body author { id } }
    ... on ActivityEntry { type summary client { name } }
  }
}
"""


async def node(api: Api, node_id: str) -> dict[str, Any] | None:
    response = await api.gql(NODE, {"id": node_id})
    assert "errors" not in response, response
    return response["data"]["node"]  # type: ignore[no-any-return]


async def test_node_resolves_every_entity(api: Api) -> None:
    staff_id = await add_staff(api, "agent-1", "MANAGER", name="Mia Manager")
    client_id = await register(api, "Acme")
    contact_id = await link_new(api, client_id, "Ada", "Lovelace")
    made = await comment(api, client_id, "hello")
    entry = (await activity(api, first=1, filter={"types": ["ContactLinked"]}))["edges"][0]

    assert await node(api, client_id) == {
        "__typename": "Client",
        "id": client_id,
        "name": "Acme",
        "version": 2,
    }
    assert await node(api, contact_id) == {
        "__typename": "Contact",
        "id": contact_id,
        "firstName": "Ada",
        "lastName": "Lovelace",
        "clients": [{"name": "Acme"}],
    }
    assert await node(api, staff_id) == {
        "__typename": "StaffMember",
        "id": staff_id,
        "userId": "agent-1",
        "name": "Mia Manager",
        "role": "MANAGER",
    }
    assert await node(api, made["comment"]["id"]) == {
        "__typename": "Comment",
        "id": made["comment"]["id"],
        "body": "hello",
        "author": {"id": "owner-1"},
    }
    assert await node(api, entry["node"]["id"]) == {
        "__typename": "ActivityEntry",
        "id": entry["node"]["id"],
        "type": "ContactLinked",
        "summary": "owner-1 linked Ada Lovelace to Acme.",
        "client": {"name": "Acme"},
    }
    assert entry["node"]["actor"] == {"id": staff_actor()["id"]}


@pytest.mark.parametrize(
    "node_id",
    [
        global_id("Client", "00000000-0000-4000-8000-000000000000"),
        global_id("Contact", "00000000-0000-4000-8000-000000000000"),
        global_id("StaffMember", "00000000-0000-4000-8000-000000000000"),
        global_id("Comment", "00000000-0000-4000-8000-000000000000"),
        global_id("ActivityEntry", 999_999),
        global_id("ActivityEntry", "x"),
        global_id("Invoice", "1"),
        "garbage",
        "",
    ],
)
async def test_node_with_an_unknown_id_is_null(api: Api, node_id: str) -> None:
    await register(api, "Acme")
    assert await node(api, node_id) is None


async def test_client_with_another_types_id_is_null(api: Api) -> None:
    client_id = await register(api, "Acme")
    contact_id = await link_new(api, client_id, "Ada", "Lovelace")
    response = await api.gql("query($id: ID!) { client(id: $id) { id } }", {"id": contact_id})
    assert response == {"data": {"client": None}}


async def test_firm_activity_since_and_until(api: Api) -> None:
    await seed_activity(api)
    everything = await activity(api)
    stamps = ok(await api.gql("{ activity { edges { node { type occurredAt } } } }"), "activity")[
        "edges"
    ]
    middle = stamps[2]["node"]["occurredAt"]  # ContactLinked
    since = ok(
        await api.gql(
            "query($t: DateTime!) { activity(filter: {since: $t}) "
            "{ totalCount edges { node { type } } } }",
            {"t": middle},
        ),
        "activity",
    )
    until = ok(
        await api.gql(
            "query($t: DateTime!) { activity(filter: {until: $t}) "
            "{ totalCount edges { node { type } } } }",
            {"t": middle},
        ),
        "activity",
    )
    all_types = types(everything)
    assert types(since) == all_types[:3]
    assert since["totalCount"] == 3
    assert types(until) == all_types[2:]
    assert until["totalCount"] == 4


async def test_client_contacts_and_comments_page(api: Api) -> None:
    client_id = await register(api, "Acme")
    for n in range(3):
        await link_new(api, client_id, f"C{n}", "X")
    for n in range(3):
        await comment(api, client_id, f"note {n}")
    query = """query($id: ID!, $c: String, $m: String) { client(id: $id) {
      contacts(first: 2, after: $c) { totalCount
        pageInfo { hasNextPage hasPreviousPage endCursor }
        edges { node { contact { firstName } } } }
      comments(first: 2, after: $m) { totalCount
        pageInfo { hasNextPage hasPreviousPage endCursor }
        edges { node { body } } } } }"""
    first = ok(await api.gql(query, {"id": client_id}), "client")
    assert [e["node"]["contact"]["firstName"] for e in first["contacts"]["edges"]] == ["C0", "C1"]
    assert [e["node"]["body"] for e in first["comments"]["edges"]] == ["note 2", "note 1"]
    for connection in (first["contacts"], first["comments"]):
        assert connection["totalCount"] == 3
        assert connection["pageInfo"]["hasNextPage"] is True
        assert connection["pageInfo"]["hasPreviousPage"] is False
    rest = ok(
        await api.gql(
            query,
            {
                "id": client_id,
                "c": first["contacts"]["pageInfo"]["endCursor"],
                "m": first["comments"]["pageInfo"]["endCursor"],
            },
        ),
        "client",
    )
    assert [e["node"]["contact"]["firstName"] for e in rest["contacts"]["edges"]] == ["C2"]
    assert [e["node"]["body"] for e in rest["comments"]["edges"]] == ["note 0"]
    for connection in (rest["contacts"], rest["comments"]):
        assert connection["totalCount"] == 3
        assert connection["pageInfo"]["hasNextPage"] is False
        assert connection["pageInfo"]["hasPreviousPage"] is True


async def test_filters_follow_renames_and_new_tags(api: Api) -> None:
    client_id = await register(api, "Acme", tags=["old"])
    await mutate(
        api,
        UPDATE,
        "updateClientDetails",
        clientId=client_id,
        name="Zebra Co",
        tags=["New"],
    )
    assert names(await clients(api, search="acme")) == []
    assert names(await clients(api, search="zebra")) == ["Zebra Co"]
    assert names(await clients(api, tags=["old"])) == []
    assert names(await clients(api, tags=["new"])) == ["Zebra Co"]


async def test_activity_entry_data_is_the_events_own_data(api: Api) -> None:
    await register(
        api,
        "Acme",
        tags=["vip"],
        address={"city": "Paris"},
        customFields=[{"key": "vat", "value": "FR1"}],
    )
    entry = ok(
        await api.gql(
            "{ activity(first: 1) { edges { node { type data actor { id kind name } } } } }"
        ),
        "activity",
    )["edges"][0]["node"]
    assert entry == {
        "type": "ClientRegistered",
        "data": {
            "name": "Acme",
            "client_type": "COMPANY",
            "tags": ["vip"],
            "address": {"city": "Paris"},
            "custom_fields": [{"key": "vat", "value": "FR1"}],
        },
        "actor": {"id": "owner-1", "kind": "STAFF", "name": "owner-1"},
    }
