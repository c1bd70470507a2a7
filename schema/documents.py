"""Documents on the profile: upload (GraphQL multipart requests), versions, folders and tags,
new-until-viewed markers, remove (hide, restorable) and delete (erase for good).

Files arrive as `Upload` values (the GraphQL multipart request specification: `operations`,
`map`, then the files). At most 25 files per request and 5 MB per file (LimitExceededError);
the media type is sniffed from the bytes, never taken from the request. Bytes are downloaded
from `Document.downloadUrl` (`GET /files/{id}` with the same bearer token), which also marks
the document viewed for the staff member.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from enum import Enum
from typing import IO, Annotated, Any, TypeAlias
from uuid import UUID

import strawberry
from strawberry.file_uploads import Upload

from resolvers.commands import Failure, local_id, may_change, may_manage_staff, written
from resolvers.documents import (
    LATEST_DOCUMENTS,
    DocumentFilter,
    DocumentOrder,
    document_loaders,
    is_new,
    sort_documents,
)
from resolvers.ids import to_global_id
from resolvers.pages import check_first, page_after_position
from resolvers.ports import Outcome, Ports
from schema.common import Actor, Info, Node, PageInfo, command, connection_of
from schema.errors import LimitExceededError, NotFoundError, RuleViolationError, ValidationError
from schema.types import ClientCore, ClientRef

READ_CHUNK = 64 * 1024

DocumentOrderBy = strawberry.enum(DocumentOrder, name="DocumentOrderBy")


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.type(description="One stored version of a document (earlier versions are kept).")
class DocumentVersion:
    version: int
    name: str
    size: int
    media_type: str = strawberry.field(description="Sniffed from the content.")
    sha256: str
    uploaded_by: Actor
    uploaded_at: datetime
    erased: bool = strawberry.field(
        description="True once the firm deleted this content: it can no longer be downloaded."
    )
    download_url: str | None

    @classmethod
    def from_row(cls, row: Any) -> DocumentVersion:
        gid = to_global_id("Document", row.document_id)
        return cls(
            version=row.version,
            name=row.name,
            size=row.size,
            media_type=row.media_type,
            sha256=row.sha256,
            uploaded_by=Actor.from_dict(row.uploaded_by),
            uploaded_at=row.uploaded_at,
            erased=row.erased,
            download_url=None if row.erased else f"/files/{gid}?version={row.version}",
        )


@strawberry.type(description="A file kept on a client's profile.")
class Document(Node):
    id: strawberry.ID
    name: str
    size: int
    media_type: str = strawberry.field(description="Sniffed from the content.")
    sha256: str
    folder: str = strawberry.field(description='Folder path such as "Tax/2024"; "" is the top.')
    tags: list[str]
    version: int = strawberry.field(description="The current version's number (1 first).")
    uploaded_by: Actor
    uploaded_at: datetime
    updated_at: datetime
    is_new: bool = strawberry.field(
        description="True until the viewer opens (downloads) the current version."
    )
    removed: bool = strawberry.field(
        description="Hidden from the profile (kept for audit; can be restored)."
    )
    removed_reason: str | None
    deleted: bool = strawberry.field(description="Deleted for good: the content is erased.")
    deleted_reason: str | None
    deleted_by: Actor | None
    deleted_at: datetime | None
    download_url: str | None = strawberry.field(
        description="GET it with the bearer token; null once deleted."
    )
    comment_id: strawberry.ID | None = strawberry.field(
        description="The comment the document was attached to, if any."
    )
    source: str = strawberry.field(description="How it arrived: UPLOAD or EMAIL.")
    local_id: strawberry.Private[str]
    client_id: strawberry.Private[str]

    @classmethod
    async def load(cls, info: Info, document_id: str) -> Document:
        loader = document_loaders(info.context).document
        return cls.from_row(await written(loader, "Document", document_id))

    @classmethod
    def from_row(cls, row: Any) -> Document:
        gid = to_global_id("Document", row.id)
        return cls(
            id=strawberry.ID(gid),
            name=row.name,
            size=row.size,
            media_type=row.media_type,
            sha256=row.sha256,
            folder=row.folder,
            tags=list(row.tags),
            version=row.version,
            uploaded_by=Actor.from_dict(row.uploaded_by),
            uploaded_at=row.uploaded_at,
            updated_at=row.updated_at,
            is_new=is_new(row),
            removed=row.removed,
            removed_reason=row.removed_reason,
            deleted=row.deleted,
            deleted_reason=row.deleted_reason,
            deleted_by=None if row.deleted_by is None else Actor.from_dict(row.deleted_by),
            deleted_at=row.deleted_at,
            download_url=None if row.deleted else f"/files/{gid}",
            local_id=row.id,
            client_id=row.client_id,
            comment_id=None
            if row.comment_id is None
            else strawberry.ID(to_global_id("Comment", row.comment_id)),
            source=str(row.source.get("kind", "UPLOAD")),
        )

    @strawberry.field(description="Every version, oldest first.")
    async def versions(self, info: Info) -> list[DocumentVersion]:
        rows = await document_loaders(info.context).versions.load(self.local_id)
        return [DocumentVersion.from_row(r) for r in rows]

    @strawberry.field
    async def client(self, info: Info) -> ClientRef:
        row = await info.context.loaders.client_in_firm.load(self.client_id)
        return ClientCore.from_row(row)


@strawberry.type
class DocumentEdge:
    cursor: str
    node: Document


@strawberry.type
class DocumentConnection:
    edges: list[DocumentEdge]
    page_info: PageInfo
    total_count: int


@strawberry.input(description="Which documents a list shows (all given conditions apply).")
class DocumentFilterInput:
    folder: str | None = strawberry.field(
        default=None, description='This folder and its subfolders; "" the top level only.'
    )
    tag: str | None = None
    uploaded_by: strawberry.ID | None = strawberry.field(
        default=None, description="The uploader's user id."
    )
    uploaded_from: datetime | None = strawberry.field(default=None, name="from")
    uploaded_to: datetime | None = strawberry.field(default=None, name="to")
    new: bool | None = strawberry.field(
        default=None, description="Only documents new (true) or not new (false) for the viewer."
    )
    include_removed: bool = strawberry.field(
        default=False, description="Also removed and deleted documents (for audit)."
    )


async def client_documents(
    info: Info,
    client_id: str,
    first: int | None,
    after: str | None,
    filter: DocumentFilterInput | None,
    order_by: DocumentOrder,
    direction: SortDirection,
) -> DocumentConnection:
    size = check_first(first, 20)
    given = filter or DocumentFilterInput()
    flt = DocumentFilter(
        folder=given.folder,
        tag=given.tag,
        uploaded_by=None if given.uploaded_by is None else str(given.uploaded_by),
        uploaded_from=given.uploaded_from,
        uploaded_to=given.uploaded_to,
        new=given.new,
        include_removed=given.include_removed,
    )
    rows = await document_loaders(info.context).documents_by_client.load(client_id)
    chosen = sort_documents(
        [r for r in rows if flt.matches(r)], order_by, direction is SortDirection.ASC
    )
    page = page_after_position(chosen, size, after)
    return connection_of(DocumentConnection, page, DocumentEdge, Document.from_row)


async def latest_documents(info: Info, client_id: str) -> list[Document]:
    rows = await document_loaders(info.context).documents_by_client.load(client_id)
    live = [r for r in rows if not r.removed and not r.deleted]
    return [Document.from_row(r) for r in live[:LATEST_DOCUMENTS]]


async def document_node(info: Info, local: str) -> Document | None:
    row = await document_loaders(info.context).document.load(local)
    return None if row is None else Document.from_row(row)


@strawberry.type
class DocumentsClientFields:
    """The fields this feature adds to `Client` (composed in schema/client.py)."""

    local_id: strawberry.Private[str]

    @strawberry.field(
        description="The client's documents (removed and deleted ones only with "
        "filter.includeRemoved), newest first by default."
    )
    async def documents(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        filter: DocumentFilterInput | None = None,
        order_by: DocumentOrderBy = DocumentOrder.UPLOADED_AT,  # type: ignore[valid-type]
        direction: SortDirection = SortDirection.DESC,
    ) -> DocumentConnection:
        return await client_documents(
            info, self.local_id, first, after, filter, order_by, direction
        )


@strawberry.type
class DocumentsOverviewFields:
    """The fields this feature adds to a client's overview (composed in schema/client.py)."""

    client_id: strawberry.Private[str]

    @strawberry.field(
        description="The client's latest documents (up to 5), newest first, with isNew."
    )
    async def latest_documents(self, info: Info) -> list[Document]:
        return await latest_documents(info, self.client_id)


