"""Client requests and time through the services, on SQLite and PostgreSQL: the emails a
request queues (EmailQueued events, read from the store), the rules (NO_PORTAL_CONTACT,
CLIENT_ON_HOLD, REQUEST_CLOSED, TIMER_NOT_RUNNING, TIMER_ALREADY_RUNNING), staff of another
firm, timers with fixed clocks, exact rows, and that a rebuild reproduces every row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from domain.actor import ActingContext, Actor, ActorKind, acting_as
from domain.email import Email
from domain.errors import InvalidInput, NotFound, RuleViolated
from domain.values import ClientType, StaffRole
from infra.container import Container
from infra.seed import DEMO_OWNER, seed_demo_firm
from projections.client_profile import ClientProfileProjection
from projections.client_requests import (
    ClientRequestsProjection,
    client_request_messages,
    client_requests,
)
from projections.tables import contacts
from projections.time_entries import TimeEntriesProjection, running_timers, time_entries

FIRM = "firm-a"
OWNER = Actor(id="owner-1", kind=ActorKind.STAFF, name="Olive Owner")
ANN = Actor(id="ann", kind=ActorKind.STAFF, name="Ann Agent")
BEN = Actor(id="ben", kind=ActorKind.STAFF, name="Ben Agent")
ROLES = {"owner-1": "owner", "ann": "agent", "ben": "agent"}


@contextmanager
def as_(actor: Actor, firm: str = FIRM) -> Iterator[ActingContext]:
    with acting_as(actor, firm, ROLES.get(actor.id, "owner")) as ctx:
        yield ctx


def setup(container: Container) -> tuple[UUID, UUID, UUID]:
    """Acme (Ann on its team) with Ada (portal access) and Bob (none)."""
    service = container.service
    with as_(OWNER):
        for user_id, role in (("ann", StaffRole.AGENT), ("ben", StaffRole.AGENT)):
            service.add_staff_member(
                user_id=user_id, name=user_id.title(), email=f"{user_id}@firm.test", role=role
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
        bob = UUID(
            service.link_contact(
                client,
                new_contact={"first_name": "Bob", "last_name": "M", "emails": ["bob@acme.test"]},
            ).ids["contact_id"]
        )
        done = container.services.client_requests.set_contact_portal_access(
            ada, email="ada@acme.test", enabled=True
        )
    container.wait_for(done.position)
    return client, ada, bob


def rows(container: Container, query: Any) -> list[tuple[Any, ...]]:
    container.wait_for(container.store.head())
    with container.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def queued(container: Container) -> list[tuple[list[str], str, str]]:
    """(to, subject, kind) of every EmailQueued event, in order."""
    found = container.store.recorder.select_notifications(start=1, limit=100_000)
    out = []
    for n in found:
        event: Any = container.store.mapper.to_domain_event(n)
        if isinstance(event, Email.EmailQueued):
            out.append((list(event.to), event.subject, event.kind))
    return out


def test_requests_queue_emails_and_follow_the_rules(container: Container) -> None:
    client, ada, bob = setup(container)
    requests = container.services.client_requests
    with as_(ANN):
        opened = requests.open_client_request(
            client, title="Payslips", message="Send payslips", due_on=date(2030, 1, 1)
        )
        request_id = UUID(opened.ids["client_request_id"])
        requests.send_request_reminder(request_id)
    assert queued(container) == [
        (["ada@acme.test"], "Request: Payslips", "SYSTEM"),
        (["ada@acme.test"], "Reminder: Payslips", "SYSTEM"),
    ]
    with as_(ANN):
        requests.mark_client_request_answered(request_id)
    assert rows(
        container,
        sa.select(
            client_requests.c.status,
            client_requests.c.message_count,
            client_requests.c.reminders_sent,
            client_requests.c.due_on,
        ),
    ) == [("ANSWERED", 1, 1, date(2030, 1, 1))]
    assert len(queued(container)) == 2
    head = container.store.head()
    with as_(ANN):
        with pytest.raises(RuleViolated) as no_portal:
            requests.open_client_request(client, title="T", message="M", contact_ids=[bob])
        assert no_portal.value.rule == "NO_PORTAL_CONTACT"
        requests.close_client_request(request_id)
        head = container.store.head()
        with pytest.raises(RuleViolated) as closed:
            requests.reply_to_client_request(request_id, message="again")
        assert closed.value.rule == "REQUEST_CLOSED"
    with as_(BEN), pytest.raises(NotFound):  # not on Acme's team
        requests.open_client_request(client, title="T", message="M")
    with as_(OWNER):
        container.service.put_client_on_hold(client, reason="Fees")
        head = container.store.head()
        with pytest.raises(RuleViolated) as held:
            requests.open_client_request(client, title="T", message="M")
        assert held.value.rule == "CLIENT_ON_HOLD"
        container.services.client_requests.set_contact_portal_access(
            ada, email="ada@acme.test", enabled=False
        )
    assert container.store.head() == head + 1
    assert rows(container, sa.select(contacts.c.emails).where(contacts.c.id == str(ada))) == [
        (
            [
                {
                    "address": "ada@acme.test",
                    "primary": True,
                    "portal_access": False,
                    "notifications": True,
                    "signing_authority": False,
                }
            ],
        )
    ]


def test_time_rules_staff_of_another_firm_and_timers(container: Container) -> None:
    client, _ada, _bob = setup(container)
    time = container.services.time_entries
    with as_(Actor(id="owner-b", kind=ActorKind.STAFF), "firm-b"):
        container.service.add_staff_member(
            user_id="zed", name="Zed", email="zed@b.test", role=StaffRole.AGENT
        )
    head = container.store.head()
    with as_(ANN):
        for minutes, user_id, field in (
            (-5, None, "minutes"),
            (1441, None, "minutes"),
            (30, "zed", "userId"),
        ):
            with pytest.raises(InvalidInput) as refused:
                time.log_time(client, worked_on=date(2024, 5, 1), minutes=minutes, user_id=user_id)
            assert refused.value.field == f"input.{field}"
        with pytest.raises(RuleViolated) as not_running:
            time.stop_timer()
        assert not_running.value.rule == "TIMER_NOT_RUNNING"
    assert container.store.head() == head
    started = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    with as_(ANN):
        time.start_timer(client, note="Payroll", at=started)
        with pytest.raises(RuleViolated) as twice:
            time.start_timer(client, at=started)
        assert twice.value.rule == "TIMER_ALREADY_RUNNING"
        assert rows(container, sa.select(running_timers.c.user_id, running_timers.c.note)) == [
            ("ann", "Payroll")
        ]
        with pytest.raises(InvalidInput):  # a day and more: give the minutes
            time.stop_timer(at=started + timedelta(hours=25))
        time.stop_timer(at=started + timedelta(minutes=42, seconds=1), rate="60")
        time.log_time(client, worked_on=date(2024, 5, 2), minutes=15, billable=False)
    assert rows(container, sa.select(running_timers)) == []
    assert rows(
        container,
        sa.select(
            time_entries.c.worked_on,
            time_entries.c.minutes,
            time_entries.c.billable,
            time_entries.c.amount,
            time_entries.c.source,
            time_entries.c.note,
        ).order_by(time_entries.c.worked_on),
    ) == [
        (date(2024, 5, 1), 43, True, "43.00", "TIMER", "Payroll"),
        (date(2024, 5, 2), 15, False, "0.00", "MANUAL", None),
    ]


def test_a_rebuild_reproduces_requests_and_time(container: Container) -> None:
    client, ada, _bob = setup(container)
    requests = container.services.client_requests
    time = container.services.time_entries
    with as_(ANN):
        first = UUID(
            requests.open_client_request(client, title="A", message="a").ids["client_request_id"]
        )
        requests.reply_to_client_request(first, message="more")
        requests.send_request_reminder(first)
        requests.mark_client_request_answered(first)
        second = UUID(
            requests.open_client_request(client, title="B", message="b").ids["client_request_id"]
        )
        requests.close_client_request(second)
        entry = UUID(
            time.log_time(client, worked_on=date(2024, 1, 3), minutes=30, rate="80").ids[
                "time_entry_id"
            ]
        )
        time.update_time_entry(entry, minutes=45, note="edited")
        gone = UUID(
            time.log_time(client, worked_on=date(2024, 1, 4), minutes=10).ids["time_entry_id"]
        )
        time.delete_time_entry(gone)
        time.start_timer(client, at=datetime(2024, 1, 5, 8, tzinfo=UTC))
    with as_(OWNER):
        time.start_timer(client, at=datetime(2024, 1, 5, 8, tzinfo=UTC))
        time.stop_timer(at=datetime(2024, 1, 5, 9, tzinfo=UTC))
        requests.set_contact_portal_access(ada, email="ada@acme.test", enabled=False)
    tables = [client_requests, client_request_messages, time_entries, running_timers, contacts]

    def dump() -> list[list[tuple[Any, ...]]]:
        return [rows(container, sa.select(t).order_by(*t.primary_key.columns)) for t in tables]

    before = dump()
    assert [len(t) for t in before] == [2, 3, 2, 1, 2]
    for kind in (ClientRequestsProjection, TimeEntriesProjection, ClientProfileProjection):
        projection = next(p for p in container.runner.projections if isinstance(p, kind))
        assert container.runner.rebuild(projection) == container.store.head()
    assert dump() == before


def test_the_demo_firm_has_requests_time_and_a_running_timer(container: Container) -> None:
    seed_demo_firm(container)
    assert container.runner.error is None
    statuses = rows(
        container, sa.select(client_requests.c.status, sa.func.count()).group_by("status")
    )
    # Five clients (the first six but the one on hold) with two requests each.
    assert sorted(statuses) == [("ANSWERED", 1), ("CLOSED", 1), ("OPEN", 8)]
    assert rows(container, sa.select(sa.func.sum(client_requests.c.reminders_sent))) == [(3,)]
    assert rows(
        container,
        sa.select(time_entries.c.billable, sa.func.count(), time_entries.c.currency)
        .group_by(time_entries.c.billable, time_entries.c.currency)
        .order_by(time_entries.c.billable),
    ) == [(False, 6, "GBP"), (True, 12, "GBP")]
    assert rows(container, sa.select(running_timers.c.user_id)) == [(DEMO_OWNER,)]
