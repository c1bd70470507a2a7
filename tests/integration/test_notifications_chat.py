"""Notifications and chat through the application services, on SQLite and PostgreSQL.

Who a comment, a hold and a release notify (exact recipients and texts), which emails are
queued (the EmailQueued events, read from the store), concurrency (two comments at once
both notify), chat read marks, and that a rebuild reproduces the rows exactly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from domain.actor import ActingContext, Actor, ActorKind, acting_as
from domain.email import Email
from domain.errors import InvalidInput, NotFound, RuleViolated
from domain.values import ClientType, StaffRole
from infra.container import Container
from projections.chat import ChatProjection, chat_messages, chat_participants, chat_threads
from projections.notifications import (
    NotificationsProjection,
    notification_settings,
    notifications,
)

FIRM = "firm-a"
ANN = Actor(id="ann", kind=ActorKind.STAFF, name="Ann Owner")
BOB = Actor(id="bob", kind=ActorKind.STAFF, name="Bob Agent")
CAT = Actor(id="cat", kind=ActorKind.STAFF, name="Cat Manager")
DAN = Actor(id="dan", kind=ActorKind.STAFF, name="Dan Agent")
ROLES = {"ann": "owner", "bob": "agent", "cat": "manager", "dan": "agent"}


@contextmanager
def as_(actor: Actor, firm: str = FIRM) -> Iterator[ActingContext]:
    with acting_as(actor, firm, ROLES.get(actor.id, "owner")) as ctx:
        yield ctx


def setup(container: Container) -> UUID:
    """Ann (owner), Bob and Dan (agents), Cat (manager); Acme with Bob and Cat on its team."""
    s = container.services.clients
    with as_(ANN):
        for actor, role in [
            (ANN, StaffRole.OWNER),
            (BOB, StaffRole.AGENT),
            (CAT, StaffRole.MANAGER),
            (DAN, StaffRole.AGENT),
        ]:
            s.add_staff_member(
                user_id=actor.id, name=actor.name or "", email=f"{actor.id}@firm.test", role=role
            )
        client = UUID(
            s.register_client(name="Acme", client_type=ClientType.COMPANY).ids["client_id"]
        )
        s.assign_team_member(client, "bob")
        container.wait_for(s.assign_team_member(client, "cat").position)
    return client


def rows(container: Container, query: Any) -> list[tuple[Any, ...]]:
    with container.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query).all()]


def notes(container: Container) -> list[tuple[str, str, str]]:
    n = notifications.c
    query = sa.select(n.recipient_id, n.kind, n.text).order_by(n.position, n.recipient_id)
    return [(r[0], r[1], r[2]) for r in rows(container, query)]


def queued(container: Container) -> list[tuple[list[str], str, str]]:
    """(to, subject, body) of every EmailQueued event, in order."""
    store = container.store
    found = []
    for item in store.recorder.select_notifications(start=1, limit=100_000):
        event: Any = store.mapper.to_domain_event(item)
        if isinstance(event, Email.EmailQueued):
            found.append((list(event.to), event.subject, event.body))
    return found


def comment(container: Container, actor: Actor, client: UUID, body: str) -> None:
    with as_(actor):
        container.wait_for(container.services.clients.add_comment(client, body).position)


def test_a_comment_notifies_earlier_commenters_and_the_team_never_the_author(
    container: Container,
) -> None:
    client = setup(container)
    comment(container, ANN, client, "First look at the accounts")
    # Ann is the author: Bob and Cat (the team) are told, once each.
    assert notes(container) == [
        ("bob", "COMMENT", "Ann Owner commented on Acme: First look at the accounts"),
        ("cat", "COMMENT", "Ann Owner commented on Acme: First look at the accounts"),
    ]

    comment(container, BOB, client, "Line one\nline two")
    # Ann commented earlier; Cat is on the team; Bob wrote it.
    assert notes(container)[2:] == [
        ("ann", "COMMENT", "Bob Agent commented on Acme: Line one line two"),
        ("cat", "COMMENT", "Bob Agent commented on Acme: Line one line two"),
    ]
    assert queued(container) == [
        (
            ["bob@firm.test"],
            "Ann Owner commented on Acme",
            "Ann Owner commented on Acme:\n\nFirst look at the accounts",
        ),
        (
            ["cat@firm.test"],
            "Ann Owner commented on Acme",
            "Ann Owner commented on Acme:\n\nFirst look at the accounts",
        ),
        (
            ["ann@firm.test"],
            "Bob Agent commented on Acme",
            "Bob Agent commented on Acme:\n\nLine one\nline two",
        ),
        (
            ["cat@firm.test"],
            "Bob Agent commented on Acme",
            "Bob Agent commented on Acme:\n\nLine one\nline two",
        ),
    ]


def test_a_dan_comment_is_refused_and_records_nothing(container: Container) -> None:
    client = setup(container)
    head = container.store.head()
    with as_(DAN), pytest.raises(NotFound):
        container.services.clients.add_comment(client, "hello")
    with as_(ANN), pytest.raises(InvalidInput):
        container.services.clients.add_comment(client, "   ")
    assert container.store.head() == head


def test_emails_follow_each_members_preferences(container: Container) -> None:
    client = setup(container)
    with as_(CAT):
        container.services.notifications.set_notification_preferences(email={"COMMENT": False})
    comment(container, ANN, client, "Hello team")
    assert [to for to, _s, _b in queued(container)] == [["bob@firm.test"]]
    assert [r for r, _k, _t in notes(container)] == ["bob", "cat"]  # in-app for both
    assert rows(
        container, sa.select(notification_settings.c.user_id, notification_settings.c.email)
    ) == [("cat", {"COMMENT": False, "CLIENT_ON_HOLD": True, "HOLD_RELEASED": True})]


def test_hold_and_release_notify_the_team_but_not_the_actor_nor_removed_members(
    container: Container,
) -> None:
    client = setup(container)
    s = container.services.clients
    with as_(ANN):
        s.remove_team_member(client, "bob")
        s.assign_team_member(client, "dan")
    with as_(CAT):
        s.put_client_on_hold(client, reason="Unpaid fees")
        container.wait_for(s.release_client_hold(client).position)
    assert notes(container) == [
        ("dan", "CLIENT_ON_HOLD", "Cat Manager put Acme on hold: Unpaid fees"),
        ("dan", "HOLD_RELEASED", "Cat Manager released the hold on Acme."),
    ]
    assert queued(container) == [
        (
            ["dan@firm.test"],
            "Acme is on hold",
            "Cat Manager put Acme on hold.\n\nReason: Unpaid fees",
        ),
        (["dan@firm.test"], "Acme is no longer on hold", "Cat Manager released the hold on Acme."),
    ]


def test_two_comments_at_once_both_notify(container: Container) -> None:
    client = setup(container)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(actor: Actor, body: str) -> None:
        try:
            barrier.wait()
            with as_(actor):
                container.services.clients.add_comment(client, body)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [
        threading.Thread(target=write, args=(ANN, "from Ann")),
        threading.Thread(target=write, args=(BOB, "from Bob")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    container.wait_for(container.store.head())
    got = sorted((r, t) for r, _k, t in notes(container))
    # Whichever saved second also tells the first author (an earlier commenter by then).
    assert ("cat", "Ann Owner commented on Acme: from Ann") in got
    assert ("cat", "Bob Agent commented on Acme: from Bob") in got
    assert ("bob", "Ann Owner commented on Acme: from Ann") in got
    assert len(got) in (3, 4)


def test_marking_read_some_all_and_someone_elses(container: Container) -> None:
    client = setup(container)
    comment(container, ANN, client, "one")
    comment(container, ANN, client, "two")
    n = notifications.c
    bob_ids = [
        UUID(r[0])
        for r in rows(
            container, sa.select(n.id).where(n.recipient_id == "bob").order_by(n.position)
        )
    ]
    cat_ids = [UUID(r[0]) for r in rows(container, sa.select(n.id).where(n.recipient_id == "cat"))]
    service = container.services.notifications
    head = container.store.head()
    with as_(BOB), pytest.raises(NotFound):
        service.mark_notifications_read(notification_ids=[bob_ids[0], cat_ids[0]])
    with as_(BOB), pytest.raises(InvalidInput):
        service.mark_notifications_read()
    assert container.store.head() == head
    with as_(BOB):
        container.wait_for(service.mark_notifications_read(notification_ids=[bob_ids[0]]).position)
    unread = (
        sa.select(n.recipient_id, sa.func.count())
        .where(n.read_at.is_(None))
        .group_by(n.recipient_id)
        .order_by(n.recipient_id)
    )
    assert rows(container, unread) == [("bob", 1), ("cat", 2)]
    with as_(CAT):
        container.wait_for(service.mark_notifications_read(every=True).position)
    assert rows(container, unread) == [("bob", 1)]
    # Marking an already-read one again records nothing.
    with as_(BOB):
        assert service.mark_notifications_read(notification_ids=[bob_ids[0]]).position is None


def test_chat_read_marks_and_participants(container: Container) -> None:
    client = setup(container)
    chat = container.services.chat
    with as_(BOB):
        thread = UUID(
            chat.start_chat_thread(
                client, title="Year end", visibility="INTERNAL", participant_user_ids=["cat"]
            ).ids["thread_id"]
        )
        chat.post_chat_message(thread, body="Numbers are in")
        chat.post_chat_message(thread, body="Please check")
    with as_(DAN), pytest.raises(NotFound):  # cannot see Acme
        chat.post_chat_message(thread, body="hi")
    with as_(ANN):
        chat.post_chat_message(thread, body="Owner joins by posting")
    with as_(CAT):
        container.wait_for(chat.mark_chat_thread_read(thread).position)
    with as_(BOB):
        container.wait_for(chat.post_chat_message(thread, body="Thanks").position)
    p = chat_participants.c
    assert rows(
        container, sa.select(p.participant, p.last_read_seq).order_by(p.seq, p.participant)
    ) == [
        ("staff:bob", 4),
        ("staff:cat", 3),
        ("staff:ann", 3),
    ]
    with as_(ANN):
        s = container.services.clients
        s.remove_team_member(client, "cat")
    with as_(CAT), pytest.raises(RuleViolated):  # a manager may still see Acme: still in
        chat.add_chat_participant(thread, user_id="cat")


def test_a_rebuild_reproduces_notifications_and_chat(container: Container) -> None:
    client = setup(container)
    comment(container, ANN, client, "one")
    comment(container, BOB, client, "two")
    chat = container.services.chat
    with as_(BOB):
        thread = UUID(
            chat.start_chat_thread(client, title="T", visibility="INTERNAL").ids["thread_id"]
        )
        chat.post_chat_message(thread, body="m1")
        chat.add_chat_participant(thread, user_id="cat")
    with as_(CAT):
        chat.mark_chat_thread_read(thread)
        container.services.notifications.mark_notifications_read(every=True)
        container.wait_for(
            container.services.notifications.set_notification_preferences(
                email={"HOLD_RELEASED": False}
            ).position
        )
    tables = [notifications, notification_settings, chat_threads, chat_participants, chat_messages]

    def dump() -> list[list[tuple[Any, ...]]]:
        return [rows(container, sa.select(t).order_by(*t.primary_key.columns)) for t in tables]

    before = dump()
    assert [len(t) for t in before] == [4, 1, 1, 2, 1]
    for kind in (NotificationsProjection, ChatProjection):
        projection = next(p for p in container.runner.projections if isinstance(p, kind))
        assert container.runner.rebuild(projection) == container.store.head()
    assert dump() == before
