"""Concurrent writers on one aggregate, and idempotency keys bound to their request.

On SQLite and PostgreSQL: many threads writing to one client through the service never see a
database error (a lost race is retried on fresh state); with an expected version the losers
get VersionConflict. An idempotency key replays the first answer for the same input and is
refused, recording nothing, for different input; records from before fingerprints existed
match any input of their mutation.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from eventsourcing.persistence import IntegrityError, StoredEvent

from domain.actor import Actor, ActorKind, acting_as
from domain.errors import IdempotencyKeyReused, VersionConflict, WriteContention
from domain.idempotency import IdempotencyRecord, idempotency_id
from domain.values import ClientType
from infra.container import Container
from infra.eventstore import SNAPSHOT_INTERVAL
from infra.services import unit_of_work as service_module
from infra.services.unit_of_work import MAX_ATTEMPTS, request_fingerprint
from projections.billing import invoices
from projections.tables import client_contacts, clients, comments

FIRM = "firm-a"
ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann")
WRITERS = 16
WRITES_EACH = 3


@contextmanager
def as_owner() -> Iterator[None]:
    with acting_as(ANN, FIRM, "owner"):
        yield


def rows(container: Container, query: Any) -> list[tuple[Any, ...]]:
    with container.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query).all()]


def recorded_types(container: Container) -> list[str]:
    notifications = container.store.recorder.select_notifications(start=1, limit=100_000)
    return [n.topic.rsplit(".", 1)[-1] for n in notifications]


def in_threads(count: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run work(0..count-1) in threads started together; their results and exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        barrier.wait()
        try:
            with as_owner():
                result = work(index)
        except BaseException as error:
            with lock:
                errors.append(error)
        else:
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results, errors


def register(container: Container, name: str = "Acme") -> UUID:
    with as_owner():
        outcome = container.service.register_client(name=name, client_type=ClientType.COMPANY)
    return UUID(outcome.ids["client_id"])


# Concurrent writers ------------------------------------------------------------------------


def count_lost_races(container: Container, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the saves that lost to a concurrent writer (and were then retried)."""
    lost = [0]
    real_save = container.store.save

    def save(*aggregates: Any) -> Any:
        try:
            return real_save(*aggregates)
        except IntegrityError:
            lost[0] += 1
            raise

    monkeypatch.setattr(container.store, "save", save)
    return lost


