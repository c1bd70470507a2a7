"""Notifications to staff: one in-app entry per recipient, and each member's own settings.

A `Notification` is created inside the command that caused it (a comment, a hold, a release),
in the same save. Its id is derived from (firm, recipient, cause), so one cause notifies a
member at most once, whatever retries happen. Its events are record-keeping (`Bookkeeping`):
the comment or hold that caused it is the activity; who was told about it is not.

A `NotificationInbox` (deterministic id per firm and member) holds what the member decides
themselves: whether each kind of notification is also emailed (on unless turned off), and
"mark everything read so far". Commands that notify only read it, so two comments notifying
the same member at once never contend for it.

`ClientCommenters` is the write side's index of who commented on a client (deterministic id
per firm and client), saved with every comment: a comment notifies the earlier commenters
without reading a read model. Comments made before the index existed are not in it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.actor import current_context
from domain.base import Bookkeeping, DossierAggregate, DossierCreated, DossierEvent
from domain.errors import InvalidInput
from domain.text import sanitise

TEXT_MAX = 1000
"""Characters of a notification's text (it quotes at most EXCERPT_MAX of a comment)."""
EXCERPT_MAX = 280
MARK_READ_MAX = 100
"""Notification ids one markNotificationsRead may name."""


class NotificationKind:
    """What a notification is about (a plain string on the events)."""

    COMMENT = "COMMENT"
    CLIENT_ON_HOLD = "CLIENT_ON_HOLD"
    HOLD_RELEASED = "HOLD_RELEASED"

    ALL = (COMMENT, CLIENT_ON_HOLD, HOLD_RELEASED)


def notification_id(firm_id: str, recipient_id: str, cause: str) -> UUID:
    """The id of the notification of `recipient_id` about `cause` (at most one each)."""
    return uuid5(NAMESPACE_URL, json.dumps(["dossier:notification", firm_id, recipient_id, cause]))


def inbox_id(firm_id: str, user_id: str) -> UUID:
    """The id of a member's inbox (settings and read marks)."""
    return uuid5(NAMESPACE_URL, json.dumps(["dossier:notification-inbox", firm_id, user_id]))


def commenters_id(firm_id: str, client_id: UUID) -> UUID:
    """The id of the index of a client's commenters."""
    return uuid5(NAMESPACE_URL, json.dumps(["dossier:client-commenters", firm_id, str(client_id)]))


def excerpt(text: str, limit: int = EXCERPT_MAX) -> str:
    """One line of at most `limit` characters from a (multi-line) text, "…" when cut."""
    line = sanitise(text, len(text) + 1) or ""
    if len(line) <= limit:
        return line
    return line[: limit - 1].rstrip() + "…"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters with "…" (a subject line that must fit)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class Notification(DossierAggregate):
    """One notice to one staff member about something that happened to a client."""

    class NotificationCreated(DossierCreated, Bookkeeping):
        recipient_id: str
        kind: str
        client_id: UUID
        cause: dict[str, Any]
        text: str

        def about_client(self) -> UUID | None:
            return self.client_id

    class NotificationRead(DossierEvent, Bookkeeping):
        def apply(self, aggregate: Any) -> None:
            aggregate.read = True

    def __init__(
        self,
        firm_id: str,
        recipient_id: str,
        kind: str,
        client_id: UUID,
        cause: dict[str, Any],
        text: str,
    ) -> None:
        self.firm_id = firm_id
        self.recipient_id = recipient_id
        self.kind = kind
        self.client_id = client_id
        self.cause = cause
        self.text = text
        self.read = False

    @classmethod
    def create(
        cls,
        *,
        recipient_id: str,
        kind: str,
        client_id: UUID,
        cause: dict[str, str],
        text: str,
    ) -> Notification:
        """A notification about `cause` (plain strings: its type and ids) for one member."""
        if kind not in NotificationKind.ALL:
            raise InvalidInput("kind", f"unknown notification kind {kind}")
        firm = current_context().firm_id
        key = json.dumps(cause, sort_keys=True)
        return cls._create(
            cls.NotificationCreated,
            id=notification_id(firm, recipient_id, key),
            recipient_id=recipient_id,
            kind=kind,
            client_id=client_id,
            cause=dict(cause),
            text=clip(text, TEXT_MAX),
        )

    def mark_read(self, all_read_at: datetime | None) -> None:
        """Read by its recipient (nothing recorded if it already is, or was marked with
        everything else at `all_read_at`)."""
        if self.read or (all_read_at is not None and self.created_on <= all_read_at):
            return
        self.trigger_event(self.NotificationRead)


def default_email_settings() -> dict[str, bool]:
    """Every kind is emailed until the member turns it off."""
    return {kind: True for kind in NotificationKind.ALL}


class NotificationInbox(DossierAggregate):
    """A member's own notification settings and "everything read" marks."""

    class InboxOpened(DossierCreated, Bookkeeping):
        user_id: str
        email: dict[str, bool]

    class EmailPreferencesSet(DossierEvent, Bookkeeping):
        email: dict[str, bool]

        def apply(self, aggregate: Any) -> None:
            aggregate.email = dict(self.email)

    class AllNotificationsRead(DossierEvent, Bookkeeping):
        def apply(self, aggregate: Any) -> None:
            aggregate.all_read_at = self.timestamp

    def __init__(self, firm_id: str, user_id: str, email: dict[str, bool]) -> None:
        self.firm_id = firm_id
        self.user_id = user_id
        self.email = dict(email)
        self.all_read_at: datetime | None = None

    @classmethod
    def open(cls, user_id: str) -> NotificationInbox:
        """The acting firm's inbox of a member, with the default settings."""
        return cls._create(
            cls.InboxOpened,
            id=inbox_id(current_context().firm_id, user_id),
            user_id=user_id,
            email=default_email_settings(),
        )

    def emails(self, kind: str) -> bool:
        """Whether the member wants notifications of `kind` by email too."""
        return bool(self.email.get(kind, True))

    def set_email(self, changes: dict[str, bool]) -> None:
        """Turn email on or off for the given kinds (nothing recorded if nothing changes)."""
        for kind in changes:
            if kind not in NotificationKind.ALL:
                raise InvalidInput("input.email", f"unknown notification kind {kind}")
        merged = {**self.email, **{k: bool(v) for k, v in changes.items()}}
        if merged != self.email:
            self.trigger_event(self.EmailPreferencesSet, email=merged)

    def mark_all_read(self) -> None:
        self.trigger_event(self.AllNotificationsRead)


class ClientCommenters(DossierAggregate):
    """The staff who commented on a client, first comment first (an index saved with every
    comment)."""

    class CommentersIndexStarted(DossierCreated, Bookkeeping):
        client_id: UUID
        user_ids: list[str]

    class CommenterIndexed(DossierEvent, Bookkeeping):
        user_id: str

        def apply(self, aggregate: Any) -> None:
            aggregate.user_ids.append(self.user_id)

    def __init__(self, firm_id: str, client_id: UUID, user_ids: list[str]) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.user_ids = list(user_ids)

    @classmethod
    def start(cls, client_id: UUID, user_id: str) -> ClientCommenters:
        return cls._create(
            cls.CommentersIndexStarted,
            id=commenters_id(current_context().firm_id, client_id),
            client_id=client_id,
            user_ids=[user_id],
        )

    def commented(self, user_id: str) -> None:
        """`user_id` commented (in the same save)."""
        if user_id not in self.user_ids:
            self.trigger_event(self.CommenterIndexed, user_id=user_id)
