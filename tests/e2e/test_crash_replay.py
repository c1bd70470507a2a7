"""Fault test: SIGKILL the server in the middle of a burst of keyed mutations, restart it on
the same database and replay every request (same keys, same input).

Afterwards each intended change exists exactly once (counted through GraphQL), every request
answered before the crash gets the same ids again, and every read model equals a rebuild from
the event store. Runs a real `uvicorn infra.asgi:app` process on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from infra.auth import TokenIssuer
from infra.container import Container
from infra.settings import Settings
from tests.e2e.conftest import FIRM, SECRET

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
STEPS = 8  # per worker: a comment, a contact and a payment each
PAYMENT = "10.00"
INVOICE_TOTAL = "1000.00"
TIME_LIMIT = 60.0

REGISTER = """mutation($input: RegisterClientInput!) { registerClient(input: $input) {
  __typename ... on ClientPayload { client { id } } } }"""
ISSUE = """mutation($input: IssueInvoiceInput!) { issueInvoice(input: $input) {
  __typename ... on InvoicePayload { invoice { id } } } }"""
COMMENT = """mutation($input: AddCommentInput!) { addComment(input: $input) {
  __typename ... on AddCommentSuccess { comment { id } } } }"""
LINK = """mutation($input: LinkContactInput!) { linkContact(input: $input) {
  __typename ... on LinkContactSuccess { contact { id } } } }"""
PAY = """mutation($input: RecordPaymentInput!) { recordPayment(input: $input) {
  __typename ... on InvoicePayload { invoice { id } } } }"""
COUNTS = """query { clients(first: 100) { totalCount edges { node {
  name comments { totalCount } contacts { totalCount }
  invoices(first: 10) { totalCount edges { node {
    balance { amount } payments { amount { amount } reference } } } } } } } }"""

# mutation field -> path to the id its success payload reports
CREATED = {
    "registerClient": ("client", "id"),
    "issueInvoice": ("invoice", "id"),
    "addComment": ("comment", "id"),
    "linkContact": ("contact", "id"),
    "recordPayment": ("invoice", "id"),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One uvicorn subprocess on a database."""

    url: str
    process: subprocess.Popen[bytes]


def start_server(database_url: str, log: Path) -> Server:
    port = _free_port()
    env = {
        **os.environ,
        "DOSSIER_DATABASE_URL": database_url,
        "DOSSIER_JWT_SECRET": SECRET,
        "DOSSIER_POLL_INTERVAL": "0.05",
        "DOSSIER_RUN_PROJECTIONS": "true",
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "infra.asgi:app", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Server(url, process)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            process.wait(10)
            raise RuntimeError(f"uvicorn did not start: {log.read_text()[-2000:]}")
        time.sleep(0.05)


def stop_server(server: Server) -> None:
    if server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)


@dataclass
class Burst:
    """What the workers sent and were answered; `done` counts answered requests."""

    answers: dict[tuple[str, str], str] = field(default_factory=dict)
    done: int = 0


