"""Notifications over GraphQL: who is told, the viewer's list and unread count, mark read,
email preferences, someone else's ids, firm isolation and bad input, on both backends."""

from __future__ import annotations

from typing import Any

from resolvers.ids import to_global_id
from tests.e2e.conftest import Api

STAFF = [
    ("owner-1", "OWNER"),
    ("agent-1", "AGENT"),
    ("manager-1", "MANAGER"),
    ("agent-2", "AGENT"),
    ("watcher-1", "WATCHER"),
]
OWNER = ("owner-1", "owner")
AGENT = ("agent-1", "agent")
MANAGER = ("manager-1", "manager")
AGENT2 = ("agent-2", "agent")
WATCHER = ("watcher-1", "watcher")

NOTIFICATIONS = """query($first: Int, $after: String, $unread: Boolean!) {
  notifications(first: $first, after: $after, unreadOnly: $unread) {
    totalCount unreadCount
    pageInfo { hasNextPage endCursor }
    edges { node { id kind text read actor { id } client { name } comment { body } } } } }"""

MARK = """mutation($input: MarkNotificationsReadInput!) { markNotificationsRead(input: $input) {
  __typename
  ... on MarkNotificationsReadPayload { unreadCount notifications { text read } }
  ... on NotFoundError { id message }
  ... on ValidationError { field message }
  ... on LimitExceededError { limit } } }"""

PREFS = "{ notificationPreferences { email { kind email } } }"
SET_PREFS = """mutation($input: SetNotificationPreferencesInput!) {
  setNotificationPreferences(input: $input) {
    __typename ... on NotificationPreferencesPayload { preferences { email { kind email } } } } }"""


def recorded(api: Api) -> int:
    """Events recorded so far, besides the mail worker's delivery records (it runs meanwhile)."""
    found = api.container.store.recorder.select_notifications(start=1, limit=1_000_000)
    return sum(1 for n in found if not n.topic.startswith("domain.email:"))


