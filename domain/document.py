"""The Document aggregate: a file kept on a client's profile, with its versions.

A document belongs to a client (and optionally to a comment on it); its bytes live in the
firm's blob store under their SHA-256, and its events record what a person needs to know of
each version: name, size, media type (sniffed from the bytes), hash. Every event carries the
actor. Staff see a document as new until they open (download) its current version; the first
view of each version per staff member is recorded, later ones are not.

Removing hides a document from the profile and keeps everything (it can be restored);
deleting (owners and admins, with a reason) erases the bytes of every version for good: the
event keeps names, hashes and the reason, and `StoredContent` (one per firm and hash) records
that the content was erased, so it is never stored again.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain.base import Bookkeeping, ClientRelatedEvent, DossierAggregate, DossierCreated
from domain.errors import InvalidInput, LimitExceeded, RuleViolated
from domain.text import clean, describe, forbidden_character
from domain.values import REASON_MAX, TAG_MAX, optional_text, required_text

FILES_PER_UPLOAD_MAX = 25
FILE_BYTES_MAX = 5 * 1024 * 1024
FILE_NAME_MAX = 255
FOLDER_MAX = 500
FOLDER_DEPTH_MAX = 10
DOCUMENT_TAGS_MAX = 20
DELETE_ROLES = frozenset({"owner", "admin", "system"})


# Names, folders and tags ------------------------------------------------------------------


def clean_file_name(field: str, name: object) -> str:
    """A file name people can keep and download safely.

    Refused: blank, longer than 255 characters, control or invisible characters, the path
    separators / and \\, the names . and .., and leading or trailing dots or spaces.
    """
    if not isinstance(name, str):
        raise InvalidInput(field, f"{field} must be text")
    if not name.strip():
        raise InvalidInput(field, f"{field} must not be blank")
    bad = forbidden_character(name)
    if bad is not None:
        raise InvalidInput(field, f"{field} must not contain {describe(bad)}")
    if "/" in name or "\\" in name:
        raise InvalidInput(field, f"{field} must not contain a path separator (/ or \\)")
    if name != name.strip(" ") or name.startswith(".") or name.endswith("."):
        raise InvalidInput(field, f"{field} must not start or end with a dot or a space")
    return clean(field, name, FILE_NAME_MAX)


def clean_folder(field: str, folder: str | None) -> str:
    """A folder path such as "Tax/2024" ("" is the top level): segments separated by /,
    each a valid file name, at most 10 deep and 500 characters."""
    if folder is None:
        return ""
    if not isinstance(folder, str):
        raise InvalidInput(field, f"{field} must be text")
    trimmed = folder.strip().strip("/")
    if not trimmed:
        return ""
    segments = trimmed.split("/")
    if len(segments) > FOLDER_DEPTH_MAX:
        raise InvalidInput(field, f"{field} must be at most {FOLDER_DEPTH_MAX} folders deep")
    cleaned = [clean_file_name(field, segment) for segment in segments]
    path = "/".join(cleaned)
    if len(path) > FOLDER_MAX:
        raise InvalidInput(field, f"{field} must be at most {FOLDER_MAX} characters")
    return path


def clean_document_tags(field: str, tags: list[str] | None) -> list[str]:
    """Trimmed tags, de-duplicated case-insensitively in their order; at most 20."""
    result: list[str] = []
    seen: set[str] = set()
    for index, tag in enumerate(tags or []):
        text = required_text(f"{field}.{index}", tag, TAG_MAX)
        if text.casefold() not in seen:
            seen.add(text.casefold())
            result.append(text)
    if len(result) > DOCUMENT_TAGS_MAX:
        raise InvalidInput(field, f"a document can have at most {DOCUMENT_TAGS_MAX} tags")
    return result


def check_file_count(count: int) -> None:
    if count < 1:
        raise InvalidInput("input.files", "send at least one file")
    if count > FILES_PER_UPLOAD_MAX:
        raise LimitExceeded(
            FILES_PER_UPLOAD_MAX,
            f"at most {FILES_PER_UPLOAD_MAX} files can be uploaded at a time ({count} sent)",
        )


def check_file_size(field: str, size: int) -> None:
    if size <= 0:
        raise InvalidInput(field, f"{field} is empty: a document needs at least one byte")
    if size > FILE_BYTES_MAX:
        raise LimitExceeded(FILE_BYTES_MAX, f"{field} is larger than {FILE_BYTES_MAX} bytes")


def check_sha256(field: str, sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InvalidInput(field, f"{field} must be a lower-case hex SHA-256")
    return sha256


# The aggregate --------------------------------------------------------------------------


class DocumentEvent(ClientRelatedEvent):
    """An event of a document's stream; it is about the document's client."""


def _version(number: int, name: str, size: int, media_type: str, sha256: str) -> dict[str, Any]:
    return {
        "version": number,
        "name": name,
        "size": size,
        "media_type": media_type,
        "sha256": sha256,
    }


class Document(DossierAggregate):
    """A client's document (see the module docstring)."""

    class DocumentUploaded(DossierCreated, DocumentEvent):
        name: str
        size: int
        media_type: str
        sha256: str
        folder: str
        tags: list[str]
        comment_id: UUID | None
        source: dict[str, str]

    class DocumentVersionUploaded(DocumentEvent):
        version_number: int
        name: str
        size: int
        media_type: str
        sha256: str

        def apply(self, aggregate: Any) -> None:
            aggregate.versions.append(
                _version(self.version_number, self.name, self.size, self.media_type, self.sha256)
            )
            aggregate.name = self.name

    class DocumentRenamed(DocumentEvent):
        name: str
        previous_name: str

        def apply(self, aggregate: Any) -> None:
            aggregate.name = self.name

    class DocumentMoved(DocumentEvent):
        folder: str
        previous_folder: str

        def apply(self, aggregate: Any) -> None:
            aggregate.folder = self.folder

    class DocumentTagged(DocumentEvent):
        tags: list[str]

        def apply(self, aggregate: Any) -> None:
            aggregate.tags = aggregate.tags + self.tags

    class DocumentUntagged(DocumentEvent):
        tags: list[str]

        def apply(self, aggregate: Any) -> None:
            gone = {t.casefold() for t in self.tags}
            aggregate.tags = [t for t in aggregate.tags if t.casefold() not in gone]

    class DocumentViewed(DocumentEvent):
        user_id: str
        version_number: int

        def apply(self, aggregate: Any) -> None:
            aggregate.viewed[f"{self.version_number}:{self.user_id}"] = True

    class DocumentRemoved(DocumentEvent):
        reason: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.removed = True

    class DocumentRestored(DocumentEvent):
        def apply(self, aggregate: Any) -> None:
            aggregate.removed = False

    class DocumentDeleted(DocumentEvent):
        reason: str
        name: str
        erased: list[dict[str, Any]]
        """Every version whose bytes were erased: version, name, size, media_type, sha256."""

        def apply(self, aggregate: Any) -> None:
            aggregate.deleted = True

    def __init__(
        self,
        firm_id: str,
        client_id: UUID,
        name: str,
        size: int,
        media_type: str,
        sha256: str,
        folder: str,
        tags: list[str],
        comment_id: UUID | None,
        source: dict[str, str],
    ) -> None:
        self.firm_id = firm_id
        self.client_id = client_id
        self.name = name
        self.folder = folder
        self.tags = list(tags)
        self.comment_id = comment_id
        self.source = dict(source)
        self.versions: list[dict[str, Any]] = [_version(1, name, size, media_type, sha256)]
        self.viewed: dict[str, bool] = {}
        """"<version>:<user id>" of every recorded first view."""
        self.removed = False
        self.deleted = False

    @classmethod
    def upload(
        cls,
        *,
        client_id: UUID,
        name: str,
        size: int,
        media_type: str,
        sha256: str,
        folder: str | None = None,
        tags: list[str] | None = None,
        comment_id: UUID | None = None,
        source: dict[str, str] | None = None,
        field: str = "input.files.0",
        document_id: UUID | None = None,
    ) -> Document:
        """A new document (version 1) on a client."""
        cleaned = clean_file_name(f"{field}.name", name)
        check_file_size(field, size)
        return cls._create(
            cls.DocumentUploaded,
            id=document_id or uuid4(),
            client_id=client_id,
            name=cleaned,
            size=size,
            media_type=media_type,
            sha256=check_sha256(f"{field}.sha256", sha256),
            folder=clean_folder("input.folder", folder),
            tags=clean_document_tags("input.tags", tags),
            comment_id=comment_id,
            source={str(k): str(v) for k, v in (source or {"kind": "UPLOAD"}).items()},
        )

    # Reading ------------------------------------------------------------------

    @property
    def current(self) -> dict[str, Any]:
        return self.versions[-1]

    @property
    def version_number(self) -> int:
        return int(self.current["version"])

    def hashes(self) -> list[str]:
        """Every distinct hash of its versions, in version order."""
        seen: list[str] = []
        for v in self.versions:
            if v["sha256"] not in seen:
                seen.append(v["sha256"])
        return seen

    def _require_live(self) -> None:
        if self.deleted:
            raise RuleViolated("DOCUMENT_DELETED", f"{self.name} was deleted")

    def _require_visible(self) -> None:
        self._require_live()
        if self.removed:
            raise RuleViolated("DOCUMENT_REMOVED", f"{self.name} was removed; restore it first")

    # Commands -----------------------------------------------------------------

    def upload_version(self, *, name: str, size: int, media_type: str, sha256: str) -> None:
        """A new version; the earlier ones are kept."""
        self._require_visible()
        cleaned = clean_file_name("input.file.name", name)
        check_file_size("input.file", size)
        self.trigger_event(
            self.DocumentVersionUploaded,
            client_id=self.client_id,
            version_number=self.version_number + 1,
            name=cleaned,
            size=size,
            media_type=media_type,
            sha256=check_sha256("input.file.sha256", sha256),
        )

    def rename(self, name: str) -> None:
        self._require_visible()
        cleaned = clean_file_name("input.name", name)
        if cleaned == self.name:
            return
        self.trigger_event(
            self.DocumentRenamed, client_id=self.client_id, name=cleaned, previous_name=self.name
        )

    def move(self, folder: str | None) -> None:
        self._require_visible()
        cleaned = clean_folder("input.folder", folder)
        if cleaned == self.folder:
            return
        self.trigger_event(
            self.DocumentMoved,
            client_id=self.client_id,
            folder=cleaned,
            previous_folder=self.folder,
        )

    def tag(self, tags: list[str]) -> None:
        self._require_visible()
        cleaned = clean_document_tags("input.tags", tags)
        have = {t.casefold() for t in self.tags}
        new = [t for t in cleaned if t.casefold() not in have]
        if not new:
            return
        if len(self.tags) + len(new) > DOCUMENT_TAGS_MAX:
            raise InvalidInput(
                "input.tags", f"a document can have at most {DOCUMENT_TAGS_MAX} tags"
            )
        self.trigger_event(self.DocumentTagged, client_id=self.client_id, tags=new)

    def untag(self, tags: list[str]) -> None:
        self._require_visible()
        cleaned = clean_document_tags("input.tags", tags)
        wanted = {t.casefold() for t in cleaned}
        gone = [t for t in self.tags if t.casefold() in wanted]
        if not gone:
            return
        self.trigger_event(self.DocumentUntagged, client_id=self.client_id, tags=gone)

    def check_viewable(self) -> None:
        """Deleted documents can never be opened again."""
        self._require_live()

    def view(self, user_id: str, version_number: int | None = None) -> None:
        """Record a staff member's first view of a version (later views record nothing)."""
        self._require_live()
        number = version_number or self.version_number
        if f"{number}:{user_id}" in self.viewed:
            return
        self.trigger_event(
            self.DocumentViewed,
            client_id=self.client_id,
            user_id=user_id,
            version_number=number,
        )

    def remove(self, reason: str | None = None) -> None:
        self._require_live()
        if self.removed:
            return
        self.trigger_event(
            self.DocumentRemoved,
            client_id=self.client_id,
            reason=optional_text("input.reason", reason, REASON_MAX, multiline=True),
        )

    def restore(self) -> None:
        self._require_live()
        if not self.removed:
            return
        self.trigger_event(self.DocumentRestored, client_id=self.client_id)

    def delete(self, reason: str, role: str) -> None:
        """Erase every version (owners and admins only; a reason is required)."""
        if role not in DELETE_ROLES:
            raise RuleViolated(
                "DELETE_NOT_ALLOWED", "only the firm's owners and admins can delete documents"
            )
        self._require_live()
        cleaned = required_text("input.reason", reason, REASON_MAX, multiline=True)
        self.trigger_event(
            self.DocumentDeleted,
            client_id=self.client_id,
            reason=cleaned,
            name=self.name,
            erased=[dict(v) for v in self.versions],
        )


