"""Contextual chat on a client: threads (internal, or with the client's contacts) and messages.

Staff who may see a client may read its threads and add participants (themselves too, to
join). Posting needs being a participant; an owner or admin who posts joins first. The
starter is a participant. `unreadCount` is the viewer's, from their read mark (null when the
viewer is not a participant). Messages are listed newest first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, TypeAlias

import strawberry

from resolvers.chat import chat_loaders
from resolvers.commands import local_id, may_change, written
from resolvers.ids import to_global_id
from resolvers.pages import Page, check_first, position_after
from resolvers.ports import Outcome
from schema.common import Actor, Info, Node, PageInfo, command, connection_of
from schema.errors import LimitExceededError, NotFoundError, RuleViolationError, ValidationError
from schema.types import ClientCore, ClientRef, Contact, StaffMember


@strawberry.enum
class ChatVisibility(Enum):
    INTERNAL = "INTERNAL"
    CLIENT = "CLIENT"


@strawberry.type(description="A staff member or a client's contact taking part in a thread.")
class ChatParticipant:
    user_id: strawberry.ID | None = strawberry.field(description="Set for a staff member.")
    added_at: datetime
    contact_id: strawberry.Private[str | None]

    @strawberry.field(description="The staff member's record, if the firm has one.")
    async def staff_member(self, info: Info) -> StaffMember | None:
        if self.user_id is None:
            return None
        row = await info.context.loaders.staff_by_user.load(str(self.user_id))
        return None if row is None else StaffMember.from_row(row)

    @strawberry.field(description="Set for a client's contact.")
    async def contact(self, info: Info) -> Contact | None:
        if self.contact_id is None:
            return None
        row = await info.context.loaders.contact.load(self.contact_id)
        return None if row is None else Contact.from_row(row)

    @classmethod
    def from_row(cls, row: Any) -> ChatParticipant:
        return cls(
            user_id=None if row.user_id is None else strawberry.ID(row.user_id),
            added_at=row.added_at,
            contact_id=row.contact_id,
        )


@strawberry.type(description="A message in a chat thread.")
class ChatMessage(Node):
    id: strawberry.ID
    body: str
    author: Actor
    posted_at: datetime
    thread_id: strawberry.Private[str]

    @classmethod
    async def load(cls, info: Info, message_id: str) -> ChatMessage:
        loader = chat_loaders(info.context).message
        return cls.from_row(await written(loader, "ChatMessage", message_id))

    @classmethod
    def from_row(cls, row: Any) -> ChatMessage:
        return cls(
            id=strawberry.ID(to_global_id("ChatMessage", row.id)),
            body=row.body,
            author=Actor.from_dict(row.author),
            posted_at=row.posted_at,
            thread_id=row.thread_id,
        )

    @strawberry.field
    async def thread(self, info: Info) -> ChatThread | None:
        row = await chat_loaders(info.context).thread.load(self.thread_id)
        return None if row is None else ChatThread.from_row(row)


@strawberry.type
class ChatMessageEdge:
    cursor: str
    node: ChatMessage


@strawberry.type
class ChatMessageConnection:
    edges: list[ChatMessageEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="A conversation on a client.")
class ChatThread(Node):
    id: strawberry.ID
    title: str
    visibility: ChatVisibility
    started_at: datetime
    started_by: Actor
    message_count: int
    last_message_at: datetime | None
    local_id: strawberry.Private[str]
    client_id: strawberry.Private[str]

    @classmethod
    async def load(cls, info: Info, thread_id: str) -> ChatThread:
        loader = chat_loaders(info.context).thread
        return cls.from_row(await written(loader, "ChatThread", thread_id))

    @classmethod
    def from_row(cls, row: Any) -> ChatThread:
        return cls(
            id=strawberry.ID(to_global_id("ChatThread", row.id)),
            title=row.title,
            visibility=ChatVisibility(row.visibility),
            started_at=row.started_at,
            started_by=Actor.from_dict(row.started_by),
            message_count=row.message_count,
            last_message_at=row.last_message_at,
            local_id=row.id,
            client_id=row.client_id,
        )

    @strawberry.field
    async def participants(self, info: Info) -> list[ChatParticipant]:
        rows = await chat_loaders(info.context).participants.load(self.local_id)
        return [ChatParticipant.from_row(r) for r in rows]

    @strawberry.field(description="Messages, newest first.")
    async def messages(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> ChatMessageConnection:
        size = check_first(first, 20)
        start = position_after(after)
        rows = await chat_loaders(info.context).messages.load((self.local_id, size, start))
        page = Page.of(rows, size, lambda r: r.position, after=after, total=self.message_count)
        return connection_of(ChatMessageConnection, page, ChatMessageEdge, ChatMessage.from_row)

    @strawberry.field(description="Messages the viewer has not read (null when not a participant).")
    async def unread_count(self, info: Info) -> int | None:
        return await chat_loaders(info.context).unread.load(self.local_id)

    @strawberry.field
    async def client(self, info: Info) -> ClientRef | None:
        row = await info.context.loaders.client.load(self.client_id)
        return None if row is None else ClientCore.from_row(row)


@strawberry.type
class ChatThreadEdge:
    cursor: str
    node: ChatThread


@strawberry.type
class ChatThreadConnection:
    edges: list[ChatThreadEdge]
    page_info: PageInfo
    total_count: int


async def chat_thread_node(info: Info, local: str) -> ChatThread | None:
    row = await chat_loaders(info.context).thread.load(local)
    return None if row is None else ChatThread.from_row(row)


async def chat_message_node(info: Info, local: str) -> ChatMessage | None:
    row = await chat_loaders(info.context).message.load(local)
    return None if row is None else ChatMessage.from_row(row)


@strawberry.type
class ChatClientFields:
    """The fields chat adds to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(description="Chat threads on this client, most recently active first.")
    async def chat_threads(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> ChatThreadConnection:
        size = check_first(first, 20)
        rows = await chat_loaders(info.context).threads_by_client.load(self.local_id)
        start = position_after(after)
        remaining = rows if start is None else [r for r in rows if r.position < start]
        page = Page.of(remaining, size, lambda r: r.position, after=after, total=len(rows))
        return connection_of(ChatThreadConnection, page, ChatThreadEdge, ChatThread.from_row)


@strawberry.type
class ChatOverviewFields:
    """The fields chat adds to a client's overview (composed in schema/client.py)."""

    client_id: strawberry.Private[str]

    @strawberry.field(description="The 5 newest messages across the client's threads.")
    async def latest_chat_messages(self, info: Info) -> list[ChatMessage]:
        rows = await chat_loaders(info.context).latest_messages.load(self.client_id)
        return [ChatMessage.from_row(r) for r in rows]


# Mutations ---------------------------------------------------------------------


@strawberry.input
class StartChatThreadInput:
    client_id: strawberry.ID
    title: str
    visibility: ChatVisibility = ChatVisibility.INTERNAL
    participant_user_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Staff who may see the client (you are added anyway)."
    )
    participant_contact_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="The client's contacts (CLIENT threads only)."
    )
    idempotency_key: str | None = None


