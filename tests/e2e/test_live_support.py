"""Helpers for the live-activity tests (this module holds no tests).

A tiny graphql-transport-ws client over the `websockets` package, written message by message
(connection_init/connection_ack/subscribe/next/error/complete/ping/pong), and an HTTP client
for the writes. Every receive has a timeout, so a missing message fails instead of hanging.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from infra.auth import TokenIssuer
from infra.settings import Settings
from infra.web import create_app
from tests.e2e.conftest import SECRET, LiveServer
from tests.e2e.servers import running

PROTOCOL = "graphql-transport-ws"
TIMEOUT = 15.0

ENTRY_FIELDS = "id position type summary occurredAt actor { id } client { id name } data"

SUBSCRIBE = f"""
subscription($filter: ActivityFilter, $after: String) {{
  activity(filter: $filter, after: $after) {{ {ENTRY_FIELDS} }}
}}
"""


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1) + "/graphql"


class WsClient:
    """One graphql-transport-ws connection."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pings = 0

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def recv(self, wait: float = TIMEOUT) -> dict[str, Any]:
        """The next protocol message, answering the server's pings on the way."""
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), wait)
            message: dict[str, Any] = json.loads(raw)
            if message["type"] == "ping":
                self.pings += 1
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(
        self,
        op_id: str = "1",
        *,
        filter: dict[str, Any] | None = None,
        after: str | None = None,
        query: str = SUBSCRIBE,
    ) -> None:
        variables: dict[str, Any] = {}
        if filter is not None:
            variables["filter"] = filter
        if after is not None:
            variables["after"] = after
        await self.send(
            {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )

    async def entry(self, op_id: str = "1", wait: float = TIMEOUT) -> dict[str, Any]:
        """The next streamed activity entry of an operation."""
        message = await self.recv(wait)
        assert message.get("id") == op_id, message
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        return message["payload"]["data"]["activity"]  # type: ignore[no-any-return]

    async def entries(self, count: int, op_id: str = "1") -> list[dict[str, Any]]:
        return [await self.entry(op_id) for _ in range(count)]

    async def complete(self, op_id: str = "1") -> None:
        await self.send({"id": op_id, "type": "complete"})


@asynccontextmanager
async def connect(
    base_url: str,
    *,
    payload: dict[str, Any] | None = None,
    header_token: str | None = None,
    acknowledge: bool = True,
    init: bool = True,
    origin: str | None = None,
) -> AsyncIterator[WsClient]:
    """Open a connection, send connection_init with `payload` and wait for the ack."""
    headers = {"Authorization": f"Bearer {header_token}"} if header_token else None
    async with websockets.connect(
        ws_url(base_url),
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        additional_headers=headers,
        origin=origin,  # type: ignore[arg-type]
        open_timeout=TIMEOUT,
        close_timeout=5,
    ) as ws:
        client = WsClient(ws)
        if init:
            await client.send({"type": "connection_init", "payload": payload or {}})
        if init and acknowledge:
            ack = await client.recv()
            assert ack["type"] == "connection_ack", ack
        yield client


class Http:
    """GraphQL over real HTTP against a running server."""

    def __init__(self, client: httpx.AsyncClient, token_for: Any) -> None:
        self.client = client
        self.token_for = token_for

    async def gql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_user: tuple[str, str] = ("owner-1", "owner"),
        firm: str = "firm-a",
    ) -> dict[str, Any]:
        token = self.token_for(sub=as_user[0], role=as_user[1], firm=firm)
        response = await self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    async def register(self, name: str, firm: str = "firm-a") -> str:
        data = await self.gql(
            """mutation($input: RegisterClientInput!) { registerClient(input: $input) {
                 __typename ... on ClientPayload { client { id } } } }""",
            {"input": {"name": name, "type": "COMPANY"}},
            firm=firm,
        )
        return str(data["registerClient"]["client"]["id"])

    async def comment(
        self, client_id: str, body: str, as_user: tuple[str, str] = ("owner-1", "owner")
    ) -> None:
        data = await self.gql(
            """mutation($input: AddCommentInput!) { addComment(input: $input) { __typename } }""",
            {"input": {"clientId": client_id, "body": body}},
            as_user=as_user,
        )
        assert data["addComment"]["__typename"] == "AddCommentSuccess", data

    async def hold(self, client_id: str, reason: str) -> None:
        data = await self.gql(
            """mutation($input: PutClientOnHoldInput!) { putClientOnHold(input: $input) {
                 __typename } }""",
            {"input": {"clientId": client_id, "reason": reason}},
        )
        assert data["putClientOnHold"]["__typename"] == "ClientPayload", data

    async def add_staff(self, user_id: str, role: str = "AGENT") -> None:
        data = await self.gql(
            """mutation($input: AddStaffMemberInput!) { addStaffMember(input: $input) {
                 __typename } }""",
            {
                "input": {
                    "userId": user_id,
                    "name": user_id,
                    "email": f"{user_id}@firm.example",
                    "role": role,
                }
            },
        )
        assert data["addStaffMember"]["__typename"] == "AddStaffMemberSuccess", data

    async def team(self, client_id: str, user_id: str, *, remove: bool = False) -> None:
        field = "removeTeamMember" if remove else "assignTeamMember"
        kind = "RemoveTeamMemberInput" if remove else "AssignTeamMemberInput"
        data = await self.gql(
            f"""mutation($input: {kind}!) {{ {field}(input: $input) {{ __typename }} }}""",
            {"input": {"clientId": client_id, "userId": user_id}},
        )
        assert data[field]["__typename"] == "ClientPayload", data

    async def activity_positions(
        self, after: str | None = None, as_user: tuple[str, str] = ("owner-1", "owner")
    ) -> list[str]:
        """Every visible entry's position, oldest first (from Query.activity)."""
        data = await self.gql(
            "{ activity(first: 100) { edges { node { position } } } }", as_user=as_user
        )
        positions = [e["node"]["position"] for e in data["activity"]["edges"]]
        positions.reverse()
        if after is not None:
            positions = [p for p in positions if int(p) > int(after)]
        return positions


