"""A commit whose acknowledgement is lost is not applied twice.

When the connection drops during COMMIT, the recorder may retry an insert that the server had
already committed; the retry then meets the unique constraint as if another writer had won a
race. The unit of work must recognise its own events and not rebuild the command (which, for a
registration, would create a second client).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from domain.actor import Actor, ActorKind, acting_as
from domain.client import Client
from domain.values import ClientType
from infra.container import Container

ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann")


def committed_then_lost(container: Container, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The next save commits, then reports IntegrityError (its acknowledgement was lost)."""
    real = container.store.save
    calls: list[int] = []

    def save(*aggregates: Any, **kwargs: Any) -> Any:
        calls.append(1)
        real(*aggregates, **kwargs)
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")
        raise AssertionError("the command was saved a second time")

    monkeypatch.setattr(container.store, "save", save)
    return calls


def test_a_registration_whose_commit_was_not_acknowledged_is_recorded_once(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = container.store.head()
    calls = committed_then_lost(container, monkeypatch)
    with acting_as(ANN, "firm-a", "owner"):
        outcome = container.service.register_client(name="Globex", client_type=ClientType.COMPANY)
    assert calls == [1]
    assert container.store.head() == head + 1
    assert container.wait_for(outcome.position) == []
    client: Any = container.store.repository.get(UUID(outcome.ids["client_id"]))
    assert isinstance(client, Client) and client.name == "Globex"


def test_a_change_whose_commit_was_not_acknowledged_is_applied_once(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with acting_as(ANN, "firm-a", "owner"):
        acme = container.service.register_client(name="Acme", client_type=ClientType.COMPANY)
        client_id = UUID(acme.ids["client_id"])
        calls = committed_then_lost(container, monkeypatch)
        container.service.add_comment(client_id, "Called once")
    assert calls == [1]
    monkeypatch.undo()
    # The comment and the client's commenters index (saved together), once.
    assert container.store.head() == (acme.position or 0) + 2


def test_a_real_race_is_still_retried(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = container.store.save
    lost: list[int] = []

    def save(*aggregates: Any, **kwargs: Any) -> Any:
        if not lost:
            lost.append(1)
            for aggregate in aggregates:  # nothing is stored: another writer won
                aggregate.collect_events()
            raise IntegrityError("duplicate key value violates unique constraint")
        return real(*aggregates, **kwargs)

    monkeypatch.setattr(container.store, "save", save)
    with acting_as(ANN, "firm-a", "owner"):
        outcome = container.service.register_client(name="Initech", client_type=ClientType.COMPANY)
    assert lost == [1]
    assert outcome.positions and container.store.head() == outcome.positions[-1]
