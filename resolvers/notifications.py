"""Reads of the viewer's own notifications and settings, and how their commands name ids.

A viewer reads only notifications addressed to them, about clients they may still see. A
page is one keyed SQL statement and its counts another, whatever the page's size.
Personal commands (mark read, settings) are open to every staff role, watchers included
(`RequestContext.run(..., own=True)`): they change nothing but the member's own inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from strawberry.dataloader import DataLoader
from strawberry.permission import BasePermission

from domain.errors import NotFound
from domain.notification import NotificationKind, default_email_settings
from projections.notifications import notification_settings, notifications
from projections.tables import clients
from resolvers.commands import Failure
from resolvers.context import RequestContext
from resolvers.ids import to_global_id
from resolvers.loaders import Loaders, Row
from resolvers.pages import Page, position_after
from resolvers.ports import Outcome, Ports
from resolvers.visibility import visible_clients

KINDS = NotificationKind.ALL


@dataclass(frozen=True)
class NotificationPage:
    """One page of the viewer's notifications and their counts."""

    page: Page
    total: int
    unread: int


class NotificationLoaders:
    """The notification reads of one request, for its viewer."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        self.viewer = loaders.viewer
        self.notification: DataLoader[str, Row | None] = loaders._loader(self._by_id)

    def _mine(self, *columns: Any) -> sa.Select[Any]:
        n = notifications.c
        return (
            sa.select(*(columns or (notifications,)))
            .select_from(notifications.join(clients, clients.c.id == n.client_id))
            .where(
                n.firm_id == self.viewer.firm_id,
                n.recipient_id == self.viewer.user_id,
                visible_clients(self.viewer),
            )
        )

    def _by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(self._mine().where(notifications.c.id.in_(ids)))
        return {row.id: row for row in rows}

    async def page(self, first: int, after: str | None, unread_only: bool) -> NotificationPage:
        """Newest first, after the cursor's position; counts over all of the viewer's."""
        start = position_after(after)
        n = notifications.c

        def read(conn: sa.Connection) -> NotificationPage:
            query = self._mine()
            if unread_only:
                query = query.where(n.read_at.is_(None))
            if start is not None:
                query = query.where(n.position < start)
            rows = conn.execute(query.order_by(n.position.desc()).limit(first + 1)).all()
            unread = sa.func.coalesce(sa.func.sum(sa.case((n.read_at.is_(None), 1), else_=0)), 0)
            total, unread_count = conn.execute(self._mine(sa.func.count(), unread)).one()
            shown = int(unread_count) if unread_only else int(total)
            page = Page.of(rows, first, lambda r: r.position, after=after, total=shown)
            return NotificationPage(page, shown, int(unread_count))

        return await self.loaders.run(read)

    async def email_settings(self) -> dict[str, bool]:
        """The viewer's email setting per kind (every kind on until turned off)."""
        s = notification_settings.c

        def read(conn: sa.Connection) -> dict[str, bool]:
            row = conn.execute(
                sa.select(s.email).where(
                    s.firm_id == self.viewer.firm_id, s.user_id == self.viewer.user_id
                )
            ).first()
            settings = default_email_settings()
            if row is not None:
                settings.update({k: bool(v) for k, v in row.email.items() if k in KINDS})
            return settings

        return await self.loaders.run(read)


_attached: WeakKeyDictionary[Loaders, NotificationLoaders] = WeakKeyDictionary()


def notification_loaders(context: RequestContext) -> NotificationLoaders:
    """The request's notification loaders (created on first use, dropped with its Loaders)."""
    loaders = context.loaders
    found = _attached.get(loaders)
    if found is None:
        found = _attached[loaders] = NotificationLoaders(loaders)
    return found


def naming_notifications(call: Callable[[Ports], Outcome]) -> Callable[[Ports], Outcome]:
    """`call`, where a notification that is not the viewer's is NOT_FOUND under its global id
    (run it with `RequestContext.run(..., own=True)`: any staff role may, watchers too)."""

    def act(app: Ports) -> Outcome:
        try:
            return call(app)
        except NotFound as error:
            if error.kind != "Notification":
                raise
            shown = to_global_id("Notification", error.entity_id)
            raise Failure.not_found("Notification", shown) from None

    return act


class AnyStaff(BasePermission):
    """Any staff member of the firm (watchers too); otherwise the viewer's top-level error."""

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        info.context.require_viewer()
        return True