async def ok(api: Api, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
    result = await api.gql(query, variables, **kw)
    assert "errors" not in result, result
    return result["data"]


async def setup(api: Api) -> str:
    """The firm's staff; Acme with agent-1, manager-1 and watcher-1 on its team."""
    for user_id, role in STAFF:
        await ok(
            api,
            """mutation($input: AddStaffMemberInput!) { addStaffMember(input: $input) {
                 __typename } }""",
            {
                "input": {
                    "userId": user_id,
                    "name": user_id,
                    "email": f"{user_id}@firm.test",
                    "role": role,
                }
            },
        )
    data = await ok(
        api,
        """mutation { registerClient(input: {name: "Acme", type: COMPANY}) {
             ... on ClientPayload { client { id } } } }""",
    )
    client_id = str(data["registerClient"]["client"]["id"])
    for user_id in ("agent-1", "manager-1", "watcher-1"):
        await team(api, client_id, user_id)
    return client_id


async def team(api: Api, client_id: str, user_id: str, remove: bool = False) -> None:
    field = "removeTeamMember" if remove else "assignTeamMember"
    kind = "RemoveTeamMemberInput" if remove else "AssignTeamMemberInput"
    data = await ok(
        api,
        f"mutation($input: {kind}!) {{ {field}(input: $input) {{ __typename }} }}",
        {"input": {"clientId": client_id, "userId": user_id}},
    )
    assert data[field]["__typename"] == "ClientPayload", data


async def comment(api: Api, client_id: str, body: str, as_user: tuple[str, str]) -> None:
    data = await ok(
        api,
        "mutation($input: AddCommentInput!) { addComment(input: $input) { __typename } }",
        {"input": {"clientId": client_id, "body": body}},
        as_user=as_user,
    )
    assert data["addComment"]["__typename"] == "AddCommentSuccess", data


async def listing(
    api: Api,
    who: tuple[str, str],
    *,
    unread: bool = False,
    first: int = 20,
    after: str | None = None,
) -> Any:
    data = await ok(
        api, NOTIFICATIONS, {"first": first, "after": after, "unread": unread}, as_user=who
    )
    return data["notifications"]


def texts(found: Any) -> list[tuple[str, str, bool]]:
    return [(e["node"]["kind"], e["node"]["text"], e["node"]["read"]) for e in found["edges"]]


async def test_a_comment_notifies_earlier_commenters_and_the_team_once_each(api: Api) -> None:
    client_id = await setup(api)
    await comment(api, client_id, "Please review the payroll", AGENT)
    await comment(api, client_id, "Done, see notes", MANAGER)

    # owner-1 is on no team and has not commented: nothing.
    assert texts(await listing(api, OWNER)) == []
    # agent-1 commented first: told of the manager's comment only (never of its own).
    agent = await listing(api, AGENT)
    assert texts(agent) == [("COMMENT", "manager-1 commented on Acme: Done, see notes", False)]
    node = agent["edges"][0]["node"]
    assert node["actor"] == {"id": "manager-1"}
    assert node["client"] == {"name": "Acme"}
    assert node["comment"] == {"body": "Done, see notes"}
    assert (agent["totalCount"], agent["unreadCount"]) == (1, 1)
    # manager-1 (team) is told of agent-1's comment; watcher-1 (team) of both, newest first.
    assert texts(await listing(api, MANAGER)) == [
        ("COMMENT", "agent-1 commented on Acme: Please review the payroll", False)
    ]
    watcher = await listing(api, WATCHER)
    assert texts(watcher) == [
        ("COMMENT", "manager-1 commented on Acme: Done, see notes", False),
        ("COMMENT", "agent-1 commented on Acme: Please review the payroll", False),
    ]
    # agent-2 is on no team of Acme: not told, and sees nothing.
    assert texts(await listing(api, AGENT2)) == []


async def test_hold_and_release_notify_the_team_and_not_a_removed_member(api: Api) -> None:
    client_id = await setup(api)
    await team(api, client_id, "watcher-1", remove=True)
    hold = """mutation($id: ID!) { putClientOnHold(input: {clientId: $id, reason: "Unpaid fees"}) {
      __typename } }"""
    release = "mutation($id: ID!) { releaseClientHold(input: {clientId: $id}) { __typename } }"
    assert (await ok(api, hold, {"id": client_id}, as_user=MANAGER))["putClientOnHold"] == {
        "__typename": "ClientPayload"
    }
    await ok(api, release, {"id": client_id})
    assert texts(await listing(api, AGENT)) == [
        ("HOLD_RELEASED", "owner-1 released the hold on Acme.", False),
        ("CLIENT_ON_HOLD", "manager-1 put Acme on hold: Unpaid fees", False),
    ]
    # The manager put it on hold (not told of that), and is told of the release.
    assert texts(await listing(api, MANAGER)) == [
        ("HOLD_RELEASED", "owner-1 released the hold on Acme.", False)
    ]
    assert texts(await listing(api, WATCHER)) == []
    assert texts(await listing(api, OWNER)) == []


async def test_unread_count_paging_and_marking_read(api: Api) -> None:
    client_id = await setup(api)
    for body in ("one", "two", "three"):
        await comment(api, client_id, body, OWNER)
    first = await listing(api, AGENT, first=2)
    assert [e["node"]["text"] for e in first["edges"]] == [
        "owner-1 commented on Acme: three",
        "owner-1 commented on Acme: two",
    ]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await listing(api, AGENT, first=2, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["text"] for e in rest["edges"]] == ["owner-1 commented on Acme: one"]
    assert rest["pageInfo"]["hasNextPage"] is False

    newest = first["edges"][0]["node"]["id"]
    data = await ok(api, MARK, {"input": {"ids": [newest]}}, as_user=AGENT)
    assert data["markNotificationsRead"] == {
        "__typename": "MarkNotificationsReadPayload",
        "unreadCount": 2,
        "notifications": [{"text": "owner-1 commented on Acme: three", "read": True}],
    }
    unread = await listing(api, AGENT, unread=True)
    assert (unread["totalCount"], unread["unreadCount"]) == (2, 2)
    assert [e["node"]["text"] for e in unread["edges"]] == [
        "owner-1 commented on Acme: two",
        "owner-1 commented on Acme: one",
    ]
    data = await ok(api, MARK, {"input": {"all": True}}, as_user=AGENT)
    assert data["markNotificationsRead"]["unreadCount"] == 0
    everything = await listing(api, AGENT)
    assert (everything["totalCount"], everything["unreadCount"]) == (3, 0)
    # The manager's stay unread.
    assert (await listing(api, MANAGER))["unreadCount"] == 3


async def test_a_member_cannot_see_or_mark_anothers_notifications(api: Api) -> None:
    client_id = await setup(api)
    await comment(api, client_id, "hello", OWNER)
    theirs = (await listing(api, MANAGER))["edges"][0]["node"]["id"]
    head = recorded(api)
    data = await ok(api, MARK, {"input": {"ids": [theirs]}}, as_user=AGENT)
    assert data["markNotificationsRead"]["__typename"] == "NotFoundError"
    assert data["markNotificationsRead"]["id"] == theirs
    node = await ok(api, "query($id: ID!) { node(id: $id) { id } }", {"id": theirs}, as_user=AGENT)
    assert node == {"node": None}
    mine = await ok(
        api, "query($id: ID!) { node(id: $id) { id } }", {"id": theirs}, as_user=MANAGER
    )
    assert mine == {"node": {"id": theirs}}
    # Another firm's owner sees none of it.
    other = await api.gql(
        NOTIFICATIONS, {"first": 5, "after": None, "unread": False}, firm="firm-b"
    )
    assert other["data"]["notifications"]["totalCount"] == 0
    # Bad input: nothing named, an id of another kind, too many ids.
    data = await ok(api, MARK, {"input": {}}, as_user=AGENT)
    assert data["markNotificationsRead"]["__typename"] == "ValidationError"
    client_gid = client_id
    data = await ok(api, MARK, {"input": {"ids": [client_gid]}}, as_user=AGENT)
    assert data["markNotificationsRead"]["__typename"] == "NotFoundError"
    many = [to_global_id("Notification", f"00000000-0000-0000-0000-{i:012d}") for i in range(101)]
    data = await ok(api, MARK, {"input": {"ids": many}}, as_user=AGENT)
    assert data["markNotificationsRead"] == {"__typename": "LimitExceededError", "limit": 100}
    assert recorded(api) == head
    # A contact is refused as everywhere else.
    contact = api.issuer.issue(sub="c-1", firm="firm-a", role="contact", contact="contact-1")
    refused = await api.gql(
        NOTIFICATIONS, {"first": 5, "after": None, "unread": False}, token=contact
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_member_who_loses_sight_of_the_client_no_longer_sees_its_notifications(
    api: Api,
) -> None:
    client_id = await setup(api)
    await comment(api, client_id, "hello", OWNER)
    assert (await listing(api, AGENT))["totalCount"] == 1
    await team(api, client_id, "agent-1", remove=True)
    gone = await listing(api, AGENT)
    assert (gone["totalCount"], gone["unreadCount"], gone["edges"]) == (0, 0, [])


async def test_preferences_default_on_and_are_the_members_own(api: Api) -> None:
    client_id = await setup(api)
    everything_on = [
        {"kind": "COMMENT", "email": True},
        {"kind": "CLIENT_ON_HOLD", "email": True},
        {"kind": "HOLD_RELEASED", "email": True},
    ]
    assert (await ok(api, PREFS, as_user=AGENT))["notificationPreferences"][
        "email"
    ] == everything_on
    data = await ok(
        api, SET_PREFS, {"input": {"email": [{"kind": "COMMENT", "email": False}]}}, as_user=WATCHER
    )
    assert data["setNotificationPreferences"]["preferences"]["email"][0] == {
        "kind": "COMMENT",
        "email": False,
    }
    # Only the watcher's own setting changed.
    assert (await ok(api, PREFS, as_user=AGENT))["notificationPreferences"][
        "email"
    ] == everything_on
    await comment(api, client_id, "hello", OWNER)
    rows = await api.gql(
        """query($id: ID!) {
          client(id: $id) {
            emails(first: 20) { edges { node { kind to } } }
            overview { latestActivity { type } }
          }
        }""",
        {"id": client_id},
    )
    client = rows["data"]["client"]
    sent_to = sorted(
        edge["node"]["to"][0]
        for edge in client["emails"]["edges"]
        if edge["node"]["kind"] == "NOTIFICATION"
    )
    # The notices are in the client's email log, not in its activity history.
    assert "EmailQueued" not in {entry["type"] for entry in client["overview"]["latestActivity"]}
    # agent-1 and manager-1 get the email; the watcher (email off) only the in-app entry.
    assert sent_to == ["agent-1@firm.test", "manager-1@firm.test"]
    assert texts(await listing(api, WATCHER)) == [
        ("COMMENT", "owner-1 commented on Acme: hello", False)
    ]
