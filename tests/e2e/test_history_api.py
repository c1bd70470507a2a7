"""Time travel over GraphQL: Client.asOf, Client.changes and Client.fieldHistory."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.e2e.conftest import Api
from tests.e2e.test_api_support import (
    HOLD,
    UPDATE,
    add_staff,
    assign,
    link_new,
    mutate,
    ok,
    register,
    staff_actor,
    top_error_code,
)

SNAPSHOT = """
  version at validUntil latestVersion name type tags onHold contactIds teamUserIds
  createdAt detailsComplete
  address { line1 city country }
  customFields { key value }
  contacts { contactId firstName lastName description linkedAt }
  team { userId name assignedAt assignedBy { id } }
  holds { reason placedAt placedBy { id } releasedAt }
"""

AS_OF = f"""
query($id: ID!, $at: DateTime, $version: Int) {{
  client(id: $id) {{ asOf(at: $at, version: $version) {{ {SNAPSHOT} }} }}
}}
"""

CHANGE = "field before after at version by { id kind name impersonatedBy }"

CHANGES = f"""
query($id: ID!, $from: DateTime!, $to: DateTime) {{
  client(id: $id) {{ changes(from: $from, to: $to) {{ {CHANGE} }} }}
}}
"""

FIELD_HISTORY = f"""
query($id: ID!, $field: String!) {{
  client(id: $id) {{ fieldHistory(field: $field) {{ {CHANGE} }} }}
}}
"""

MANAGER = ("mgr-1", "manager")


async def as_of(api: Api, client_id: str, **args: Any) -> dict[str, Any] | None:
    response = await api.gql(AS_OF, {"id": client_id, **args})
    return ok(response, "client")["asOf"]  # type: ignore[no-any-return]


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def history_client(api: Api) -> tuple[str, str, list[datetime]]:
    """Register, rename twice (owner, then a manager), link a contact, hold: 5 versions."""
    await add_staff(api, "agent-1", name="Agent One")
    await add_staff(api, "mgr-1", "MANAGER")
    client_id = await register(
        api, "First", address={"line1": "1 Main St", "city": "Leeds", "country": "GB"}
    )
    await mutate(api, UPDATE, "updateClientDetails", clientId=client_id, name="Second")
    await mutate(api, UPDATE, "updateClientDetails", MANAGER, clientId=client_id, name="Third")
    contact_id = await link_new(api, client_id, "Ada", "Lovelace", description="Director")
    await assign(api, client_id, "agent-1")
    await mutate(api, HOLD, "putClientOnHold", clientId=client_id, reason="Audit")
    times = []
    for version in range(1, 7):
        snapshot = await as_of(api, client_id, version=version)
        assert snapshot is not None
        times.append(parse(snapshot["at"]))
    return client_id, contact_id, times


async def test_as_of_a_version_and_a_moment(api: Api) -> None:
    client_id, contact_id, times = await history_client(api)

    second = await as_of(api, client_id, version=2)
    assert second == {
        "version": 2,
        "at": iso(times[1]),
        "validUntil": iso(times[2]),
        "latestVersion": 6,
        "name": "Second",
        "type": "COMPANY",
        "tags": [],
        "onHold": False,
        "contactIds": [],
        "teamUserIds": [],
        "createdAt": iso(times[0]),
        "detailsComplete": True,
        "address": {"line1": "1 Main St", "city": "Leeds", "country": "GB"},
        "customFields": [],
        "contacts": [],
        "team": [],
        "holds": [],
    }

    between = times[4] + (times[5] - times[4]) / 2
    fifth = await as_of(api, client_id, at=iso(between))
    assert fifth is not None
    assert (fifth["version"], fifth["name"], fifth["onHold"]) == (5, "Third", False)
    assert fifth["contactIds"] == [contact_id]
    assert fifth["teamUserIds"] == ["agent-1"]
    assert fifth["contacts"] == [
        {
            "contactId": contact_id,
            "firstName": "Ada",
            "lastName": "Lovelace",
            "description": "Director",
            "linkedAt": iso(times[3]),
        }
    ]
    assert fifth["team"] == [
        {
            "userId": "agent-1",
            "name": "Agent One",
            "assignedAt": iso(times[4]),
            "assignedBy": {"id": "owner-1"},
        }
    ]

    current = await as_of(api, client_id, at=iso(times[5] + timedelta(days=1)))
    assert current is not None
    assert (current["version"], current["onHold"], current["validUntil"]) == (6, True, None)
    assert current["holds"] == [
        {
            "reason": "Audit",
            "placedAt": iso(times[5]),
            "placedBy": {"id": "owner-1"},
            "releasedAt": None,
        }
    ]

    assert await as_of(api, client_id, at=iso(times[0] - timedelta(microseconds=1))) is None


async def test_changes_between_two_moments_and_up_to_now(api: Api) -> None:
    client_id, contact_id, times = await history_client(api)
    owner, manager = staff_actor("owner-1"), staff_actor("mgr-1")

    response = await api.gql(CHANGES, {"id": client_id, "from": iso(times[0]), "to": iso(times[2])})
    assert ok(response, "client")["changes"] == [
        {
            "field": "name",
            "before": "First",
            "after": "Second",
            "at": iso(times[1]),
            "version": 2,
            "by": owner,
        },
        {
            "field": "name",
            "before": "Second",
            "after": "Third",
            "at": iso(times[2]),
            "version": 3,
            "by": manager,
        },
    ]

    response = await api.gql(CHANGES, {"id": client_id, "from": iso(times[2])})
    rows = [
        (c["field"], c["before"], c["after"], c["version"], c["by"]["id"])
        for c in ok(response, "client")["changes"]
    ]
    assert rows == [
        ("contacts", [], [contact_id], 4, "owner-1"),
        (f"contacts.{contact_id}", None, {"description": "Director"}, 4, "owner-1"),
        ("team", [], ["agent-1"], 5, "owner-1"),
        ("team.agent-1", None, True, 5, "owner-1"),
        ("onHold", False, True, 6, "owner-1"),
        ("holdReason", None, "Audit", 6, "owner-1"),
    ]


async def test_field_history_of_name_and_an_address_part(api: Api) -> None:
    client_id, _, times = await history_client(api)
    response = await api.gql(FIELD_HISTORY, {"id": client_id, "field": "name"})
    assert [
        (c["before"], c["after"], c["version"], c["by"]["id"], c["at"])
        for c in ok(response, "client")["fieldHistory"]
    ] == [
        (None, "First", 1, "owner-1", iso(times[0])),
        ("First", "Second", 2, "owner-1", iso(times[1])),
        ("Second", "Third", 3, "mgr-1", iso(times[2])),
    ]
    response = await api.gql(FIELD_HISTORY, {"id": client_id, "field": "address.city"})
    assert [
        (c["field"], c["before"], c["after"]) for c in ok(response, "client")["fieldHistory"]
    ] == [("address.city", None, "Leeds")]


async def test_bad_arguments_are_bad_user_input_and_record_nothing(api: Api) -> None:
    client_id, _, times = await history_client(api)
    before = api.event_count()

    cases: list[tuple[str, dict[str, Any], str]] = [
        (AS_OF, {}, "give exactly one of `at` and `version`"),
        (AS_OF, {"at": iso(times[0]), "version": 1}, "give exactly one of `at` and `version`"),
        (AS_OF, {"version": 0}, "version must be between 1 and 6 (the current version)"),
        (AS_OF, {"version": -3}, "version must be between 1 and 6 (the current version)"),
        (AS_OF, {"version": 7}, "version must be between 1 and 6 (the current version)"),
        (CHANGES, {"from": iso(times[2]), "to": iso(times[1])}, "`to` must not be before `from`"),
    ]
    for query, args, message in cases:
        response = await api.gql(query, {"id": client_id, **args})
        assert top_error_code(response) == "BAD_USER_INPUT", args
        assert response["errors"][0]["message"] == message
        # asOf is nullable; changes is not, so the error nulls the client.
        assert response["data"] == {"client": {"asOf": None} if query == AS_OF else None}

    response = await api.gql(FIELD_HISTORY, {"id": client_id, "field": "colour"})
    assert top_error_code(response) == "BAD_USER_INPUT"
    message = response["errors"][0]["message"]
    assert message.startswith("unknown field 'colour'; valid fields are: name, type, tags, ")
    assert "address.postalCode" in message and "customFields.<key>" in message
    assert api.event_count() == before


async def test_history_is_visible_only_to_who_may_see_the_client(api: Api) -> None:
    client_id, _, _ = await history_client(api)
    await add_staff(api, "agent-2")
    query = "query($id: ID!) { client(id: $id) { asOf(version: 1) { name } } }"

    assert ok(await api.gql(query, {"id": client_id}), "client") == {"asOf": {"name": "First"}}
    # agent-1 is on the team; another agent and another firm do not see the client at all.
    assigned = await api.gql(query, {"id": client_id}, as_user=("agent-1", "agent"))
    assert ok(assigned, "client") == {"asOf": {"name": "First"}}
    other = await api.gql(query, {"id": client_id}, as_user=("agent-2", "agent"))
    assert other == {"data": {"client": None}}
    foreign = await api.gql(query, {"id": client_id}, firm="firm-b")
    assert foreign == {"data": {"client": None}}
    anonymous = await api.gql(query, {"id": client_id}, token="not-a-token")
    assert top_error_code(anonymous) == "UNAUTHENTICATED"
