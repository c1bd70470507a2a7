"""Reads of documents: per-request DataLoaders, the list filter and the sort orders.

`documents_by_client` answers any number of clients with ONE statement: every document of
each visible client, with whether the viewer has opened its current version (`seen`), so the
profile's documents connection and the overview's latest five cost one statement together.
Versions are batched the same way. Filtering, sorting and paging run over the loaded rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from projections.documents import document_versions, document_views, documents
from projections.tables import clients
from resolvers.context import RequestContext
from resolvers.loaders import Loaders, Row
from resolvers.visibility import visible_clients

LATEST_DOCUMENTS = 5


class DocumentOrder(Enum):
    UPLOADED_AT = "UPLOADED_AT"
    NAME = "NAME"
    SIZE = "SIZE"


@dataclass(frozen=True)
class DocumentFilter:
    """Which of a client's documents a list shows."""

    folder: str | None = None
    """This folder and its subfolders ("" or "/": the top level only)."""
    tag: str | None = None
    uploaded_by: str | None = None
    uploaded_from: datetime | None = None
    uploaded_to: datetime | None = None
    new: bool | None = None
    include_removed: bool = False

    def matches(self, row: Any) -> bool:
        if row.deleted and not self.include_removed:
            return False
        if row.removed and not self.include_removed:
            return False
        if self.folder is not None:
            folder = self.folder.strip().strip("/")
            if folder == "":
                if row.folder != "":
                    return False
            elif row.folder != folder and not row.folder.startswith(folder + "/"):
                return False
        if self.tag is not None:
            wanted = self.tag.strip().casefold()
            if wanted not in {t.casefold() for t in row.tags}:
                return False
        if self.uploaded_by is not None and row.uploaded_by.get("id") != self.uploaded_by:
            return False
        if self.uploaded_from is not None and row.uploaded_at < self.uploaded_from:
            return False
        if self.uploaded_to is not None and row.uploaded_at > self.uploaded_to:
            return False
        return self.new is None or is_new(row) == self.new


def is_new(row: Any) -> bool:
    """New for the viewer: a live document whose current version the viewer has not opened."""
    return not row.seen and not row.deleted


def sort_documents(rows: Sequence[Any], order: DocumentOrder, ascending: bool) -> list[Any]:
    """Rows in the requested order (ties broken by upload position, in the same direction)."""
    if order is DocumentOrder.NAME:
        return sorted(rows, key=lambda r: (r.name_key, r.position), reverse=not ascending)
    if order is DocumentOrder.SIZE:
        return sorted(rows, key=lambda r: (r.size, r.position), reverse=not ascending)
    return sorted(rows, key=lambda r: (r.uploaded_at, r.position), reverse=not ascending)


class DocumentLoaders:
    """The document loaders of one request, for one viewer."""

    def __init__(self, loaders: Loaders) -> None:
        self.viewer = loaders.viewer
        self.documents_by_client: DataLoader[str, list[Row]] = loaders._grouped(self._by_client)
        self.document: DataLoader[str, Row | None] = loaders._loader(self._by_id)
        self.versions: DataLoader[str, list[Row]] = loaders._grouped(self._versions)

    def _documents(self) -> sa.Select[Any]:
        d = documents.c
        v = document_views.c
        seen = (
            sa.exists()
            .where(
                v.document_id == d.id,
                v.user_id == self.viewer.user_id,
                v.version == d.version,
            )
            .label("seen")
        )
        return (
            sa.select(documents, seen)
            .join(clients, clients.c.id == d.client_id)
            .where(d.firm_id == self.viewer.firm_id, visible_clients(self.viewer))
        )

    def _by_client(self, conn: sa.Connection, client_ids: list[str]) -> dict[str, list[Row]]:
        d = documents.c
        query = (
            self._documents()
            .where(d.client_id.in_(client_ids))
            .order_by(d.client_id, d.uploaded_at.desc(), d.position.desc())
        )
        return Loaders._group(conn.execute(query).all(), "client_id")

    def _by_id(self, conn: sa.Connection, ids: list[str]) -> dict[str, Row]:
        rows = conn.execute(self._documents().where(documents.c.id.in_(ids)))
        return {row.id: row for row in rows}

    def _versions(self, conn: sa.Connection, ids: list[str]) -> dict[str, list[Row]]:
        v = document_versions.c
        query = (
            sa.select(document_versions)
            .join(clients, clients.c.id == v.client_id)
            .where(v.document_id.in_(ids), v.firm_id == self.viewer.firm_id)
            .where(visible_clients(self.viewer))
            .order_by(v.document_id, v.version)
        )
        return Loaders._group(conn.execute(query).all(), "document_id")


def document_for_download(
    conn: sa.Connection, viewer: Any, document_id: str, version: int | None
) -> tuple[Row, Row] | None:
    """(document, version) rows the viewer may download, or None (unknown, another firm's,
    or a client the viewer is not assigned to). Deleted or removed state is the caller's."""
    d = documents.c
    doc = conn.execute(
        sa.select(documents)
        .join(clients, clients.c.id == d.client_id)
        .where(d.id == document_id, d.firm_id == viewer.firm_id, visible_clients(viewer))
    ).first()
    if doc is None:
        return None
    v = document_versions.c
    number = doc.version if version is None else version
    found = conn.execute(
        sa.select(document_versions).where(v.document_id == doc.id, v.version == number)
    ).first()
    return None if found is None else (doc, found)


_attached: WeakKeyDictionary[Loaders, DocumentLoaders] = WeakKeyDictionary()


def document_loaders(context: RequestContext) -> DocumentLoaders:
    """The request's document loaders (created on first use, dropped with its Loaders)."""
    loaders = context.loaders
    found = _attached.get(loaders)
    if found is None:
        found = _attached[loaders] = DocumentLoaders(loaders)
    return found
