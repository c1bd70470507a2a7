"""ChatThread, Notification, NotificationInbox and ClientCommenters rules (no I/O)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.actor import ActingContext, acting_as
from domain.chat import MESSAGE_MAX, ChatThread
from domain.errors import InvalidInput, RuleViolated
from domain.notification import (
    ClientCommenters,
    Notification,
    NotificationInbox,
    NotificationKind,
    excerpt,
)
from tests.unit.helpers import BOB, FIRM_ID


def new_thread(**extra: object) -> ChatThread:
    args: dict[str, object] = {
        "client_id": uuid4(),
        "title": "  Year end ",
        "visibility": "INTERNAL",
        "user_ids": ["user-bob", "user-ann"],
        "contact_ids": [],
        **extra,
    }
    return ChatThread.start(**args)  # type: ignore[arg-type]


def test_a_thread_starts_with_its_starter_first_and_no_duplicates(acting: ActingContext) -> None:
    thread = new_thread()
    assert thread.title == "Year end"
    assert thread.user_ids == ["user-ann", "user-bob"]
    assert thread.message_count == 0


def test_bad_threads_are_refused(acting: ActingContext) -> None:
    with pytest.raises(InvalidInput, match=r"input\.title"):
        new_thread(title=" ")
    with pytest.raises(InvalidInput, match="internal thread has no contacts"):
        new_thread(contact_ids=[uuid4()])
    with pytest.raises(InvalidInput, match="visibility"):
        new_thread(visibility="PUBLIC")


def test_posting_moves_the_authors_read_mark_and_counts_unread(acting: ActingContext) -> None:
    thread = new_thread()
    thread.post("Hello\nBob")
    thread.post("Second")
    assert thread.message_count == 2
    assert thread.unread_for("staff:user-ann") == 0
    assert thread.unread_for("staff:user-bob") == 2
    with acting_as(BOB, FIRM_ID, "agent"):
        thread.mark_read()
        assert thread.unread_for("staff:user-bob") == 0
        pending = len(thread.pending_events)
        thread.mark_read()  # nothing new: nothing recorded
        assert len(thread.pending_events) == pending


def test_who_may_post(acting: ActingContext) -> None:
    thread = new_thread(user_ids=[])
    with acting_as(BOB, FIRM_ID, "manager"):
        with pytest.raises(RuleViolated) as refused:
            thread.post("hi")
        assert refused.value.rule == "NOT_A_PARTICIPANT"
        with pytest.raises(RuleViolated):
            thread.mark_read()
        thread.post("an owner or admin joins", may_join=True)
    assert thread.user_ids == ["user-ann", "user-bob"]
    with pytest.raises(InvalidInput, match="at most 5000"):
        thread.post("x" * (MESSAGE_MAX + 1))
    with pytest.raises(InvalidInput, match="blank"):
        thread.post(" \n ")


def test_participants_are_added_and_removed_once(acting: ActingContext) -> None:
    thread = new_thread(visibility="CLIENT")
    contact = uuid4()
    thread.add_participant(contact_id=contact)
    with pytest.raises(RuleViolated):
        thread.add_participant(contact_id=contact)
    with pytest.raises(InvalidInput):
        thread.add_participant()
    thread.remove_participant(user_id="user-bob")
    with pytest.raises(RuleViolated):
        thread.remove_participant(user_id="user-bob")
    assert (thread.user_ids, thread.contact_ids) == (["user-ann"], [str(contact)])


def test_a_notification_per_recipient_and_cause_has_one_id(acting: ActingContext) -> None:
    client = uuid4()
    cause = {"type": "Comment", "comment_id": "c-1"}
    first = Notification.create(
        recipient_id="user-bob",
        kind=NotificationKind.COMMENT,
        client_id=client,
        cause=cause,
        text="t",
    )
    again = Notification.create(
        recipient_id="user-bob",
        kind=NotificationKind.COMMENT,
        client_id=client,
        cause=cause,
        text="t",
    )
    other = Notification.create(
        recipient_id="user-cat",
        kind=NotificationKind.COMMENT,
        client_id=client,
        cause=cause,
        text="t",
    )
    assert first.id == again.id != other.id
    first.mark_read(None)
    first.mark_read(None)
    assert [type(e).__name__ for e in first.pending_events] == [
        "NotificationCreated",
        "NotificationRead",
    ]


def test_inbox_settings_and_commenters_index(acting: ActingContext) -> None:
    inbox = NotificationInbox.open("user-ann")
    assert inbox.emails("COMMENT") is True
    inbox.set_email({"COMMENT": False})
    inbox.set_email({"COMMENT": False})  # no change: nothing recorded
    assert len(inbox.pending_events) == 2
    assert inbox.emails("COMMENT") is False
    with pytest.raises(InvalidInput):
        inbox.set_email({"EVERYTHING": True})
    index = ClientCommenters.start(uuid4(), "user-ann")
    index.commented("user-ann")
    index.commented("user-bob")
    assert index.user_ids == ["user-ann", "user-bob"]


def test_excerpts_are_one_line_and_bounded() -> None:
    assert excerpt("Line one\n\tline two") == "Line one line two"
    assert excerpt("x" * 300) == "x" * 279 + "…"
