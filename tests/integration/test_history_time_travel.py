"""Time travel (`Client.asOf`) rebuilt from the event store, on SQLite and PostgreSQL.

A version is rebuilt with the repository (from the latest snapshot at or before it); a moment
is turned into the last version recorded at or before it by a binary search over the stored
events. Before the client existed there is nothing; versions out of range are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import pytest

from domain.actor import ActingContext, Actor, ActorKind, acting_as
from domain.client import Client
from domain.values import ClientType, StaffRole
from infra.container import Container
from infra.eventstore import SNAPSHOT_INTERVAL
from resolvers.billing import Summary
from resolvers.history import ClientState, VersionOutOfRange

FIRM = "firm-a"
ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann")
ANN_DICT = {"id": "user-ann", "kind": "STAFF", "name": "Ann", "impersonated_by": None}
BOB = Actor(id="user-bob", kind=ActorKind.STAFF, name="Bob")
BOB_DICT = {"id": "user-bob", "kind": "STAFF", "name": "Bob", "impersonated_by": None}


@contextmanager
def as_owner(actor: Actor = ANN, firm: str = FIRM) -> Iterator[ActingContext]:
    with acting_as(actor, firm, "owner") as ctx:
        yield ctx


def timestamps(container: Container, client_id: str) -> list[datetime]:
    """The stored timestamp of every version (index 0 is version 1)."""
    return [cast(Any, e).timestamp for e in container.store.events.get(UUID(client_id))]


def as_of(
    container: Container,
    client_id: str,
    *,
    at: datetime | None = None,
    version: int | None = None,
    firm: str = FIRM,
) -> ClientState | None:
    return container.history.client_as_of(firm, client_id, at=at, version=version)


def renamed_twice(container: Container) -> str:
    with as_owner():
        cid = container.service.register_client(name="First", client_type=ClientType.COMPANY)
        client_id = cid.ids["client_id"]
        container.service.update_client_details(UUID(client_id), name="Second")
    with as_owner(BOB):
        container.service.update_client_details(UUID(client_id), name="Third")
    return client_id


def test_as_of_version_shows_the_name_of_that_version(container: Container) -> None:
    client_id = renamed_twice(container)
    times = timestamps(container, client_id)
    assert len(times) == 3

    names = {}
    for version in (1, 2, 3):
        state = as_of(container, client_id, version=version)
        assert state is not None
        names[version] = state.name
        assert state.version == version
        assert state.at == times[version - 1]
        assert state.valid_until == (times[version] if version < 3 else None)
        assert state.latest_version == 3
        assert state.created_at == times[0]
        assert state.client_type == "COMPANY"
    assert names == {1: "First", 2: "Second", 3: "Third"}


def test_as_of_a_moment_takes_the_last_version_at_or_before_it(container: Container) -> None:
    client_id = renamed_twice(container)
    t1, t2, t3 = timestamps(container, client_id)
    between = t1 + (t2 - t1) / 2
    assert t1 < between < t2

    def name_at(moment: datetime) -> tuple[str, int] | None:
        state = as_of(container, client_id, at=moment)
        return None if state is None else (state.name, state.version)

    assert name_at(t1 - timedelta(microseconds=1)) is None
    assert name_at(t1 - timedelta(days=365)) is None
    assert name_at(t1) == ("First", 1)
    assert name_at(between) == ("First", 1)
    assert name_at(t2) == ("Second", 2)
    assert name_at(t3 - timedelta(microseconds=1)) == ("Second", 2)
    assert name_at(t3) == ("Third", 3)
    assert name_at(t3 + timedelta(days=365)) == ("Third", 3)


@pytest.mark.parametrize("version", [0, -1, 4, 1_000_000])
def test_a_version_out_of_range_is_refused_with_the_valid_range(
    container: Container, version: int
) -> None:
    client_id = renamed_twice(container)
    with pytest.raises(VersionOutOfRange) as error:
        as_of(container, client_id, version=version)
    assert str(error.value) == "version must be between 1 and 3 (the current version)"
    assert error.value.latest == 3


def test_another_firm_gets_nothing(container: Container) -> None:
    client_id = renamed_twice(container)
    assert as_of(container, client_id, version=2, firm="firm-b") is None
    assert as_of(container, client_id, at=datetime.now().astimezone(), firm="firm-b") is None
    start, end = datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC)
    assert container.history.client_changes("firm-b", client_id, start, end) == []
    assert container.history.field_history("firm-b", client_id, "name") == []


def test_related_state_as_of_then(container: Container) -> None:
    """Contacts with their link descriptions and names, team, holds, custom fields."""
    svc = container.service
    with as_owner():
        svc.add_staff_member(
            user_id="user-bob", name="Bob Baker", email="bob@firm.test", role=StaffRole.AGENT
        )
        client_id = svc.register_client(
            name="Acme",
            client_type=ClientType.COMPANY,
            address={"line1": "1 Main Street", "city": "Leeds"},
            custom_fields=[("VAT number", "GB1")],
        ).ids["client_id"]
        cid = UUID(client_id)
        alice = svc.link_contact(
            cid,
            new_contact={"first_name": "Alice", "last_name": "Adams", "emails": ["a@x.test"]},
            description="CFO",
        ).ids["contact_id"]  # v2
        svc.assign_team_member(cid, "user-bob")  # v3
        svc.put_client_on_hold(cid, reason="Unpaid invoice")  # v4
        svc.update_client_details(
            cid, address={"line1": "1 Main Street", "city": "Leeds", "country": "GB"}
        )  # v5
    with as_owner(BOB):
        svc.release_client_hold(cid)  # v6
        carl = svc.link_contact(
            cid,
            new_contact={"first_name": "Carl", "last_name": "Cole", "emails": ["c@x.test"]},
            description=None,
        ).ids["contact_id"]  # v7
    with as_owner():
        svc.unlink_contact(cid, UUID(alice))  # v8
        svc.remove_team_member(cid, "user-bob")  # v9
    times = timestamps(container, client_id)
    assert len(times) == 9

    v4 = as_of(container, client_id, version=4)
    assert v4 is not None
    assert v4.on_hold is True
    assert v4.details_complete is False
    assert v4.custom_fields == [{"key": "VAT number", "value": "GB1"}]
    assert v4.address == {"line1": "1 Main Street", "city": "Leeds"}
    assert [
        (c.contact_id, c.first_name, c.last_name, c.description, c.linked_at) for c in v4.contacts
    ] == [(alice, "Alice", "Adams", "CFO", times[1])]
    assert [(m.user_id, m.name, m.assigned_at, m.assigned_by) for m in v4.team] == [
        ("user-bob", "Bob Baker", times[2], ANN_DICT)
    ]
    assert [
        (h.placed_at, h.placed_by, h.reason, h.released_at, h.released_by) for h in v4.holds
    ] == [(times[3], ANN_DICT, "Unpaid invoice", None, None)]
    # No invoices yet: zero figures in the default currency.
    assert v4.billing == Summary(
        currency="USD",
        unpaid_total=Decimal("0.00"),
        overdue_total=Decimal("0.00"),
        unpaid_count=0,
        overdue_count=0,
        average_days_to_pay=None,
        credit_balance=Decimal("0.00"),
        excluded_invoice_count=0,
        invoiced_by_month=[],
    )

    v7 = as_of(container, client_id, at=times[6] + (times[7] - times[6]) / 2)
    assert v7 is not None
    assert v7.version == 7
    assert v7.on_hold is False
    assert v7.details_complete is True
    assert [(c.contact_id, c.first_name, c.description) for c in v7.contacts] == [
        (alice, "Alice", "CFO"),
        (carl, "Carl", None),
    ]
    assert [(h.reason, h.released_at, h.released_by) for h in v7.holds] == [
        ("Unpaid invoice", times[5], BOB_DICT)
    ]

    v9 = as_of(container, client_id, version=9)
    assert v9 is not None
    assert [c.contact_id for c in v9.contacts] == [carl]
    assert v9.team == []


def test_as_of_on_a_long_stream_starts_from_the_nearest_snapshot(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """About 1,000 events: every version loads exactly, reading at most 99 events past a
    snapshot, and a moment is found with a logarithmic number of single-event reads."""
    with as_owner():
        client_id = container.service.register_client(
            name="n1", client_type=ClientType.COMPANY
        ).ids["client_id"]
        cid = UUID(client_id)
        for start in range(2, 1001, 50):
            client: Any = container.store.repository.get(cid)
            assert isinstance(client, Client)
            for n in range(start, min(start + 50, 1001)):
                client.update_details(name=f"n{n}")
            container.store.save(client)
    assert container.history.latest_version(cid) == 1000
    assert container.store.snapshots is not None
    snapshots = [s.originator_version for s in container.store.snapshots.get(cid)]
    assert snapshots == list(range(SNAPSHOT_INTERVAL, 1001, SNAPSHOT_INTERVAL))

    calls: list[tuple[Any, Any, Any]] = []
    recorder = container.store.events.recorder
    original = recorder.select_events

    def spy(*args: Any, **kwargs: Any) -> Any:
        # Count reads of the client's own stream (billing reads its invoices' streams).
        if (args[0] if args else kwargs.get("originator_id")) == cid:
            calls.append((kwargs.get("gt"), kwargs.get("lte"), kwargs.get("limit")))
        return original(*args, **kwargs)

    monkeypatch.setattr(recorder, "select_events", spy)

    for version in (1, 99, 100, 101, 550, 999, 1000):
        calls.clear()
        state = as_of(container, client_id, version=version)
        assert state is not None
        assert (state.version, state.name) == (version, f"n{version}")
        replayed = [c for c in calls if c[2] is None and c[1] == version]
        # One range read for the rebuild, starting at the nearest snapshot.
        nearest = version - version % SNAPSHOT_INTERVAL or None
        assert replayed == [(nearest, version, None)]

    times = timestamps(container, client_id)
    for version in (1, 2, 500, 777, 1000):
        moment = times[version - 1]
        expected = max(v for v, t in enumerate(times, start=1) if t <= moment)
        calls.clear()
        state = as_of(container, client_id, at=moment)
        assert state is not None
        assert (state.version, state.name) == (expected, f"n{expected}")
        # The latest version, ~log2(1000) probes, the rebuild and the following version.
        assert len(calls) <= 15, calls
