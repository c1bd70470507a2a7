"""The PostgreSQL blob store: chunked rows in the read-model database.

For several API hosts sharing one database (DOSSIER_BLOB_STORE=postgresql). Its tables are its
own (not read models: a projection rebuild never touches them):

    blob_objects     (firm_id, sha256) -> size, stored_at
    blob_chunks      (firm_id, sha256, seq) -> data (CHUNK_BYTES each, the last one shorter)
    blob_tombstones  (firm_id, sha256) -> erased_at

`put` receives the bytes into a local temporary file while hashing them (refusing more than
max_bytes at once), then inserts the object row and every chunk in ONE transaction: a reader
sees the whole blob or none of it. The same code runs on SQLite (used by tests).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

import sqlalchemy as sa

from infra.blobs.base import (
    BlobEmpty,
    BlobInfo,
    BlobNotFound,
    ContentErased,
    Hashing,
    StoredBlob,
    byte_range,
    check_sha256,
)
from projections.tables import FIRM, UTCDateTime

CHUNK_BYTES = 256 * 1024
CHUNKS_PER_READ = 4
"""Chunks fetched per statement while streaming a blob out."""

blob_metadata = sa.MetaData()

blob_objects = sa.Table(
    "blob_objects",
    blob_metadata,
    sa.Column("firm_id", FIRM, primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("stored_at", UTCDateTime, nullable=False),
)

blob_chunks = sa.Table(
    "blob_chunks",
    blob_metadata,
    sa.Column("firm_id", FIRM, primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

blob_tombstones = sa.Table(
    "blob_tombstones",
    blob_metadata,
    sa.Column("firm_id", FIRM, primary_key=True),
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("erased_at", UTCDateTime, nullable=False),
)


class DatabaseBlobStore:
    """Blobs as chunked rows (see the module docstring)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        # Writes begin IMMEDIATE on SQLite (see infra.database), so a read-then-write never
        # meets a stale snapshot; PostgreSQL ignores the option.
        self.writer = engine.execution_options(dossier_write=True)
        blob_metadata.create_all(engine)

    def put(
        self, firm_id: str, chunks: Iterable[bytes], max_bytes: int, *, allow_empty: bool = False
    ) -> StoredBlob:
        hashing = Hashing(max_bytes)
        with tempfile.TemporaryFile() as spool:
            for chunk in chunks:
                hashing.feed(chunk)
                spool.write(chunk)
            if hashing.size == 0 and not allow_empty:
                raise BlobEmpty()
            sha = hashing.sha256
            key = (blob_objects.c.firm_id == firm_id) & (blob_objects.c.sha256 == sha)
            with self.writer.begin() as conn:
                if self._erased(conn, firm_id, sha):
                    raise ContentErased(sha)
                if conn.execute(sa.select(blob_objects.c.size).where(key)).first() is not None:
                    return StoredBlob(sha, hashing.size, hashing.head, created=False)
            spool.seek(0)
            try:
                with self.writer.begin() as conn:
                    conn.execute(
                        sa.insert(blob_objects).values(
                            firm_id=firm_id,
                            sha256=sha,
                            size=hashing.size,
                            stored_at=datetime.now(UTC),
                        )
                    )
                    seq = 0
                    while data := spool.read(CHUNK_BYTES):
                        conn.execute(
                            sa.insert(blob_chunks).values(
                                firm_id=firm_id, sha256=sha, seq=seq, data=data
                            )
                        )
                        seq += 1
            except sa.exc.IntegrityError:
                # Another request stored the same bytes at the same moment: theirs won.
                return StoredBlob(sha, hashing.size, hashing.head, created=False)
            return StoredBlob(sha, hashing.size, hashing.head, created=True)

    @staticmethod
    def _erased(conn: sa.Connection, firm_id: str, sha256: str) -> bool:
        t = blob_tombstones.c
        found = conn.execute(
            sa.select(t.sha256).where(t.firm_id == firm_id, t.sha256 == sha256)
        ).first()
        return found is not None

    def _delete(self, conn: sa.Connection, firm_id: str, sha256: str) -> None:
        conn.execute(
            sa.delete(blob_chunks).where(
                blob_chunks.c.firm_id == firm_id, blob_chunks.c.sha256 == sha256
            )
        )
        conn.execute(
            sa.delete(blob_objects).where(
                blob_objects.c.firm_id == firm_id, blob_objects.c.sha256 == sha256
            )
        )

    def erase(self, firm_id: str, sha256: str) -> None:
        check_sha256(sha256)
        try:
            with self.writer.begin() as conn:
                if not self._erased(conn, firm_id, sha256):
                    conn.execute(
                        sa.insert(blob_tombstones).values(
                            firm_id=firm_id, sha256=sha256, erased_at=datetime.now(UTC)
                        )
                    )
                self._delete(conn, firm_id, sha256)
        except sa.exc.IntegrityError:  # erased concurrently: the tombstone is there
            self.discard(firm_id, sha256)

    def discard(self, firm_id: str, sha256: str) -> None:
        check_sha256(sha256)
        with self.writer.begin() as conn:
            self._delete(conn, firm_id, sha256)

    def exists(self, firm_id: str, sha256: str) -> bool:
        return self.size(firm_id, sha256) is not None

    def size(self, firm_id: str, sha256: str) -> int | None:
        o = blob_objects.c
        with self.engine.connect() as conn:
            if self._erased(conn, firm_id, sha256):
                return None
            row = conn.execute(
                sa.select(o.size).where(o.firm_id == firm_id, o.sha256 == sha256)
            ).first()
        return None if row is None else int(row.size)

    def is_erased(self, firm_id: str, sha256: str) -> bool:
        with self.engine.connect() as conn:
            return self._erased(conn, firm_id, sha256)

    def open(
        self, firm_id: str, sha256: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        check_sha256(sha256)
        size = self.size(firm_id, sha256)
        if size is None:
            raise BlobNotFound(f"no blob {sha256}")
        first, last = byte_range(size, start, end)
        return self._read(firm_id, sha256, first, last)

    def _read(self, firm_id: str, sha256: str, first: int, last: int) -> Iterator[bytes]:
        c = blob_chunks.c
        seq = first // CHUNK_BYTES
        final = last // CHUNK_BYTES
        while seq <= final:
            upto = min(final, seq + CHUNKS_PER_READ - 1)
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(c.seq, c.data)
                    .where(c.firm_id == firm_id, c.sha256 == sha256, c.seq.between(seq, upto))
                    .order_by(c.seq)
                ).all()
            if len(rows) != upto - seq + 1:
                raise BlobNotFound(f"blob {sha256} was removed while it was read")
            for row in rows:
                offset = int(row.seq) * CHUNK_BYTES
                data = bytes(row.data)
                lo = max(first - offset, 0)
                hi = min(last - offset + 1, len(data))
                if lo < hi:
                    yield data[lo:hi]
            seq = upto + 1

    def blobs(self) -> Iterator[BlobInfo]:
        o = blob_objects.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(o.firm_id, o.sha256, o.size, o.stored_at).order_by(o.firm_id, o.sha256)
            ).all()
        for row in rows:
            yield BlobInfo(row.firm_id, row.sha256, int(row.size), row.stored_at)
