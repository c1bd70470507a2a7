"""The blob-store interface: content-addressed bytes, namespaced by firm.

A blob is named by the SHA-256 of its bytes *within one firm*: two firms storing identical
bytes get two blobs that never share storage, so erasing one firm's copy never touches the
other's. `put` streams the bytes to a staging area while hashing and counting them, refuses
more than `max_bytes` as soon as they arrive (nothing is left behind), then publishes the blob
atomically. `erase` deletes the bytes and leaves a tombstone: an erased hash is never served
again and never stored again for that firm (`CONTENT_ERASED`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.errors import RuleViolated

HEAD_BYTES = 8192
"""How many leading bytes `put` keeps for sniffing the media type."""
READ_CHUNK = 64 * 1024
"""Size of the chunks `open` yields."""

CONTENT_ERASED = "CONTENT_ERASED"


class BlobError(Exception):
    """Base class of the blob store's expected failures."""


class BlobTooLarge(BlobError):
    """More than `limit` bytes arrived; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the content is larger than {limit} bytes")
        self.limit = limit


class BlobEmpty(BlobError):
    """No bytes arrived (and empty blobs were not allowed); nothing was stored."""

    def __init__(self) -> None:
        super().__init__("the content is empty")


class BlobNotFound(BlobError):
    """No such blob in this firm, or it was erased."""


class ContentErased(RuleViolated):
    """The firm erased this content: it is never stored again."""

    def __init__(self, sha256: str) -> None:
        super().__init__(
            CONTENT_ERASED,
            "this content was deleted from the firm's documents and cannot be stored again",
        )
        self.sha256 = sha256


@dataclass(frozen=True)
class StoredBlob:
    """What `put` stored: the hash, the size, the first bytes, and whether it was new."""

    sha256: str
    size: int
    head: bytes
    created: bool
    """False when the firm already held these bytes (nothing new was written)."""


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob as listed by `blobs()` (for the sweep)."""

    firm_id: str
    sha256: str
    size: int
    stored_at: datetime


class BlobStore(Protocol):
    """Content-addressed storage of a firm's bytes (see the module docstring)."""

    def put(
        self, firm_id: str, chunks: Iterable[bytes], max_bytes: int, *, allow_empty: bool = False
    ) -> StoredBlob: ...

    def open(
        self, firm_id: str, sha256: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """The bytes start..end (inclusive; end None: to the last byte); BlobNotFound if the
        blob is absent or erased (raised at the call, before any chunk)."""
        ...

    def exists(self, firm_id: str, sha256: str) -> bool: ...

    def size(self, firm_id: str, sha256: str) -> int | None: ...

    def is_erased(self, firm_id: str, sha256: str) -> bool: ...

    def erase(self, firm_id: str, sha256: str) -> None:
        """Delete the bytes (if any) and record the tombstone; idempotent."""
        ...

    def discard(self, firm_id: str, sha256: str) -> None:
        """Delete the bytes of a blob no event references (no tombstone)."""
        ...

    def blobs(self) -> Iterator[BlobInfo]:
        """Every stored blob of every firm (for `dossier blobs sweep`)."""
        ...


class Hashing:
    """Hashes and counts chunks as they pass, refusing more than `limit` bytes at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.digest = hashlib.sha256()
        self.size = 0
        self.head = b""

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise BlobTooLarge(self.limit)
        self.digest.update(chunk)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


def check_sha256(sha256: str) -> str:
    """A lower-case hex SHA-256 (anything else can name no blob)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise BlobNotFound(f"{sha256[:80]!r} is not a SHA-256")
    return sha256


def byte_range(size: int, start: int, end: int | None) -> tuple[int, int]:
    """(start, end) clamped to the blob (end inclusive); a start past the end reads nothing."""
    last = size - 1 if end is None else min(end, size - 1)
    return max(0, start), last
