"""Relay connection pages: arguments, cursors and the batched page queries."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from projections.tables import activity, client_search, client_tags, clients, comments, team
from resolvers.errors import bad_input
from resolvers.ids import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor, uuid_of
from resolvers.loaders import Loaders, newest_per_client
from resolvers.visibility import visible_activity, visible_clients

MAX_PAGE = 100
MAX_SEARCH = 200
"""Characters of a clients search (names are at most 200 characters)."""
MAX_FILTER_TAGS = 50
"""Tags in a clients filter (a client has at most 50, and every tag must match)."""
MAX_FILTER_VALUES = 1_000
"""Values in each list of an activity filter (types, clients, actors)."""


def check_first(first: int | None, default: int) -> int:
    """The page size; more than 100 (or negative) is a top-level input error."""
    size = default if first is None else first
    if size < 0 or size > MAX_PAGE:
        raise bad_input(f"first must be between 0 and {MAX_PAGE}, got {size}", "first")
    return size


MAX_POSITION = 2**63 - 1


def checked_position(value: int) -> int:
    """A position fits a 64-bit integer column; anything else is bad input."""
    if not 0 <= value <= MAX_POSITION:
        raise bad_input(f"{value} is not a valid position", "after")
    return value


def position_after(after: str | None) -> int | None:
    """The position inside a cursor (or a bare position string)."""
    if after is None:
        return None
    if len(after) > MAX_CURSOR_LENGTH:
        raise bad_input("after is not a valid cursor", "after")
    if after.isascii() and after.isdigit():
        return checked_position(int(after))
    try:
        value = decode_cursor(after)
    except ValueError:
        raise bad_input("after is not a valid cursor", "after") from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad_input("after is not a valid cursor", "after")
    return checked_position(value)


@dataclass
class Page:
    """One page of rows with their cursors."""

    rows: list[Any]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    total: int | None

    @classmethod
    def of(
        cls,
        rows: Sequence[Any],
        first: int,
        cursor_of: Any,
        *,
        after: str | None,
        total: int | None,
    ) -> Page:
        shown = list(rows[:first])
        return cls(
            rows=shown,
            cursors=[encode_cursor(cursor_of(row)) for row in shown],
            has_next=len(rows) > first,
            has_previous=after is not None,
            total=total,
        )


def page_after_position(rows: Sequence[Any], first: int, after: str | None) -> Page:
    """A page of already-loaded rows (in display order) after the row whose position is the
    cursor's; rows carry a `position`."""
    start = position_after(after)
    remaining = list(rows)
    if start is not None:
        index = next((i for i, r in enumerate(rows) if r.position == start), None)
        remaining = remaining[index + 1 :] if index is not None else []
    return Page.of(remaining, first, lambda r: r.position, after=after, total=len(rows))


@dataclass(frozen=True)
class ActivityArgs:
    """Hashable activity filter arguments."""

    types: tuple[str, ...] | None = None
    client_ids: tuple[str, ...] | None = None
    actor_ids: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for name, values in (
            ("filter.types", self.types),
            ("filter.clientIds", self.client_ids),
            ("filter.actorIds", self.actor_ids),
        ):
            if values is not None and len(values) > MAX_FILTER_VALUES:
                raise bad_input(f"{name} lists at most {MAX_FILTER_VALUES} values", name)

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        conds: list[sa.ColumnElement[bool]] = []
        if self.types is not None:
            conds.append(activity.c.type.in_(self.types))
        if self.client_ids is not None:
            local = [str(u) for g in self.client_ids if (u := uuid_of(g, "Client")) is not None]
            conds.append(activity.c.client_id.in_(local))
        if self.actor_ids is not None:
            conds.append(activity.c.actor_id.in_(self.actor_ids))
        if self.since is not None:
            conds.append(activity.c.occurred_at >= self.since)
        if self.until is not None:
            conds.append(activity.c.occurred_at <= self.until)
        return conds


def _ranked_pages(
    conn: sa.Connection,
    table: sa.Table,
    client_ids: list[str],
    first: int,
    after: int | None,
    extra: Sequence[sa.ColumnElement[bool]],
) -> tuple[dict[str, list[Any]], dict[str, int]]:
    """Newest-first pages of `table` for many clients in one statement, plus totals."""
    conds = [table.c.client_id.in_(client_ids), *extra]
    page_conds = list(extra)
    if after is not None:
        page_conds.append(table.c.position < after)
    rows = conn.execute(newest_per_client(table, client_ids, first + 1, page_conds)).all()
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.client_id].append(row)
    if after is None:  # the page's own window counted every matching row
        return grouped, {cid: int(found[0].total) for cid, found in grouped.items()}
    totals = conn.execute(
        sa.select(table.c.client_id, sa.func.count()).where(*conds).group_by(table.c.client_id)
    ).all()
    return grouped, {str(cid): int(n) for cid, n in totals}


