"""The directory blob store (the embedded default): files under DOSSIER_BLOB_DIR.

Layout under the root:

    staging/<random>                      bytes being received (never served)
    firms/<sha256 of firm id>/FIRM        the firm id, for the sweep
    firms/<...>/blobs/<aa>/<sha256>       a published blob (aa: its hash's first two digits)
    firms/<...>/erased/<sha256>           a tombstone: this hash was erased in this firm

A blob is written to staging, flushed and fsynced, then published with an atomic rename (and
the directory fsynced), so a reader sees either no blob or all of it; a crash leaves at most a
staging file, which `sweep_staging` removes.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from infra.blobs.base import (
    READ_CHUNK,
    BlobEmpty,
    BlobInfo,
    BlobNotFound,
    ContentErased,
    Hashing,
    StoredBlob,
    byte_range,
    check_sha256,
)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DirectoryBlobStore:
    """Blobs as files in a directory tree (see the module docstring)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # Paths --------------------------------------------------------------------

    def _firm_dir(self, firm_id: str) -> Path:
        return self.root / "firms" / hashlib.sha256(firm_id.encode("utf-8")).hexdigest()

    def _blob_path(self, firm_id: str, sha256: str) -> Path:
        return self._firm_dir(firm_id) / "blobs" / sha256[:2] / sha256

    def _tombstone(self, firm_id: str, sha256: str) -> Path:
        return self._firm_dir(firm_id) / "erased" / sha256

    # Writing ------------------------------------------------------------------

    def put(
        self, firm_id: str, chunks: Iterable[bytes], max_bytes: int, *, allow_empty: bool = False
    ) -> StoredBlob:
        staging = self.root / "staging"
        staging.mkdir(parents=True, exist_ok=True)
        temp = staging / uuid.uuid4().hex
        hashing = Hashing(max_bytes)
        try:
            with open(temp, "xb") as out:
                for chunk in chunks:
                    hashing.feed(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if hashing.size == 0 and not allow_empty:
                raise BlobEmpty()
            sha = hashing.sha256
            if self.is_erased(firm_id, sha):
                raise ContentErased(sha)
            target = self._blob_path(firm_id, sha)
            if target.exists():
                return StoredBlob(sha, hashing.size, hashing.head, created=False)
            self._mark_firm(firm_id)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, target)
            _fsync_dir(target.parent)
            return StoredBlob(sha, hashing.size, hashing.head, created=True)
        finally:
            temp.unlink(missing_ok=True)

    def _mark_firm(self, firm_id: str) -> None:
        marker = self._firm_dir(firm_id) / "FIRM"
        if not marker.exists():
            marker.parent.mkdir(parents=True, exist_ok=True)
            temp = marker.with_name(f"FIRM.{uuid.uuid4().hex}")
            temp.write_text(firm_id, encoding="utf-8")
            os.replace(temp, marker)

    def erase(self, firm_id: str, sha256: str) -> None:
        check_sha256(sha256)
        stone = self._tombstone(firm_id, sha256)
        stone.parent.mkdir(parents=True, exist_ok=True)
        self._mark_firm(firm_id)
        stone.touch(exist_ok=True)
        _fsync_dir(stone.parent)
        self._blob_path(firm_id, sha256).unlink(missing_ok=True)

    def discard(self, firm_id: str, sha256: str) -> None:
        check_sha256(sha256)
        self._blob_path(firm_id, sha256).unlink(missing_ok=True)

    # Reading ------------------------------------------------------------------

    def exists(self, firm_id: str, sha256: str) -> bool:
        return self.size(firm_id, sha256) is not None

    def size(self, firm_id: str, sha256: str) -> int | None:
        try:
            check_sha256(sha256)
        except BlobNotFound:
            return None
        if self.is_erased(firm_id, sha256):
            return None
        try:
            return self._blob_path(firm_id, sha256).stat().st_size
        except FileNotFoundError:
            return None

    def is_erased(self, firm_id: str, sha256: str) -> bool:
        return self._tombstone(firm_id, sha256).exists()

    def open(
        self, firm_id: str, sha256: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        check_sha256(sha256)
        if self.is_erased(firm_id, sha256):
            raise BlobNotFound(f"blob {sha256} was erased")
        try:
            handle = open(self._blob_path(firm_id, sha256), "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {sha256}") from None
        size = os.fstat(handle.fileno()).st_size
        first, last = byte_range(size, start, end)
        return _read(handle, first, last)

    def blobs(self) -> Iterator[BlobInfo]:
        firms = self.root / "firms"
        if not firms.is_dir():
            return
        for firm_dir in sorted(firms.iterdir()):
            marker = firm_dir / "FIRM"
            if not marker.is_file():
                continue
            firm_id = marker.read_text(encoding="utf-8")
            for path in sorted((firm_dir / "blobs").glob("*/*")):
                stat = path.stat()
                yield BlobInfo(
                    firm_id, path.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)
                )

    def sweep_staging(self, older_than: timedelta) -> int:
        """Remove staging files left by a crash (older than `older_than`); how many."""
        staging = self.root / "staging"
        if not staging.is_dir():
            return 0
        cutoff = datetime.now(UTC) - older_than
        removed = 0
        for path in staging.iterdir():
            if datetime.fromtimestamp(path.stat().st_mtime, UTC) < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _read(handle: BinaryIO, first: int, last: int) -> Iterator[bytes]:
    with handle:
        handle.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = handle.read(min(READ_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
