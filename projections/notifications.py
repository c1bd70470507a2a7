"""The notifications read model: each member's notifications and email settings.

Marking everything read sets `read_at` on every notification of the member projected so far,
so a rebuild (which applies the same events in the same order) gives the same rows.
"""

from __future__ import annotations

import sqlalchemy as sa

from domain.base import DossierEvent
from domain.notification import ClientCommenters, Notification, NotificationInbox
from projections.base import Projection, handles
from projections.sentences import Said, says
from projections.tables import FIRM, ID, UTCDateTime, metadata

notifications = sa.Table(
    "rm_notifications",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("recipient_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("cause", sa.JSON, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("actor", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("read_at", UTCDateTime),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_notifications_recipient", "firm_id", "recipient_id", "position"),
)

notification_settings = sa.Table(
    "rm_notification_settings",
    metadata,
    sa.Column("firm_id", FIRM, primary_key=True),
    sa.Column("user_id", sa.String(200), primary_key=True),
    sa.Column("email", sa.JSON, nullable=False),
)


class NotificationsProjection(Projection):
    """Keeps rm_notifications and rm_notification_settings."""

    name = "notifications"
    tables = (notifications, notification_settings)

    @handles(Notification.NotificationCreated)
    def created(
        self, conn: sa.Connection, e: Notification.NotificationCreated, position: int
    ) -> None:
        conn.execute(
            sa.insert(notifications).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                recipient_id=e.recipient_id,
                kind=e.kind,
                client_id=str(e.client_id),
                cause=e.cause,
                text=e.text,
                actor=e.actor,
                created_at=e.timestamp,
                read_at=None,
                position=position,
            )
        )

    @handles(Notification.NotificationRead)
    def read(self, conn: sa.Connection, e: Notification.NotificationRead, position: int) -> None:
        n = notifications.c
        conn.execute(
            sa.update(notifications)
            .where(n.id == str(e.originator_id), n.read_at.is_(None))
            .values(read_at=e.timestamp)
        )

    @handles(NotificationInbox.AllNotificationsRead)
    def all_read(
        self, conn: sa.Connection, e: NotificationInbox.AllNotificationsRead, position: int
    ) -> None:
        n = notifications.c
        conn.execute(
            sa.update(notifications)
            .where(
                n.firm_id == e.firm_id,
                n.recipient_id == str(e.actor["id"]),
                n.read_at.is_(None),
            )
            .values(read_at=e.timestamp)
        )

    @handles(NotificationInbox.InboxOpened)
    def inbox_opened(
        self, conn: sa.Connection, e: NotificationInbox.InboxOpened, position: int
    ) -> None:
        conn.execute(
            sa.insert(notification_settings).values(
                firm_id=e.firm_id, user_id=e.user_id, email=e.email
            )
        )

    @handles(NotificationInbox.EmailPreferencesSet)
    def email_set(
        self, conn: sa.Connection, e: NotificationInbox.EmailPreferencesSet, position: int
    ) -> None:
        s = notification_settings.c
        conn.execute(
            sa.update(notification_settings)
            .where(s.firm_id == e.firm_id, s.user_id == str(e.actor["id"]))
            .values(email=e.email)
        )


# Sentences (record-keeping events: shown only where record-keeping is shown) ------------

Created = Notification.NotificationCreated
Opened = NotificationInbox.InboxOpened
EmailSet = NotificationInbox.EmailPreferencesSet


@says(Created)
def _created(e: Created, said: Said) -> str:
    return f"{said.staff(e, e.recipient_id)} was notified: {e.text}"


@says(Notification.NotificationRead)
def _read(e: DossierEvent, said: Said) -> str:
    return f"{said.who} read a notification."


@says(NotificationInbox.AllNotificationsRead)
def _all_read(e: DossierEvent, said: Said) -> str:
    return f"{said.who} marked all their notifications read."


@says(Opened)
def _opened(e: Opened, said: Said) -> str:
    return f"Notification settings were opened for {said.staff(e, e.user_id)}."


@says(EmailSet)
def _email_set(e: EmailSet, said: Said) -> str:
    off = sorted(kind for kind, on in e.email.items() if not on)
    which = ", ".join(k.lower().replace("_", " ") for k in off) if off else "nothing"
    return f"{said.who} changed their notification emails (turned off: {which})."


@says(ClientCommenters.CommentersIndexStarted, ClientCommenters.CommenterIndexed)
def _indexed(e: DossierEvent, said: Said) -> str:
    return f"{said.who} was recorded as a commenter."
