"""Every activity event reads as a sentence of its own, registered next to its projection."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import domain
import projections.registry  # noqa: F401  (imports every projection module, so every sentence)
from domain.actor import ActingContext
from domain.base import Bookkeeping, DossierAggregate, DossierEvent
from domain.client import Client
from domain.staff import StaffMember
from domain.values import StaffRole
from projections.sentences import (
    SENTENCES,
    SUBJECTS,
    Said,
    join_words,
    says,
    sentence_of,
    subject_of,
)
from tests.unit.helpers import FIRM_ID, collect, new_client


def domain_events() -> list[type[DossierEvent]]:
    """Every event class declared in an aggregate of `domain/` (importing each module)."""
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"domain.{module.name}")
    found: list[type[DossierEvent]] = []
    pending: list[type[DossierEvent]] = [DossierEvent]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("domain.") and owner_of(cls) is not None and cls not in found:
            found.append(cls)
    return found


def owner_of(cls: type) -> type[DossierAggregate] | None:
    """The aggregate whose attribute the event class is (eventsourcing redefines each nested
    event class as a subclass of the declared one; only the redefined class is recorded)."""
    module = importlib.import_module(cls.__module__)
    outer = getattr(module, cls.__qualname__.rpartition(".")[0] or "-", None)
    if not (isinstance(outer, type) and issubclass(outer, DossierAggregate)):
        return None
    return outer if getattr(outer, cls.__name__, None) is cls else None


def name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_every_activity_event_has_a_sentence() -> None:
    activity = [cls for cls in domain_events() if not issubclass(cls, Bookkeeping)]
    assert len(activity) >= 35
    missing = sorted(name(cls) for cls in activity if cls not in SENTENCES)
    assert not missing, (
        "these activity events have no sentence; register one with @says(EventClass) in the "
        "feature's projection module (and import that module in projections/registry.py): "
        + ", ".join(missing)
    )


def test_domain_events_leave_sentences_and_names_to_the_projections() -> None:
    stale = sorted(
        f"{name(cls)}.{method}"
        for cls in domain_events()
        for method in ("summarize", "subject_label")
        if any(method in vars(klass) for klass in cls.__mro__)
    )
    assert not stale, (
        "domain events no longer say how they read: move these to @says(EventClass) (the "
        "sentence) or @names(EventClass) (the subject id and label it establishes) in the "
        "feature's projection module: " + ", ".join(stale)
    )


def test_sentences_read_with_the_names_the_history_knows(acting: ActingContext) -> None:
    [added] = collect(
        StaffMember.add(
            firm_id=FIRM_ID,
            user_id="user-bob",
            name="Bob Baker",
            email="bob@example.com",
            role=StaffRole.ADMIN,
        )
    )
    assert subject_of(added) == (f"staff:{FIRM_ID}:user-bob", "Bob Baker")
    client = new_client()
    client.assign_team_member("user-bob")
    [assigned] = collect(client)
    assert subject_of(assigned) is None
    known = {str(client.id): "Acme", f"staff:{FIRM_ID}:user-bob": "Bob Baker"}
    said = Said("Ann", lambda subject, fallback: known.get(subject, fallback))
    assert sentence_of(added, said) == "Ann added Bob Baker to the staff as admin."
    assert sentence_of(assigned, said) == "Ann assigned Bob Baker to the team of Acme."
    forgotten = Said("Ann", lambda subject, fallback: fallback)
    assert sentence_of(assigned, forgotten) == "Ann assigned user-bob to the team of a client."


def test_an_event_has_one_sentence() -> None:
    with pytest.raises(RuntimeError, match="already has a sentence"):
        says(Client.ClientHoldReleased)(lambda e, said: "twice")
    assert SUBJECTS[Client.ClientRegistered] is not None


def test_join_words() -> None:
    assert [join_words(w) for w in ([], ["a"], ["a", "b"], ["a", "b", "c"])] == [
        "",
        "a",
        "a and b",
        "a, b and c",
    ]
