"""Commands on documents: receive files into the blob store, add them to a client, new
versions, rename, move, tag, view, remove, restore and delete.

Receiving is apart from recording. `receive_files` streams each file into the firm's blob
store (refusing a file over FILE_BYTES_MAX as its bytes arrive, and an empty one) and sniffs
its media type from the bytes; `add_documents` then records one document per received file
(`IncomingFile`: name, hash, size, media type), with its idempotency key. `upload_documents`
does both for GraphQL uploads and inbound email: it validates everything it can before any
byte is stored, and when anything fails it discards the blobs this request created that no
event references, so nothing is half-stored. A blob left behind by a crash between storing
and recording is removed by `dossier blobs sweep` (`sweep_blobs`).

Deleting records `DocumentDeleted` and `StoredContent.ContentErased` for every hash first,
then erases the bytes (with a tombstone) in the blob store; the sweep finishes an erasure a
crash interrupted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from domain.actor import current_context
from domain.client import Client
from domain.comment import Comment
from domain.document import (
    FILE_BYTES_MAX,
    Document,
    StoredContent,
    check_file_count,
    clean_document_tags,
    clean_file_name,
    clean_folder,
    stored_content_id,
)
from domain.errors import InvalidInput, LimitExceeded, NotFound
from infra.blobs import BlobEmpty, BlobStore, BlobTooLarge, ContentErased, DirectoryBlobStore
from infra.blobs.sniff import TextProbe, media_type
from infra.services.unit_of_work import Change, Commands, Outcome, UnitOfWork

SWEEP_GRACE = timedelta(hours=1)
"""A blob younger than this may belong to a request still in flight: the sweep leaves it."""


class IncomingFile(NamedTuple):
    """A file whose bytes are already in the firm's blob store."""

    name: str
    sha256: str
    size: int
    media_type: str


class FileSource(Protocol):
    """A file still to be received: its name and its bytes, in chunks."""

    @property
    def name(self) -> str: ...

    @property
    def chunks(self) -> Iterable[bytes]: ...


@dataclass
class FileBytes:
    """A FileSource over bytes at hand (tests, inbound email attachments)."""

    name: str
    data: bytes

    @property
    def chunks(self) -> Iterable[bytes]:
        return [self.data]


@dataclass
class Received:
    """A received file and whether this request created its blob."""

    file: IncomingFile
    created: bool


@dataclass
class SweepReport:
    """What `sweep_blobs` found and did."""

    checked: int = 0
    removed: list[tuple[str, str]] = field(default_factory=list)
    erased: list[tuple[str, str]] = field(default_factory=list)


