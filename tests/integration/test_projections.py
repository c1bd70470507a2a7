"""Projections: exactly-once application, rebuilds, failures and the activity history.

Every test runs on SQLite and on PostgreSQL, with the projection runner driven by hand
(`step()`, `catch_up()`, `rebuild()`) instead of its background thread, except where the
background thread itself is under test.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
import pytest
import sqlalchemy as sa

from domain.actor import Actor, ActorKind, acting_as
from domain.base import DossierEvent
from domain.client import Client
from domain.values import ClientType, StaffRole
from infra.container import Container
from infra.runner import (
    STUCK_LIMIT,
    ProjectionRunner,
    parked_counts,
    parked_positions,
    tracking_positions,
)
from infra.settings import Settings
from projections.activity import ActivityProjection
from projections.base import Projection
from projections.billing import firm_billing
from projections.parked import parked_events
from projections.registry import all_projections
from projections.tables import activity, clients, comments, metadata, tracking

FIRM = "firm-a"
OTHER_FIRM = "firm-b"
ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann")
BOB = Actor(id="user-bob", kind=ActorKind.STAFF, name="Bob Baker")
CARA = Actor(id="user-cara", kind=ActorKind.STAFF, name="Cara")
ZOE = Actor(id="user-zoe", kind=ActorKind.STAFF, name="Zoe")
IMPORTER = Actor(id="svc-import", kind=ActorKind.SYSTEM)
JANE_VIA_ANN = Actor(
    id="contact-jane", kind=ActorKind.CONTACT, name="Jane Doe", impersonated_by="user-ann"
)

# Every projection of the registry, in the order the runner applies them.
PROJECTION_NAMES = [p.name for p in all_projections()]


@pytest.fixture
def idle(settings: Settings) -> Iterator[Container]:
    """A container whose projections only run when the test steps them."""
    opened = Container(settings).open(start_projections=False)
    yield opened
    opened.close()


@contextmanager
def owner(actor: Actor = ANN, firm: str = FIRM) -> Iterator[None]:
    with acting_as(actor, firm, "owner"):
        yield


def contact(first: str, last: str, *emails: str) -> dict[str, Any]:
    return {"first_name": first, "last_name": last, "emails": list(emails)}


def make_history(container: Container, prefix: str = "") -> dict[str, UUID]:
    """A realistic history: staff, clients of two firms, shared contacts, team changes,
    holds, comments, updates with renames, idempotency keys and their replays."""
    svc = container.service
    ids: dict[str, UUID] = {}
    with owner():
        for actor, role in ((BOB, StaffRole.AGENT), (CARA, StaffRole.MANAGER)):
            if svc.find_staff(actor.id) is None:
                svc.add_staff_member(
                    user_id=actor.id, name=str(actor.name), email=f"{actor.id}@firm.test", role=role
                )
        for name, kind in (("Acme", "COMPANY"), ("Globex", "INDIVIDUAL"), ("Initech", "OTHER")):
            outcome = svc.register_client(
                name=f"{prefix}{name}",
                client_type=ClientType(kind),
                tags=["vip", name.lower()],
                address={"line1": f"1 {name} Road", "city": "Leeds", "country": "GB"},
                custom_fields=[("ref", f"{name[:2].upper()}-1")],
                key=f"{prefix}register-{name}",
            )
            ids[name] = UUID(outcome.ids["client_id"])
        # The retried registration (same key, same input) replays and records nothing.
        svc.register_client(
            name=f"{prefix}Acme",
            client_type=ClientType.COMPANY,
            tags=["vip", "acme"],
            address={"line1": "1 Acme Road", "city": "Leeds", "country": "GB"},
            custom_fields=[("ref", "AC-1")],
            key=f"{prefix}register-Acme",
        )
        acme, globex, initech = ids["Acme"], ids["Globex"], ids["Initech"]
        jane = svc.link_contact(
            acme,
            new_contact=contact("Jane", "Doe", f"{prefix}jane@acme.test", "jane@home.test"),
            description="Director",
        ).ids["contact_id"]
        ids["Jane"] = UUID(jane)
        svc.link_contact(globex, contact_id=UUID(jane), description="Shareholder")
        joe = svc.link_contact(
            globex, new_contact=contact("Joe", "Bloggs", f"{prefix}joe@globex.test")
        ).ids["contact_id"]
        ids["Joe"] = UUID(joe)
        svc.link_contact(initech, contact_id=UUID(jane))
        svc.link_contact(initech, contact_id=UUID(joe), description="Accountant")
        svc.link_contact(
            acme, new_contact=contact("Amy", "Pond", f"{prefix}amy@acme.test"), key=f"{prefix}amy"
        )
        svc.link_contact(
            acme, new_contact=contact("Amy", "Pond", f"{prefix}amy@acme.test"), key=f"{prefix}amy"
        )
        for client_id in (acme, globex):
            svc.assign_team_member(client_id, BOB.id)
        svc.assign_team_member(acme, CARA.id)
        svc.remove_team_member(acme, BOB.id)
        svc.assign_team_member(acme, BOB.id)
        svc.put_client_on_hold(acme, reason="Unpaid invoices")
        svc.release_client_hold(acme)
        svc.put_client_on_hold(acme)
        svc.update_client_details(
            acme, name=f"{prefix}Acme Holdings", tags=["VIP", "Audit"], expected_version=None
        )
        svc.update_client_details(
            globex,
            client_type=ClientType.COMPANY,
            address={"line1": "2 Globex Way"},
            custom_fields=[("ref", None), ("vat", "GB123")],
        )
        svc.update_client_details(initech, name=f"{prefix}Initrode")
        svc.unlink_contact(globex, UUID(jane))
        for body in ("First call.", "Sent the engagement letter.", "Waiting on bank statements."):
            svc.add_comment(acme, body)
        svc.add_comment(globex, "New client meeting.")
    with acting_as(BOB, FIRM, "agent"):
        svc.add_comment(acme, "Chased the statements.")
        svc.put_client_on_hold(globex, reason="Missing ID")
    with acting_as(JANE_VIA_ANN, FIRM, "manager"):
        svc.add_comment(initech, "Impersonated note.")
    with owner(ZOE, OTHER_FIRM):
        umbrella = UUID(
            svc.register_client(name=f"{prefix}Umbrella", client_type=ClientType.COMPANY).ids[
                "client_id"
            ]
        )
        ids["Umbrella"] = umbrella
        svc.link_contact(umbrella, new_contact=contact("Al", "Wesker", f"{prefix}al@umbrella.test"))
        svc.add_comment(umbrella, "Other firm's note.")
    return ids


def _sort_key(row: tuple[Any, ...]) -> str:
    return json.dumps(list(row), default=str, sort_keys=True)


def dump(engine: sa.Engine, projections: list[Projection]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table, as sorted plain tuples."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for projection in projections:
            for table in projection.tables:
                rows = [tuple(row) for row in conn.execute(sa.select(table)).all()]
                result[table.name] = sorted(rows, key=_sort_key)
    return result


def counts(snapshot: dict[str, list[tuple[Any, ...]]]) -> dict[str, int]:
    return {name: len(rows) for name, rows in snapshot.items()}


def activity_positions(container: Container) -> list[int]:
    """The positions of the recorded events that count as activity (all but record-keeping:
    key records, indexes, and the emails that notify staff)."""
    notifications = container.store.recorder.select_notifications(start=1, limit=100_000)
    return [
        n.id
        for n in notifications
        if isinstance(event := container.store.mapper.to_domain_event(n), DossierEvent)
        and ActivityProjection.is_activity(event)
    ]


def positions_of(container: Container) -> dict[str, int]:
    return tracking_positions(container.engine, PROJECTION_NAMES)


# The full history's expected row counts (one firm's 3 clients + another firm's client).
HISTORY_COUNTS = {
    "rm_staff": 2,
    "rm_clients": 4,
    "rm_client_tags": 6,
    "rm_client_holds": 3,
    "rm_contacts": 4,
    "rm_client_contacts": 6,
    "rm_team": 3,
    "rm_team_history": 5,
    "rm_client_search": 12,
    # 37 entries and 10 names (the notification emails to the teams are not activity).
    "rm_activity": 37,
    "rm_activity_subjects": 10,
    "rm_comments": 7,
}


def test_registry_covers_every_read_model_table() -> None:
    """A rebuild clears a projection's `tables`: every rm_ table must belong to exactly one."""
    projections = all_projections()
    names = [p.name for p in projections]
    assert names[:3] == ["client_profile", "activity", "comments"]
    assert len(names) == len(set(names))
    owned = [table.name for p in projections for table in p.tables]
    assert len(owned) == len(set(owned))
    bookkeeping = (tracking.name, parked_events.name)
    read_models = [t for t in metadata.tables if t.startswith("rm_") and t not in bookkeeping]
    assert sorted(owned) == sorted(read_models)
    assert set(HISTORY_COUNTS) <= set(owned)