# Mutations ---------------------------------------------------------------------


class FileUpload:
    """An uploaded file as the service receives it: its name and its bytes in chunks."""

    def __init__(self, name: str, handle: IO[bytes]) -> None:
        self.name = name
        self.chunks = _chunks(handle)


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    handle.seek(0)
    while chunk := handle.read(READ_CHUNK):
        yield chunk


def file_of(upload: Any, field: str) -> FileUpload:
    """The uploaded file's name (from its part's filename) and bytes."""
    name = getattr(upload, "filename", None)
    handle = getattr(upload, "file", None)
    if handle is None:
        raise Failure("VALIDATION", f"{field} is not a file", field=field)
    if not name:
        raise Failure("VALIDATION", f"{field} has no file name", field=f"{field}.name")
    return FileUpload(str(name), handle)


@strawberry.input
class UploadDocumentsInput:
    client_id: strawberry.ID
    files: list[Upload] = strawberry.field(
        description="At most 25 files, each 5 MB or less; names come from the parts' filename."
    )
    folder: str | None = None
    tags: list[str] | None = None
    comment_id: strawberry.ID | None = strawberry.field(
        default=None, description="A comment on the same client the files belong to."
    )
    idempotency_key: str | None = None


@strawberry.input
class UploadDocumentVersionInput:
    document_id: strawberry.ID
    file: Upload
    idempotency_key: str | None = None


