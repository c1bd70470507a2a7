"""Commands on chat threads: start, post, read, add and remove participants.

A thread is loaded only if the actor may see its client. Staff participants must be on the
firm's staff records with a role that sees the client; contact participants must be linked
to the client (and only in CLIENT threads). Posting is for participants; an owner or admin
who posts joins the thread in the same save.
"""

from __future__ import annotations

from uuid import UUID

from domain.access import STAFF_ADMIN_ROLES, can_see_client, sees_all_clients
from domain.actor import current_context
from domain.chat import ChatThread
from domain.client import Client
from domain.errors import InvalidInput, RuleViolated
from domain.staff import StaffMember, staff_member_id
from infra.services.unit_of_work import Change, Commands, Outcome


class ChatService(Commands):
    """Start threads on a client, post messages, mark read, manage participants."""

    def _thread(self, thread_id: UUID) -> ChatThread:
        return self.uow.visible(ChatThread, thread_id)

    def _check_member(self, client: Client, field: str, user_id: str) -> None:
        """A staff participant: on the records, and may see the client."""
        member = self.uow.find(StaffMember, staff_member_id(current_context().firm_id, user_id))
        if member is None or not can_see_client(member.role.lower(), user_id, client.team):
            raise InvalidInput(field, f"{user_id} is not a staff member who may see this client")

    @staticmethod
    def _check_contact(client: Client, field: str, contact_id: UUID) -> None:
        if str(contact_id) not in client.contacts:
            raise InvalidInput(field, f"{contact_id} is not a contact of this client")

    def start_chat_thread(
        self,
        client_id: UUID,
        *,
        title: str,
        visibility: str,
        participant_user_ids: list[str] | None = None,
        participant_contact_ids: list[UUID] | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            client = self.uow.visible(Client, client_id)
            me = current_context().actor.id
            for i, user_id in enumerate(participant_user_ids or []):
                if user_id != me:
                    self._check_member(client, f"input.participantUserIds.{i}", user_id)
            for i, contact_id in enumerate(participant_contact_ids or []):
                self._check_contact(client, f"input.participantContactIds.{i}", contact_id)
            thread = ChatThread.start(
                client_id=client.id,
                title=title,
                visibility=visibility,
                user_ids=list(participant_user_ids or []),
                contact_ids=list(participant_contact_ids or []),
            )
            return Change.of(thread, thread_id=str(thread.id))

        return self.uow.run("startChatThread", key, build)

    def post_chat_message(self, thread_id: UUID, *, body: str, key: str | None = None) -> Outcome:
        def build() -> Change:
            thread = self._thread(thread_id)
            may_join = current_context().role in STAFF_ADMIN_ROLES
            message_id = thread.post(body, may_join=may_join)
            return Change.of(thread, thread_id=str(thread.id), message_id=str(message_id))

        return self.uow.run("postChatMessage", key, build)

    def mark_chat_thread_read(self, thread_id: UUID, *, key: str | None = None) -> Outcome:
        return self.uow.change(
            "markChatThreadRead",
            key,
            ChatThread,
            thread_id,
            lambda t: t.mark_read(),
            extra={"thread_id": str(thread_id)},
        )

    def add_chat_participant(
        self,
        thread_id: UUID,
        *,
        user_id: str | None = None,
        contact_id: UUID | None = None,
        key: str | None = None,
    ) -> Outcome:
        def build() -> Change:
            thread = self._thread(thread_id)
            client = self.uow.get(Client, thread.client_id)
            if user_id is not None:
                self._check_member(client, "input.userId", user_id)
            if contact_id is not None:
                self._check_contact(client, "input.contactId", contact_id)
            thread.add_participant(user_id=user_id, contact_id=contact_id)
            return Change.of(thread, thread_id=str(thread.id))

        return self.uow.run("addChatParticipant", key, build)

    def remove_chat_participant(
        self,
        thread_id: UUID,
        *,
        user_id: str | None = None,
        contact_id: UUID | None = None,
        key: str | None = None,
    ) -> Outcome:
        """A member may leave; owners, admins and managers may remove anyone."""

        def remove(thread: ChatThread) -> None:
            ctx = current_context()
            if user_id != ctx.actor.id and not sees_all_clients(ctx.role):
                raise RuleViolated(
                    "NOT_ALLOWED", "only owners, admins and managers remove other participants"
                )
            thread.remove_participant(user_id=user_id, contact_id=contact_id)

        return self.uow.change(
            "removeChatParticipant",
            key,
            ChatThread,
            thread_id,
            remove,
            extra={"thread_id": str(thread_id)},
        )