@strawberry.input
class PostChatMessageInput:
    thread_id: strawberry.ID
    body: str
    idempotency_key: str | None = None


@strawberry.input
class MarkChatThreadReadInput:
    thread_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class ChatParticipantInput:
    thread_id: strawberry.ID
    user_id: strawberry.ID | None = strawberry.field(default=None, description="A staff member.")
    contact_id: strawberry.ID | None = strawberry.field(
        default=None, description="A contact of the client (CLIENT threads only)."
    )
    idempotency_key: str | None = None


@strawberry.type
class ChatThreadPayload:
    thread: ChatThread


@strawberry.type
class ChatMessagePayload:
    chat_message: ChatMessage
    thread: ChatThread


StartChatThreadResult: TypeAlias = Annotated[
    ChatThreadPayload | ValidationError | NotFoundError | LimitExceededError,
    strawberry.union("StartChatThreadResult"),
]
PostChatMessageResult: TypeAlias = Annotated[
    ChatMessagePayload | ValidationError | NotFoundError | RuleViolationError | LimitExceededError,
    strawberry.union("PostChatMessageResult"),
]
ChatThreadResult: TypeAlias = Annotated[
    ChatThreadPayload | ValidationError | NotFoundError | RuleViolationError | LimitExceededError,
    strawberry.union("ChatThreadResult"),
]


