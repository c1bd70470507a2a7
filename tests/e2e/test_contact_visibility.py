"""A contact is readable by an agent only through a client the agent may see.

Linking an existing contact by its id is no way around that: a contact reachable through no
client the agent sees is a NotFoundError naming only the id given, and nothing is recorded.
The write side knows a contact's clients from an index aggregate (domain.contact_links) saved
with every link and unlink.
"""

from __future__ import annotations

import json
from typing import Any

from domain.actor import Actor, ActorKind, acting_as
from domain.client import Client
from domain.contact import Contact
from domain.contact_links import ContactLinks, contact_links_id
from resolvers.ids import to_global_id, uuid_of
from tests.e2e.conftest import FIRM, Api
from tests.e2e.test_api_support import (
    LINK,
    REMOVE,
    UNLINK,
    add_staff,
    assign,
    link_existing,
    link_new,
    mutate,
    register,
)

AGENT = ("agent-1", "agent")
SECRETS = ("Bob", "Secret", "bob.secret@beta.example", "+44 20 7946 0000")
NODE = "query($id: ID!) { node(id: $id) { id ... on Contact { firstName } } }"


async def world(api: Api) -> dict[str, str]:
    """Acme and Gamma (agent-1 on both teams), Beta (not); Bob only at Beta, Cara at Gamma."""
    await add_staff(api, "agent-1")
    ids = {name.lower(): await register(api, name) for name in ("Acme", "Beta", "Gamma")}
    await assign(api, ids["acme"], "agent-1")
    await assign(api, ids["gamma"], "agent-1")
    ids["ada"] = await link_new(api, ids["acme"], "Ada", "Lovelace")
    ids["bob"] = await link_new(api, ids["beta"], "Bob", "Secret", ["bob.secret@beta.example"])
    ids["cara"] = await link_new(api, ids["gamma"], "Cara", "Gamma")
    return ids


def assert_reveals_nothing(response: dict[str, Any]) -> None:
    text = json.dumps(response)
    for secret in SECRETS:
        assert secret not in text, response


async def link_as_agent(api: Api, client_id: str, contact_id: str) -> dict[str, Any]:
    return await mutate(api, LINK, "linkContact", AGENT, clientId=client_id, contactId=contact_id)


async def test_an_agent_cannot_link_a_contact_it_cannot_see(api: Api) -> None:
    ids = await world(api)
    before = api.event_count()
    result = await link_as_agent(api, ids["acme"], ids["bob"])
    assert result == {
        "__typename": "NotFoundError",
        "message": f"Contact {ids['bob']} was not found",
        "code": "NOT_FOUND",
        "id": ids["bob"],
    }
    assert api.event_count() == before
    # Exactly what a contact that does not exist gets.
    ghost = to_global_id("Contact", "00000000-0000-4000-8000-000000000000")
    assert (await link_as_agent(api, ids["acme"], ghost))["message"] == (
        f"Contact {ghost} was not found"
    )
    # Nor can it read the contact any other way.
    node = await api.gql(NODE, {"id": ids["bob"]}, as_user=AGENT)
    assert node == {"data": {"node": None}}
    assert_reveals_nothing(node)


async def test_the_refusal_says_nothing_whatever_else_is_wrong(api: Api) -> None:
    ids = await world(api)
    before = api.event_count()
    extras: list[dict[str, Any]] = [{"description": "x" * 600}, {"expectedVersion": 2}, {}]
    for extra in extras:
        response = await api.gql(
            LINK,
            {"input": {"clientId": ids["acme"], "contactId": ids["bob"], **extra}},
            as_user=AGENT,
        )
        assert_reveals_nothing(response)
    unlink = await api.gql(
        UNLINK, {"input": {"clientId": ids["acme"], "contactId": ids["bob"]}}, as_user=AGENT
    )
    assert unlink["data"]["unlinkContact"]["__typename"] == "NotFoundError"
    assert_reveals_nothing(unlink)
    assert api.event_count() == before


async def test_an_agent_links_a_contact_it_sees_through_another_client(api: Api) -> None:
    ids = await world(api)
    result = await link_as_agent(api, ids["acme"], ids["cara"])
    assert result["__typename"] == "LinkContactSuccess", result
    assert result["contact"]["firstName"] == "Cara"
    assert sorted(c["name"] for c in result["contact"]["clients"]) == ["Acme", "Gamma"]


async def test_what_the_agent_sees_follows_links_and_teams(api: Api) -> None:
    ids = await world(api)
    # Once the owner links Bob to Acme, the agent sees Bob through Acme and may link him on.
    await link_existing(api, ids["acme"], ids["bob"])
    result = await link_as_agent(api, ids["gamma"], ids["bob"])
    assert result["__typename"] == "LinkContactSuccess", result
    # Unlinked from both again (the owner), Bob is out of the agent's sight once more.
    for client in ("acme", "gamma"):
        unlinked = await mutate(
            api, UNLINK, "unlinkContact", clientId=ids[client], contactId=ids["bob"]
        )
        assert unlinked["__typename"] == "ClientPayload", unlinked
    assert (await link_as_agent(api, ids["acme"], ids["bob"]))["__typename"] == "NotFoundError"
    # Taken off Gamma's team, the agent no longer sees Cara either.
    await mutate(api, REMOVE, "removeTeamMember", clientId=ids["gamma"], userId="agent-1")
    assert (await link_as_agent(api, ids["acme"], ids["cara"]))["__typename"] == "NotFoundError"


async def test_firm_wide_roles_link_any_contact_of_the_firm_but_not_of_another(api: Api) -> None:
    ids = await world(api)
    await add_staff(api, "mgr-1", "MANAGER")
    result = await mutate(
        api, LINK, "linkContact", ("mgr-1", "manager"), clientId=ids["acme"], contactId=ids["bob"]
    )
    assert result["__typename"] == "LinkContactSuccess", result
    other = await register(api, "Elsewhere", firm="firm-b")
    before = api.event_count()
    foreign = await api.gql(
        LINK, {"input": {"clientId": other, "contactId": ids["cara"]}}, firm="firm-b"
    )
    assert foreign["data"]["linkContact"]["__typename"] == "NotFoundError"
    assert_reveals_nothing(foreign)
    assert api.event_count() == before


async def test_a_contact_linked_before_the_index_existed(api: Api) -> None:
    """Such a contact has no index: agents cannot link it until a firm-wide role does."""
    ids = await world(api)
    store = api.container.store
    owner = Actor(id="owner-1", kind=ActorKind.STAFF, name="owner-1")
    with acting_as(owner, FIRM, "owner"):
        old = Contact.create(first_name="Olga", last_name="Old", emails=[])
        acme: Any = store.repository.get(uuid_of(ids["acme"], "Client"))
        assert isinstance(acme, Client)
        acme.link_contact(old.id, None)
        position = store.save(old, acme)[-1].notification.id
    api.container.wait_for(position)
    old_id = to_global_id("Contact", str(old.id))
    # agent-1 sees Olga through Acme, but the write side cannot tell: refused, safely.
    assert (await link_as_agent(api, ids["gamma"], old_id))["__typename"] == "NotFoundError"
    # The owner may; the index then knows that link (and only that one).
    await link_existing(api, ids["beta"], old_id)
    index: Any = store.repository.get(contact_links_id(FIRM, old.id))
    assert isinstance(index, ContactLinks)
    assert index.client_ids == [str(uuid_of(ids["beta"], "Client"))]
