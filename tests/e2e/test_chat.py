"""Chat over GraphQL: start, post, read with unread counts per participant, who may post,
client threads with contacts, the profile's connection and overview, history sentences, bad
input that records nothing, firm isolation and unassigned agents, live activity."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Api, LiveServer
from tests.e2e.test_live_support import connect, http, until_subscribed
from tests.e2e.test_notifications import (
    AGENT,
    AGENT2,
    MANAGER,
    OWNER,
    WATCHER,
    ok,
    recorded,
    setup,
)

THREAD_FIELDS = """id title visibility messageCount unreadCount client { name }
  startedBy { id } participants { userId contact { firstName } }
  messages(first: 10) { totalCount edges { node { body author { id } } } }"""

START = f"""mutation($input: StartChatThreadInput!) {{ startChatThread(input: $input) {{
  __typename
  ... on ChatThreadPayload {{ thread {{ {THREAD_FIELDS} }} }}
  ... on ValidationError {{ field message }}
  ... on NotFoundError {{ id }}
  ... on LimitExceededError {{ limit }} }} }}"""

POST = """mutation($input: PostChatMessageInput!) { postChatMessage(input: $input) {
  __typename
  ... on ChatMessagePayload { chatMessage { id body author { id } thread { title } }
                              thread { messageCount unreadCount } }
  ... on ValidationError { field message }
  ... on NotFoundError { id }
  ... on RuleViolationError { rule message }
  ... on LimitExceededError { limit } } }"""

READ = """mutation($id: ID!) { markChatThreadRead(input: {threadId: $id}) {
  __typename ... on ChatThreadPayload { thread { unreadCount } }
  ... on RuleViolationError { rule } ... on NotFoundError { id } } }"""

ADD = """mutation($input: ChatParticipantInput!) { addChatParticipant(input: $input) {
  __typename ... on ChatThreadPayload { thread { participants { userId } unreadCount } }
  ... on ValidationError { field message } ... on RuleViolationError { rule }
  ... on NotFoundError { id } } }"""

THREAD = f"query($id: ID!) {{ node(id: $id) {{ ... on ChatThread {{ {THREAD_FIELDS} }} }} }}"


async def start(api: Api, client_id: str, who: tuple[str, str] = AGENT, **extra: Any) -> Any:
    payload = {"clientId": client_id, "title": "Year end", "visibility": "INTERNAL", **extra}
    return (await ok(api, START, {"input": payload}, as_user=who))["startChatThread"]


async def post(api: Api, thread_id: str, body: str, who: tuple[str, str]) -> Any:
    data = await ok(api, POST, {"input": {"threadId": thread_id, "body": body}}, as_user=who)
    return data["postChatMessage"]


async def unread(api: Api, thread_id: str, who: tuple[str, str]) -> Any:
    data = await ok(api, THREAD, {"id": thread_id}, as_user=who)
    return None if data["node"] is None else data["node"]["unreadCount"]


async def test_start_post_and_read_with_unread_counts_per_participant(api: Api) -> None:
    client_id = await setup(api)
    started = await start(api, client_id, participantUserIds=["manager-1"])
    assert started["__typename"] == "ChatThreadPayload"
    thread = started["thread"]
    thread_id = thread.pop("id")
    assert thread == {
        "title": "Year end",
        "visibility": "INTERNAL",
        "messageCount": 0,
        "unreadCount": 0,
        "client": {"name": "Acme"},
        "startedBy": {"id": "agent-1"},
        "participants": [
            {"userId": "agent-1", "contact": None},
            {"userId": "manager-1", "contact": None},
        ],
        "messages": {"totalCount": 0, "edges": []},
    }
    first = await post(api, thread_id, "Numbers are in", AGENT)
    assert first["chatMessage"]["body"] == "Numbers are in"
    assert first["chatMessage"]["author"] == {"id": "agent-1"}
    assert first["chatMessage"]["thread"] == {"title": "Year end"}
    assert first["thread"] == {"messageCount": 1, "unreadCount": 0}
    await post(api, thread_id, "Please check the VAT", AGENT)
    assert await unread(api, thread_id, AGENT) == 0
    assert await unread(api, thread_id, MANAGER) == 2
    assert await unread(api, thread_id, OWNER) is None  # not a participant
    read = await ok(api, READ, {"id": thread_id}, as_user=MANAGER)
    assert read["markChatThreadRead"] == {
        "__typename": "ChatThreadPayload",
        "thread": {"unreadCount": 0},
    }
    reply = await post(api, thread_id, "Checked", MANAGER)
    assert reply["thread"] == {"messageCount": 3, "unreadCount": 0}
    assert await unread(api, thread_id, AGENT) == 1
    # An owner who posts joins the thread.
    await post(api, thread_id, "Thanks both", OWNER)
    assert await unread(api, thread_id, OWNER) == 0
    assert await unread(api, thread_id, AGENT) == 2
    data = await ok(api, THREAD, {"id": thread_id}, as_user=WATCHER)  # may read, on the team
    node = data["node"]
    assert [e["node"]["body"] for e in node["messages"]["edges"]] == [
        "Thanks both",
        "Checked",
        "Please check the VAT",
        "Numbers are in",
    ]
    assert [p["userId"] for p in node["participants"]] == ["agent-1", "manager-1", "owner-1"]


async def test_non_participants_cannot_post_and_outsiders_see_nothing(api: Api) -> None:
    client_id = await setup(api)
    thread_id = (await start(api, client_id))["thread"]["id"]
    await post(api, thread_id, "hello", AGENT)
    head = recorded(api)
    refused = await post(api, thread_id, "me too", MANAGER)  # may see, not a participant
    assert refused["__typename"] == "RuleViolationError"
    assert refused["rule"] == "NOT_A_PARTICIPANT"
    hidden = await post(api, thread_id, "hi", AGENT2)  # agent on no team of Acme
    assert hidden == {"__typename": "NotFoundError", "id": thread_id}
    assert await unread(api, thread_id, AGENT2) is None
    other = await api.gql(THREAD, {"id": thread_id}, firm="firm-b")
    assert other["data"] == {"node": None}
    other_post = await api.gql(POST, {"input": {"threadId": thread_id, "body": "x"}}, firm="firm-b")
    assert other_post["data"]["postChatMessage"]["__typename"] == "NotFoundError"
    assert (await ok(api, READ, {"id": thread_id}, as_user=MANAGER))["markChatThreadRead"] == {
        "__typename": "RuleViolationError",
        "rule": "NOT_A_PARTICIPANT",
    }
    assert recorded(api) == head
    # The manager joins, then may post.
    joined = await ok(
        api, ADD, {"input": {"threadId": thread_id, "userId": "manager-1"}}, as_user=MANAGER
    )
    assert joined["addChatParticipant"]["thread"] == {
        "participants": [{"userId": "agent-1"}, {"userId": "manager-1"}],
        "unreadCount": 1,
    }
    assert (await post(api, thread_id, "me too", MANAGER))["__typename"] == "ChatMessagePayload"


async def test_bad_input_is_a_typed_error_and_records_nothing(api: Api) -> None:
    client_id = await setup(api)
    thread_id = (await start(api, client_id))["thread"]["id"]
    head = recorded(api)
    assert (await post(api, thread_id, "   ", AGENT))["__typename"] == "ValidationError"
    too_long = await post(api, thread_id, "x" * 5001, AGENT)
    assert too_long == {
        "__typename": "ValidationError",
        "field": "input.body",
        "message": "input.body must be at most 5000 characters",
    }
    unknown = await start(api, client_id, participantUserIds=["nobody"])
    assert unknown == {
        "__typename": "ValidationError",
        "field": "input.participantUserIds.0",
        "message": "nobody is not a staff member who may see this client",
    }
    unassigned = await start(api, client_id, participantUserIds=["agent-2"])
    assert unassigned["field"] == "input.participantUserIds.0"
    blank = await start(api, client_id, title=" ")
    assert blank["__typename"] == "ValidationError"
    with_contact = await start(api, client_id, participantContactIds=[client_id])
    assert with_contact["__typename"] == "NotFoundError"
    add = await ok(api, ADD, {"input": {"threadId": thread_id, "userId": "nobody"}})
    assert add["addChatParticipant"] == {
        "__typename": "ValidationError",
        "field": "input.userId",
        "message": "nobody is not a staff member who may see this client",
    }
    outsider = await start(api, client_id, AGENT2)
    assert outsider["__typename"] == "NotFoundError"
    watcher = await api.gql(
        START,
        {"input": {"clientId": client_id, "title": "t", "visibility": "INTERNAL"}},
        as_user=WATCHER,
    )
    assert watcher["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert recorded(api) == head


async def test_client_threads_take_the_clients_contacts(api: Api) -> None:
    client_id = await setup(api)
    linked = await ok(
        api,
        """mutation($id: ID!) { linkContact(input: {clientId: $id, newContact: {
             firstName: "Cleo", lastName: "Client", emails: ["cleo@acme.test"]}}) {
             ... on LinkContactSuccess { contact { id } } } }""",
        {"id": client_id},
    )
    contact_id = linked["linkContact"]["contact"]["id"]
    internal = await start(api, client_id, participantContactIds=[contact_id])
    assert internal["__typename"] == "ValidationError"
    assert internal["field"] == "input.participantContactIds"
    shared = await start(
        api,
        client_id,
        title="Documents we need",
        visibility="CLIENT",
        participantContactIds=[contact_id],
    )
    assert shared["thread"]["visibility"] == "CLIENT"
    assert shared["thread"]["participants"] == [
        {"userId": "agent-1", "contact": None},
        {"userId": None, "contact": {"firstName": "Cleo"}},
    ]


async def test_profile_connection_overview_and_history(api: Api) -> None:
    client_id = await setup(api)
    first = (await start(api, client_id, title="First"))["thread"]["id"]
    second = (await start(api, client_id, title="Second"))["thread"]["id"]
    for i in range(4):
        await post(api, first, f"first {i}", AGENT)
    for i in range(3):
        await post(api, second, f"second {i}", AGENT)
    await post(api, first, "first again", AGENT)
    data = await ok(
        api,
        """query($id: ID!) { client(id: $id) {
             chatThreads(first: 1) { totalCount pageInfo { hasNextPage endCursor }
                                     edges { node { title messageCount } } }
             overview { latestChatMessages { body thread { title } } } } }""",
        {"id": client_id},
        as_user=MANAGER,
    )
    client = data["client"]
    assert client["chatThreads"]["totalCount"] == 2
    assert client["chatThreads"]["edges"] == [{"node": {"title": "First", "messageCount": 5}}]
    assert client["chatThreads"]["pageInfo"]["hasNextPage"] is True
    assert [m["body"] for m in client["overview"]["latestChatMessages"]] == [
        "first again",
        "second 2",
        "second 1",
        "second 0",
        "first 3",
    ]
    after = client["chatThreads"]["pageInfo"]["endCursor"]
    rest = await ok(
        api,
        """query($id: ID!, $after: String) { client(id: $id) {
             chatThreads(first: 5, after: $after) { edges { node { title } } } } }""",
        {"id": client_id, "after": after},
    )
    assert rest["client"]["chatThreads"]["edges"] == [{"node": {"title": "Second"}}]
    history = await ok(
        api,
        "{ activity(first: 3) { edges { node { type summary } } } }",
    )
    assert [e["node"] for e in history["activity"]["edges"]] == [
        {"type": "ChatMessagePosted", "summary": 'agent-1 wrote in the chat "First" on Acme.'},
        {"type": "ChatMessagePosted", "summary": 'agent-1 wrote in the chat "Second" on Acme.'},
        {"type": "ChatMessagePosted", "summary": 'agent-1 wrote in the chat "Second" on Acme.'},
    ]
    starts = await ok(
        api,
        """{ activity(first: 5, filter: {types: ["ChatThreadStarted"]}) {
             edges { node { summary } } } }""",
    )
    assert [e["node"]["summary"] for e in starts["activity"]["edges"]] == [
        'agent-1 started an internal chat "Second" on Acme.',
        'agent-1 started an internal chat "First" on Acme.',
    ]
    joined = await ok(
        api, ADD, {"input": {"threadId": first, "userId": "manager-1"}}, as_user=MANAGER
    )
    assert joined["addChatParticipant"]["__typename"] == "ChatThreadPayload"
    added = await ok(api, ADD, {"input": {"threadId": second, "userId": "manager-1"}})
    assert added["addChatParticipant"]["__typename"] == "ChatThreadPayload"
    latest = await ok(api, "{ activity(first: 2) { edges { node { summary } } } }")
    assert [e["node"]["summary"] for e in latest["activity"]["edges"]] == [
        'owner-1 added manager-1 to the chat "Second" on Acme.',
        'manager-1 joined the chat "First" on Acme.',
    ]
    # An agent on no team of Acme sees no thread of it.
    hidden = await api.gql(
        """query($id: ID!) { client(id: $id) { chatThreads { totalCount } } }""",
        {"id": client_id},
        as_user=AGENT2,
    )
    assert hidden["data"] == {"client": None}


async def test_a_live_subscriber_receives_a_posted_message(live_server: LiveServer) -> None:
    payload = {"Authorization": f"Bearer {live_server.token()}"}
    async with http(live_server) as api, connect(live_server.url, payload=payload) as ws:
        client_id = await api.register("Acme")
        data = await api.gql(
            """mutation($id: ID!) { startChatThread(input: {clientId: $id, title: "Hi",
                 visibility: INTERNAL}) { ... on ChatThreadPayload { thread { id } } } }""",
            {"id": client_id},
        )
        thread_id = data["startChatThread"]["thread"]["id"]
        await ws.subscribe()
        await until_subscribed(live_server, 1)
        await api.gql(
            """mutation($id: ID!) { postChatMessage(input: {threadId: $id, body: "Hello live"}) {
                 __typename } }""",
            {"id": thread_id},
        )
        entry = await ws.entry()
        assert entry["type"] == "ChatMessagePosted"
        assert entry["summary"] == 'owner-1 wrote in the chat "Hi" on Acme.'
        assert entry["client"] == {"id": client_id, "name": "Acme"}
        assert entry["data"]["body"] == "Hello live"
        assert entry["data"]["seq"] == 1
