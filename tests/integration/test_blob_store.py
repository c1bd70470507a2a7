"""The blob stores (directory and PostgreSQL-chunked) and the documents service's bookkeeping
of blobs: limits while streaming, firm namespaces, tombstones, ranges, the sweep.

Every test runs against both stores; the database store runs on the test's database (SQLite,
and the test PostgreSQL schema)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from domain.actor import Actor, ActorKind, acting_as
from domain.errors import RuleViolated
from domain.values import ClientType
from infra.blobs import (
    BlobEmpty,
    BlobNotFound,
    BlobStore,
    BlobTooLarge,
    ContentErased,
    DatabaseBlobStore,
    DirectoryBlobStore,
)
from infra.blobs.database import CHUNK_BYTES, blob_chunks
from infra.container import Container
from infra.services.documents import DocumentsService, FileBytes
from infra.services.unit_of_work import Outcome

OWNER = Actor(id="owner-1", kind=ActorKind.STAFF, name="Olive Owner")


@pytest.fixture(params=["directory", "postgresql"])
def blobs(request: pytest.FixtureRequest, container: Container, tmp_path: Path) -> BlobStore:
    if request.param == "directory":
        return DirectoryBlobStore(tmp_path / "blobs")
    return DatabaseBlobStore(container.engine)


def chunks(data: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_put_hashes_streams_and_reads_ranges(blobs: BlobStore) -> None:
    data = bytes(range(256)) * 2100  # over two 256 KiB chunks in the database store
    stored = blobs.put("firm-a", chunks(data, 7000), 10**7)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert (stored.size, stored.created) == (len(data), True)
    assert stored.head == data[:8192]
    assert b"".join(blobs.open("firm-a", stored.sha256)) == data
    first, last = CHUNK_BYTES - 10, CHUNK_BYTES + 10
    assert b"".join(blobs.open("firm-a", stored.sha256, first, last)) == data[first : last + 1]
    assert b"".join(blobs.open("firm-a", stored.sha256, len(data) - 3)) == data[-3:]
    again = blobs.put("firm-a", [data], 10**7)
    assert (again.sha256, again.created) == (stored.sha256, False)
    assert blobs.size("firm-a", stored.sha256) == len(data)


def test_too_large_and_empty_leave_nothing(blobs: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(BlobTooLarge):
        blobs.put("firm-a", chunks(b"x" * 5001), 5000)
    with pytest.raises(BlobEmpty):
        blobs.put("firm-a", [], 5000)
    assert list(blobs.blobs()) == []
    staging = tmp_path / "blobs" / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []
    exact = blobs.put("firm-a", chunks(b"x" * 5000), 5000)
    assert exact.size == 5000


def test_firms_never_share_a_blob(blobs: BlobStore) -> None:
    a = blobs.put("firm-a", [b"same bytes"], 100)
    b = blobs.put("firm-b", [b"same bytes"], 100)
    assert a.sha256 == b.sha256 and a.created and b.created
    blobs.erase("firm-a", a.sha256)
    assert not blobs.exists("firm-a", a.sha256)
    assert b"".join(blobs.open("firm-b", b.sha256)) == b"same bytes"
    with pytest.raises(BlobNotFound):
        blobs.open("firm-a", a.sha256)
    assert [(i.firm_id, i.sha256) for i in blobs.blobs()] == [("firm-b", b.sha256)]


def test_an_erased_hash_is_never_stored_again(blobs: BlobStore) -> None:
    stored = blobs.put("firm-a", [b"secret"], 100)
    blobs.erase("firm-a", stored.sha256)
    blobs.erase("firm-a", stored.sha256)  # idempotent
    assert blobs.is_erased("firm-a", stored.sha256)
    with pytest.raises(ContentErased) as refused:
        blobs.put("firm-a", [b"secret"], 100)
    assert isinstance(refused.value, RuleViolated) and refused.value.rule == "CONTENT_ERASED"
    assert not blobs.exists("firm-a", stored.sha256)


def test_database_store_keeps_chunks_of_256_kib(container: Container) -> None:
    store = DatabaseBlobStore(container.engine)
    data = b"y" * (CHUNK_BYTES * 2 + 5)
    stored = store.put("firm-a", [data], 10**7)
    with container.engine.connect() as conn:
        sizes = [len(r.data) for r in conn.execute(blob_chunks.select().order_by("seq"))]
    assert sizes == [CHUNK_BYTES, CHUNK_BYTES, 5]
    store.discard("firm-a", stored.sha256)
    with container.engine.connect() as conn:
        assert conn.execute(blob_chunks.select()).all() == []


def test_the_sweep_removes_unreferenced_blobs_and_finishes_erasures(
    container: Container, blobs: BlobStore
) -> None:
    service = DocumentsService(container.services.uow, blobs)
    with acting_as(OWNER, "firm-a", "owner"):
        client_id = UUID(
            container.service.register_client(name="Acme", client_type=ClientType.COMPANY).ids[
                "client_id"
            ]
        )
        kept = service.upload_documents(client_id, [FileBytes("kept.txt", b"kept")])
        deleted = service.upload_documents(client_id, [FileBytes("gone.txt", b"gone")])
        orphan = blobs.put("firm-a", [b"crash before the event"], 100)  # no event
        gone_id = UUID(deleted.ids["document_ids"])
        # A crash after recording the deletion but before erasing the bytes:
        service.blobs = Unerasing(blobs)  # type: ignore[assignment]
        service.delete_document(gone_id, "wrong client")
        service.blobs = blobs
    assert len(list(blobs.blobs())) == 3
    young = service.sweep_blobs()  # the orphan is younger than the grace period
    assert young.removed == []
    assert young.erased == [("firm-a", hashlib.sha256(b"gone").hexdigest())]
    report = service.sweep_blobs(older_than=timedelta(0))
    assert report.removed == [("firm-a", orphan.sha256)]
    left = [i.sha256 for i in blobs.blobs()]
    assert left == [hashlib.sha256(b"kept").hexdigest()]
    assert kept.ids["document_ids"]


def test_a_failed_save_discards_the_new_blobs(container: Container, blobs: BlobStore) -> None:
    service = DocumentsService(container.services.uow, blobs)
    with acting_as(OWNER, "firm-a", "owner"):
        client_id = UUID(
            container.service.register_client(name="Acme", client_type=ClientType.COMPANY).ids[
                "client_id"
            ]
        )
        service.upload_documents(client_id, [FileBytes("a.txt", b"already here")])
        head = container.store.head()
        failing = RefusingService(container.services.uow, blobs)
        with pytest.raises(RuleViolated):
            failing.upload_documents(
                client_id, [FileBytes("b.txt", b"already here"), FileBytes("c.txt", b"new bytes")]
            )
    assert container.store.head() == head
    # The new blob is gone; the one a recorded document references stays.
    assert [i.sha256 for i in blobs.blobs()] == [hashlib.sha256(b"already here").hexdigest()]


class RefusingService(DocumentsService):
    """Receives files, then fails while recording (as a lost database would)."""

    def add_documents(self, *args: object, **kwargs: object) -> Outcome:
        raise RuleViolated("TEST", "refused while recording")


class Unerasing:
    """A blob store whose erase does nothing (a crash right after the deletion was saved)."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner

    def erase(self, firm_id: str, sha256: str) -> None:
        pass

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)
