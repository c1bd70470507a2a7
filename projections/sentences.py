"""The activity history's sentences and subjects: two tables keyed by event class.

Every feature says how its events read in the history next to its projection, with
`@says(EventClass, ...)`; the activity projection looks the event's class up in `SENTENCES`.
A sentence function gets the event and a `Said`: the actor's display name (`who`) and the
last known names of the subjects it mentions (`name_of`, `client`, `staff`), as the history
knew them when the event was projected.

An event that gives something a name (a client registered, an invoice issued as "invoice
INV-1") says so with `@names(EventClass)`: the function returns (subject id, label), or None
when this event does not name anything; later sentences find the label through `Said`.

Both decorators are typed by the classes they are given: the function's event parameter must
accept every one of them (annotate it with the class, or a union for several), and mypy checks
its body against that type. `projections/registry.py` imports every projection module, so every
sentence is registered before a runner builds the activity projection;
`tests/unit/test_sentences.py` fails for an activity event without a sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar, overload

from domain.base import DossierEvent

E = TypeVar("E")
E1 = TypeVar("E1", bound=DossierEvent)
E2 = TypeVar("E2", bound=DossierEvent)
E3 = TypeVar("E3", bound=DossierEvent)
E4 = TypeVar("E4", bound=DossierEvent)

Label = Callable[[str, str], str]
"""label(subject id, fallback): the last known name of a subject."""


@dataclass(frozen=True)
class Said:
    """What a sentence may use besides its event."""

    who: str
    label: Label

    def name_of(self, subject: object, fallback: str) -> str:
        """The last known name of a subject (a client's or contact's uuid, an invoice...)."""
        return self.label(str(subject), fallback)

    def client(self, event: DossierEvent) -> str:
        """The name of the client the event is about."""
        return self.label(str(event.about_client()), "a client")

    def staff(self, event: DossierEvent, user_id: str) -> str:
        """The name of a staff member of the event's firm."""
        return self.label(staff_subject(event.firm_id, user_id), user_id)


def staff_subject(firm_id: str, user_id: str) -> str:
    """The subject id under which a staff member's name is remembered."""
    return f"staff:{firm_id}:{user_id}"


SentenceOf: TypeAlias = Callable[[E, Said], str]
Sentence = SentenceOf[Any]
SubjectOf: TypeAlias = Callable[[E], "tuple[str, str] | None"]
Subject = SubjectOf[Any]

SENTENCES: dict[type[Any], Sentence] = {}
"""Event class → the sentence it reads as in the activity history."""

SUBJECTS: dict[type[Any], Subject] = {}
"""Event class → the (subject id, label) it establishes, or None."""


def _register(table: dict[type[Any], Any], what: str, classes: tuple[type[Any], ...]) -> Any:
    def register(function: Any) -> Any:
        for event_class in classes:
            if event_class in table:
                raise RuntimeError(f"{event_class.__qualname__} already has a {what}")
            table[event_class] = function
        return function

    return register


@overload
def says(a: type[E1], /) -> Callable[[SentenceOf[E1]], SentenceOf[E1]]: ...
@overload
def says(a: type[E1], b: type[E2], /) -> Callable[[SentenceOf[E1 | E2]], SentenceOf[E1 | E2]]: ...
@overload
def says(
    a: type[E1], b: type[E2], c: type[E3], /
) -> Callable[[SentenceOf[E1 | E2 | E3]], SentenceOf[E1 | E2 | E3]]: ...
@overload
def says(
    a: type[E1], b: type[E2], c: type[E3], d: type[E4], /
) -> Callable[[SentenceOf[E1 | E2 | E3 | E4]], SentenceOf[E1 | E2 | E3 | E4]]: ...
@overload
def says(*event_classes: type[DossierEvent]) -> Callable[[Sentence], Sentence]: ...
def says(*event_classes: type[DossierEvent]) -> Callable[[Sentence], Sentence]:
    """Register the decorated function as the sentence of these event classes."""
    register: Callable[[Sentence], Sentence] = _register(SENTENCES, "sentence", event_classes)
    return register


@overload
def names(a: type[E1], /) -> Callable[[SubjectOf[E1]], SubjectOf[E1]]: ...
@overload
def names(a: type[E1], b: type[E2], /) -> Callable[[SubjectOf[E1 | E2]], SubjectOf[E1 | E2]]: ...
@overload
def names(*event_classes: type[DossierEvent]) -> Callable[[Subject], Subject]: ...
def names(*event_classes: type[DossierEvent]) -> Callable[[Subject], Subject]:
    """Register the decorated function as the (subject id, label) these event classes give."""
    register: Callable[[Subject], Subject] = _register(SUBJECTS, "subject", event_classes)
    return register


def join_words(items: list[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def sentence_of(event: DossierEvent, said: Said) -> str:
    """The event's sentence, or a plain fallback naming its type."""
    sentence = SENTENCES.get(type(event))
    if sentence is None:
        return f"{said.who} recorded {type(event).__name__}."
    return sentence(event, said)


def subject_of(event: DossierEvent) -> tuple[str, str] | None:
    """The (subject id, label) the event establishes, if any."""
    subject = SUBJECTS.get(type(event))
    return None if subject is None else subject(event)
