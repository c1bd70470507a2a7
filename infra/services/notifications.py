"""Who is told about a comment or a hold, and the member's own notification commands.

`Notifier` builds, inside the causing command's change, one `Notification` per recipient and
an `Email` (kind NOTIFICATION, through the outbox) for each recipient whose settings email
that kind. Recipients are staff on the firm's records whose recorded role lets them see the
client (a member removed from the team of a client they no longer see is not told); the
actor is never one of them. It reads aggregates only (staff records, inboxes, the commenters
index), never a read model.

`NotificationsService` holds the member's commands: mark read (some or all) and settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from domain.access import can_see_client
from domain.actor import current_context
from domain.base import DossierAggregate
from domain.client import Client
from domain.comment import Comment
from domain.email import SUBJECT_MAX, Email, EmailKind
from domain.errors import InvalidInput, LimitExceeded, NotFound
from domain.notification import (
    MARK_READ_MAX,
    ClientCommenters,
    Notification,
    NotificationInbox,
    NotificationKind,
    clip,
    commenters_id,
    excerpt,
    inbox_id,
)
from domain.staff import StaffMember, staff_member_id
from infra.services.unit_of_work import Change, Commands, Outcome, UnitOfWork


class Notifier:
    """Builds the notifications (and emails) a command saves with its own events."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def commenters(self, client_id: UUID) -> ClientCommenters | None:
        return self.uow.find(ClientCommenters, commenters_id(current_context().firm_id, client_id))

    def inbox(self, user_id: str) -> NotificationInbox | None:
        return self.uow.find(NotificationInbox, inbox_id(current_context().firm_id, user_id))

    def recipients(self, client: Client, user_ids: Iterable[str]) -> list[StaffMember]:
        """Staff on the records who may see the client, in the given order, each once,
        never the actor."""
        ctx = current_context()
        found: list[StaffMember] = []
        seen = {ctx.actor.id}
        for user_id in user_ids:
            if user_id in seen:
                continue
            seen.add(user_id)
            member = self.uow.find(StaffMember, staff_member_id(ctx.firm_id, user_id))
            if member is None or not can_see_client(member.role.lower(), user_id, client.team):
                continue
            found.append(member)
        return found

    def notify(
        self,
        client: Client,
        members: list[StaffMember],
        *,
        kind: str,
        cause: dict[str, str],
        text: str,
        subject: str,
        body: str,
    ) -> list[DossierAggregate]:
        """One notification per member, and an email to those who want this kind emailed."""
        made: list[DossierAggregate] = []
        for member in members:
            note = Notification.create(
                recipient_id=member.user_id,
                kind=kind,
                client_id=client.id,
                cause=cause,
                text=text,
            )
            made.append(note)
            inbox = self.inbox(member.user_id)
            if inbox is None or inbox.emails(kind):
                made.append(
                    Email.queue(
                        to=[member.email],
                        subject=clip(subject, SUBJECT_MAX),
                        body=body,
                        kind=EmailKind.NOTIFICATION,
                        client_id=client.id,
                        related={
                            "notification_id": str(note.id),
                            "recipient_id": member.user_id,
                            "kind": kind,
                            **cause,
                        },
                    )
                )
        return made

    def comment_added(self, client: Client, comment: Comment) -> list[DossierAggregate]:
        """Notify earlier commenters and the client's team of a comment; index its author.

        Returns the notifications, emails and the commenters index to save with the comment.
        """
        me = current_context().actor
        index = self.commenters(client.id)
        earlier = list(index.user_ids) if index is not None else []
        members = self.recipients(client, [*earlier, *client.team])
        who = me.name or me.id
        made = self.notify(
            client,
            members,
            kind=NotificationKind.COMMENT,
            cause={"type": "Comment", "comment_id": str(comment.id)},
            text=f"{who} commented on {client.name}: {excerpt(comment.body)}",
            subject=f"{who} commented on {client.name}",
            body=f"{who} commented on {client.name}:\n\n{comment.body}\n",
        )
        if index is None:
            index = ClientCommenters.start(client.id, me.id)
        else:
            index.commented(me.id)
        return [*made, index]

    def hold_changed(self, client: Client) -> list[DossierAggregate]:
        """Notify the client's team that it was just put on hold or released."""
        me = current_context().actor
        who = me.name or me.id
        if client.on_hold:
            reason = client.holds[-1].get("reason") if client.holds else None
            kind = NotificationKind.CLIENT_ON_HOLD
            text = f"{who} put {client.name} on hold" + (f": {excerpt(reason)}" if reason else ".")
            subject = f"{client.name} is on hold"
            body = f"{who} put {client.name} on hold." + (f"\n\nReason: {reason}" if reason else "")
        else:
            kind = NotificationKind.HOLD_RELEASED
            text = f"{who} released the hold on {client.name}."
            subject = f"{client.name} is no longer on hold"
            body = text
        return self.notify(
            client,
            self.recipients(client, client.team),
            kind=kind,
            cause={"type": kind, "client_id": str(client.id), "version": str(client.version)},
            text=text,
            subject=subject,
            body=body + "\n",
        )


class NotificationsService(Commands):
    """A staff member's own notifications: mark them read, choose what is emailed."""

    def _inbox(self) -> NotificationInbox | None:
        ctx = current_context()
        return self.uow.find(NotificationInbox, inbox_id(ctx.firm_id, ctx.actor.id))

    def mark_notifications_read(
        self,
        *,
        notification_ids: list[UUID] | None = None,
        every: bool = False,
        key: str | None = None,
    ) -> Outcome:
        """Mark the given notifications of the actor read (another member's are NotFound),
        or, with `every`, all of them so far."""
        ids = list(dict.fromkeys(notification_ids or []))
        if not ids and not every:
            raise InvalidInput("input.ids", "give notification ids, or all: true")
        if len(ids) > MARK_READ_MAX:
            raise LimitExceeded(MARK_READ_MAX, f"at most {MARK_READ_MAX} ids at a time")

        def build() -> Change:
            me = current_context().actor.id
            inbox = self._inbox()
            changed: list[DossierAggregate] = []
            for note_id in ids:
                note = self.uow.get(Notification, note_id)
                if note.recipient_id != me:
                    raise NotFound("Notification", str(note_id))
                note.mark_read(inbox.all_read_at if inbox is not None else None)
                changed.append(note)
            if every:
                if inbox is None:
                    inbox = NotificationInbox.open(me)
                inbox.mark_all_read()
                changed.append(inbox)
            return Change.of(*changed)

        return self.uow.run("markNotificationsRead", key, build)

    def set_notification_preferences(
        self, *, email: dict[str, bool], key: str | None = None
    ) -> Outcome:
        """Turn email on or off per notification kind, for the actor."""

        def build() -> Change:
            inbox = self._inbox()
            if inbox is None:
                inbox = NotificationInbox.open(current_context().actor.id)
            inbox.set_email(email)
            return Change.of(inbox, inbox_id=str(inbox.id))

        return self.uow.run("setNotificationPreferences", key, build)
