"""The dataloader guarantee: a query's SQL statement count does not grow with the data.

The data is written through the application service (fast), the read models are awaited
with `wait_for`, then one GraphQL request runs over in-process HTTP while a
`before_cursor_execute` listener counts the statements the request sends to the
read-model engine. The projection runner's own thread (it polls the tracking table) is
left out. Queries are counted apart from transaction control: SQLite's engine sends an
explicit BEGIN per connection checkout (psycopg begins implicitly, so PostgreSQL sends none);
those are checked separately, and must not grow either.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from domain.actor import Actor, ActorKind, acting_as
from domain.values import ClientType, StaffRole
from resolvers.ids import to_global_id
from tests.e2e import conftest as e2e
from tests.e2e.conftest import FIRM, Api

# The e2e suite's `api` fixture: the app over in-process HTTP, on both backends.
api = e2e.api

OWNER = Actor(id="owner-1", kind=ActorKind.STAFF, name="owner-1")

# Measured on SQLite and PostgreSQL: the page and its total, contacts, team, related
# clients, latest comments.
# Every query first reads the read models' position (the response cache's validity check).
CACHE_CHECK = 1
# Every request then reads the viewer's role from the firm's staff records (one statement).
STAFF_ROLE = 1
CLIENTS_QUERY_STATEMENTS = 6 + CACHE_CHECK + STAFF_ROLE
# client, holds, contacts, team, team history, related clients, latest comments, latest
# activity, the comments page and the activity page (each counting its totals in the same
# statement); for billing, the client's invoices (one statement for the unpaid ones, the
# figures and the page), its credit and the firm's currency.
PROFILE_QUERY_STATEMENTS = 13 + CACHE_CHECK + STAFF_ROLE

CLIENTS_QUERY = """
{ clients(first: 50) { edges { node { id name
    contacts { totalCount edges { node { description
      contact { id firstName emails { address } } } } }
    team { member { id name } }
    relatedClients { id }
    overview { latestComments { id body } } } } } }
"""

# The whole client profile as the bench loads it: the repository's own bench/profile.graphql.
PROFILE_QUERY = (Path(__file__).resolve().parents[2] / "bench" / "profile.graphql").read_text()

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@dataclass
class Counted:
    """Statements sent by a request: queries, and transaction control (SQLite's BEGINs)."""

    queries: list[str] = field(default_factory=list)
    control: list[str] = field(default_factory=list)


@contextmanager
def counting(engine: sa.Engine) -> Iterator[Counted]:
    """Collect every statement executed on the engine outside the projection runner's thread."""
    counted = Counted()

    def before_cursor_execute(
        _conn: Any, _cursor: Any, statement: str, *_args: Any, **_kwargs: Any
    ) -> None:
        if threading.current_thread().name == "projections":
            return
        if statement.lstrip().upper().startswith(TRANSACTION_CONTROL):
            counted.control.append(statement)
        else:
            counted.queries.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield counted
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_cursor_execute)


def add_staff(api: Api) -> None:
    with acting_as(OWNER, FIRM, "owner"):
        for user_id, role in (("staff-1", StaffRole.AGENT), ("staff-2", StaffRole.MANAGER)):
            api.container.service.add_staff_member(
                user_id=user_id, name=f"Staff {user_id[-1]}", email=f"{user_id}@a.test", role=role
            )


def add_clients(api: Api, first: int, count: int, contacts_per_client: int) -> list[dict[str, Any]]:
    """Clients numbered from `first`, each with contacts (an even-numbered client's last
    contact is also linked to the next client), both staff members on the team and three
    comments; returns the id, name and contact ids of each, in name order."""
    svc = api.container.service
    added: list[dict[str, Any]] = []
    last = None
    with acting_as(OWNER, FIRM, "owner"):
        shared: str | None = None
        for n in range(first, first + count):
            name = f"Client {n:03d}"
            registered = svc.register_client(name=name, client_type=ClientType.COMPANY)
            cid = UUID(registered.ids["client_id"])
            contact_ids: list[str] = []
            if shared is not None:
                svc.link_contact(cid, contact_id=UUID(shared), description="Shared")
                contact_ids.append(shared)
            for m in range(contacts_per_client - len(contact_ids)):
                out = svc.link_contact(
                    cid,
                    new_contact={
                        "first_name": f"First{n}-{m}",
                        "last_name": "Contact",
                        "emails": [f"c{n}-{m}@example.test", f"c{n}-{m}@home.test"],
                    },
                    description=f"Role {m}",
                )
                contact_ids.append(out.ids["contact_id"])
            shared = contact_ids[-1] if n % 2 == 0 else None
            for user_id in ("staff-1", "staff-2"):
                svc.assign_team_member(cid, user_id)
            for c in range(3):
                last = svc.add_comment(cid, f"Comment {c} on {name}")
            added.append({"id": str(cid), "name": name, "contacts": contact_ids})
    assert last is not None
    api.container.wait_for(last.position)
    return added


