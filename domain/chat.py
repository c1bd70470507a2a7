"""Contextual chat: threads of messages on a client, internal or with the client's contacts.

A thread is INTERNAL (staff only) or CLIENT (the client's linked contacts take part too; they
post through the portal, which comes later). Participants are staff user ids and contact
ids. Who may do what (see docs in README "Notifications and chat"):

- staff who may see the client may read its threads and add participants (themselves too);
- posting needs being a participant; an owner or admin who posts joins the thread first;
- the starter is a participant; an author's read mark moves to their own message.

Every event is about the client (so the history and live activity show it) except read
marks, which are record-keeping. The aggregate keeps no message bodies: the read model does.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from domain.actor import current_context
from domain.base import Bookkeeping, ClientRelatedEvent, DossierAggregate, DossierCreated
from domain.errors import InvalidInput, LimitExceeded, RuleViolated
from domain.values import NAME_MAX, required_text

MESSAGE_MAX = 5_000
"""Characters of one message."""
MESSAGES_MAX = 10_000
"""Messages in one thread."""
PARTICIPANTS_MAX = 100
"""Participants of one thread (staff and contacts together)."""

INTERNAL = "INTERNAL"
CLIENT = "CLIENT"
VISIBILITIES = (INTERNAL, CLIENT)


def staff_key(user_id: str) -> str:
    """A staff participant's key in read marks."""
    return f"staff:{user_id}"


def contact_key(contact_id: UUID | str) -> str:
    """A contact participant's key in read marks."""
    return f"contact:{contact_id}"


