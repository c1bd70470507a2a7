"""The server under uvicorn, over real HTTP."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import LiveServer


def test_graphql_over_real_http(live_server: LiveServer) -> None:
    headers = {"authorization": f"Bearer {live_server.token()}"}
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready"
        registered = client.post(
            "/graphql",
            json={
                "query": 'mutation { registerClient(input: {name: "Acme", type: COMPANY}) '
                "{ ... on ClientPayload { client { id name version } } } }"
            },
            headers=headers,
        ).json()
        client_data = registered["data"]["registerClient"]["client"]
        assert client_data["name"] == "Acme"
        assert client_data["version"] == 1
        fetched = client.post(
            "/graphql",
            json={
                "query": "query($id: ID!) { client(id: $id) { name } }",
                "variables": {"id": client_data["id"]},
            },
            headers=headers,
        )
        assert fetched.headers["x-request-id"]
        assert fetched.json() == {"data": {"client": {"name": "Acme"}}}
        page = client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