class DocumentsService(Commands):
    """Documents on a client's profile (see the module docstring)."""

    def __init__(self, uow: UnitOfWork, blobs: BlobStore | None = None) -> None:
        super().__init__(uow)
        self.blobs: BlobStore = blobs if blobs is not None else DirectoryBlobStore("var/blobs")

    # Receiving bytes ----------------------------------------------------------

    def receive_file(self, source: FileSource, field: str = "input.file") -> Received:
        """Stream one file into the acting firm's blob store; LimitExceeded over 5 MB,
        InvalidInput when empty, RuleViolated CONTENT_ERASED for erased content."""
        firm_id = current_context().firm_id
        probe = TextProbe()

        def watched() -> Iterator[bytes]:
            for chunk in source.chunks:
                probe.feed(chunk)
                yield chunk

        try:
            stored = self.blobs.put(firm_id, watched(), FILE_BYTES_MAX)
        except BlobTooLarge:
            raise LimitExceeded(
                FILE_BYTES_MAX,
                f"{field} ({source.name[:100]}) is larger than {FILE_BYTES_MAX} bytes",
            ) from None
        except BlobEmpty:
            raise InvalidInput(
                field, f"{field} is empty: a document needs at least one byte"
            ) from None
        sniffed = media_type(stored.head, probe)
        incoming = IncomingFile(source.name, stored.sha256, stored.size, sniffed)
        return Received(incoming, stored.created)

    def receive_files(
        self, sources: list[FileSource], field: str = "input.files"
    ) -> list[Received]:
        """Receive every file; on any failure the blobs created so far are discarded."""
        received: list[Received] = []
        try:
            for index, source in enumerate(sources):
                received.append(self.receive_file(source, f"{field}.{index}"))
        except BaseException:
            self.discard(received)
            raise
        return received

    def discard(self, received: list[Received]) -> None:
        """Delete the blobs this request created that no recorded document references."""
        firm_id = current_context().firm_id
        for item in received:
            if item.created and not self._referenced(firm_id, item.file.sha256):
                self.blobs.discard(firm_id, item.file.sha256)

    def _referenced(self, firm_id: str, sha256: str) -> bool:
        try:
            self.store.repository.get(stored_content_id(firm_id, sha256))
        except AggregateNotFoundError:
            return False
        return True

    # Uploads --------------------------------------------------------------------

    def upload_documents(
        self,
        client_id: UUID,
        sources: list[FileSource],
        *,
        folder: str | None = None,
        tags: list[str] | None = None,
        comment_id: UUID | None = None,
        source: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Outcome:
        """Receive the files and add them to the client; nothing is left when anything fails.

        Count, names, folder, tags and the client's visibility are checked before any byte
        is stored."""
        check_file_count(len(sources))
        for index, item in enumerate(sources):
            clean_file_name(f"input.files.{index}.name", item.name)
        clean_folder("input.folder", folder)
        clean_document_tags("input.tags", tags)
        self.uow.visible(Client, client_id)
        received = self.receive_files(sources)
        try:
            return self.add_documents(
                client_id,
                [r.file for r in received],
                source or {"kind": "UPLOAD"},
                folder=folder,
                tags=tags,
                comment_id=comment_id,
                key=idempotency_key,
            )
        except BaseException:
            self.discard(received)
            raise

    def add_documents(
        self,
        client_id: UUID,
        files: list[IncomingFile],
        source: dict[str, str],
        *,
        folder: str | None = None,
        tags: list[str] | None = None,
        comment_id: UUID | None = None,
        key: str | None = None,
    ) -> Outcome:
        """One document per received file, on the client (and comment, if given), saved
        atomically. Reports `client_id` and `document_ids` (comma-separated, in order)."""
        firm_id = current_context().firm_id

        def build() -> Change:
            check_file_count(len(files))
            client = self.uow.visible(Client, client_id)
            if comment_id is not None:
                comment = self.uow.visible(Comment, comment_id)
                if comment.client_id != client.id:
                    raise NotFound("Comment", str(comment_id))
            contents: dict[str, StoredContent] = {}
            documents: list[Document] = []
            for index, incoming in enumerate(files):
                document_id = uuid4()
                self._content_for(firm_id, incoming, document_id, contents, f"input.files.{index}")
                documents.append(
                    Document.upload(
                        client_id=client.id,
                        name=incoming.name,
                        size=incoming.size,
                        media_type=incoming.media_type,
                        sha256=incoming.sha256,
                        folder=folder,
                        tags=tags,
                        comment_id=comment_id,
                        source=source,
                        field=f"input.files.{index}",
                        document_id=document_id,
                    )
                )
            ids = ",".join(str(d.id) for d in documents)
            return Change.of(*contents.values(), *documents, document_ids=ids)

        return self.uow.run("addDocuments", key, build)

    def _content_for(
        self,
        firm_id: str,
        incoming: IncomingFile,
        document_id: UUID,
        contents: dict[str, StoredContent],
        field: str,
    ) -> None:
        """Check the bytes are stored and not erased; reference them (first time only)."""
        sha = incoming.sha256
        if sha in contents:
            return
        found = self.uow.find(StoredContent, stored_content_id(firm_id, sha))
        if found is not None:
            found.check_storable()
            return
        if self.blobs.is_erased(firm_id, sha):
            raise ContentErased(sha)
        if self.blobs.size(firm_id, sha) != incoming.size:
            raise InvalidInput(field, f"{field}: its content was not received")
        contents[sha] = StoredContent.reference(
            firm_id=firm_id, sha256=sha, document_id=document_id
        )

    def upload_version(
        self, document_id: UUID, source: FileSource, *, idempotency_key: str | None = None
    ) -> Outcome:
        """Receive a file and record it as the document's next version."""
        clean_file_name("input.file.name", source.name)
        self.uow.visible(Document, document_id)
        received = self.receive_file(source, "input.file")
        try:
            return self.add_version(document_id, received.file, key=idempotency_key)
        except BaseException:
            self.discard([received])
            raise

    def add_version(
        self, document_id: UUID, file: IncomingFile, *, key: str | None = None
    ) -> Outcome:
        firm_id = current_context().firm_id

        def build() -> Change:
            document = self.uow.visible(Document, document_id)
            contents: dict[str, StoredContent] = {}
            self._content_for(firm_id, file, document.id, contents, "input.file")
            document.upload_version(
                name=file.name, size=file.size, media_type=file.media_type, sha256=file.sha256
            )
            return Change.of(*contents.values(), document, document_id=str(document.id))

        return self.uow.run("uploadDocumentVersion", key, build)

    # Changes ----------------------------------------------------------------------

    def _change(self, operation: str, key: str | None, document_id: UUID, act: Any) -> Outcome:
        return self.uow.change(
            operation, key, Document, document_id, act, extra={"document_id": str(document_id)}
        )

    def rename_document(self, document_id: UUID, name: str, *, key: str | None = None) -> Outcome:
        return self._change("renameDocument", key, document_id, lambda d: d.rename(name))

    def move_document(
        self, document_id: UUID, folder: str | None, *, key: str | None = None
    ) -> Outcome:
        return self._change("moveDocument", key, document_id, lambda d: d.move(folder or ""))

    def tag_document(
        self, document_id: UUID, tags: list[str], *, key: str | None = None
    ) -> Outcome:
        return self._change("tagDocument", key, document_id, lambda d: d.tag(tags))

    def untag_document(
        self, document_id: UUID, tags: list[str], *, key: str | None = None
    ) -> Outcome:
        return self._change("untagDocument", key, document_id, lambda d: d.untag(tags))

    def remove_document(
        self, document_id: UUID, reason: str | None = None, *, key: str | None = None
    ) -> Outcome:
        return self._change("removeDocument", key, document_id, lambda d: d.remove(reason))

    def restore_document(self, document_id: UUID, *, key: str | None = None) -> Outcome:
        return self._change("restoreDocument", key, document_id, lambda d: d.restore())

    def view_document(
        self, document_id: UUID, version: int | None = None, *, key: str | None = None
    ) -> Outcome:
        """Record the acting staff member's first view of a version (idempotent)."""
        user_id = current_context().actor.id
        return self._change("viewDocument", key, document_id, lambda d: d.view(user_id, version))

    def delete_document(self, document_id: UUID, reason: str, *, key: str | None = None) -> Outcome:
        """Delete for good: the events first, then the bytes of every version are erased."""
        ctx = current_context()
        firm_id = ctx.firm_id
        erased: list[str] = []

        def build() -> Change:
            document = self.uow.visible(Document, document_id)
            document.delete(reason, ctx.role)
            contents: list[StoredContent] = []
            erased.clear()
            for sha in document.hashes():
                content = self.uow.find(StoredContent, stored_content_id(firm_id, sha))
                if content is None:
                    content = StoredContent.reference(
                        firm_id=firm_id, sha256=sha, document_id=document.id
                    )
                content.erase(document.client_id, document.id)
                contents.append(content)
                erased.append(sha)
            return Change.of(*contents, document, document_id=str(document.id))

        outcome = self.uow.run("deleteDocument", key, build)
        for sha in erased:
            self.blobs.erase(firm_id, sha)
        return outcome

    # Operators ------------------------------------------------------------------

    def sweep_blobs(
        self, *, older_than: timedelta = SWEEP_GRACE, dry_run: bool = False
    ) -> SweepReport:
        """Remove blobs no document event references (a crash between storing the bytes and
        saving the event) and erase blobs whose erasure a crash interrupted. Blobs younger
        than `older_than` are left alone (their request may still be recording)."""
        report = SweepReport()
        cutoff = datetime.now(UTC) - older_than
        for blob in list(self.blobs.blobs()):
            report.checked += 1
            try:
                content: Any = self.store.repository.get(
                    stored_content_id(blob.firm_id, blob.sha256)
                )
            except AggregateNotFoundError:
                content = None
            if content is not None and content.erased:
                report.erased.append((blob.firm_id, blob.sha256))
                if not dry_run:
                    self.blobs.erase(blob.firm_id, blob.sha256)
            elif content is None and blob.stored_at < cutoff:
                report.removed.append((blob.firm_id, blob.sha256))
                if not dry_run:
                    self.blobs.discard(blob.firm_id, blob.sha256)
        sweep_staging = getattr(self.blobs, "sweep_staging", None)
        if sweep_staging is not None and not dry_run:
            sweep_staging(older_than)
        return report