# Content records --------------------------------------------------------------------------


def stored_content_id(firm_id: str, sha256: str) -> UUID:
    return uuid5(NAMESPACE_URL, json.dumps(["dossier", "stored-content", firm_id, sha256]))


class StoredContent(DossierAggregate):
    """Index aggregate, one per (firm, hash): a document event references these bytes, and
    whether the firm erased them. Saved with the first document that references the hash."""

    class ContentReferenced(DossierCreated, Bookkeeping):
        sha256: str
        document_id: UUID

    class ContentErased(ClientRelatedEvent, Bookkeeping):
        sha256: str
        document_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.erased = True

    def __init__(self, firm_id: str, sha256: str, document_id: UUID) -> None:
        self.firm_id = firm_id
        self.sha256 = sha256
        self.document_id = document_id
        self.erased = False

    @classmethod
    def reference(cls, *, firm_id: str, sha256: str, document_id: UUID) -> StoredContent:
        return cls._create(
            cls.ContentReferenced,
            id=stored_content_id(firm_id, sha256),
            firm_id=firm_id,
            sha256=sha256,
            document_id=document_id,
        )

    def check_storable(self) -> None:
        if self.erased:
            raise RuleViolated(
                "CONTENT_ERASED",
                "this content was deleted from the firm's documents and cannot be stored again",
            )

    def erase(self, client_id: UUID, document_id: UUID) -> None:
        if self.erased:
            return
        self.trigger_event(
            self.ContentErased, client_id=client_id, sha256=self.sha256, document_id=document_id
        )
