"""The peer: PostGraphile 4 serving the same rm_* tables, installed into a throwaway folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from bench.server import free_port

FOLDER = Path("var/bench/postgraphile")

# Virtual foreign keys (the read models have none) so PostGraphile can follow relations.
TAGS = {
    "version": 1,
    "config": {
        "class": {
            "rm_staff": {"tags": {"unique": "firm_id,user_id"}},
            "rm_client_contacts": {
                "tags": {
                    "foreignKey": [
                        "(client_id) references rm_clients (id)",
                        "(contact_id) references rm_contacts (id)",
                    ]
                }
            },
            "rm_team": {
                "tags": {
                    "foreignKey": [
                        "(client_id) references rm_clients (id)",
                        "(firm_id, user_id) references rm_staff (firm_id, user_id)",
                    ]
                }
            },
            "rm_team_history": {"tags": {"foreignKey": "(client_id) references rm_clients (id)"}},
            "rm_client_holds": {"tags": {"foreignKey": "(client_id) references rm_clients (id)"}},
            "rm_comments": {"tags": {"foreignKey": "(client_id) references rm_clients (id)"}},
            "rm_activity": {"tags": {"foreignKey": "(client_id) references rm_clients (id)"}},
            "rm_invoices": {"tags": {"foreignKey": "(client_id) references rm_clients (id)"}},
            "rm_client_credit": {"tags": {"foreignKey": "(client_id) references rm_clients (id)"}},
        }
    },
}

# The closest equivalent of the whole profile: the same tables, rows and columns. Billing
# figures are left to the client (PostGraphile has no such computed fields), related clients
# are reached through the shared contacts.
PROFILE = """
query Profile($id: String!) {
  rmClientById(id: $id) {
    id version name clientType tags address customFields onHold detailsComplete createdAt updatedAt
    rmClientHoldsByClientId(orderBy: SEQ_ASC) {
      nodes { placedAt reason releasedAt placedBy releasedBy }
    }
    rmClientContactsByClientId(first: 100, orderBy: POSITION_ASC) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        cursor
        node {
          description linkedAt
          rmContactByContactId {
            id firstName lastName phone emails
            rmClientContactsByContactId { nodes { rmClientByClientId { id name } } }
          }
        }
      }
    }
    rmTeamsByClientId(orderBy: POSITION_ASC) {
      nodes { assignedAt assignedBy rmStaffByFirmIdAndUserId { id userId name email role } }
    }
    rmTeamHistoriesByClientId(orderBy: POSITION_ASC) { nodes { change at by userId } }
    latestComments: rmCommentsByClientId(first: 5, orderBy: POSITION_DESC) {
      nodes { id body createdAt author }
    }
    latestActivity: rmActivitiesByClientId(first: 5, orderBy: POSITION_DESC) {
      nodes { position occurredAt type summary actor }
    }
    rmClientCreditsByClientId { nodes { currency balance } }
    invoices: rmInvoicesByClientId(first: 50, orderBy: ISSUED_ON_DESC) {
      totalCount
      edges {
        node { id number status issuedOn dueOn currency paidOn total paid balance lines }
      }
    }
    comments: rmCommentsByClientId(first: 20, orderBy: POSITION_DESC) {
      totalCount
      edges { node { id body createdAt author } }
    }
    activity: rmActivitiesByClientId(first: 50, orderBy: POSITION_DESC) {
      pageInfo { hasNextPage endCursor }
      edges { cursor node { position occurredAt type summary data actor } }
    }
  }
}
"""


class PeerUnavailable(RuntimeError):
    """npm, node or PostGraphile could not be installed or started."""


def install(timeout: float = 300.0) -> Path:
    """`npm install postgraphile@4` into var/bench/postgraphile (once); the CLI's path."""
    binary = FOLDER / "node_modules" / ".bin" / "postgraphile"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise PeerUnavailable("node/npm are not installed")
    FOLDER.mkdir(parents=True, exist_ok=True)
    if not (FOLDER / "package.json").exists():
        (FOLDER / "package.json").write_text('{"name": "dossier-bench-peer", "private": true}\n')
    try:
        done = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent", "postgraphile@4"],
            cwd=FOLDER,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PeerUnavailable(f"npm install failed: {error}") from error
    if done.returncode != 0 or not binary.exists():
        raise PeerUnavailable(f"npm install failed: {(done.stderr or done.stdout)[-300:]}")
    return binary


class PostGraphile:
    """A PostGraphile server over one PostgreSQL schema, on a free loopback port."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 60.0) -> PostGraphile:
        binary = install()
        (FOLDER / "postgraphile.tags.json5").write_text(json.dumps(TAGS, indent=2))
        log = (FOLDER / "server.log").open("wb")
        command = [
            str(binary.resolve()),
            "--connection",
            self.dsn,
            "--schema",
            self.schema,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--disable-query-log",
            "--disable-default-mutations",
        ]
        try:
            self.process = subprocess.Popen(
                command, cwd=FOLDER, stdout=log, stderr=subprocess.STDOUT, env={**os.environ}
            )
        except OSError as error:
            raise PeerUnavailable(f"postgraphile did not start: {error}") from error
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                tail = (FOLDER / "server.log").read_text(errors="replace")[-300:]
                raise PeerUnavailable(f"postgraphile exited: {tail}")
            try:
                response = httpx.post(self.url, json={"query": "{ __typename }"}, timeout=5)
                if response.status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise PeerUnavailable("postgraphile did not answer in time")
            time.sleep(0.3)

    def check(self, client_id: str) -> int:
        """Run the profile once; the number of contact edges it returned (errors raise)."""
        body = {"query": PROFILE, "variables": {"id": client_id}}
        payload = httpx.post(self.url, json=body, timeout=30).json()
        if payload.get("errors"):
            raise PeerUnavailable(f"the peer query failed: {json.dumps(payload['errors'])[:300]}")
        client = payload["data"]["rmClientById"]
        if client is None:
            raise PeerUnavailable(f"the peer does not find client {client_id}")
        return len(client["rmClientContactsByClientId"]["edges"])

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def __enter__(self) -> PostGraphile:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()