def test_rebuild_reproduces_every_read_model(idle: Container) -> None:
    make_history(idle)
    runner = idle.runner
    head = idle.store.head()
    assert runner.catch_up() == head
    assert positions_of(idle) == dict.fromkeys(PROJECTION_NAMES, head)
    before = dump(idle.engine, runner.projections)
    assert {name: counts(before)[name] for name in HISTORY_COUNTS} == HISTORY_COUNTS

    for projection in all_projections():
        assert runner.rebuild(projection) == head
        assert positions_of(idle) == dict.fromkeys(PROJECTION_NAMES, head)
        assert dump(idle.engine, runner.projections) == before
    # Rebuilding the runner's own instances works the same.
    for projection in runner.projections:
        assert runner.rebuild(projection) == head
    assert dump(idle.engine, runner.projections) == before
    assert runner.position == head
    assert runner.step() is False


def test_rebuild_after_more_history_and_in_small_batches(
    idle: Container, settings: Settings
) -> None:
    make_history(idle)
    idle.runner.catch_up()
    make_history(idle, prefix="b-")
    # A runner with tiny batches follows the same log to the same state.
    small = ProjectionRunner(idle.store, idle.engine, all_projections(), batch_size=7)
    reached: list[int] = []
    assert small.catch_up(on_batch=reached.append) == idle.store.head()
    assert reached == sorted(set(reached))
    assert len(reached) > 2
    after = dump(idle.engine, small.projections)
    batches: list[int] = []
    for projection in all_projections():
        small.rebuild(projection, on_batch=batches.append)
        assert dump(idle.engine, small.projections) == after
    assert batches[-1] == idle.store.head()
    assert counts(after)["rm_clients"] == 8
    assert counts(after)["rm_activity"] == len(activity_positions(idle))