class Worker:
    """One API client (its own staff user) running a fixed script of keyed mutations.

    Each step's input depends only on the worker, the step and ids returned by earlier
    steps, which a replay returns again: running the script twice sends the same requests.
    """

    def __init__(self, index: int, issuer: TokenIssuer) -> None:
        self.index = index
        self.user = f"owner-{index}"
        self.token = issuer.issue(sub=self.user, firm=FIRM, role="owner", name=self.user)

    async def call(
        self,
        http: httpx.AsyncClient,
        burst: Burst,
        query: str,
        field_name: str,
        key: str,
        input_: dict[str, Any],
    ) -> str:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": {"input": {**input_, "idempotencyKey": key}}},
            headers={"authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        result = body["data"][field_name]
        entity, id_field = CREATED[field_name]
        assert entity in result, result
        created = str(result[entity][id_field])
        burst.answers[(self.user, key)] = created
        burst.done += 1
        return created

    async def run(self, url: str, burst: Burst) -> None:
        """The whole script; stops at the first transport error (the server died)."""
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            prefix = f"w{self.index}"
            client_id = await self.call(
                http,
                burst,
                REGISTER,
                "registerClient",
                f"{prefix}-register",
                {"name": f"Client {self.index}", "type": "COMPANY"},
            )
            line = {"description": "Engagement", "quantity": "1", "unitPrice": INVOICE_TOTAL}
            invoice_id = await self.call(
                http,
                burst,
                ISSUE,
                "issueInvoice",
                f"{prefix}-invoice",
                {
                    "clientId": client_id,
                    "issuedOn": "2026-01-01",
                    "dueOn": "2026-02-01",
                    "currency": "EUR",
                    "lines": [line],
                },
            )
            for step in range(STEPS):
                contact = {"firstName": f"C{self.index}", "lastName": f"S{step}", "emails": []}
                # Three writes at once: two on the client's stream, one on the invoice's.
                await asyncio.gather(
                    self.call(
                        http,
                        burst,
                        COMMENT,
                        "addComment",
                        f"{prefix}-comment-{step}",
                        {"clientId": client_id, "body": f"note {step}"},
                    ),
                    self.call(
                        http,
                        burst,
                        LINK,
                        "linkContact",
                        f"{prefix}-link-{step}",
                        {"clientId": client_id, "newContact": contact},
                    ),
                    self.call(
                        http,
                        burst,
                        PAY,
                        "recordPayment",
                        f"{prefix}-pay-{step}",
                        {
                            "invoiceId": invoice_id,
                            "amount": PAYMENT,
                            "paidOn": "2026-01-10",
                            "reference": f"{prefix}-{step}",
                        },
                    ),
                )


TOTAL_REQUESTS = WORKERS * (2 + 3 * STEPS)


async def burst_then_kill(server: Server, workers: list[Worker]) -> tuple[Burst, int]:
    """Run every worker; SIGKILL the server once about half the requests were answered.

    Returns what was answered and how many workers were cut off by the crash.
    """
    burst = Burst()
    tasks = [asyncio.create_task(w.run(server.url, burst)) for w in workers]
    while burst.done < TOTAL_REQUESTS // 2:
        assert not all(t.done() for t in tasks), "the burst ended before the crash"
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        await asyncio.sleep(0.001)
    os.kill(server.process.pid, signal.SIGKILL)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    server.process.wait(10)
    cut_off = 0
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            # Only transport errors: the server died under the request.
            assert isinstance(outcome, httpx.TransportError), repr(outcome)
            cut_off += 1
    return burst, cut_off


def read_models(container: Container) -> dict[str, list[str]]:
    """Every row of every projection's tables, canonically sorted."""
    snapshot: dict[str, list[str]] = {}
    with container.engine.connect() as conn:
        for projection in container.runner.projections:
            for table in projection.tables:
                rows = conn.execute(sa.select(table)).all()
                snapshot[table.name] = sorted(
                    json.dumps(list(row), default=str, sort_keys=True) for row in rows
                )
    return snapshot


def open_container(database_url: str) -> Container:
    settings = Settings(database_url=database_url, jwt_secret=SECRET, poll_interval=0.05)
    return Container(settings).open(start_projections=False)


def recorded_requests(database_url: str) -> int:
    """How many keyed requests the event store holds (one idempotency record each)."""
    container = open_container(database_url)
    try:
        notifications = container.store.recorder.select_notifications(start=1, limit=100_000)
        return sum(n.topic.endswith("IdempotencyKeyUsed") for n in notifications)
    finally:
        container.close()


async def test_sigkill_mid_burst_then_replay_records_each_change_once(
    database_url: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    log_path = tmp_path / "uvicorn.log"
    issuer = TokenIssuer(SECRET)
    workers = [Worker(i, issuer) for i in range(WORKERS)]

    server = start_server(database_url, log_path)
    try:
        before, cut_off = await burst_then_kill(server, workers)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(10)
    # The crash came in the middle of the burst: some answers, some requests cut off.
    assert TOTAL_REQUESTS // 2 <= before.done < TOTAL_REQUESTS
    assert cut_off > 0
    # Every answered request was durable; requests cut off may or may not have been saved.
    recorded = recorded_requests(database_url)
    assert before.done <= recorded < TOTAL_REQUESTS

    server = start_server(database_url, log_path)
    try:
        after = Burst()
        await asyncio.gather(*(w.run(server.url, after) for w in workers))
        assert after.done == TOTAL_REQUESTS
        # Every request answered before the crash is answered the same way again.
        assert {k: after.answers[k] for k in before.answers} == before.answers

        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            token = issuer.issue(sub="owner-0", firm=FIRM, role="owner", name="owner-0")
            response = await http.post(
                "/graphql", json={"query": COUNTS}, headers={"authorization": f"Bearer {token}"}
            )
        body = response.json()
        assert "errors" not in body, body
    finally:
        stop_server(server)

    clients = body["data"]["clients"]
    assert clients["totalCount"] == WORKERS
    paid = float(PAYMENT) * STEPS
    expected_balance = f"{float(INVOICE_TOTAL) - paid:.2f}"
    for edge in clients["edges"]:
        node = edge["node"]
        index = int(node["name"].removeprefix("Client "))
        assert node["comments"]["totalCount"] == STEPS, node
        assert node["contacts"]["totalCount"] == STEPS, node
        assert node["invoices"]["totalCount"] == 1, node
        [invoice] = [e["node"] for e in node["invoices"]["edges"]]
        assert invoice["balance"]["amount"] == expected_balance, node
        references = sorted(p["reference"] for p in invoice["payments"])
        assert references == sorted(f"w{index}-{step}" for step in range(STEPS)), node

    # Every read model equals its rebuild from the event store.
    container = open_container(database_url)
    try:
        runner = container.runner
        head = container.store.head()
        assert runner.catch_up() == head
        projected = read_models(container)
        assert projected, "no read models"
        for projection in runner.projections:
            assert runner.rebuild(projection) == head
        assert read_models(container) == projected
    finally:
        container.close()
    assert time.monotonic() - started < TIME_LIMIT