async def count_statements(
    api: Api, query: str, variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any], Counted]:
    with counting(api.container.engine) as counted:
        result = await api.gql(query, variables)
    assert "errors" not in result, result
    return result, counted


def connections(backend: str, count: int) -> int:
    """The BEGINs for `count` connections: SQLite's engine issues them, psycopg's are implicit."""
    return count if backend == "sqlite" else 0


def check_clients_page(result: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    """The response carries every client, contact, team member, related client and comment."""
    by_contact: dict[str, set[str]] = {}
    for client in expected:
        for contact_id in client["contacts"]:
            by_contact.setdefault(contact_id, set()).add(client["id"])
    edges = result["data"]["clients"]["edges"]
    assert [e["node"]["id"] for e in edges] == [to_global_id("Client", c["id"]) for c in expected]
    for edge, client in zip(edges, expected, strict=True):
        node = edge["node"]
        assert node["name"] == client["name"]
        assert node["contacts"]["totalCount"] == len(client["contacts"])
        assert [e["node"]["contact"]["id"] for e in node["contacts"]["edges"]] == [
            to_global_id("Contact", c) for c in client["contacts"]
        ]
        assert all(len(e["node"]["contact"]["emails"]) == 2 for e in node["contacts"]["edges"])
        assert [t["member"]["name"] for t in node["team"]] == ["Staff 1", "Staff 2"]
        related = set().union(*(by_contact[c] for c in client["contacts"])) - {client["id"]}
        assert sorted(r["id"] for r in node["relatedClients"]) == sorted(
            to_global_id("Client", r) for r in related
        )
        assert [c["body"] for c in node["overview"]["latestComments"]] == [
            f"Comment {c} on {client['name']}" for c in (2, 1, 0)
        ]


async def test_clients_query_statement_count_does_not_grow_with_clients(
    api: Api, backend: str
) -> None:
    add_staff(api)
    few = add_clients(api, first=0, count=5, contacts_per_client=3)
    result, small = await count_statements(api, CLIENTS_QUERY)
    check_clients_page(result, few)
    assert sum(bool(e["node"]["relatedClients"]) for e in result["data"]["clients"]["edges"]) == 4

    more = add_clients(api, first=5, count=45, contacts_per_client=8)
    result, large = await count_statements(api, CLIENTS_QUERY)
    check_clients_page(result, few + more)
    edges = result["data"]["clients"]["edges"]
    assert len(edges) == 50
    assert sum(e["node"]["contacts"]["totalCount"] for e in edges) == 5 * 3 + 45 * 8

    assert len(small.queries) == len(large.queries) == CLIENTS_QUERY_STATEMENTS, (small, large)
    assert len(large.queries) <= 10
    # One connection per batch: SQLite's explicit BEGINs do not grow either.
    assert (
        len(small.control)
        == len(large.control)
        == connections(backend, 5 + CACHE_CHECK + STAFF_ROLE)
    )


def quiet_staff(api: Api) -> None:
    """staff-1 and staff-2 turn notification emails off (each email is an activity entry)."""
    off = {"COMMENT": False, "CLIENT_ON_HOLD": False, "HOLD_RELEASED": False}
    for user_id, role in (("staff-1", "agent"), ("staff-2", "manager")):
        member = Actor(id=user_id, kind=ActorKind.STAFF, name=user_id)
        with acting_as(member, FIRM, role):
            api.container.services.notifications.set_notification_preferences(email=off)


async def test_profile_query_statement_count_does_not_grow_with_contacts(
    api: Api, backend: str
) -> None:
    add_staff(api)
    quiet_staff(api)
    client, neighbour = add_clients(api, first=0, count=2, contacts_per_client=1)
    cid = UUID(client["id"])
    svc = api.container.service
    with acting_as(OWNER, FIRM, "owner"):
        svc.remove_team_member(cid, "staff-2")
        svc.put_client_on_hold(cid, reason="Unpaid")
        svc.release_client_hold(cid)
        last = svc.put_client_on_hold(cid, reason="Unpaid again")
    api.container.wait_for(last.position)
    variables = {"id": to_global_id("Client", client["id"])}

    result, one = await count_statements(api, PROFILE_QUERY, variables)
    profile = result["data"]["client"]
    assert profile["contacts"]["totalCount"] == 1
    assert [r["id"] for r in profile["relatedClients"]] == [to_global_id("Client", neighbour["id"])]
    assert [h["reason"] for h in profile["holds"]] == ["Unpaid", "Unpaid again"]
    assert [t["member"]["userId"] for t in profile["team"]] == ["staff-1"]
    assert [c["change"] for c in profile["teamHistory"]] == ["ASSIGNED", "ASSIGNED", "REMOVED"]
    assert profile["comments"]["totalCount"] == 3
    assert len(profile["overview"]["latestActivity"]) == 5
    activity_before = len(profile["activity"]["edges"])

    with acting_as(OWNER, FIRM, "owner"):
        for m in range(29):
            last = svc.link_contact(
                cid,
                new_contact={
                    "first_name": f"Extra{m}",
                    "last_name": "Contact",
                    "emails": [f"extra{m}@example.test"],
                    "phone": "+44 20 7946 0000",
                },
                description=f"Extra {m}",
            )
    api.container.wait_for(last.position)
    result, thirty = await count_statements(api, PROFILE_QUERY, variables)
    profile = result["data"]["client"]
    assert profile["contacts"]["totalCount"] == 30
    assert len(profile["contacts"]["edges"]) == 30
    assert len(profile["activity"]["edges"]) == activity_before + 29

    assert len(one.queries) == len(thirty.queries) == PROFILE_QUERY_STATEMENTS, (one, thirty)
    assert len(one.control) == len(thirty.control) == connections(backend, PROFILE_QUERY_STATEMENTS)


BILLING_LIST_QUERY = """
{ clients(first: 50) { edges { node { id
  billing { unpaidTotal { amount currency } overdueCount averageDaysToPay creditBalance { amount } }
  overview { unpaidInvoices { number balance { amount } payableFromCredit } }
  invoices(first: 10) { totalCount edges { node { number status total { amount } } } }
} } } }
"""
# page + total, invoices, credit, the firm's currency.
BILLING_LIST_STATEMENTS = 5 + CACHE_CHECK + STAFF_ROLE


def add_invoices(api: Api, clients: list[dict[str, Any]], per_client: int) -> None:
    with acting_as(OWNER, FIRM, "owner"):
        for client in clients:
            for _ in range(per_client):
                outcome = api.container.billing.issue_invoice(
                    UUID(client["id"]),
                    number=None,
                    issued_on=date(2026, 1, 5),
                    due_on=date(2026, 2, 5),
                    currency="EUR",
                    lines=[("Bookkeeping", "2", "150.00")],
                )
        api.container.wait_for(outcome.position)


async def test_client_list_billing_statement_count_does_not_grow_with_clients(api: Api) -> None:
    add_staff(api)
    few = add_clients(api, first=0, count=3, contacts_per_client=1)
    add_invoices(api, few, per_client=1)
    result, small = await count_statements(api, BILLING_LIST_QUERY)
    assert [e["node"]["billing"]["unpaidTotal"] for e in result["data"]["clients"]["edges"]] == [
        {"amount": "300.00", "currency": "EUR"}
    ] * 3

    more = add_clients(api, first=3, count=40, contacts_per_client=1)
    add_invoices(api, more, per_client=3)
    result, large = await count_statements(api, BILLING_LIST_QUERY)
    edges = result["data"]["clients"]["edges"]
    assert len(edges) == 43
    assert edges[-1]["node"]["billing"]["unpaidTotal"] == {"amount": "900.00", "currency": "EUR"}
    assert edges[-1]["node"]["invoices"]["totalCount"] == 3
    assert len(small.queries) == len(large.queries) == BILLING_LIST_STATEMENTS, (small, large)