def test_catching_up_again_processes_nothing(idle: Container) -> None:
    make_history(idle)
    runner = idle.runner
    runner.catch_up()
    head = idle.store.head()
    before = dump(idle.engine, runner.projections)

    assert runner.step() is False
    assert runner.catch_up() == head
    assert runner.positions == dict.fromkeys(PROJECTION_NAMES, head)
    assert positions_of(idle) == dict.fromkeys(PROJECTION_NAMES, head)
    assert dump(idle.engine, runner.projections) == before

    # A runner whose in-memory positions are stale (it starts from 0) re-reads the log,
    # finds every event already tracked, and applies none of them again.
    stale = ProjectionRunner(idle.store, idle.engine, all_projections())
    stale.positions = dict.fromkeys(PROJECTION_NAMES, 0)
    assert stale.catch_up() == head
    assert dump(idle.engine, runner.projections) == before
    assert positions_of(idle) == dict.fromkeys(PROJECTION_NAMES, head)


def test_second_runner_on_the_same_database_never_applies_an_event_twice(
    idle: Container,
) -> None:
    make_history(idle)
    first = idle.runner
    first.catch_up()
    second = ProjectionRunner(idle.store, idle.engine, all_projections())
    make_history(idle, prefix="b-")
    make_history(idle, prefix="c-")

    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run(runner: ProjectionRunner) -> None:
        try:
            barrier.wait(timeout=30)
            runner.catch_up()
        except BaseException as error:  # reported below
            errors.append(error)

    small_a = ProjectionRunner(idle.store, idle.engine, all_projections(), batch_size=5)
    small_b = ProjectionRunner(idle.store, idle.engine, all_projections(), batch_size=3)
    threads = [threading.Thread(target=run, args=(r,)) for r in (first, second, small_a, small_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    head = idle.store.head()
    # And one more after the others, from stale positions.
    second.positions = dict.fromkeys(PROJECTION_NAMES, 0)
    assert second.catch_up() == head
    for runner in (first, second, small_a, small_b):
        assert runner.step() is False
        assert runner.position == head
    assert positions_of(idle) == dict.fromkeys(PROJECTION_NAMES, head)

    expected = activity_positions(idle)
    with idle.engine.connect() as conn:
        applied = list(conn.execute(sa.select(activity.c.position)).scalars())
        comment_count = conn.execute(sa.select(sa.func.count()).select_from(comments)).scalar()
    assert len(applied) == len(set(applied)) == len(expected)
    assert sorted(applied) == expected
    assert comment_count == 3 * HISTORY_COUNTS["rm_comments"]

    concurrent = dump(idle.engine, first.projections)
    assert counts(concurrent)["rm_clients"] == 12
    assert counts(concurrent)["rm_client_holds"] == 9
    for projection in all_projections():
        first.rebuild(projection)
    assert dump(idle.engine, first.projections) == concurrent


def test_runners_starting_together_on_a_fresh_database(
    idle: Container, backend: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Two processes starting at once on a new read-model database both get a runner."""
    with idle.engine.begin() as conn:
        conn.execute(sa.delete(tracking))
    # Both runners create their tracking rows at the same moment.
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []
    runners: list[ProjectionRunner] = []

    def start() -> None:
        try:
            barrier.wait()
            runners.append(ProjectionRunner(idle.store, idle.engine, all_projections()))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(runners) == 2
    assert positions_of(idle) == dict.fromkeys(PROJECTION_NAMES, 0)


def test_a_failing_event_is_parked_and_everything_else_goes_on(
    idle: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_history(idle)
    runner = idle.runner
    runner.catch_up()
    by_name = {p.name: p for p in runner.projections}
    profile = by_name["client_profile"]

    with owner():
        late = idle.service.register_client(name="Late Ltd", client_type=ClientType.COMPANY)
        late_id = UUID(late.ids["client_id"])
        held = idle.service.put_client_on_hold(late_id, reason="late")
        commented = idle.service.add_comment(late_id, "Too late.")
        renamed = idle.service.update_client_details(late_id, name="Later Ltd")
    with owner(ZOE, OTHER_FIRM):
        other = idle.service.register_client(name="Other Co", client_type=ClientType.COMPANY)
    head = idle.store.head()
    assert held.position is not None and commented.position is not None
    assert renamed.position is not None

    def boom(*_: Any) -> None:
        raise RuntimeError("boom")

    # The profile projection cannot apply the hold: that event is parked, the later events
    # about the same client that it uses wait behind it (not the comment: it has no use for
    # it), and everything else is applied.
    monkeypatch.setattr(profile, "client_put_on_hold", boom)
    assert runner.step() is True
    assert runner.step() is False
    assert positions_of(idle) == dict.fromkeys(PROJECTION_NAMES, head)
    parked = runner.parked()
    assert [(p.projection, p.position, p.event_type, p.held_behind) for p in parked] == [
        ("client_profile", held.position, "ClientPutOnHold", None),
        ("client_profile", renamed.position, "ClientDetailsUpdated", held.position),
    ]
    first = parked[0]
    assert (first.error_class, first.error_message) == ("RuntimeError", "boom")
    assert first.subject_id == str(late_id) and first.firm_id == FIRM and first.attempts == 1
    assert parked_counts(idle.engine) == {"client_profile": 2}
    with idle.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(clients))}
        comment_bodies = [r.body for r in conn.execute(sa.select(comments))]
    # The client stays as it was before the failing event: stale, not half-applied.
    assert rows[str(late_id)].name == "Late Ltd"
    assert rows[str(other.ids["client_id"])].name == "Other Co"  # another firm goes on
    assert "Too late." in comment_bodies  # other projections applied the same events
    assert parked_positions(idle.engine, [late.position or 0, commented.position]) == []
    assert parked_positions(idle.engine, [held.position, renamed.position]) == [
        held.position,
        renamed.position,
    ]

    # Retrying while still broken keeps them parked, in order, and counts the attempt.
    report = runner.retry_parked("client_profile")
    assert (report.applied, report.still_parked) == (0, 2)
    assert [(p.position, p.attempts) for p in runner.parked()] == [
        (held.position, 2),
        (renamed.position, 2),
    ]

    # Fixed: the retry applies them in their original order, and equals a rebuild.
    monkeypatch.undo()
    report = runner.retry_parked()
    assert (report.applied, report.still_parked) == (2, 0)
    assert runner.parked() == []
    done = dump(idle.engine, runner.projections)
    with idle.engine.connect() as conn:
        late_row = conn.execute(sa.select(clients).where(clients.c.id == str(late_id))).one()
    assert late_row.name == "Later Ltd"
    for projection in all_projections():
        runner.rebuild(projection)
    assert dump(idle.engine, runner.projections) == done


def test_an_event_that_cannot_be_decoded_is_parked_for_every_projection(
    idle: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with owner():
        ok = idle.service.register_client(name="Acme", client_type=ClientType.COMPANY)
        acme = UUID(ok.ids["client_id"])
        bad = idle.service.add_comment(acme, "unreadable")
        after = idle.service.register_client(name="Beta", client_type=ClientType.COMPANY)
    real = idle.store.mapper.to_domain_event

    def decode(notification: Any) -> Any:
        if notification.id == bad.position:
            raise ValueError("unknown topic")
        return real(notification)

    monkeypatch.setattr(idle.store.mapper, "to_domain_event", decode)
    idle.runner.catch_up()
    assert idle.runner.position == after.position
    assert parked_counts(idle.engine) == dict.fromkeys(PROJECTION_NAMES, 1)
    monkeypatch.undo()
    assert idle.runner.retry_parked().applied == len(PROJECTION_NAMES)
    assert parked_counts(idle.engine) == {}


def test_an_event_whose_subject_cannot_be_read_is_parked_not_wedged(
    idle: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An old event lacking what today's about_client() reads parks; the runner goes on."""
    with owner():
        acme = idle.service.register_client(name="Acme", client_type=ClientType.COMPANY)
        held = idle.service.put_client_on_hold(UUID(acme.ids["client_id"]), reason="x")
        after = idle.service.register_client(name="Beta", client_type=ClientType.COMPANY)

    def broken(_event: Any) -> UUID:
        raise AttributeError("'ClientPutOnHold' object has no attribute 'client_id'")

    monkeypatch.setattr(Client.ClientPutOnHold, "about_client", broken)
    assert idle.runner.catch_up() == after.position
    assert {p.position for p in idle.runner.parked()} == {held.position}
    assert parked_counts(idle.engine) == dict.fromkeys(PROJECTION_NAMES, 1)
    monkeypatch.undo()
    assert idle.runner.retry_parked().still_parked == 0
    done = dump(idle.engine, idle.runner.projections)
    for projection in all_projections():
        idle.runner.rebuild(projection)
    assert dump(idle.engine, idle.runner.projections) == done


def test_an_event_that_always_times_out_is_parked_but_a_lost_connection_never_is(
    idle: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with owner():
        acme = idle.service.register_client(name="Acme", client_type=ClientType.COMPANY)
        commented = idle.service.add_comment(UUID(acme.ids["client_id"]), "Heavy")
        later = idle.service.register_client(name="Beta", client_type=ClientType.COMPANY)
    (comments_projection,) = [p for p in idle.runner.projections if p.name == "comments"]

    def failing_with(error: BaseException) -> Any:
        def handler(*_: Any) -> None:
            raise sa.exc.OperationalError("UPDATE rm_comments", {}, error)

        return handler

    # A lost connection is retried for ever: it is the database's fault, not the event's.
    lost = psycopg.OperationalError("server closed the connection unexpectedly")
    monkeypatch.setattr(comments_projection, "comment_added", failing_with(lost))
    for _ in range(STUCK_LIMIT * 2):
        with pytest.raises(sa.exc.OperationalError):
            idle.runner.step()
    assert idle.runner.parked() == [] and idle.runner.position == 0

    # A statement timeout on the same event every time: after STUCK_LIMIT tries it is parked.
    timeout = psycopg.errors.QueryCanceled("canceling statement due to statement timeout")
    monkeypatch.setattr(comments_projection, "comment_added", failing_with(timeout))
    for _ in range(STUCK_LIMIT - 1):
        with pytest.raises(sa.exc.OperationalError):
            idle.runner.step()
    assert idle.runner.step() is True
    assert idle.runner.position == later.position
    assert [(p.projection, p.position, p.error_class) for p in idle.runner.parked()] == [
        ("comments", commented.position, "OperationalError")
    ]
    monkeypatch.undo()
    assert idle.runner.retry_parked().applied == 1


def test_a_failure_in_the_background_runner_parks_and_wait_for_returns(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    with owner():
        ok = container.service.register_client(name="Acme", client_type=ClientType.COMPANY)
    assert container.wait_for(ok.position, ok.positions) == []
    (comments_projection,) = [p for p in container.runner.projections if p.name == "comments"]

    def boom(*_: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(comments_projection, "comment_added", boom)
    with owner():
        failing = container.service.add_comment(UUID(ok.ids["client_id"]), "Hello")
    assert failing.position is not None
    assert container.wait_for(failing.position, failing.positions) == [failing.position]
    assert positions_of(container)["comments"] == failing.position
    assert container.runner.alive
    # Another client of another firm is projected right after.
    with owner(ZOE, OTHER_FIRM):
        later = container.service.register_client(name="Fine Co", client_type=ClientType.COMPANY)
    assert container.wait_for(later.position, later.positions) == []


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_runner_retries_transient_errors_and_its_supervisor_restarts_it(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = container.runner
    real_step = runner.step
    failures: list[int] = []

    def flaky() -> bool:
        if len(failures) < 3:
            failures.append(1)
            lost = psycopg.OperationalError("server closed the connection unexpectedly")
            raise sa.exc.OperationalError("SELECT 1", {}, lost)
        return real_step()

    monkeypatch.setattr(runner, "step", flaky)
    with owner():
        ok = container.service.register_client(name="Acme", client_type=ClientType.COMPANY)
    assert container.wait_for(ok.position) == []
    assert len(failures) == 3 and runner.error is None and runner.alive

    # A thread that dies anyway is replaced by the supervisor.
    def die() -> bool:
        raise SystemExit("the thread dies")

    monkeypatch.setattr(runner, "step", die)
    runner.wake()
    deadline = time.monotonic() + 10
    while runner.restarts == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runner.restarts >= 1
    monkeypatch.setattr(runner, "step", real_step)
    with owner():
        again = container.service.register_client(name="Beta", client_type=ClientType.COMPANY)
    assert container.wait_for(again.position) == []
    assert runner.alive


# The activity history ----------------------------------------------------------------


def test_activity_rows_and_summaries(idle: Container) -> None:
    svc = idle.service
    with owner(ZOE, OTHER_FIRM):
        svc.add_staff_member(
            user_id=BOB.id, name="Robert", email="robert@b.test", role=StaffRole.ADMIN
        )
    with owner():
        svc.add_staff_member(
            user_id=BOB.id, name="Bob Baker", email="bob@a.test", role=StaffRole.AGENT
        )
        acme = UUID(register_named(idle, "Acme", ClientType.COMPANY))
        jane = UUID(
            svc.link_contact(
                acme, new_contact=contact("Jane", "Doe", "jane@acme.test"), description="Director"
            ).ids["contact_id"]
        )
        svc.assign_team_member(acme, BOB.id)
        svc.put_client_on_hold(acme, reason="Unpaid invoices")
        svc.release_client_hold(acme)
        svc.update_client_details(acme, name="Acme Holdings", tags=["VIP"])
        svc.update_client_details(
            acme,
            client_type=ClientType.OTHER,
            address={"city": "Leeds"},
            custom_fields=[("ref", "A-1")],
        )
    with acting_as(BOB, FIRM, "agent"):
        svc.add_comment(acme, "Called them.")
    with owner():
        svc.remove_team_member(acme, BOB.id)
        globex = UUID(
            svc.register_client(name="Globex", client_type=ClientType.INDIVIDUAL, key="globex").ids[
                "client_id"
            ]
        )
        svc.link_contact(globex, contact_id=jane)
        svc.link_contact(globex, new_contact=contact("Joe", "Bloggs", "joe@globex.test"))
        svc.unlink_contact(globex, jane)
        svc.put_client_on_hold(globex)
    with acting_as(JANE_VIA_ANN, FIRM, "manager"):
        svc.add_comment(globex, "Portal note.")
    with acting_as(IMPORTER, FIRM, "system"):
        initech = UUID(register_named(idle, "Initech", ClientType.OTHER))

    idle.runner.catch_up()
    with idle.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                activity.c.position,
                activity.c.firm_id,
                activity.c.client_id,
                activity.c.type,
                activity.c.actor_id,
                activity.c.summary,
            ).order_by(activity.c.position)
        ).all()
        # The data of the last event of each type.
        data = dict(
            conn.execute(
                sa.select(activity.c.type, activity.c.data).order_by(activity.c.position)
            ).all()
        )
    positions = [row.position for row in rows]
    assert positions == activity_positions(idle)
    assert positions == sorted(set(positions))
    a, g, i = str(acme), str(globex), str(initech)
    assert [tuple(row)[1:] for row in rows] == [
        (OTHER_FIRM, None, "StaffMemberAdded", ZOE.id, "Zoe added Robert to the staff as admin."),
        (FIRM, None, "StaffMemberAdded", ANN.id, "Ann added Bob Baker to the staff as agent."),
        (FIRM, a, "ClientRegistered", ANN.id, "Ann registered the company client Acme."),
        (FIRM, None, "ContactCreated", ANN.id, "Ann created the contact Jane Doe."),
        (FIRM, a, "ContactLinked", ANN.id, "Ann linked Jane Doe to Acme as Director."),
        (FIRM, a, "TeamMemberAssigned", ANN.id, "Ann assigned Bob Baker to the team of Acme."),
        # Bob (the team) is notified of the hold and the release; the notices and their
        # emails are not activity (the hold is the entry).
        (FIRM, a, "ClientPutOnHold", ANN.id, "Ann put Acme on hold: Unpaid invoices."),
        (FIRM, a, "ClientHoldReleased", ANN.id, "Ann released the hold on Acme."),
        (
            FIRM,
            a,
            "ClientDetailsUpdated",
            ANN.id,
            "Ann updated the name and tags of Acme Holdings.",
        ),
        (
            FIRM,
            a,
            "ClientDetailsUpdated",
            ANN.id,
            "Ann updated the type, address and custom fields of Acme Holdings.",
        ),
        (FIRM, a, "CommentAdded", BOB.id, "Bob Baker commented on Acme Holdings."),
        (
            FIRM,
            a,
            "TeamMemberRemoved",
            ANN.id,
            "Ann removed Bob Baker from the team of Acme Holdings.",
        ),
        (FIRM, g, "ClientRegistered", ANN.id, "Ann registered the individual client Globex."),
        (FIRM, g, "ContactLinked", ANN.id, "Ann linked Jane Doe to Globex."),
        (FIRM, None, "ContactCreated", ANN.id, "Ann created the contact Joe Bloggs."),
        (FIRM, g, "ContactLinked", ANN.id, "Ann linked Joe Bloggs to Globex."),
        (FIRM, g, "ContactUnlinked", ANN.id, "Ann unlinked Jane Doe from Globex."),
        (FIRM, g, "ClientPutOnHold", ANN.id, "Ann put Globex on hold."),
        (
            FIRM,
            g,
            "CommentAdded",
            "contact-jane",
            "Jane Doe (impersonated by user-ann) commented on Globex.",
        ),
        (
            FIRM,
            i,
            "ClientRegistered",
            "svc-import",
            "svc-import registered the other client Initech.",
        ),
    ]
    # The Globex registration's idempotency record, the contacts' links indexes (two
    # started, one link and one unlink recorded on Jane's), Bob's two notifications and their
    # two emails, and the commenters indexes of Acme and Globex are the events without a row.
    notifications = idle.store.recorder.select_notifications(start=1, limit=1000)
    assert len(notifications) == len(rows) + 11
    assert data["ContactUnlinked"] == {"contact_id": str(jane)}
    assert data["ClientRegistered"] == {
        "name": "Initech",
        "client_type": "OTHER",
        "tags": [],
        "address": {},
        "custom_fields": [],
    }
    assert data["CommentAdded"] == {"client_id": g, "body": "Portal note."}


def register_named(container: Container, name: str, kind: ClientType) -> str:
    return container.service.register_client(name=name, client_type=kind).ids["client_id"]


def test_client_versions_and_holds_match_the_aggregates(idle: Container) -> None:
    """The profile rows agree with the event-sourced aggregates after the whole history."""
    ids = make_history(idle)
    idle.runner.catch_up()
    with idle.engine.connect() as conn:
        rows = {
            row.id: row
            for row in conn.execute(
                sa.select(clients.c.id, clients.c.version, clients.c.name, clients.c.on_hold)
            )
        }
    for key in ("Acme", "Globex", "Initech", "Umbrella"):
        client: Any = idle.store.repository.get(ids[key])
        row = rows[str(ids[key])]
        assert (row.version, row.name, row.on_hold) == (client.version, client.name, client.on_hold)
    assert [rows[str(ids[k])].name for k in ("Acme", "Globex", "Initech", "Umbrella")] == [
        "Acme Holdings",
        "Globex",
        "Initrode",
        "Umbrella",
    ]


def test_a_runner_with_stale_positions_never_applies_past_a_reset_projection(
    idle: Container,
) -> None:
    """A rebuild in another process resets a projection; a live runner that still believes
    it is at the head must not apply newer events onto the emptied tables (which would make
    the rebuild skip everything before them)."""
    make_history(idle)
    live = idle.runner
    live.catch_up()
    complete = dump(idle.engine, live.projections)
    with owner():
        late = idle.service.register_client(name="After Reset", client_type=ClientType.COMPANY)
    assert late.position is not None

    # Another process starts a rebuild of the comments projection: rows cleared, tracking 0.
    comments_projection = next(p for p in live.projections if p.name == "comments")
    with idle.engine.begin() as conn:
        comments_projection.clear(conn)
        conn.execute(
            sa.update(tracking)
            .where(tracking.c.application_name == "comments")
            .values(notification_id=0)
        )

    assert live.step() is True  # the other projections take the new event ...
    assert positions_of(idle)["comments"] == 0  # ... the reset one does not jump ahead
    live.catch_up()  # and it is re-projected from the start, in order
    assert positions_of(idle) == dict.fromkeys(PROJECTION_NAMES, late.position)
    rebuilt = dump(idle.engine, live.projections)
    assert rebuilt["rm_comments"] == complete["rm_comments"]
    assert len(rebuilt["rm_clients"]) == len(complete["rm_clients"]) + 1


def test_a_retried_invoice_sets_the_firms_first_currency_as_a_rebuild_would(
    idle: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Order-dependent firm-wide figures follow positions, not the order of arrival."""
    with owner():
        x = UUID(
            idle.service.register_client(name="X", client_type=ClientType.COMPANY).ids["client_id"]
        )
        y = UUID(
            idle.service.register_client(name="Y", client_type=ClientType.COMPANY).ids["client_id"]
        )
    idle.runner.catch_up()
    (billing,) = [p for p in idle.runner.projections if p.name == "billing"]
    real = billing.process

    def poisoned(conn: Any, event: Any, position: int, stored: Any = None) -> None:
        if type(event).__name__ == "InvoiceIssued" and event.client_id == x:
            raise ValueError("poison")
        real(conn, event, position, stored)

    monkeypatch.setattr(billing, "process", poisoned)
    with owner():
        for client_id, currency in ((x, "EUR"), (y, "USD")):
            idle.billing.issue_invoice(
                client_id,
                number=None,
                issued_on=date(2026, 1, 1),
                due_on=date(2026, 2, 1),
                currency=currency,
                lines=[("Advice", "1", "10.00")],
            )
    idle.runner.catch_up()
    assert [p.projection for p in idle.runner.parked()] == ["billing"]
    monkeypatch.undo()
    assert idle.runner.retry_parked("billing").applied == 1
    retried = dump(idle.engine, idle.runner.projections)
    idle.runner.rebuild(billing)
    assert dump(idle.engine, idle.runner.projections) == retried
    with idle.engine.connect() as conn:
        assert conn.execute(sa.select(firm_billing.c.first_invoice_currency)).scalar() == "EUR"