class PageLoaders:
    """Loaders for per-client pages, keyed by (client id, arguments)."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        self.comments = DataLoader(load_fn=self._load_comments)
        self.activity = DataLoader(load_fn=self._load_activity)

    async def _load_comments(self, keys: list[tuple[str, int, str | None]]) -> list[Page]:
        viewer = self.loaders.viewer
        return await self._load(
            comments, keys, lambda _args: [comments.c.firm_id == viewer.firm_id]
        )

    async def _load_activity(
        self, keys: list[tuple[str, int, str | None, ActivityArgs]]
    ) -> list[Page]:
        viewer = self.loaders.viewer
        return await self._load(
            activity, keys, lambda args: [visible_activity(viewer), *args[0].conditions()]
        )

    async def _load(self, table: sa.Table, keys: list[Any], conditions: Any) -> list[Page]:
        groups: dict[tuple[Any, ...], list[str]] = defaultdict(list)
        for client_id, *args in keys:
            groups[tuple(args)].append(client_id)

        def fetch(conn: sa.Connection) -> dict[tuple[Any, ...], Page]:
            pages: dict[tuple[Any, ...], Page] = {}
            for args, client_ids in groups.items():
                first, after = args[0], args[1]
                rows, totals = _ranked_pages(
                    conn, table, client_ids, first, position_after(after), conditions(args[2:])
                )
                for client_id in client_ids:
                    pages[(client_id, *args)] = Page.of(
                        rows.get(client_id, []),
                        first,
                        lambda r: r.position,
                        after=after,
                        total=totals.get(client_id, 0),
                    )
            return pages

        found = await self.loaders.run(fetch)
        return [found[tuple(key)] for key in keys]


async def firm_activity_page(
    loaders: Loaders, first: int, after: str | None, args: ActivityArgs
) -> Page:
    """The firm-wide activity the viewer may see, newest first."""
    viewer = loaders.viewer
    before = position_after(after)
    conds = [visible_activity(viewer), *args.conditions()]

    def fetch(conn: sa.Connection) -> Page:
        page_conds = list(conds)
        if before is not None:
            page_conds.append(activity.c.position < before)
        rows = conn.execute(
            sa.select(activity)
            .where(*page_conds)
            .order_by(activity.c.position.desc())
            .limit(first + 1)
        ).all()
        total = conn.execute(
            sa.select(sa.func.count()).select_from(activity).where(*conds)
        ).scalar_one()
        return Page.of(rows, first, lambda r: r.position, after=after, total=int(total))

    return await loaders.run(fetch)


@dataclass(frozen=True)
class ClientFilter:
    """The filters of Query.clients."""

    search: str | None = None
    tags: tuple[str, ...] | None = None
    on_hold: bool | None = None
    assigned_to: str | None = None

    def __post_init__(self) -> None:
        if self.search is not None and len(self.search) > MAX_SEARCH:
            raise bad_input(f"search is at most {MAX_SEARCH} characters", "search")
        if self.tags is not None and len(self.tags) > MAX_FILTER_TAGS:
            raise bad_input(f"tags lists at most {MAX_FILTER_TAGS} tags", "tags")


def search_key(text: str) -> str:
    """A search or tag filter as the read models keep their lowered copies (of NFC text)."""
    return unicodedata.normalize("NFC", text.strip()).lower()


def _like_pattern(text: str) -> str:
    escaped = search_key(text).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def clients_page(loaders: Loaders, first: int, after: str | None, flt: ClientFilter) -> Page:
    """Clients the viewer may see, by name, filtered."""
    viewer = loaders.viewer
    conds: list[sa.ColumnElement[bool]] = [visible_clients(viewer)]
    if flt.search is not None and flt.search.strip():
        matches = sa.select(client_search.c.client_id).where(
            client_search.c.firm_id == viewer.firm_id,
            client_search.c.term.like(_like_pattern(flt.search.strip()), escape="\\"),
        )
        conds.append(clients.c.id.in_(matches))
    for tag in flt.tags or ():
        tagged = sa.select(client_tags.c.client_id).where(
            client_tags.c.firm_id == viewer.firm_id, client_tags.c.tag_key == search_key(tag)
        )
        conds.append(clients.c.id.in_(tagged))
    if flt.on_hold is not None:
        conds.append(clients.c.on_hold == flt.on_hold)
    if flt.assigned_to is not None:
        assigned = sa.select(team.c.client_id).where(
            team.c.firm_id == viewer.firm_id, team.c.user_id == flt.assigned_to
        )
        conds.append(clients.c.id.in_(assigned))
    start: tuple[str, str] | None = None
    if after is not None:
        try:
            value = decode_cursor(after)
        except ValueError:
            raise bad_input("after is not a valid cursor", "after") from None
        if not (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
        ):
            raise bad_input("after is not a valid cursor", "after")
        start = (value[0], value[1])

    def fetch(conn: sa.Connection) -> Page:
        page_conds = list(conds)
        if start is not None:
            page_conds.append(sa.tuple_(clients.c.name_key, clients.c.id) > sa.tuple_(*start))
        rows = conn.execute(
            sa.select(clients)
            .where(*page_conds)
            .order_by(clients.c.name_key, clients.c.id)
            .limit(first + 1)
        ).all()
        total = conn.execute(
            sa.select(sa.func.count()).select_from(clients).where(*conds)
        ).scalar_one()
        return Page.of(rows, first, lambda r: [r.name_key, r.id], after=after, total=int(total))

    page = await loaders.run(fetch)
    for row in page.rows:
        loaders.client.prime(row.id, row)
    return page
