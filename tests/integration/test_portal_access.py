"""Portal access through the services, on SQLite and PostgreSQL: who may invite (agents only
for contacts of their clients; another firm never), the rows of rm_portal_access and
rm_portal_sessions, that a rebuild reproduces them, and the demo firm's portal contacts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from domain.actor import ActingContext, Actor, ActorKind, acting_as
from domain.errors import NotFound
from domain.values import ClientType, StaffRole
from infra.container import Container
from infra.seed import DEMO_FIRM, seed_demo_firm
from projections.portal_access import PortalAccessProjection, portal_access, portal_sessions

FIRM = "firm-a"
OWNER = Actor(id="owner-1", kind=ActorKind.STAFF, name="Olive Owner")
ANN = Actor(id="ann", kind=ActorKind.STAFF, name="Ann Agent")
BEN = Actor(id="ben", kind=ActorKind.STAFF, name="Ben Agent")
ROLES = {"owner-1": "owner", "ann": "agent", "ben": "agent"}


@contextmanager
def as_(actor: Actor, firm: str = FIRM) -> Iterator[ActingContext]:
    with acting_as(actor, firm, ROLES.get(actor.id, "owner")) as ctx:
        yield ctx


def setup(container: Container) -> tuple[UUID, UUID]:
    """Acme (Ann on its team) with Ada; (client, Ada)."""
    service = container.service
    with as_(OWNER):
        for user_id in ("ann", "ben"):
            service.add_staff_member(
                user_id=user_id,
                name=user_id.title(),
                email=f"{user_id}@f.test",
                role=StaffRole.AGENT,
            )
        client = UUID(
            service.register_client(name="Acme", client_type=ClientType.COMPANY).ids["client_id"]
        )
        service.assign_team_member(client, "ann")
        ada = UUID(
            service.link_contact(
                client,
                new_contact={"first_name": "Ada", "last_name": "L", "emails": ["ada@acme.test"]},
            ).ids["contact_id"]
        )
    return client, ada


def token_of(container: Container, outcome: Any) -> str:
    with as_(OWNER):
        mail: Any = container.store.repository.get(UUID(outcome.ids["email_id"]))
    return str(mail.body.split("token=", 1)[1].split()[0])


def rows(container: Container, table: sa.Table, *columns: str) -> list[tuple[Any, ...]]:
    container.wait_for(container.store.head())
    with container.engine.connect() as conn:
        query = sa.select(*(table.c[c] for c in columns)).order_by(*table.primary_key.columns)
        return [tuple(r) for r in conn.execute(query)]


def test_agents_invite_only_contacts_of_their_clients(container: Container) -> None:
    client, ada = setup(container)
    portal = container.services.portal_access
    with as_(BEN), pytest.raises(NotFound):
        portal.invite(ada, email="ada@acme.test")
    with as_(OWNER, "firm-b"), pytest.raises(NotFound):
        portal.invite(ada, email="ada@acme.test")
    assert rows(container, portal_access, "contact_id") == []
    with as_(ANN):
        invited = portal.invite(ada, email="ADA@acme.test")
    assert invited.ids["contact_id"] == str(ada)
    assert rows(container, portal_access, "contact_id", "client_id", "status", "email") == [
        (str(ada), str(client), "INVITED", "ada@acme.test")
    ]


def test_a_rebuild_reproduces_portal_access_and_sessions(container: Container) -> None:
    _client, ada = setup(container)
    portal = container.services.portal_access
    with as_(ANN):
        first = portal.invite(ada, email="ada@acme.test")
        second = portal.resend(ada)
    assert token_of(container, first) != token_of(container, second)
    portal.accept(token_of(container, second))
    with as_(OWNER):
        portal.revoke(ada)
    columns = [c.name for c in portal_access.columns]
    session_columns = [c.name for c in portal_sessions.columns]
    before = (
        rows(container, portal_access, *columns),
        rows(container, portal_sessions, *session_columns),
    )
    assert [(r[0], r[3]) for r in before[0]] == [(str(ada), "REVOKED")]
    assert [(r[2], r[5]) for r in before[1]] == [(str(ada), "invitation")]
    projection = next(
        p for p in container.runner.projections if isinstance(p, PortalAccessProjection)
    )
    assert container.runner.rebuild(projection) == container.store.head()
    after = (
        rows(container, portal_access, *columns),
        rows(container, portal_sessions, *session_columns),
    )
    assert after == before


def test_the_demo_firm_has_contacts_on_the_portal(container: Container) -> None:
    seed_demo_firm(container)
    assert container.runner.error is None
    container.wait_for(container.store.head())
    with container.engine.connect() as conn:
        statuses = conn.execute(
            sa.select(portal_access.c.status, sa.func.count())
            .where(portal_access.c.firm_id == DEMO_FIRM)
            .group_by(portal_access.c.status)
            .order_by(portal_access.c.status)
        ).all()
        sessions = conn.execute(sa.select(sa.func.count()).select_from(portal_sessions)).scalar()
    assert [tuple(s) for s in statuses] == [("ACTIVE", 3), ("INVITED", 1), ("REVOKED", 1)]
    assert sessions == 4