@strawberry.type
class ChatMutation:
    @command(may_change("start chats"), description="Start a chat thread on a client.")
    async def start_chat_thread(
        self, info: Info, input: StartChatThreadInput
    ) -> StartChatThreadResult:
        users = [str(u) for u in input.participant_user_ids or []]
        done = await info.context.run_on(
            "Client",
            input.client_id,
            lambda app, client_id: app.services.chat.start_chat_thread(
                client_id,
                title=input.title,
                visibility=input.visibility.value,
                participant_user_ids=users or None,
                participant_contact_ids=[
                    local_id(c, "Contact") for c in input.participant_contact_ids or []
                ]
                or None,
                key=input.idempotency_key,
            ),
        )
        return ChatThreadPayload(thread=await ChatThread.load(info, done.ids["thread_id"]))

    @command(may_change("post chat messages"), description="Post a message (participants).")
    async def post_chat_message(
        self, info: Info, input: PostChatMessageInput
    ) -> PostChatMessageResult:
        done = await info.context.run_on(
            "ChatThread",
            input.thread_id,
            lambda app, thread_id: app.services.chat.post_chat_message(
                thread_id, body=input.body, key=input.idempotency_key
            ),
        )
        return ChatMessagePayload(
            chat_message=await ChatMessage.load(info, done.ids["message_id"]),
            thread=await ChatThread.load(info, done.ids["thread_id"]),
        )

    @command(may_change("read chats"), description="Mark every message so far read for you.")
    async def mark_chat_thread_read(
        self, info: Info, input: MarkChatThreadReadInput
    ) -> ChatThreadResult:
        done = await info.context.run_on(
            "ChatThread",
            input.thread_id,
            lambda app, thread_id: app.services.chat.mark_chat_thread_read(
                thread_id, key=input.idempotency_key
            ),
        )
        return ChatThreadPayload(thread=await ChatThread.load(info, done.ids["thread_id"]))

    @command(may_change("change chats"), description="Add a staff member or a contact.")
    async def add_chat_participant(
        self, info: Info, input: ChatParticipantInput
    ) -> ChatThreadResult:
        return await _change_participants(info, input, lambda chat: chat.add_chat_participant)

    @command(
        may_change("change chats"),
        description="Leave a thread, or (owners, admins, managers) remove a participant.",
    )
    async def remove_chat_participant(
        self, info: Info, input: ChatParticipantInput
    ) -> ChatThreadResult:
        return await _change_participants(info, input, lambda chat: chat.remove_chat_participant)


async def _change_participants(
    info: Info, input: ChatParticipantInput, method: Callable[[Any], Callable[..., Outcome]]
) -> ChatThreadPayload:
    """Add or remove the input's participant (`method` picks the chat service's command); a
    contact id is decoded after the thread's."""
    done = await info.context.run_on(
        "ChatThread",
        input.thread_id,
        lambda app, thread_id: method(app.services.chat)(
            thread_id,
            user_id=None if input.user_id is None else str(input.user_id),
            contact_id=None if input.contact_id is None else local_id(input.contact_id, "Contact"),
            key=input.idempotency_key,
        ),
    )
    return ChatThreadPayload(thread=await ChatThread.load(info, done.ids["thread_id"]))
