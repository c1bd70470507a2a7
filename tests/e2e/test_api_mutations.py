"""Every mutation's success path, and read-your-writes: the payload and the very next query
show the change."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Api
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
    client_activity,
    comment,
    get_client,
    link_existing,
    link_new,
    mutate,
    ok,
    register,
    staff_actor,
)

OWNER_ACTOR = staff_actor("owner-1")


async def read_back(api: Api, payload_client: dict[str, Any]) -> dict[str, Any]:
    """The very next query returns exactly what the mutation's payload showed."""
    fetched = await get_client(api, payload_client["id"])
    assert fetched == payload_client
    return fetched


def contact_rows(client: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(first name, last name, link description) of the client's contacts, in link order."""
    return [
        (
            edge["node"]["contact"]["firstName"],
            edge["node"]["contact"]["lastName"],
            edge["node"]["description"],
        )
        for edge in client["contacts"]["edges"]
    ]


async def test_add_staff_member_shows_in_payload_node_and_activity(api: Api) -> None:
    before = api.event_count()
    result = await mutate(
        api,
        ADD_STAFF,
        "addStaffMember",
        userId="  agent-7 ",
        name="  Bo Agent ",
        email=" bo@firm.example ",
        role="AGENT",
    )
    assert result["__typename"] == "AddStaffMemberSuccess"
    member = result["member"]
    assert {k: v for k, v in member.items() if k != "id"} == {
        "userId": "agent-7",
        "name": "Bo Agent",
        "email": "bo@firm.example",
        "role": "AGENT",
    }
    assert api.event_count() == before + 1

    node = ok(
        await api.gql(
            "query($id: ID!) { node(id: $id) { __typename ... on StaffMember "
            "{ id userId name email role } } }",
            {"id": member["id"]},
        ),
        "node",
    )
    assert node == {"__typename": "StaffMember", **member}

    latest = ok(
        await api.gql("{ activity(first: 1) { edges { node { type summary actor { id } } } } }"),
        "activity",
    )
    assert latest["edges"] == [
        {
            "node": {
                "type": "StaffMemberAdded",
                "summary": "owner-1 added Bo Agent to the staff as agent.",
                "actor": {"id": "owner-1"},
            }
        }
    ]


async def test_register_client_trims_cleans_and_reads_back(api: Api) -> None:
    before = api.event_count()
    result = await mutate(
        api,
        REGISTER,
        "registerClient",
        name="  Acme Ltd  ",
        type="COMPANY",
        tags=[" vip ", "VIP", "retail"],
        address={"line1": " 1 High St ", "city": "London", "country": "GB", "region": "  "},
        customFields=[{"key": " vat ", "value": " GB123 "}, {"key": "empty", "value": None}],
    )
    assert result["__typename"] == "ClientPayload"
    client = result["client"]
    assert client["version"] == 1
    assert client["name"] == "Acme Ltd"
    assert client["type"] == "COMPANY"
    assert client["tags"] == ["vip", "retail"]
    assert client["address"] == {
        "line1": "1 High St",
        "line2": None,
        "city": "London",
        "region": None,
        "postalCode": None,
        "country": "GB",
    }
    assert client["customFields"] == [{"key": "vat", "value": "GB123"}]
    assert client["detailsComplete"] is True
    assert client["onHold"] is False
    assert client["holds"] == []
    assert client["team"] == []
    assert client["teamHistory"] == []
    assert client["contacts"] == {"totalCount": 0, "edges": []}
    assert client["relatedClients"] == []
    assert client["createdAt"] == client["updatedAt"]
    assert api.event_count() == before + 1

    await read_back(api, client)
    activity = await client_activity(api, client["id"])
    assert [(a["type"], a["summary"]) for a in activity] == [
        ("ClientRegistered", "owner-1 registered the company client Acme Ltd.")
    ]
    assert activity[0]["occurredAt"] == client["createdAt"]


async def test_register_client_without_address_is_incomplete(api: Api) -> None:
    result = await mutate(api, REGISTER, "registerClient", name="Solo", type="INDIVIDUAL")
    client = result["client"]
    assert (client["type"], client["address"], client["detailsComplete"]) == (
        "INDIVIDUAL",
        None,
        False,
    )
    assert (client["tags"], client["customFields"]) == ([], [])


async def test_update_client_details_merges_custom_fields_and_bumps_version(api: Api) -> None:
    client_id = await register(
        api,
        "Acme",
        customFields=[
            {"key": "vat", "value": "GB1"},
            {"key": "fiscalYearEnd", "value": "03-31"},
            {"key": "sector", "value": "retail"},
        ],
    )
    before = api.event_count()
    result = await mutate(
        api,
        UPDATE,
        "updateClientDetails",
        clientId=client_id,
        expectedVersion=1,
        name=" Acme Group ",
        tags=["b2b"],
        customFields=[
            {"key": "fiscalYearEnd", "value": None},
            {"key": "vat", "value": "GB2"},
            {"key": "owner", "value": "Jane"},
        ],
    )
    assert result["__typename"] == "ClientPayload"
    client = result["client"]
    assert client["version"] == 2
    assert client["name"] == "Acme Group"
    assert client["tags"] == ["b2b"]
    assert client["customFields"] == [
        {"key": "vat", "value": "GB2"},
        {"key": "sector", "value": "retail"},
        {"key": "owner", "value": "Jane"},
    ]
    assert client["updatedAt"] > client["createdAt"]
    assert api.event_count() == before + 1
    await read_back(api, client)

    activity = await client_activity(api, client_id)
    assert [(a["type"], a["summary"]) for a in activity] == [
        ("ClientDetailsUpdated", "owner-1 updated the name, tags and custom fields of Acme Group."),
        ("ClientRegistered", "owner-1 registered the company client Acme."),
    ]
    assert activity[0]["occurredAt"] == client["updatedAt"]

    # Removing a key that is not there and re-stating a value changes nothing.
    again = await mutate(
        api,
        UPDATE,
        "updateClientDetails",
        clientId=client_id,
        customFields=[{"key": "fiscalYearEnd", "value": None}, {"key": "vat", "value": "GB2"}],
    )
    assert again["client"] == client
    assert api.event_count() == before + 1


async def test_update_client_details_address_and_type(api: Api) -> None:
    client_id = await register(api, "Acme")
    result = await mutate(
        api,
        UPDATE,
        "updateClientDetails",
        clientId=client_id,
        type="OTHER",
        address={"line1": "2 Low Rd", "city": "Leeds", "country": "GB"},
    )
    client = result["client"]
    assert (client["version"], client["type"], client["detailsComplete"]) == (2, "OTHER", True)
    assert client["address"]["city"] == "Leeds"
    await read_back(api, client)
    activity = await client_activity(api, client_id)
    assert activity[0]["summary"] == "owner-1 updated the type and address of Acme."


async def test_link_new_contact_creates_and_links_it(api: Api) -> None:
    client_id = await register(api, "Acme")
    before = api.event_count()
    result = await mutate(
        api,
        LINK,
        "linkContact",
        clientId=client_id,
        expectedVersion=1,
        description="  Director ",
        newContact={
            "firstName": " Ada ",
            "lastName": "Lovelace",
            "emails": [" ada@acme.example ", "ada.l@home.example"],
            "phone": "+44 20 7946 0000",
        },
    )
    assert result["__typename"] == "LinkContactSuccess"
    contact = result["contact"]
    assert contact["firstName"] == "Ada"
    assert contact["lastName"] == "Lovelace"
    assert contact["phone"] == "+44 20 7946 0000"
    assert contact["emails"] == [
        {
            "address": "ada@acme.example",
            "primary": True,
            "portalAccess": False,
            "notifications": True,
            "signingAuthority": False,
        },
        {
            "address": "ada.l@home.example",
            "primary": False,
            "portalAccess": False,
            "notifications": False,
            "signingAuthority": False,
        },
    ]
    assert contact["clients"] == [{"id": client_id, "name": "Acme"}]
    client = result["client"]
    assert client["version"] == 2
    assert client["contacts"]["totalCount"] == 1
    link = client["contacts"]["edges"][0]["node"]
    assert link["description"] == "Director"
    assert link["contact"] == {
        "id": contact["id"],
        "firstName": "Ada",
        "lastName": "Lovelace",
        "phone": "+44 20 7946 0000",
    }
    # ContactCreated and ContactLinked, saved together with the contact's links index.
    assert api.event_count() == before + 3
    await read_back(api, client)

    activity = await client_activity(api, client_id)
    assert [(a["type"], a["summary"]) for a in activity] == [
        ("ContactLinked", "owner-1 linked Ada Lovelace to Acme as Director."),
        ("ClientRegistered", "owner-1 registered the company client Acme."),
    ]
    assert activity[0]["occurredAt"] == link["linkedAt"]

    firm = ok(
        await api.gql("{ activity(first: 2) { edges { node { type summary client { id } } } } }"),
        "activity",
    )
    assert [e["node"] for e in firm["edges"]] == [
        {
            "type": "ContactLinked",
            "summary": "owner-1 linked Ada Lovelace to Acme as Director.",
            "client": {"id": client_id},
        },
        {
            "type": "ContactCreated",
            "summary": "owner-1 created the contact Ada Lovelace.",
            "client": None,
        },
    ]


async def test_link_existing_contact_with_its_own_description_and_related_clients(
    api: Api,
) -> None:
    acme = await register(api, "Acme")
    beta = await register(api, "Beta")
    ada = await link_new(api, acme, "Ada", "Lovelace", description="Director")
    before = api.event_count()

    result = await link_existing(api, beta, ada, description="Shareholder")
    assert result["contact"]["id"] == ada
    assert result["contact"]["clients"] == [
        {"id": acme, "name": "Acme"},
        {"id": beta, "name": "Beta"},
    ]
    beta_client = result["client"]
    assert beta_client["version"] == 2
    assert contact_rows(beta_client) == [("Ada", "Lovelace", "Shareholder")]
    assert beta_client["relatedClients"] == [{"id": acme, "name": "Acme"}]
    # Only ContactLinked (and its entry in the contact's links index): the contact exists.
    assert api.event_count() == before + 2
    await read_back(api, beta_client)

    acme_client = await get_client(api, acme)
    assert acme_client is not None
    assert contact_rows(acme_client) == [("Ada", "Lovelace", "Director")]
    assert acme_client["relatedClients"] == [{"id": beta, "name": "Beta"}]
    assert acme_client["version"] == 2

    activity = await client_activity(api, beta)
    assert activity[0]["summary"] == "owner-1 linked Ada Lovelace to Beta as Shareholder."


async def test_related_clients_are_distinct_and_never_the_client_itself(api: Api) -> None:
    acme = await register(api, "Acme")
    beta = await register(api, "Beta")
    gamma = await register(api, "Gamma")
    ada = await link_new(api, acme, "Ada", "Lovelace")
    bob = await link_new(api, acme, "Bob", "Babbage")
    await link_new(api, gamma, "Cy", "Lone")
    # Beta shares two contacts with Acme: Acme still appears once.
    await link_existing(api, beta, ada)
    await link_existing(api, beta, bob)
    await link_existing(api, gamma, bob)

    response = await api.gql(
        "query($a: ID!, $b: ID!, $g: ID!) { a: client(id: $a) { relatedClients { name } } "
        "b: client(id: $b) { relatedClients { name } } "
        "g: client(id: $g) { relatedClients { name } } }",
        {"a": acme, "b": beta, "g": gamma},
    )
    assert response == {
        "data": {
            "a": {"relatedClients": [{"name": "Beta"}, {"name": "Gamma"}]},
            "b": {"relatedClients": [{"name": "Acme"}, {"name": "Gamma"}]},
            "g": {"relatedClients": [{"name": "Acme"}, {"name": "Beta"}]},
        }
    }


async def test_unlink_contact(api: Api) -> None:
    acme = await register(api, "Acme")
    beta = await register(api, "Beta")
    ada = await link_new(api, acme, "Ada", "Lovelace", description="Director")
    await link_new(api, acme, "Bob", "Babbage", description="Accountant")
    await link_existing(api, beta, ada)
    before = api.event_count()

    result = await mutate(
        api, UNLINK, "unlinkContact", clientId=acme, contactId=ada, expectedVersion=3
    )
    assert result["__typename"] == "ClientPayload"
    client = result["client"]
    assert client["version"] == 4
    assert contact_rows(client) == [("Bob", "Babbage", "Accountant")]
    assert client["contacts"]["totalCount"] == 1
    assert client["relatedClients"] == []
    assert api.event_count() == before + 2  # ContactUnlinked, and the links index's entry
    await read_back(api, client)

    beta_client = await get_client(api, beta)
    assert beta_client is not None
    assert beta_client["relatedClients"] == []
    assert contact_rows(beta_client) == [("Ada", "Lovelace", None)]

    activity = await client_activity(api, acme)
    assert [a["type"] for a in activity] == [
        "ContactUnlinked",
        "ContactLinked",
        "ContactLinked",
        "ClientRegistered",
    ]
    assert activity[0]["summary"] == "owner-1 unlinked Ada Lovelace from Acme."


async def test_assign_and_remove_team_members_with_history_oldest_first(api: Api) -> None:
    alice_id = await add_staff(api, "agent-1", "AGENT", name="Alice Agent")
    await add_staff(api, "agent-2", "WATCHER", name="Walt Watcher")
    await add_staff(api, "manager-1", "MANAGER")
    client_id = await register(api, "Acme")
    before = api.event_count()

    first = await mutate(
        api, ASSIGN, "assignTeamMember", clientId=client_id, userId="agent-1", expectedVersion=1
    )
    assert first["__typename"] == "ClientPayload"
    assert first["client"]["version"] == 2
    assert first["client"]["team"] == [
        {
            "member": {
                "id": alice_id,
                "userId": "agent-1",
                "name": "Alice Agent",
                "email": "agent-1@firm.example",
                "role": "AGENT",
            },
            "assignedAt": first["client"]["teamHistory"][0]["at"],
            "assignedBy": OWNER_ACTOR,
        }
    ]
    await read_back(api, first["client"])

    await mutate(
        api,
        ASSIGN,
        "assignTeamMember",
        as_user=("manager-1", "manager"),
        clientId=client_id,
        userId="agent-2",
    )
    removed = await mutate(
        api, REMOVE, "removeTeamMember", clientId=client_id, userId="agent-1", expectedVersion=3
    )
    assert removed["__typename"] == "ClientPayload"
    client = removed["client"]
    assert client["version"] == 4
    assert [m["member"]["userId"] for m in client["team"]] == ["agent-2"]
    assert client["team"][0]["assignedBy"] == staff_actor("manager-1")
    history = client["teamHistory"]
    assert [(h["member"]["userId"], h["change"], h["by"]) for h in history] == [
        ("agent-1", "ASSIGNED", OWNER_ACTOR),
        ("agent-2", "ASSIGNED", staff_actor("manager-1")),
        ("agent-1", "REMOVED", OWNER_ACTOR),
    ]
    assert history[0]["at"] <= history[1]["at"] <= history[2]["at"]
    assert api.event_count() == before + 3
    await read_back(api, client)

    activity = await client_activity(api, client_id)
    assert [(a["type"], a["summary"]) for a in activity[:3]] == [
        ("TeamMemberRemoved", "owner-1 removed Alice Agent from the team of Acme."),
        ("TeamMemberAssigned", "manager-1 assigned Walt Watcher to the team of Acme."),
        ("TeamMemberAssigned", "owner-1 assigned Alice Agent to the team of Acme."),
    ]
    assert [a["occurredAt"] for a in reversed(activity[:3])] == [h["at"] for h in history]


async def test_put_on_hold_and_release_keep_every_hold_period(api: Api) -> None:
    client_id = await register(api, "Acme")
    before = api.event_count()

    held = await mutate(
        api, HOLD, "putClientOnHold", clientId=client_id, reason="  Unpaid fees ", expectedVersion=1
    )
    assert held["__typename"] == "ClientPayload"
    client = held["client"]
    assert (client["version"], client["onHold"]) == (2, True)
    assert client["holds"] == [
        {
            "placedAt": client["updatedAt"],
            "placedBy": OWNER_ACTOR,
            "reason": "Unpaid fees",
            "releasedAt": None,
            "releasedBy": None,
        }
    ]
    await read_back(api, client)

    released = await mutate(
        api,
        RELEASE,
        "releaseClientHold",
        as_user=("manager-1", "manager"),
        clientId=client_id,
        expectedVersion=2,
    )
    assert released["__typename"] == "ClientPayload"
    client = released["client"]
    assert (client["version"], client["onHold"]) == (3, False)
    assert client["holds"] == [
        {
            "placedAt": held["client"]["updatedAt"],
            "placedBy": OWNER_ACTOR,
            "reason": "Unpaid fees",
            "releasedAt": client["updatedAt"],
            "releasedBy": staff_actor("manager-1"),
        }
    ]
    await read_back(api, client)

    again = await mutate(api, HOLD, "putClientOnHold", clientId=client_id)
    client = again["client"]
    assert (client["version"], client["onHold"]) == (4, True)
    assert [(h["reason"], h["releasedAt"] is None) for h in client["holds"]] == [
        ("Unpaid fees", False),
        (None, True),
    ]
    assert client["holds"][1]["placedAt"] == client["updatedAt"]
    assert api.event_count() == before + 3
    await read_back(api, client)

    activity = await client_activity(api, client_id)
    assert [(a["type"], a["summary"]) for a in activity] == [
        ("ClientPutOnHold", "owner-1 put Acme on hold."),
        ("ClientHoldReleased", "manager-1 released the hold on Acme."),
        ("ClientPutOnHold", "owner-1 put Acme on hold: Unpaid fees."),
        ("ClientRegistered", "owner-1 registered the company client Acme."),
    ]
    assert activity[1]["occurredAt"] == released["client"]["holds"][0]["releasedAt"]


async def test_add_comment_and_latest_comments_newest_first_at_most_five(api: Api) -> None:
    client_id = await register(api, "Acme")
    before = api.event_count()
    result = await mutate(
        api, COMMENT, "addComment", clientId=client_id, body="  Called about VAT  "
    )
    assert result["__typename"] == "AddCommentSuccess"
    first = result["comment"]
    assert first["body"] == "Called about VAT"
    assert first["author"] == OWNER_ACTOR
    # A comment is its own stream: the client's version does not move.
    assert result["client"] == {
        "id": client_id,
        "version": 1,
        "overview": {"latestComments": [{"id": first["id"], "body": "Called about VAT"}]},
    }
    # The comment and the client's commenters index (record-keeping, for notifications).
    assert api.event_count() == before + 2

    for n in range(2, 7):
        await comment(api, client_id, f"note {n}", as_user=("agent-9", "manager"))
    response = await api.gql(
        """query($id: ID!) { client(id: $id) { version
             overview { latestComments { body author { id } } }
             comments(first: 10) { totalCount } } }""",
        {"id": client_id},
    )
    client = ok(response, "client")
    assert client["version"] == 1
    assert client["comments"]["totalCount"] == 6
    assert client["overview"]["latestComments"] == [
        {"body": f"note {n}", "author": {"id": "agent-9"}} for n in (6, 5, 4, 3, 2)
    ]

    node = ok(
        await api.gql(
            "query($id: ID!) { node(id: $id) { __typename ... on Comment { id body createdAt } } }",
            {"id": first["id"]},
        ),
        "node",
    )
    assert node == {
        "__typename": "Comment",
        "id": first["id"],
        "body": "Called about VAT",
        "createdAt": first["createdAt"],
    }
    activity = await client_activity(api, client_id, first=2)
    assert [(a["type"], a["summary"]) for a in activity] == [
        ("CommentAdded", "agent-9 commented on Acme."),
        ("CommentAdded", "agent-9 commented on Acme."),
    ]


async def test_activity_and_latest_activity_are_newest_first(api: Api) -> None:
    await add_staff(api, "agent-1", "AGENT", name="Alice Agent")
    # agent-1 (on the team) is notified of the hold, the comment and the release; without
    # notification emails (activity entries of their own) the history holds just the six.
    off = [{"kind": k, "email": False} for k in ("COMMENT", "CLIENT_ON_HOLD", "HOLD_RELEASED")]
    quiet = await api.gql(
        """mutation($input: SetNotificationPreferencesInput!) {
             setNotificationPreferences(input: $input) { __typename } }""",
        {"input": {"email": off}},
        as_user=("agent-1", "agent"),
    )
    assert "errors" not in quiet, quiet
    client_id = await register(api, "Acme")
    await link_new(api, client_id, "Ada", "Lovelace")
    await assign(api, client_id, "agent-1")
    await mutate(api, HOLD, "putClientOnHold", clientId=client_id, reason="Audit")
    await comment(api, client_id, "hello")
    await mutate(api, RELEASE, "releaseClientHold", clientId=client_id)

    response = await api.gql(
        """query($id: ID!) { client(id: $id) {
             overview { latestActivity { type summary } }
             activity { totalCount edges { node { type client { id } actor { id kind } } } } } }""",
        {"id": client_id},
    )
    client = ok(response, "client")
    types = [
        "ClientHoldReleased",
        "CommentAdded",
        "ClientPutOnHold",
        "TeamMemberAssigned",
        "ContactLinked",
        "ClientRegistered",
    ]
    assert client["activity"]["totalCount"] == 6
    assert [e["node"]["type"] for e in client["activity"]["edges"]] == types
    assert all(e["node"]["client"] == {"id": client_id} for e in client["activity"]["edges"])
    assert all(
        e["node"]["actor"] == {"id": "owner-1", "kind": "STAFF"}
        for e in client["activity"]["edges"]
    )
    assert client["overview"]["latestActivity"] == [
        {"type": "ClientHoldReleased", "summary": "owner-1 released the hold on Acme."},
        {"type": "CommentAdded", "summary": "owner-1 commented on Acme."},
        {"type": "ClientPutOnHold", "summary": "owner-1 put Acme on hold: Audit."},
        {
            "type": "TeamMemberAssigned",
            "summary": "owner-1 assigned Alice Agent to the team of Acme.",
        },
        {"type": "ContactLinked", "summary": "owner-1 linked Ada Lovelace to Acme."},
    ]


async def test_client_query_sees_every_write_immediately(api: Api) -> None:
    """A sequence of mutations, each followed at once by a read that shows it."""
    client_id = await register(api, "Acme")
    expected_version = 1
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (UPDATE, "updateClientDetails", {"name": "Acme 2"}),
        (LINK, "linkContact", {"newContact": {"firstName": "A", "lastName": "B", "emails": []}}),
        (HOLD, "putClientOnHold", {}),
        (RELEASE, "releaseClientHold", {}),
        (UPDATE, "updateClientDetails", {"tags": ["x"]}),
    ]
    for query, field, extra in steps:
        result = await mutate(
            api, query, field, clientId=client_id, expectedVersion=expected_version, **extra
        )
        assert result["__typename"] in ("ClientPayload", "LinkContactSuccess"), result
        expected_version += 1
        assert result["client"]["version"] == expected_version
        response = await api.gql(CLIENT_QUERY, {"id": client_id})
        assert response["data"]["client"] == result["client"]
    final = await get_client(api, client_id)
    assert final is not None
    assert (final["name"], final["tags"], final["onHold"], len(final["holds"])) == (
        "Acme 2",
        ["x"],
        False,
        1,
    )
