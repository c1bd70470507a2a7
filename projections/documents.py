"""The documents read model: documents, their versions and who viewed which version.

Tables (their own, defined here):

    rm_documents           one row per document: the current version's name, size, media
                           type and hash, folder, tags, removed/deleted state
    rm_document_versions   one row per version (kept after a new version; `erased` once the
                           firm erased its bytes)
    rm_document_views      the first view of each version per staff member (`isNew`)

The activity history's sentences for document events are registered here too.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from domain.document import Document, StoredContent
from projections.base import Projection, handles
from projections.sentences import Said, names, says
from projections.tables import FIRM, ID, UTCDateTime, metadata

documents = sa.Table(
    "rm_documents",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("name_key", sa.Text, nullable=False),  # casefolded name, for sorting
    sa.Column("folder", sa.String(500), nullable=False),  # "" is the top level
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("media_type", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("comment_id", ID),
    sa.Column("source", sa.JSON, nullable=False),
    sa.Column("uploaded_by", sa.JSON, nullable=False),
    sa.Column("uploaded_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False),
    sa.Column("removed_reason", sa.Text),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("deleted_reason", sa.Text),
    sa.Column("deleted_by", sa.JSON),
    sa.Column("deleted_at", UTCDateTime),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Index("ix_rm_documents_client", "client_id", "uploaded_at"),
    sa.Index("ix_rm_documents_firm_sha", "firm_id", "sha256"),
)

document_versions = sa.Table(
    "rm_document_versions",
    metadata,
    sa.Column("document_id", ID, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("client_id", ID, nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("media_type", sa.String(255), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("uploaded_by", sa.JSON, nullable=False),
    sa.Column("uploaded_at", UTCDateTime, nullable=False),
    sa.Column("erased", sa.Boolean, nullable=False),
    sa.Index("ix_rm_document_versions_firm_sha", "firm_id", "sha256"),
)

document_views = sa.Table(
    "rm_document_views",
    metadata,
    sa.Column("document_id", ID, primary_key=True),
    sa.Column("user_id", sa.String(200), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("firm_id", FIRM, nullable=False),
    sa.Column("viewed_at", UTCDateTime, nullable=False),
)


class DocumentsProjection(Projection):
    """Keeps rm_documents, rm_document_versions and rm_document_views."""

    name = "documents"
    tables = (documents, document_versions, document_views)

    @handles(Document.DocumentUploaded)
    def uploaded(self, conn: sa.Connection, e: Document.DocumentUploaded, position: int) -> None:
        conn.execute(
            sa.insert(documents).values(
                id=str(e.originator_id),
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                name=e.name,
                name_key=e.name.casefold(),
                folder=e.folder,
                tags=list(e.tags),
                size=e.size,
                media_type=e.media_type,
                sha256=e.sha256,
                version=1,
                comment_id=None if e.comment_id is None else str(e.comment_id),
                source=dict(e.source),
                uploaded_by=e.actor,
                uploaded_at=e.timestamp,
                updated_at=e.timestamp,
                removed=False,
                deleted=False,
                position=position,
            )
        )
        self._version(conn, e, 1)

    def _version(self, conn: sa.Connection, e: Any, number: int) -> None:
        erased = conn.execute(
            sa.select(document_versions.c.document_id).where(
                document_versions.c.firm_id == e.firm_id,
                document_versions.c.sha256 == e.sha256,
                document_versions.c.erased.is_(True),
            )
        ).first()
        conn.execute(
            sa.insert(document_versions).values(
                document_id=str(e.originator_id),
                version=number,
                firm_id=e.firm_id,
                client_id=str(e.client_id),
                name=e.name,
                size=e.size,
                media_type=e.media_type,
                sha256=e.sha256,
                uploaded_by=e.actor,
                uploaded_at=e.timestamp,
                erased=erased is not None,
            )
        )

    def _update(self, conn: sa.Connection, e: Any, **values: Any) -> None:
        conn.execute(
            sa.update(documents)
            .where(documents.c.id == str(e.originator_id))
            .values(updated_at=e.timestamp, **values)
        )

    @handles(Document.DocumentVersionUploaded)
    def version_uploaded(
        self, conn: sa.Connection, e: Document.DocumentVersionUploaded, position: int
    ) -> None:
        self._update(
            conn,
            e,
            name=e.name,
            name_key=e.name.casefold(),
            size=e.size,
            media_type=e.media_type,
            sha256=e.sha256,
            version=e.version_number,
        )
        self._version(conn, e, e.version_number)

    @handles(Document.DocumentRenamed)
    def renamed(self, conn: sa.Connection, e: Document.DocumentRenamed, position: int) -> None:
        self._update(conn, e, name=e.name, name_key=e.name.casefold())

    @handles(Document.DocumentMoved)
    def moved(self, conn: sa.Connection, e: Document.DocumentMoved, position: int) -> None:
        self._update(conn, e, folder=e.folder)

    def _tags(self, conn: sa.Connection, e: Any) -> list[str]:
        row = conn.execute(
            sa.select(documents.c.tags).where(documents.c.id == str(e.originator_id))
        ).one()
        return list(row.tags)

    @handles(Document.DocumentTagged)
    def tagged(self, conn: sa.Connection, e: Document.DocumentTagged, position: int) -> None:
        self._update(conn, e, tags=self._tags(conn, e) + list(e.tags))

    @handles(Document.DocumentUntagged)
    def untagged(self, conn: sa.Connection, e: Document.DocumentUntagged, position: int) -> None:
        gone = {t.casefold() for t in e.tags}
        kept = [t for t in self._tags(conn, e) if t.casefold() not in gone]
        self._update(conn, e, tags=kept)

    @handles(Document.DocumentViewed)
    def viewed(self, conn: sa.Connection, e: Document.DocumentViewed, position: int) -> None:
        conn.execute(
            sa.insert(document_views).values(
                document_id=str(e.originator_id),
                user_id=e.user_id,
                version=e.version_number,
                firm_id=e.firm_id,
                viewed_at=e.timestamp,
            )
        )

    @handles(Document.DocumentRemoved)
    def removed(self, conn: sa.Connection, e: Document.DocumentRemoved, position: int) -> None:
        self._update(conn, e, removed=True, removed_reason=e.reason)

    @handles(Document.DocumentRestored)
    def restored(self, conn: sa.Connection, e: Document.DocumentRestored, position: int) -> None:
        self._update(conn, e, removed=False, removed_reason=None)

    @handles(Document.DocumentDeleted)
    def deleted(self, conn: sa.Connection, e: Document.DocumentDeleted, position: int) -> None:
        self._update(
            conn,
            e,
            deleted=True,
            deleted_reason=e.reason,
            deleted_by=e.actor,
            deleted_at=e.timestamp,
        )

    @handles(StoredContent.ContentErased)
    def content_erased(
        self, conn: sa.Connection, e: StoredContent.ContentErased, position: int
    ) -> None:
        v = document_versions.c
        conn.execute(
            sa.update(document_versions)
            .where(v.firm_id == e.firm_id, v.sha256 == e.sha256)
            .values(erased=True)
        )


# The activity history's sentences and subjects ----------------------------------------------


@names(Document.DocumentUploaded, Document.DocumentVersionUploaded, Document.DocumentRenamed)
def _document_names(
    e: Document.DocumentUploaded | Document.DocumentVersionUploaded | Document.DocumentRenamed,
) -> tuple[str, str]:
    return str(e.originator_id), e.name


def _doc(said: Said, e: Any) -> str:
    return said.name_of(e.originator_id, "a document")


@says(Document.DocumentUploaded)
def _uploaded(e: Document.DocumentUploaded, said: Said) -> str:
    where = f" in {e.folder}" if e.folder else ""
    return f"{said.who} uploaded {e.name}{where} to {said.client(e)}."


@says(Document.DocumentVersionUploaded)
def _version_uploaded(e: Document.DocumentVersionUploaded, said: Said) -> str:
    return f"{said.who} uploaded version {e.version_number} of {e.name} for {said.client(e)}."


@says(Document.DocumentRenamed)
def _renamed(e: Document.DocumentRenamed, said: Said) -> str:
    return f"{said.who} renamed {e.previous_name} to {e.name}."


@says(Document.DocumentMoved)
def _moved(e: Document.DocumentMoved, said: Said) -> str:
    where = e.folder or "the top level"
    return f"{said.who} moved {_doc(said, e)} to {where}."


@says(Document.DocumentTagged)
def _tagged(e: Document.DocumentTagged, said: Said) -> str:
    return f"{said.who} tagged {_doc(said, e)} with {', '.join(e.tags)}."


@says(Document.DocumentUntagged)
def _untagged(e: Document.DocumentUntagged, said: Said) -> str:
    return f"{said.who} removed the tags {', '.join(e.tags)} from {_doc(said, e)}."


@says(Document.DocumentViewed)
def _viewed(e: Document.DocumentViewed, said: Said) -> str:
    return f"{said.who} opened version {e.version_number} of {_doc(said, e)}."


@says(Document.DocumentRemoved)
def _removed(e: Document.DocumentRemoved, said: Said) -> str:
    reason = f": {e.reason}" if e.reason else ""
    return f"{said.who} removed {_doc(said, e)} from {said.client(e)}{reason}."


@says(Document.DocumentRestored)
def _restored(e: Document.DocumentRestored, said: Said) -> str:
    return f"{said.who} restored {_doc(said, e)} on {said.client(e)}."


@says(Document.DocumentDeleted)
def _deleted(e: Document.DocumentDeleted, said: Said) -> str:
    return f"{said.who} deleted {e.name} from {said.client(e)} for good: {e.reason}."


@says(StoredContent.ContentErased)
def _erased(e: StoredContent.ContentErased, said: Said) -> str:
    return f"{said.who} erased the content {e.sha256[:12]}… of a deleted document."