async def until_subscribed(server: Any, count: int) -> None:
    """Wait (bounded) until the server process has `count` live subscribers with a fixed start.

    graphql-transport-ws has no message that says a subscription has started, so a test that
    subscribes without `after` and then writes must wait for this before writing.
    """
    live = server.app.state.container.live
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while live.subscriber_count != count:
        assert asyncio.get_running_loop().time() < deadline, live.subscriber_count
        await asyncio.sleep(0.005)


@asynccontextmanager
async def http(server: Any) -> AsyncIterator[Http]:
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as client:
        yield Http(client, server.token)


@dataclass
class ServedApp(LiveServer):
    """A LiveServer built from chosen settings, with its uvicorn server at hand."""

    server: uvicorn.Server | None = None

    @property
    def open_connections(self) -> int:
        """Connections (HTTP or websocket) the uvicorn server still holds."""
        assert self.server is not None
        return len(self.server.server_state.connections)


@contextmanager
def serve(settings: Settings) -> Iterator[ServedApp]:
    """The app built from `settings` under a real uvicorn server on a free loopback port."""
    app = create_app(settings)
    with running(app) as served:
        yield ServedApp(url=served.url, app=app, issuer=TokenIssuer(SECRET), server=served.server)


async def refusal(base_url: str, **connect_args: Any) -> tuple[int, str]:
    """Connect, send connection_init and expect the server to close instead of acknowledging:
    the close code and reason."""
    async with connect(base_url, acknowledge=False, **connect_args) as ws:
        try:
            message = await ws.recv()
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, closed
            return closed.rcvd.code, closed.rcvd.reason
        raise AssertionError(f"expected a close, got {message}")


async def until(condition: Any, what: str, wait: float = TIMEOUT) -> None:
    """Wait (bounded) until `condition()` is true."""
    deadline = asyncio.get_running_loop().time() + wait
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)