class ChatThread(DossierAggregate):
    """A conversation on a client: its participants, how many messages, who read how far."""

    class ChatThreadStarted(DossierCreated, ClientRelatedEvent):
        title: str
        visibility: str
        user_ids: list[str]
        contact_ids: list[str]

    class ChatParticipantAdded(ClientRelatedEvent):
        user_id: str | None
        contact_id: str | None

        def apply(self, aggregate: Any) -> None:
            if self.user_id is not None:
                aggregate.user_ids.append(self.user_id)
            if self.contact_id is not None:
                aggregate.contact_ids.append(self.contact_id)

    class ChatParticipantRemoved(ClientRelatedEvent):
        user_id: str | None
        contact_id: str | None

        def apply(self, aggregate: Any) -> None:
            if self.user_id is not None:
                aggregate.user_ids.remove(self.user_id)
                aggregate.read_marks.pop(staff_key(self.user_id), None)
            if self.contact_id is not None:
                aggregate.contact_ids.remove(self.contact_id)
                aggregate.read_marks.pop(contact_key(self.contact_id), None)

    class ChatMessagePosted(ClientRelatedEvent):
        message_id: UUID
        seq: int
        body: str

        def apply(self, aggregate: Any) -> None:
            aggregate.message_count = self.seq
            aggregate.read_marks[participant_of(self.actor)] = self.seq

    class ChatThreadRead(ClientRelatedEvent, Bookkeeping):
        participant: str
        seq: int

        def apply(self, aggregate: Any) -> None:
            aggregate.read_marks[self.participant] = self.seq

    def __init__(
        self,
        firm_id: str,
        client_id: UUID,
        title: str,
        visibility: str,
        user_ids: list[str],
        contact_ids: list[str],
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.title = title
        self.visibility = visibility
        self.user_ids = list(user_ids)
        self.contact_ids = list(contact_ids)
        self.message_count = 0
        self.read_marks: dict[str, int] = {}

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        kwargs.setdefault("client_id", self.client_id)  # every event is about the client
        super().trigger_event(event_class, **kwargs)

    # Commands ---------------------------------------------------------------

    @classmethod
    def start(
        cls,
        *,
        client_id: UUID,
        title: str,
        visibility: str,
        user_ids: list[str],
        contact_ids: list[UUID],
        thread_id: UUID | None = None,
    ) -> ChatThread:
        """A thread started by the acting member, who is its first participant. The caller
        has checked that the other participants exist (staff who may see the client, the
        client's contacts)."""
        if visibility not in VISIBILITIES:
            raise InvalidInput("input.visibility", f"unknown visibility {visibility}")
        if visibility == INTERNAL and contact_ids:
            raise InvalidInput("input.participantContactIds", "an internal thread has no contacts")
        starter = current_context().actor.id
        users = list(dict.fromkeys([starter, *user_ids]))
        contacts = list(dict.fromkeys(str(c) for c in contact_ids))
        if len(users) + len(contacts) > PARTICIPANTS_MAX:
            raise LimitExceeded(
                PARTICIPANTS_MAX, f"a thread has at most {PARTICIPANTS_MAX} participants"
            )
        return cls._create(
            cls.ChatThreadStarted,
            id=thread_id or uuid4(),
            client_id=client_id,
            title=required_text("input.title", title, NAME_MAX),
            visibility=visibility,
            user_ids=users,
            contact_ids=contacts,
        )

    def post(self, body: str, *, may_join: bool = False) -> UUID:
        """Post a message as the acting member; returns the message's id. A non-participant
        is refused (rule NOT_A_PARTICIPANT) unless `may_join` (owners and admins), in which
        case they join first."""
        text = required_text("input.body", body, MESSAGE_MAX, multiline=True)
        if self.message_count >= MESSAGES_MAX:
            raise LimitExceeded(MESSAGES_MAX, f"a thread has at most {MESSAGES_MAX} messages")
        me = current_context().actor.id
        if me not in self.user_ids:
            if not may_join:
                raise self._not_a_participant(me)
            self.add_participant(user_id=me)
        message_id = uuid4()
        self.trigger_event(
            self.ChatMessagePosted, message_id=message_id, seq=self.message_count + 1, body=text
        )
        return message_id

    def add_participant(
        self, *, user_id: str | None = None, contact_id: UUID | None = None
    ) -> None:
        """Add one staff member or one contact (the caller checked that they exist)."""
        if (user_id is None) == (contact_id is None):
            raise InvalidInput("input", "give exactly one of userId and contactId")
        if contact_id is not None and self.visibility == INTERNAL:
            raise InvalidInput("input.contactId", "an internal thread has no contacts")
        if user_id in self.user_ids or str(contact_id) in self.contact_ids:
            raise RuleViolated("ALREADY_A_PARTICIPANT", "already a participant of this thread")
        if len(self.user_ids) + len(self.contact_ids) >= PARTICIPANTS_MAX:
            raise LimitExceeded(
                PARTICIPANTS_MAX, f"a thread has at most {PARTICIPANTS_MAX} participants"
            )
        self.trigger_event(
            self.ChatParticipantAdded,
            user_id=user_id,
            contact_id=None if contact_id is None else str(contact_id),
        )

    def remove_participant(
        self, *, user_id: str | None = None, contact_id: UUID | None = None
    ) -> None:
        if (user_id is None) == (contact_id is None):
            raise InvalidInput("input", "give exactly one of userId and contactId")
        if user_id is not None and user_id not in self.user_ids:
            raise self._not_a_participant(user_id)
        if contact_id is not None and str(contact_id) not in self.contact_ids:
            raise self._not_a_participant(str(contact_id))
        self.trigger_event(
            self.ChatParticipantRemoved,
            user_id=user_id,
            contact_id=None if contact_id is None else str(contact_id),
        )

    def mark_read(self) -> None:
        """The acting participant has read every message so far (nothing recorded if they
        already had)."""
        me = current_context().actor.id
        if me not in self.user_ids:
            raise self._not_a_participant(me)
        key = staff_key(me)
        if self.read_marks.get(key, 0) < self.message_count:
            self.trigger_event(self.ChatThreadRead, participant=key, seq=self.message_count)

    # Queries ----------------------------------------------------------------

    def unread_for(self, participant: str) -> int:
        return self.message_count - self.read_marks.get(participant, 0)

    @staticmethod
    def _not_a_participant(who: str) -> RuleViolated:
        return RuleViolated("NOT_A_PARTICIPANT", f"{who} is not a participant of this thread")


def participant_of(actor: dict[str, Any]) -> str:
    """The read-mark key of an event's actor (a contact through the portal, or staff)."""
    if actor.get("kind") == "CONTACT":
        return contact_key(str(actor["id"]))
    return staff_key(str(actor["id"]))