def test_concurrent_writers_without_expected_version_all_succeed(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = container.service
    client_id = register(container)
    lost = count_lost_races(container, monkeypatch)

    def write(index: int) -> list[Any]:
        outcomes = []
        for n in range(WRITES_EACH):
            if n % 2 == 0:
                outcomes.append(svc.update_client_details(client_id, tags=[f"w{index}-{n}"]))
            else:
                contact = {"first_name": f"W{index}", "last_name": f"N{n}", "emails": []}
                outcomes.append(svc.link_contact(client_id, new_contact=contact))
        return outcomes

    results, errors = in_threads(WRITERS, write)
    assert errors == []
    assert lost[0] > 0, "the writers never raced: the test proves nothing"
    outcomes = [o for batch in results for o in batch]
    assert len(outcomes) == WRITERS * WRITES_EACH
    # Every outcome reports the positions it recorded; no position is claimed twice.
    positions = [p for o in outcomes for p in o.positions]
    assert len(positions) == len(set(positions))
    assert all(o.position == max(o.positions) for o in outcomes)
    with as_owner():
        client = svc.visible_client(client_id)
    assert client.version == 1 + WRITERS * WRITES_EACH
    links = WRITERS * (WRITES_EACH // 2)
    container.wait_for(container.store.head())
    assert rows(container, sa.select(clients.c.version).where(clients.c.id == str(client_id))) == [
        (1 + WRITERS * WRITES_EACH,)
    ]
    count = sa.select(sa.func.count()).select_from(client_contacts)
    assert rows(container, count) == [(links,)]


def test_concurrent_writers_across_a_snapshot(container: Container) -> None:
    """Racing saves around a snapshot version (cache fast-forward plus snapshot) still retry."""
    svc = container.service
    client_id = register(container)
    with as_owner():
        for n in range(SNAPSHOT_INTERVAL - 1 - WRITERS // 2):
            svc.update_client_details(client_id, tags=[f"pre-{n}"])

    def write(index: int) -> Any:
        return svc.update_client_details(client_id, tags=[f"w{index}"])

    results, errors = in_threads(WRITERS, write)
    assert errors == []
    assert len(results) == WRITERS
    version = SNAPSHOT_INTERVAL + WRITERS // 2
    snapshots = container.store.snapshots
    assert snapshots is not None
    assert [s.originator_version for s in snapshots.get(client_id)] == [SNAPSHOT_INTERVAL]
    with as_owner():
        assert svc.visible_client(client_id).version == version


def test_writers_that_keep_losing_get_write_contention(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After MAX_ATTEMPTS lost races the command gives up with a domain error, not a
    database error, and records nothing."""
    client_id = register(container)
    head = container.store.head()
    attempts = [0]

    def always_loses(*aggregates: Any) -> Any:
        attempts[0] += 1
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(container.store, "save", always_loses)
    monkeypatch.setattr(service_module, "backoff", lambda attempt: None)
    with as_owner(), pytest.raises(WriteContention):
        container.service.update_client_details(client_id, name="X", key="k")
    assert attempts[0] == MAX_ATTEMPTS
    assert container.store.head() == head


def test_concurrent_writers_with_expected_version_one_wins(container: Container) -> None:
    svc = container.service
    client_id = register(container)

    def write(index: int) -> Any:
        return svc.update_client_details(client_id, name=f"Name {index}", expected_version=1)

    results, errors = in_threads(WRITERS, write)
    assert len(results) == 1
    assert len(errors) == WRITERS - 1
    assert all(isinstance(e, VersionConflict) for e in errors), errors
    assert {(e.expected, e.actual) for e in errors if isinstance(e, VersionConflict)} == {(1, 2)}
    assert recorded_types(container) == ["ClientRegistered", "ClientDetailsUpdated"]


def test_concurrent_comments_and_keyed_writes_on_one_client(container: Container) -> None:
    """Comments (their own aggregates) and keyed client changes at once: nothing lost."""
    svc = container.service
    client_id = register(container)

    def comment_and_tag(index: int) -> Any:
        svc.add_comment(client_id, f"note {index}", key=f"comment-{index}")
        return svc.update_client_details(client_id, tags=[f"t{index}"], key=f"tag-{index}")

    first, errors = in_threads(WRITERS, comment_and_tag)
    assert errors == []
    # The same requests again replay, all at once too.
    replays, errors = in_threads(WRITERS, comment_and_tag)
    assert errors == []
    assert all(o.replayed for o in replays)
    assert sorted(o.ids["client_id"] for o in replays) == sorted(o.ids["client_id"] for o in first)
    head = container.store.head()
    container.wait_for(head)
    count = sa.select(sa.func.count()).select_from(comments)
    assert rows(container, count) == [(WRITERS,)]
    assert rows(container, sa.select(clients.c.version)) == [(1 + WRITERS,)]


# Idempotency keys bound to their request --------------------------------------------------


def issue(container: Container, client_id: UUID, amount: str = "100.00") -> UUID:
    with as_owner():
        outcome = container.billing.issue_invoice(
            client_id,
            number=None,
            issued_on=date(2026, 1, 1),
            due_on=date(2026, 2, 1),
            currency="EUR",
            lines=[("Work", "1", amount)],
        )
    return UUID(outcome.ids["invoice_id"])


def test_a_key_reused_with_other_input_is_refused_and_records_nothing(
    container: Container,
) -> None:
    client_id = register(container)
    first_invoice, second_invoice = issue(container, client_id), issue(container, client_id)
    billing = container.billing
    with as_owner():
        paid = billing.record_payment(
            first_invoice, amount="40.00", paid_on=date(2026, 1, 5), key="pay-1"
        )
        head = container.store.head()
        assert paid.positions and paid.position == head

        same = billing.record_payment(
            first_invoice, amount="40.00", paid_on=date(2026, 1, 5), key="pay-1"
        )
        assert (same.ids, same.replayed, same.positions) == (paid.ids, True, ())
        # The same key for a payment to another invoice: refused, nothing recorded.
        with pytest.raises(IdempotencyKeyReused) as reused:
            billing.record_payment(
                second_invoice, amount="40.00", paid_on=date(2026, 1, 5), key="pay-1"
            )
        assert reused.value.message == (
            "this idempotencyKey was already used with different input; nothing was recorded"
        )
        # Any other difference counts, even an optional argument left out before.
        with pytest.raises(IdempotencyKeyReused):
            billing.record_payment(
                first_invoice,
                amount="40.00",
                paid_on=date(2026, 1, 5),
                reference="T-1",
                key="pay-1",
            )
        # Another mutation with the key is refused the same way.
        with pytest.raises(IdempotencyKeyReused) as other:
            billing.void_invoice(second_invoice, reason=None, key="pay-1")
        assert other.value.message == "this idempotencyKey was already used for another mutation"
        assert container.store.head() == head
        # A fresh key records the second payment.
        billing.record_payment(
            second_invoice, amount="40.00", paid_on=date(2026, 1, 5), key="pay-2"
        )
    container.wait_for(container.store.head())
    assert sorted(rows(container, sa.select(invoices.c.id, invoices.c.balance))) == sorted(
        [(str(first_invoice), "60.00"), (str(second_invoice), "60.00")]
    )


def test_concurrent_requests_with_one_key_and_different_inputs(container: Container) -> None:
    """Racing requests with one key: one is recorded, the same input replays it, the rest
    are refused, and exactly one comment exists."""
    svc = container.service
    client_id = register(container)

    def comment(index: int) -> Any:
        return svc.add_comment(client_id, f"body {index % 2}", key="racing")

    results, errors = in_threads(WRITERS, comment)
    assert all(isinstance(e, IdempotencyKeyReused) for e in errors), errors
    assert len({o.ids["comment_id"] for o in results}) == 1
    assert len([o for o in results if not o.replayed]) == 1
    assert len(results) == WRITERS // 2
    assert recorded_types(container).count("CommentAdded") == 1


def store_v1_record(container: Container, key: str, operation: str, result: dict[str, str]) -> None:
    """An idempotency record as written before fingerprints (class_version 1, no field)."""
    with as_owner():
        record = IdempotencyRecord.record(
            firm_id=FIRM,
            viewer_id=ANN.id,
            key=key,
            operation=operation,
            result=result,
            fingerprint="unused",
        )
    stored = container.store.mapper.to_stored_event(record.collect_events()[0])
    state = json.loads(stored.state)
    assert state.pop("class_version") == 2
    del state["fingerprint"]
    old = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(state).encode(),
    )
    container.store.recorder.insert_events([old])


def test_records_without_a_fingerprint_match_any_input_of_their_mutation(
    container: Container,
) -> None:
    client_id = register(container)
    result = {"client_id": str(client_id)}
    store_v1_record(container, "old-key", "updateClientDetails", result)
    head = container.store.head()
    with as_owner():
        first = container.service.update_client_details(client_id, name="X", key="old-key")
        other = container.service.update_client_details(client_id, tags=["y"], key="old-key")
        assert (first.ids, first.replayed) == (result, True)
        assert (other.ids, other.replayed) == (result, True)
        with pytest.raises(IdempotencyKeyReused):
            container.service.put_client_on_hold(client_id, key="old-key")
        record: Any = container.store.repository.get(idempotency_id(FIRM, ANN.id, "old-key"))
    assert record.fingerprint is None
    assert container.store.head() == head


def test_fingerprint_is_canonical() -> None:
    a = request_fingerprint("op", {"b": [("x", UUID(int=1))], "a": date(2026, 1, 2)})
    b = request_fingerprint("op", {"a": date(2026, 1, 2), "b": [["x", str(UUID(int=1))]]})
    assert a == b
    assert request_fingerprint("other", {"a": "2026-01-02"}) != request_fingerprint(
        "op", {"a": "2026-01-02"}
    )
    with pytest.raises(TypeError):
        request_fingerprint("op", {"a": object()})
