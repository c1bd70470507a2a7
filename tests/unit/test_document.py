"""The Document aggregate's rules (no I/O): names, folders, tags, versions, first views,
remove/restore, delete (owners and admins, with a reason), erased content."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest

from domain.actor import Actor, ActorKind, acting_as
from domain.document import (
    Document,
    StoredContent,
    check_file_count,
    clean_file_name,
    clean_folder,
)
from domain.errors import InvalidInput, LimitExceeded, RuleViolated

SHA_A = "a" * 64
SHA_B = "b" * 64
OWNER = Actor(id="owner-1", kind=ActorKind.STAFF, name="Olive")


@pytest.fixture(autouse=True)
def as_owner() -> Iterator[None]:
    with acting_as(OWNER, "firm-a", "owner"):
        yield


def new_document(name: str = "report.pdf") -> Document:
    return Document.upload(
        client_id=uuid4(), name=name, size=10, media_type="application/pdf", sha256=SHA_A
    )


@pytest.mark.parametrize(
    "name",
    ["", "   ", "a/b", "a\\b", ".", "..", ".env", "end.", " lead", "trail ", "nul\x00", "x" * 256],
)
def test_refused_file_names(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_file_name("input.files.0.name", name)
    assert refused.value.field == "input.files.0.name"


def test_accepted_file_names_are_nfc() -> None:
    assert clean_file_name("f", "Re\u0301sume\u0301 (final) v2.pdf") == "Résumé (final) v2.pdf"
    assert clean_file_name("f", "x" * 255) == "x" * 255


def test_folders() -> None:
    assert clean_folder("f", None) == ""
    assert clean_folder("f", " /Tax/2024/ ") == "Tax/2024"
    for bad in ("Tax/../x", "Tax//x", "/".join("a" * 11)):
        with pytest.raises(InvalidInput):
            clean_folder("f", bad)


def test_file_count() -> None:
    check_file_count(25)
    with pytest.raises(LimitExceeded) as too_many:
        check_file_count(26)
    assert too_many.value.limit == 25
    with pytest.raises(InvalidInput):
        check_file_count(0)


def test_upload_records_everything_and_empty_files_are_refused() -> None:
    doc = Document.upload(
        client_id=uuid4(),
        name="a.txt",
        size=3,
        media_type="text/plain",
        sha256=SHA_A,
        folder="Tax",
        tags=["x", "X", "y"],
    )
    event = doc.pending_events[0]
    assert isinstance(event, Document.DocumentUploaded)
    assert (event.name, event.size, event.sha256, event.folder, event.tags) == (
        "a.txt",
        3,
        SHA_A,
        "Tax",
        ["x", "y"],
    )
    assert event.actor["id"] == "owner-1"
    with pytest.raises(InvalidInput, match="is empty"):
        Document.upload(client_id=uuid4(), name="e", size=0, media_type="x", sha256=SHA_A)


def test_versions_and_first_views() -> None:
    doc = new_document()
    doc.view("owner-1")
    doc.view("owner-1")
    assert sum(isinstance(e, Document.DocumentViewed) for e in doc.pending_events) == 1
    doc.upload_version(name="report v2.pdf", size=20, media_type="application/pdf", sha256=SHA_B)
    assert doc.version_number == 2 and doc.name == "report v2.pdf"
    assert [v["sha256"] for v in doc.versions] == [SHA_A, SHA_B]
    doc.view("owner-1")  # the new version is new again
    assert sum(isinstance(e, Document.DocumentViewed) for e in doc.pending_events) == 2


def test_remove_restore_and_delete() -> None:
    doc = new_document()
    doc.remove("duplicate")
    with pytest.raises(RuleViolated) as removed:
        doc.rename("other.pdf")
    assert removed.value.rule == "DOCUMENT_REMOVED"
    doc.restore()
    with pytest.raises(RuleViolated) as manager:
        doc.delete("reason", "manager")
    assert manager.value.rule == "DELETE_NOT_ALLOWED"
    with pytest.raises(InvalidInput):
        doc.delete("  ", "owner")
    doc.delete("sent to the wrong client", "admin")
    deleted = doc.pending_events[-1]
    assert isinstance(deleted, Document.DocumentDeleted)
    assert deleted.erased[0]["sha256"] == SHA_A and deleted.reason == "sent to the wrong client"
    with pytest.raises(RuleViolated) as again:
        doc.view("owner-1")
    assert again.value.rule == "DOCUMENT_DELETED"


def test_erased_content_is_never_stored_again() -> None:
    doc = new_document()
    content = StoredContent.reference(firm_id="firm-a", sha256=SHA_A, document_id=doc.id)
    content.check_storable()
    content.erase(doc.client_id, doc.id)
    with pytest.raises(RuleViolated) as erased:
        content.check_storable()
    assert erased.value.rule == "CONTENT_ERASED"
