"""Chat and notifications keep the dataloader guarantee: the statement count of a clients page
with every client's threads, their participants, messages and the viewer's unread counts, and
of the notifications list, does not grow with the data (see tests/integration/test_statements)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.actor import Actor, ActorKind, acting_as
from domain.values import ClientType, StaffRole
from tests.e2e.conftest import FIRM, Api
from tests.integration.test_statements import api, counting

__all__ = ["api"]

OWNER = Actor(id="owner-1", kind=ActorKind.STAFF, name="owner-1")
AGENT = Actor(id="agent-1", kind=ActorKind.STAFF, name="agent-1")

CHAT_QUERY = """
{ clients(first: 50) { edges { node { id
    chatThreads(first: 10) { totalCount edges { node { title unreadCount
      participants { userId staffMember { name } }
      messages(first: 3) { totalCount edges { node { body author { id } } } } } } }
    overview { latestChatMessages { body thread { title } } } } } } }
"""
NOTIFICATIONS_QUERY = """
{ notifications(first: 50) { totalCount unreadCount
    edges { node { text client { name } comment { body } } } } }
"""


def add(api: Api, clients: int, threads: int, messages: int) -> None:
    services = api.container.services
    last = None
    with acting_as(OWNER, FIRM, "owner"):
        for user_id, role in (("owner-1", StaffRole.OWNER), ("agent-1", StaffRole.AGENT)):
            if services.clients.find_staff(user_id) is None:
                services.clients.add_staff_member(
                    user_id=user_id, name=user_id, email=f"{user_id}@firm.test", role=role
                )
        for n in range(clients):
            client = UUID(
                services.clients.register_client(
                    name=f"Client {n} of {clients}", client_type=ClientType.COMPANY
                ).ids["client_id"]
            )
            services.clients.assign_team_member(client, "agent-1")
            for t in range(threads):
                thread = UUID(
                    services.chat.start_chat_thread(
                        client,
                        title=f"Thread {t}",
                        visibility="INTERNAL",
                        participant_user_ids=["agent-1"],
                    ).ids["thread_id"]
                )
                for m in range(messages):
                    last = services.chat.post_chat_message(thread, body=f"Message {m}")
            last = services.clients.add_comment(client, f"Comment on {n}")
    assert last is not None
    api.container.wait_for(last.position)


async def as_agent(api: Api, query: str) -> tuple[dict[str, Any], int]:
    """The response to agent-1 and how many statements it took."""
    with counting(api.container.engine) as counted:
        result = await api.gql(query, as_user=("agent-1", "agent"))
    assert "errors" not in result, result
    # Left out: the cache's stamp and the viewer's standing (read again whenever the mail
    # worker records a delivery meanwhile), fixed costs counted by test_statements.
    own = [q for q in counted.queries if "rm_tracking" not in q and "rm_staff.role" not in q]
    return result["data"], len(own)


async def counts(api: Api) -> tuple[int, int, dict[str, Any], dict[str, Any]]:
    chat, chat_count = await as_agent(api, CHAT_QUERY)
    notes, notes_count = await as_agent(api, NOTIFICATIONS_QUERY)
    return chat_count, notes_count, chat, notes


async def test_chat_and_notification_statement_counts_do_not_grow(api: Api) -> None:
    add(api, clients=1, threads=1, messages=1)
    small_chat, small_notes, chat, notes = await counts(api)
    node = chat["clients"]["edges"][0]["node"]
    assert node["chatThreads"]["edges"][0]["node"]["unreadCount"] == 1
    assert notes["notifications"]["totalCount"] == 1
    add(api, clients=6, threads=3, messages=4)
    large_chat, large_notes, chat, notes = await counts(api)
    edges = chat["clients"]["edges"]
    assert len(edges) == 7
    assert sum(e["node"]["chatThreads"]["totalCount"] for e in edges) == 1 + 6 * 3
    assert [m["body"] for m in edges[-1]["node"]["overview"]["latestChatMessages"]] == [
        "Message 3",
        "Message 2",
        "Message 1",
        "Message 0",
        "Message 3",
    ]
    assert notes["notifications"]["totalCount"] == 7
    assert notes["notifications"]["edges"][0]["node"]["comment"] == {"body": "Comment on 5"}
    assert small_chat == large_chat
    assert small_notes == large_notes == 4  # page, counts, clients, comments
