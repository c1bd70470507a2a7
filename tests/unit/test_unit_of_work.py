"""UnitOfWork.change on the library's in-memory (POPO) persistence: no database."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest

from domain.actor import acting_as
from domain.client import Client
from domain.errors import NotFound, VersionConflict
from domain.invoice import Invoice
from domain.values import ClientType
from infra.container import Container
from infra.eventstore import EventStore
from infra.services import Change, Services
from tests.unit.helpers import ANN, BOB, FIRM_ID, OTHER_FIRM_ID


@pytest.fixture
def services() -> Iterator[Services]:
    store = EventStore(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    yield Services.over(store)
    store.close()


def register(services: Services) -> UUID:
    with acting_as(ANN, FIRM_ID, "owner"):
        done = services.clients.register_client(name="Acme Ltd", client_type=ClientType.COMPANY)
    return UUID(done.ids["client_id"])


def test_change_loads_acts_and_saves_reporting_the_ids(services: Services) -> None:
    client_id = register(services)
    uow = services.uow
    with acting_as(ANN, FIRM_ID, "owner"):
        done = uow.change(
            "putClientOnHold", None, Client, client_id, lambda c: c.put_on_hold("late")
        )
        client = uow.visible(Client, client_id)
    assert done.ids == {"client_id": str(client_id)}
    assert done.position is not None and done.positions == (done.position,)
    assert client.on_hold and client.version == 2


def test_change_checks_the_expected_version(services: Services) -> None:
    client_id = register(services)
    with acting_as(ANN, FIRM_ID, "owner"):
        with pytest.raises(VersionConflict):
            services.uow.change(
                "putClientOnHold",
                None,
                Client,
                client_id,
                lambda c: c.put_on_hold(None),
                expected_version=7,
            )
        done = services.uow.change(
            "putClientOnHold",
            None,
            Client,
            client_id,
            lambda c: c.put_on_hold(None),
            expected_version=1,
        )
        assert services.uow.visible(Client, client_id).version == 2
    assert done.ids["client_id"] == str(client_id)


def test_change_refuses_what_the_actor_may_not_see(services: Services) -> None:
    client_id = register(services)
    for actor, firm, role in ((BOB, FIRM_ID, "agent"), (ANN, OTHER_FIRM_ID, "owner")):
        with acting_as(actor, firm, role), pytest.raises(NotFound):
            services.uow.change(
                "putClientOnHold", None, Client, client_id, lambda c: c.put_on_hold(None)
            )
    with acting_as(ANN, FIRM_ID, "owner"):
        assert not services.uow.visible(Client, client_id).on_hold
        with pytest.raises(NotFound):
            services.uow.visible(Invoice, uuid4())


def test_a_keyed_change_replays_its_first_outcome(services: Services) -> None:
    client_id = register(services)
    with acting_as(ANN, FIRM_ID, "owner"):
        first = services.clients.put_client_on_hold(client_id, reason="late", key="k1")
        again = services.clients.put_client_on_hold(client_id, reason="late", key="k1")
        assert services.uow.visible(Client, client_id).version == 2
    assert not first.replayed and again.replayed
    assert again.ids == first.ids


def test_change_of_names_each_aggregate_and_its_client(services: Services) -> None:
    client_id = register(services)
    with acting_as(ANN, FIRM_ID, "owner"):
        client = services.uow.visible(Client, client_id)
        change = Change.of(client, imported="3")
    assert change.ids == {"client_id": str(client_id), "imported": "3"}
    assert change.aggregates == [client]


def test_the_container_builds_the_services_once(container: Container) -> None:
    services = container.services
    assert container.service is services.clients is container.service
    assert container.billing is services.billing is services.quotes.billing
    assert container.quotes is services.quotes
    assert container.service_subscriptions is services.subscriptions
    assert container.organizations is services.organizations
    assert {s.uow for s in (services.clients, services.billing, services.quotes)} == {services.uow}
