"""Shared helpers for the audit tests (this module holds no tests): a small history and a
raw-SQL edit of one stored event, as an attacker with database access would make it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from domain.actor import Actor, ActorKind, acting_as
from domain.values import ClientType, StaffRole
from infra.container import Container

FIRM = "firm-a"
OTHER_FIRM = "firm-b"
ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann")
OLGA = Actor(id="user-olga", kind=ActorKind.STAFF, name="Olga")


def build_history(container: Container) -> dict[str, UUID]:
    """Acme and Globex in firm-a, Umbrella in firm-b.

    Acme's chain has six links: registered (v1), renamed (v2), a comment (the Comment's v1),
    put on hold (v3), released (v4), tagged (v5). Globex's has two: registered (v1), tagged
    (v2). Adding staff is about no client.
    """
    svc = container.service
    ids: dict[str, UUID] = {}
    with acting_as(ANN, FIRM, "owner"):
        svc.add_staff_member(
            user_id="user-bob", name="Bob", email="bob@firm.test", role=StaffRole.AGENT
        )
        acme = UUID(
            svc.register_client(name="Acme", client_type=ClientType.COMPANY).ids["client_id"]
        )
        globex = UUID(
            svc.register_client(name="Globex", client_type=ClientType.INDIVIDUAL).ids["client_id"]
        )
        svc.update_client_details(acme, name="Acme Ltd")
        outcome = svc.add_comment(acme, "Called about the year-end accounts.")
        ids["comment"] = UUID(outcome.ids["comment_id"])
        svc.put_client_on_hold(acme, reason="Unpaid invoice")
        svc.update_client_details(globex, tags=["vip"])
        svc.release_client_hold(acme)
        last = svc.update_client_details(acme, tags=["audit"])
    with acting_as(OLGA, OTHER_FIRM, "owner"):
        umbrella = svc.register_client(name="Umbrella", client_type=ClientType.COMPANY)
    ids.update(acme=acme, globex=globex, umbrella=UUID(umbrella.ids["client_id"]))
    container.wait_for(max(last.position or 0, umbrella.position or 0))
    return ids


def events_table(container: Container) -> str:
    return str(container.store.recorder.events_table_name)  # type: ignore[attr-defined]


def tamper(
    container: Container, originator_id: UUID, version: int, edit: Callable[[Any], None]
) -> None:
    """Edit one stored event's state in place with raw SQL (both backends)."""
    table = events_table(container)
    with container.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            where = "originator_id = CAST(:id AS uuid) AND originator_version = :v"
            key: str = str(originator_id)
        else:
            where = "originator_id = :id AND originator_version = :v"
            key = originator_id.hex
        row = conn.execute(
            sa.text(f"SELECT state FROM {table} WHERE {where}"), {"id": key, "v": version}
        ).one()
        state = json.loads(bytes(row[0]))
        edit(state)
        updated = conn.execute(
            sa.text(f"UPDATE {table} SET state = :state WHERE {where}"),
            {"id": key, "v": version, "state": json.dumps(state).encode()},
        )
        assert updated.rowcount == 1
