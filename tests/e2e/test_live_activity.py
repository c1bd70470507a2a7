"""Subscription.activity over real WebSockets (graphql-transport-ws) against uvicorn.

Every receive is bounded by a timeout. To show that an entry is NOT sent, the tests make a
later change the subscriber may see and check that the next message is that one.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from resolvers.ids import encode_cursor
from tests.e2e.conftest import LiveServer
from tests.e2e.test_live_support import connect, http, refusal, until_subscribed


def owner_payload(server: LiveServer, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.token(**claims)}"}


# Delivery and authentication ------------------------------------------------------------


async def test_a_subscriber_receives_a_mutations_entry(live_server: LiveServer) -> None:
    async with (
        http(live_server) as api,
        connect(live_server.url, payload=owner_payload(live_server)) as ws,
    ):
        await ws.subscribe()
        await until_subscribed(live_server, 1)
        client_id = await api.register("Acme")
        entry = await ws.entry()
        assert entry["type"] == "ClientRegistered"
        assert entry["summary"] == "owner-1 registered the company client Acme."
        assert entry["client"] == {"id": client_id, "name": "Acme"}
        assert entry["actor"] == {"id": "owner-1"}
        assert entry["data"]["name"] == "Acme"
        assert await api.activity_positions() == [entry["position"]]

        await api.comment(client_id, "Hello")
        second = await ws.entry()
        assert second["type"] == "CommentAdded"
        assert int(second["position"]) > int(entry["position"])
        # The entry's client is read afresh for every event.
        assert second["client"] == {"id": client_id, "name": "Acme"}
        assert live_server.app.state.container.live.frames_sent == 2  # operator metrics


@pytest.mark.parametrize(
    "how", ["header", "payload-Authorization", "payload-authorization", "payload-token"]
)
async def test_the_token_comes_from_the_upgrade_header_or_connection_init(
    live_server: LiveServer, how: str
) -> None:
    token = live_server.token()
    payload: dict[str, str] = {}
    header = None
    if how == "header":
        header = token
    elif how == "payload-Authorization":
        payload = {"Authorization": f"Bearer {token}"}
    elif how == "payload-authorization":
        payload = {"authorization": f"Bearer {token}"}
    else:
        payload = {"token": token}
    async with (
        http(live_server) as api,
        connect(live_server.url, payload=payload, header_token=header) as ws,
    ):
        await ws.subscribe()
        await until_subscribed(live_server, 1)
        await api.register("Acme")
        assert (await ws.entry())["type"] == "ClientRegistered"


async def test_unauthenticated_and_contacts_are_refused_without_an_ack(
    live_server: LiveServer,
) -> None:
    """No connection_ack without a valid token (details in test_live_hardening.py)."""
    code, reason = await refusal(live_server.url)
    assert (code, reason) == (4401, "Unauthorized: a bearer token is required")

    code, reason = await refusal(live_server.url, payload={"Authorization": "Bearer not-a-jwt"})
    assert code == 4401
    assert reason.startswith("Unauthorized: the token is invalid")

    other_secret = "Bearer " + live_server.issuer.__class__(
        "another-secret-long-enough-for-hs256!!"
    ).issue(sub="owner-1", firm="firm-a", role="owner")
    code, _ = await refusal(live_server.url, payload={"authorization": other_secret})
    assert code == 4401

    # A bad token in connection_init is not rescued by a good upgrade header.
    code, _ = await refusal(
        live_server.url, payload={"token": "garbage"}, header_token=live_server.token()
    )
    assert code == 4401

    contact_token = live_server.issuer.issue(
        sub="portal-1", firm="firm-a", role="contact", contact="contact-1"
    )
    code, reason = await refusal(live_server.url, payload={"token": contact_token})
    assert (code, reason) == (4403, "Forbidden: the client portal is not available yet")


# Resuming with after ---------------------------------------------------------------------


async def test_resume_with_after_gets_exactly_the_missed_entries_then_live_ones(
    live_server: LiveServer,
) -> None:
    async with http(live_server) as api:
        async with connect(live_server.url, payload=owner_payload(live_server)) as ws:
            await ws.subscribe()
            await until_subscribed(live_server, 1)
            acme = await api.register("Acme")
            await api.comment(acme, "one")
            seen = await ws.entries(2)
        # Disconnected: these happen while nobody listens.
        await api.comment(acme, "two")
        await api.hold(acme, "unpaid")
        await api.register("Bolt")
        last_seen = seen[-1]["position"]
        missed = await api.activity_positions(after=last_seen)
        assert len(missed) == 3

        async with connect(live_server.url, payload=owner_payload(live_server)) as ws:
            await ws.subscribe(after=last_seen)
            replayed = await ws.entries(3)
            assert [e["position"] for e in replayed] == missed
            assert [e["type"] for e in replayed] == [
                "CommentAdded",
                "ClientPutOnHold",
                "ClientRegistered",
            ]
            await api.comment(acme, "three")
            live = await ws.entry()
            assert live["type"] == "CommentAdded"
            assert live["data"]["body"] == "three"
            every = await api.activity_positions()
            assert [e["position"] for e in [*seen, *replayed, live]] == every

        # A cursor of Query.activity works as well as a bare position.
        async with connect(live_server.url, payload=owner_payload(live_server)) as ws:
            cursor = encode_cursor(int(missed[0]))
            await ws.subscribe(after=cursor)
            again = await ws.entries(3)
            assert [e["position"] for e in again] == [*missed[1:], live["position"]]


async def test_resume_across_writes_racing_the_switch_has_no_gap_or_repeat(
    live_server: LiveServer,
) -> None:
    """Writes keep landing while the backlog is read: every entry arrives once, in order."""
    async with http(live_server) as api:
        acme = await api.register("Acme")
        for n in range(30):
            await api.comment(acme, f"before {n}")
        async with connect(live_server.url, payload=owner_payload(live_server)) as ws:
            await ws.subscribe(after="0")
            for n in range(10):
                await api.comment(acme, f"during {n}")
            received = await ws.entries(41)
        every = await api.activity_positions()
        assert [e["position"] for e in received] == every
        bodies = [e["data"].get("body") for e in received[1:]]
        assert bodies == [f"before {n}" for n in range(30)] + [f"during {n}" for n in range(10)]


async def test_bad_after_values_are_rejected(live_server: LiveServer) -> None:
    payload = owner_payload(live_server)
    async with http(live_server) as api, connect(live_server.url, payload=payload) as ws:
        await api.register("Acme")
        head = int((await api.activity_positions())[-1])
        await ws.subscribe("bad", after="not a cursor")
        message = await ws.recv()
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert message["payload"][0]["message"] == "after is not a valid cursor"

        await ws.subscribe("future", after=str(head + 1000))
        message = await ws.recv()
        assert message["type"] == "error"
        error = message["payload"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert (
            error["message"] == f"after {head + 1000} is beyond the last recorded position ({head})"
        )

        # The connection still works after both errors.
        await ws.subscribe("good", after=str(head - 1))
        assert (await ws.entry("good"))["position"] == str(head)


# Filters and permissions -----------------------------------------------------------------


async def test_filters_by_type_client_and_actor(live_server: LiveServer) -> None:
    payload = owner_payload(live_server)
    async with http(live_server) as api, connect(live_server.url, payload=payload) as ws:
        acme = await api.register("Acme")
        bolt = await api.register("Bolt")
        await api.add_staff("mgr-1", "MANAGER")
        await ws.subscribe("types", filter={"types": ["ClientPutOnHold"]})
        await ws.subscribe("clients", filter={"clientIds": [bolt]})
        await ws.subscribe("actors", filter={"actorIds": ["mgr-1"]})
        await until_subscribed(live_server, 3)

        await api.comment(acme, "by owner on acme")
        await api.comment(acme, "by manager on acme", as_user=("mgr-1", "manager"))
        await api.hold(acme, "late")
        await api.comment(bolt, "by owner on bolt")

        # Each operation receives exactly its matches, in event order (collect per operation).
        received: dict[str, list[str]] = {"types": [], "clients": [], "actors": []}
        for _ in range(3):
            message = await ws.recv()
            assert message["type"] == "next", message
            entry = message["payload"]["data"]["activity"]
            received[message["id"]].append(entry["data"].get("body") or entry["type"])
        assert received == {
            "types": ["ClientPutOnHold"],
            "clients": ["by owner on bolt"],
            "actors": ["by manager on acme"],
        }
        # A hold on Bolt matches two of them; a manager's comment on Acme only "actors".
        await api.hold(bolt, "late too")
        await api.comment(acme, "again", as_user=("mgr-1", "manager"))
        ids = [(await ws.recv())["id"] for _ in range(3)]
        assert sorted(ids) == ["actors", "clients", "types"]


async def test_an_agent_gets_only_assigned_clients_and_stops_after_removal(
    live_server: LiveServer,
) -> None:
    async with http(live_server) as api:
        await api.add_staff("agent-1")
        acme = await api.register("Acme")
        bolt = await api.register("Bolt")
        crux = await api.register("Crux")
        await api.team(acme, "agent-1")
        await api.team(crux, "agent-1")
        agent = owner_payload(live_server, sub="agent-1", role="agent")
        async with connect(live_server.url, payload=agent) as ws:
            # Asking for an unassigned client's events gives nothing from it.
            await ws.subscribe("bolt", filter={"clientIds": [bolt]})
            # Comments only: each of these comments also queues a notification email to the
            # team (agent-1), an entry about the same client.
            await ws.subscribe(filter={"types": ["CommentAdded"]})
            await until_subscribed(live_server, 2)
            await api.comment(bolt, "not for the agent")
            await api.comment(acme, "for the agent")
            first = await ws.entry()
            assert (first["client"]["name"], first["data"]["body"]) == ("Acme", "for the agent")

            await api.team(acme, "agent-1", remove=True)
            await api.comment(acme, "after removal")
            await api.comment(crux, "still assigned")
            nxt = await ws.entry()
            assert (nxt["client"]["name"], nxt["data"]["body"]) == ("Crux", "still assigned")


async def test_another_firm_receives_nothing(live_server: LiveServer) -> None:
    async with http(live_server) as api:
        other = owner_payload(live_server, firm="firm-b")
        async with connect(live_server.url, payload=other) as ws:
            # Even when naming firm A's client and resuming from before its events.
            acme = await api.register("Acme")
            await ws.subscribe("named", filter={"clientIds": [acme]}, after="0")
            await ws.subscribe("all", after="0")
            await api.comment(acme, "firm a only")
            mine = await api.register("Own", firm="firm-b")
            message = await ws.recv()
            assert message["id"] == "all", message
            entry = message["payload"]["data"]["activity"]
            assert (entry["type"], entry["client"]["id"]) == ("ClientRegistered", mine)


# Protocol: heartbeats and limits ---------------------------------------------------------


async def test_server_pings_and_answers_pings(live_server: LiveServer) -> None:
    live_server.app.state.graphql.heartbeat_interval = 0.1
    async with connect(live_server.url, payload=owner_payload(live_server)) as ws:
        await ws.send({"type": "ping"})
        assert await ws.recv() == {"type": "pong"}
        # While nothing else happens, the server pings (recv() answers with pong).
        for _ in range(2):
            raw = await asyncio.wait_for(ws.ws.recv(), 5)
            assert json.loads(raw) == {"type": "ping"}
            await ws.send({"type": "pong"})
        # The connection is still healthy.
        await ws.subscribe()
        await until_subscribed(live_server, 1)
        async with http(live_server) as api:
            await api.register("Acme")
        assert (await ws.entry())["type"] == "ClientRegistered"


async def test_subscriptions_per_connection_are_capped(live_server: LiveServer) -> None:
    async with connect(live_server.url, payload=owner_payload(live_server)) as ws:
        for n in range(20):
            await ws.subscribe(f"s{n}")
        await ws.subscribe("s20")
        message = await ws.recv()
        assert message == {
            "id": "s20",
            "type": "error",
            "payload": [{"message": "Subscription limit reached"}],
        } or (
            message["type"] == "error"
            and message["payload"][0]["message"] == "Subscription limit reached"
        )
        # Completing one frees a slot.
        await ws.complete("s0")
        await until_subscribed(live_server, 19)
        await ws.subscribe("s21")
        await until_subscribed(live_server, 20)
        async with http(live_server) as api:
            await api.register("Acme")
        got: set[str] = set()
        while len(got) < 20:
            got.add((await ws.recv())["id"])
        assert "s0" not in got and "s21" in got
