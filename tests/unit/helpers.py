"""Shared constants and builders for the domain unit tests (no I/O)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate

from domain.actor import Actor, ActorKind
from domain.base import DossierAggregate, DossierEvent
from domain.client import Client
from domain.values import ClientType

FIRM_ID = "firm-acme"
OTHER_FIRM_ID = "firm-globex"

ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann Archer")
ANN_DICT: dict[str, Any] = {
    "id": "user-ann",
    "kind": "STAFF",
    "name": "Ann Archer",
    "impersonated_by": None,
}
BOB = Actor(id="user-bob", kind=ActorKind.STAFF, name="Bob Baker")
BOB_DICT: dict[str, Any] = {
    "id": "user-bob",
    "kind": "STAFF",
    "name": "Bob Baker",
    "impersonated_by": None,
}

CONTACT_1 = UUID("00000000-0000-4000-8000-000000000001")
CONTACT_2 = UUID("00000000-0000-4000-8000-000000000002")
CONTACT_3 = UUID("00000000-0000-4000-8000-000000000003")


def contact_uuid(n: int) -> UUID:
    """A readable, distinct contact id for the n-th contact."""
    return UUID(int=0x1000 + n)


def new_client(name: str = "Acme Ltd", **kwargs: Any) -> Client:
    """Register a company client (inside an acting_as block) and drop its pending events."""
    kwargs.setdefault("client_type", ClientType.COMPANY)
    client = Client.register(name=name, **kwargs)
    client.collect_events()
    return client


def replay(events: Sequence[Any], aggregate: Any = None) -> Any:
    """Rebuild an aggregate from its events, as a repository would."""
    return project_aggregate(aggregate, events)


def collect(aggregate: DossierAggregate) -> list[DossierEvent]:
    """Collect an aggregate's pending events, checking each one is a DossierEvent."""
    events: list[DossierEvent] = []
    for event in aggregate.collect_events():
        assert isinstance(event, DossierEvent), event
        events.append(event)
    return events