@strawberry.input
class RenameDocumentInput:
    document_id: strawberry.ID
    name: str
    idempotency_key: str | None = None


@strawberry.input
class MoveDocumentInput:
    document_id: strawberry.ID
    folder: str | None = strawberry.field(default=None, description='null or "": the top.')
    idempotency_key: str | None = None


@strawberry.input
class DocumentTagsInput:
    document_id: strawberry.ID
    tags: list[str]
    idempotency_key: str | None = None


@strawberry.input
class RemoveDocumentInput:
    document_id: strawberry.ID
    reason: str | None = None
    idempotency_key: str | None = None


@strawberry.input
class RestoreDocumentInput:
    document_id: strawberry.ID
    idempotency_key: str | None = None


@strawberry.input
class DeleteDocumentInput:
    document_id: strawberry.ID
    reason: str = strawberry.field(description="Why; kept in the history with who deleted it.")
    idempotency_key: str | None = None


@strawberry.type
class UploadDocumentsPayload:
    documents: list[Document]


@strawberry.type
class DocumentPayload:
    document: Document


UploadDocumentsResult: TypeAlias = Annotated[
    UploadDocumentsPayload
    | ValidationError
    | NotFoundError
    | LimitExceededError
    | RuleViolationError,
    strawberry.union("UploadDocumentsResult"),
]
UploadDocumentVersionResult: TypeAlias = Annotated[
    DocumentPayload | ValidationError | NotFoundError | LimitExceededError | RuleViolationError,
    strawberry.union("UploadDocumentVersionResult"),
]
DocumentResult: TypeAlias = Annotated[
    DocumentPayload | ValidationError | NotFoundError | RuleViolationError,
    strawberry.union("DocumentResult"),
]


