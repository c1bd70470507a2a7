"""The viewer's notifications: list with unread count, mark read, email settings per kind.

A comment notifies the client's earlier commenters and its team; putting a client on hold
or releasing it notifies its team; never the one who did it. Each notification is also
emailed unless the member turned that kind off. A viewer sees only their own notifications,
about clients they may still see; someone else's id is NOT_FOUND.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, TypeAlias

import strawberry

from resolvers.commands import local_id, written
from resolvers.ids import to_global_id
from resolvers.notifications import AnyStaff, naming_notifications, notification_loaders
from resolvers.pages import check_first
from schema.common import Actor, Info, Node, PageInfo, command, connection_of
from schema.errors import LimitExceededError, NotFoundError, ValidationError
from schema.types import ClientCore, ClientRef, Comment


@strawberry.enum
class NotificationKind(Enum):
    COMMENT = "COMMENT"
    CLIENT_ON_HOLD = "CLIENT_ON_HOLD"
    HOLD_RELEASED = "HOLD_RELEASED"


@strawberry.type(description="A notice to the viewer about something that happened to a client.")
class Notification(Node):
    id: strawberry.ID
    kind: NotificationKind
    text: str
    read: bool
    read_at: datetime | None
    created_at: datetime
    actor: Actor = strawberry.field(description="Who caused it (commented, put on hold...).")
    client_id: strawberry.Private[str]
    comment_id: strawberry.Private[str | None]

    @classmethod
    async def load(cls, info: Info, notification_id: str) -> Notification:
        loader = notification_loaders(info.context).notification
        return cls.from_row(await written(loader, "Notification", notification_id))

    @classmethod
    def from_row(cls, row: Any) -> Notification:
        cause = row.cause or {}
        return cls(
            id=strawberry.ID(to_global_id("Notification", row.id)),
            kind=NotificationKind(row.kind),
            text=row.text,
            read=row.read_at is not None,
            read_at=row.read_at,
            created_at=row.created_at,
            actor=Actor.from_dict(row.actor),
            client_id=row.client_id,
            comment_id=cause.get("comment_id"),
        )

    @strawberry.field
    async def client(self, info: Info) -> ClientRef | None:
        row = await info.context.loaders.client.load(self.client_id)
        return None if row is None else ClientCore.from_row(row)

    @strawberry.field(description="The comment that caused it (kind COMMENT).")
    async def comment(self, info: Info) -> Comment | None:
        if self.comment_id is None:
            return None
        row = await info.context.loaders.comment.load(self.comment_id)
        return None if row is None else Comment.from_row(row)


@strawberry.type
class NotificationEdge:
    cursor: str
    node: Notification


@strawberry.type
class NotificationConnection:
    edges: list[NotificationEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Of the listed kind (all, or unread only).")
    unread_count: int = strawberry.field(description="The viewer's unread notifications.")


@strawberry.type
class NotificationEmailSetting:
    kind: NotificationKind
    email: bool


@strawberry.type(description="The viewer's own settings: which kinds are also emailed.")
class NotificationPreferences:
    email: list[NotificationEmailSetting]

    @classmethod
    def of(cls, settings: dict[str, bool]) -> NotificationPreferences:
        return cls(
            email=[
                NotificationEmailSetting(kind=kind, email=settings.get(kind.value, True))
                for kind in NotificationKind
            ]
        )


async def notification_node(info: Info, local: str) -> Notification | None:
    row = await notification_loaders(info.context).notification.load(local)
    return None if row is None else Notification.from_row(row)


@strawberry.type
class NotificationsQuery:
    @strawberry.field(description="The viewer's notifications, newest first.")
    async def notifications(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        unread_only: bool = False,
    ) -> NotificationConnection:
        info.context.require_viewer()
        size = check_first(first, 20)
        found = await notification_loaders(info.context).page(size, after, unread_only)
        return connection_of(
            NotificationConnection,
            found.page,
            NotificationEdge,
            Notification.from_row,
            unread_count=found.unread,
        )

    @strawberry.field(description="The viewer's notification settings.")
    async def notification_preferences(self, info: Info) -> NotificationPreferences:
        info.context.require_viewer()
        return NotificationPreferences.of(await notification_loaders(info.context).email_settings())


# Mutations ---------------------------------------------------------------------


@strawberry.input
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Your notifications to mark read (at most 100)."
    )
    all: bool = strawberry.field(default=False, description="Mark every notification read.")
    idempotency_key: str | None = None


@strawberry.input
class NotificationEmailSettingInput:
    kind: NotificationKind
    email: bool


@strawberry.input
class SetNotificationPreferencesInput:
    email: list[NotificationEmailSettingInput] = strawberry.field(
        description="Kinds to email or not; kinds left out keep their setting."
    )
    idempotency_key: str | None = None


@strawberry.type
class MarkNotificationsReadPayload:
    notifications: list[Notification] = strawberry.field(description="Those named by id.")
    unread_count: int


@strawberry.type
class NotificationPreferencesPayload:
    preferences: NotificationPreferences


MarkNotificationsReadResult: TypeAlias = Annotated[
    MarkNotificationsReadPayload | ValidationError | NotFoundError | LimitExceededError,
    strawberry.union("MarkNotificationsReadResult"),
]
SetNotificationPreferencesResult: TypeAlias = Annotated[
    NotificationPreferencesPayload | ValidationError,
    strawberry.union("SetNotificationPreferencesResult"),
]

STAFF = AnyStaff()


@strawberry.type
class NotificationsMutation:
    @command(STAFF, description="Mark some of your notifications read, or all of them.")
    async def mark_notifications_read(
        self, info: Info, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadResult:
        ids = [local_id(i, "Notification") for i in input.ids or []]
        await info.context.run(
            naming_notifications(
                lambda app: app.services.notifications.mark_notifications_read(
                    notification_ids=ids or None,
                    every=input.all,
                    key=input.idempotency_key,
                )
            ),
            own=True,
        )
        found = [await Notification.load(info, str(i)) for i in dict.fromkeys(ids)]
        page = await notification_loaders(info.context).page(0, None, True)
        return MarkNotificationsReadPayload(notifications=found, unread_count=page.unread)

    @command(STAFF, description="Choose which kinds of notification are also emailed to you.")
    async def set_notification_preferences(
        self, info: Info, input: SetNotificationPreferencesInput
    ) -> SetNotificationPreferencesResult:
        email = {setting.kind.value: setting.email for setting in input.email}
        await info.context.run(
            lambda app: app.services.notifications.set_notification_preferences(
                email=email, key=input.idempotency_key
            ),
            own=True,
        )
        return NotificationPreferencesPayload(
            preferences=NotificationPreferences.of(
                await notification_loaders(info.context).email_settings()
            )
        )
