"""The chat read model: threads, their participants with read marks, and messages.

A thread's `position` is the position of its latest event that changed what it shows (its
start or its latest message), so "most recently active first" is an ORDER BY.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from domain.base import DossierEvent
from domain.chat import ChatThread, contact_key, participant_of, staff_key
from projections.base import Projection, handles
from projections.sentences import Said, names, says
from projections.tables import FIRM, ID, UTCDateTime, metadata

ORDER_STEP = 1000
"""More than a thread's participants (domain.chat.PARTICIPANTS_MAX)."""

chat_threads = sa.Table(
    "rm_chat_threads",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("visibility", sa.String(20), nullable=False),
    sa.Column("started_by", sa.JSON, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("message_count", sa.Integer, nullable=False),
    sa.Column("last_message_at", UTCDateTime),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_chat_threads_client", "client_id", "position"),
)

chat_participants = sa.Table(
    "rm_chat_participants",
    metadata,
    sa.Column("thread_id", ID, primary_key=True),
    # "staff:{user id}" or "contact:{uuid}" (up to 206 characters with 200-character ids).
    sa.Column("participant", sa.String(250), primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("user_id", sa.String(200)),
    sa.Column("contact_id", ID),
    sa.Column("added_at", UTCDateTime, nullable=False),
    sa.Column("last_read_seq", sa.Integer, nullable=False),
    # Order of joining: the event's position * ORDER_STEP + the participant's place in it.
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_chat_participants_member", "participant", "thread_id"),
)

chat_messages = sa.Table(
    "rm_chat_messages",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("thread_id", ID, nullable=False),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("author", sa.JSON, nullable=False),
    sa.Column("posted_at", UTCDateTime, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_chat_messages_thread", "thread_id", "position"),
    sa.Index("ix_rm_chat_messages_client", "client_id", "position"),
)


class ChatProjection(Projection):
    """Keeps rm_chat_threads, rm_chat_participants and rm_chat_messages."""

    name = "chat"
    tables = (chat_threads, chat_participants, chat_messages)

    def _add(
        self,
        conn: sa.Connection,
        e: Any,
        position: int,
        *,
        user_id: str | None = None,
        contact_id: str | None = None,
        index: int = 0,
    ) -> None:
        key = staff_key(user_id) if user_id is not None else contact_key(str(contact_id))
        conn.execute(
            sa.insert(chat_participants).values(
                thread_id=str(e.originator_id),
                participant=key,
                firm_id=e.firm_id,
                user_id=user_id,
                contact_id=contact_id,
                added_at=e.timestamp,
                last_read_seq=0,
                seq=position * ORDER_STEP + index,
            )
        )

    @handles(ChatThread.ChatThreadStarted)
    def started(self, conn: sa.Connection, e: ChatThread.ChatThreadStarted, position: int) -> None:
        conn.execute(
            sa.insert(chat_threads).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                title=e.title,
                visibility=e.visibility,
                started_by=e.actor,
                started_at=e.timestamp,
                message_count=0,
                last_message_at=None,
                position=position,
            )
        )
        for index, user_id in enumerate(e.user_ids):
            self._add(conn, e, position, user_id=user_id, index=index)
        for index, contact_id in enumerate(e.contact_ids, start=len(e.user_ids)):
            self._add(conn, e, position, contact_id=contact_id, index=index)

    @handles(ChatThread.ChatParticipantAdded)
    def added(self, conn: sa.Connection, e: ChatThread.ChatParticipantAdded, position: int) -> None:
        self._add(conn, e, position, user_id=e.user_id, contact_id=e.contact_id)

    @handles(ChatThread.ChatParticipantRemoved)
    def removed(
        self, conn: sa.Connection, e: ChatThread.ChatParticipantRemoved, position: int
    ) -> None:
        p = chat_participants.c
        if e.user_id is not None:
            key = staff_key(e.user_id)
        elif e.contact_id is not None:
            key = contact_key(e.contact_id)
        else:  # the domain names exactly one of them
            return
        conn.execute(
            sa.delete(chat_participants).where(
                p.thread_id == str(e.originator_id), p.participant == key
            )
        )

    def _read_to(self, conn: sa.Connection, e: Any, participant: str, seq: int) -> None:
        p = chat_participants.c
        conn.execute(
            sa.update(chat_participants)
            .where(p.thread_id == str(e.originator_id), p.participant == participant)
            .values(last_read_seq=seq)
        )

    @handles(ChatThread.ChatMessagePosted)
    def posted(self, conn: sa.Connection, e: ChatThread.ChatMessagePosted, position: int) -> None:
        conn.execute(
            sa.insert(chat_messages).values(
                id=str(e.message_id),
                thread_id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                seq=e.seq,
                body=e.body,
                author=e.actor,
                posted_at=e.timestamp,
                position=position,
            )
        )
        conn.execute(
            sa.update(chat_threads)
            .where(chat_threads.c.id == str(e.originator_id))
            .values(message_count=e.seq, last_message_at=e.timestamp, position=position)
        )
        self._read_to(conn, e, participant_of(e.actor), e.seq)

    @handles(ChatThread.ChatThreadRead)
    def read(self, conn: sa.Connection, e: ChatThread.ChatThreadRead, position: int) -> None:
        self._read_to(conn, e, e.participant, e.seq)


# Sentences ------------------------------------------------------------------------------

Started = ChatThread.ChatThreadStarted
Posted = ChatThread.ChatMessagePosted
Added = ChatThread.ChatParticipantAdded
Removed = ChatThread.ChatParticipantRemoved
Read = ChatThread.ChatThreadRead


@names(Started)
def _thread_name(e: Started) -> tuple[str, str]:
    return str(e.originator_id), e.title


def _thread(e: DossierEvent, said: Said) -> str:
    return f'the chat "{said.name_of(e.originator_id, "untitled")}"'


def _participant(e: Added | Removed, said: Said) -> str:
    if e.user_id is not None:
        return said.staff(e, e.user_id)
    return said.name_of(e.contact_id, "a contact")


@says(Started)
def _started(e: Started, said: Said) -> str:
    kind = "an internal" if e.visibility == "INTERNAL" else "a client"
    return f'{said.who} started {kind} chat "{e.title}" on {said.client(e)}.'


@says(Posted)
def _posted(e: Posted, said: Said) -> str:
    return f"{said.who} wrote in {_thread(e, said)} on {said.client(e)}."


@says(Added)
def _added(e: Added, said: Said) -> str:
    if e.user_id is not None and e.user_id == e.actor.get("id"):
        return f"{said.who} joined {_thread(e, said)} on {said.client(e)}."
    who = _participant(e, said)
    return f"{said.who} added {who} to {_thread(e, said)} on {said.client(e)}."


@says(Removed)
def _removed(e: Removed, said: Said) -> str:
    if e.user_id is not None and e.user_id == e.actor.get("id"):
        return f"{said.who} left {_thread(e, said)} on {said.client(e)}."
    who = _participant(e, said)
    return f"{said.who} removed {who} from {_thread(e, said)} on {said.client(e)}."


@says(Read)
def _read(e: Read, said: Said) -> str:
    return f"{said.who} read {_thread(e, said)}."