@strawberry.type
class DocumentsMutation:
    @command(
        may_change("upload documents"),
        description="Upload files to a client (a GraphQL multipart request): at most 25 files, "
        "5 MB each; nothing is stored unless every file is.",
    )
    async def upload_documents(
        self, info: Info, input: UploadDocumentsInput
    ) -> UploadDocumentsResult:
        def upload(app: Ports, client_id: UUID) -> Outcome:
            # After the client's id, as the input gives them: the comment's, then the files.
            comment_id = None if input.comment_id is None else local_id(input.comment_id, "Comment")
            files = [file_of(f, f"input.files.{i}") for i, f in enumerate(input.files)]
            outcome: Outcome = app.documents.upload_documents(
                client_id,
                files,
                folder=input.folder,
                tags=input.tags,
                comment_id=comment_id,
                idempotency_key=input.idempotency_key,
            )
            return outcome

        done = await info.context.run_on(
            "Client", input.client_id, upload, given={"Comment": input.comment_id}
        )
        ids = [i for i in done.ids.get("document_ids", "").split(",") if i]
        return UploadDocumentsPayload(documents=[await Document.load(info, i) for i in ids])

    @command(
        may_change("upload documents"),
        description="Upload a new version of a document (the earlier ones are kept).",
    )
    async def upload_document_version(
        self, info: Info, input: UploadDocumentVersionInput
    ) -> UploadDocumentVersionResult:
        done = await info.context.run_on(
            "Document",
            input.document_id,
            lambda app, document_id: app.documents.upload_version(
                document_id,
                file_of(input.file, "input.file"),
                idempotency_key=input.idempotency_key,
            ),
        )
        return DocumentPayload(document=await Document.load(info, done.ids["document_id"]))

    @command(may_change("rename documents"), description="Rename a document.")
    async def rename_document(self, info: Info, input: RenameDocumentInput) -> DocumentResult:
        return await _change_document(info, input, lambda docs: docs.rename_document, input.name)

    @command(may_change("move documents"), description="Move a document to another folder.")
    async def move_document(self, info: Info, input: MoveDocumentInput) -> DocumentResult:
        return await _change_document(info, input, lambda docs: docs.move_document, input.folder)

    @command(may_change("tag documents"), description="Add tags to a document.")
    async def tag_document(self, info: Info, input: DocumentTagsInput) -> DocumentResult:
        return await _change_document(info, input, lambda docs: docs.tag_document, input.tags)

    @command(may_change("tag documents"), description="Remove tags from a document.")
    async def untag_document(self, info: Info, input: DocumentTagsInput) -> DocumentResult:
        return await _change_document(info, input, lambda docs: docs.untag_document, input.tags)

    @command(
        may_change("remove documents"),
        description="Hide a document from the profile (kept for audit; can be restored).",
    )
    async def remove_document(self, info: Info, input: RemoveDocumentInput) -> DocumentResult:
        return await _change_document(info, input, lambda docs: docs.remove_document, input.reason)

    @command(may_change("restore documents"), description="Show a removed document again.")
    async def restore_document(self, info: Info, input: RestoreDocumentInput) -> DocumentResult:
        return await _change_document(info, input, lambda docs: docs.restore_document)

    @command(
        may_manage_staff("delete documents"),
        description="Delete a document for good (owners and admins): the content of every "
        "version is erased and never stored again; the history keeps who, when and why.",
    )
    async def delete_document(self, info: Info, input: DeleteDocumentInput) -> DocumentResult:
        return await _change_document(info, input, lambda docs: docs.delete_document, input.reason)


async def _change_document(
    info: Info,
    input: RenameDocumentInput
    | MoveDocumentInput
    | DocumentTagsInput
    | RemoveDocumentInput
    | RestoreDocumentInput
    | DeleteDocumentInput,
    method: Callable[[Any], Callable[..., Outcome]],
    *values: Any,
) -> DocumentPayload:
    """Run one of the documents service's commands on the input's document: `method` picks
    it; `values` follow the document's id."""
    done = await info.context.run_on(
        "Document",
        input.document_id,
        lambda app, document_id: method(app.documents)(
            document_id, *values, key=input.idempotency_key
        ),
    )
    return DocumentPayload(document=await Document.load(info, done.ids["document_id"]))
