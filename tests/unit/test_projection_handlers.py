"""Every projection handler is typed by the event classes it handles."""

from __future__ import annotations

import sqlalchemy as sa

import projections.registry  # noqa: F401  (imports every registered projection)
from domain.quote import Quote
from projections.base import Projection, handler_type_errors, handles


def projection_classes() -> list[type[Projection]]:
    """Every Projection subclass defined in `projections/` that the registry imports.

    (Importing the other modules here would add their tables to the shared metadata, which
    the registry test checks.)
    """
    found: list[type[Projection]] = []
    pending = list(Projection.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("projections.") and cls not in found:
            found.append(cls)
    return found


def test_every_handler_is_annotated_with_the_events_it_handles() -> None:
    classes = projection_classes()
    assert len(classes) >= 9
    errors = [error for cls in classes for error in handler_type_errors(cls)]
    assert not errors, "projection handlers with a wrong event type:\n" + "\n".join(errors)


class Loose(Projection):
    name = "loose"
    tables = ()

    @handles(Quote.QuoteAccepted)
    def right(self, conn: sa.Connection, e: Quote.QuoteAccepted, position: int) -> None:
        pass

    @handles(Quote.QuoteAccepted, Quote.QuoteDeclined)
    def union(
        self, conn: sa.Connection, e: Quote.QuoteAccepted | Quote.QuoteDeclined, position: int
    ) -> None:
        pass

    @handles(Quote.QuoteExpired, Quote.QuoteConverted)  # type: ignore[arg-type]
    def narrow(self, conn: sa.Connection, e: Quote.QuoteExpired, position: int) -> None:
        pass

    @handles(Quote.QuoteIssued)
    def untyped(self, conn, e, position):  # an unannotated handler
        pass


def test_the_check_names_handlers_that_do_not_cover_their_events() -> None:
    where = f"{__name__}.Loose"
    assert handler_type_errors(Loose) == [
        f"{where}.narrow handles Quote.QuoteConverted but its event parameter is annotated "
        "Quote.QuoteExpired",
        f"{where}.untyped: annotate its event parameter with the event class",
    ]
    assert Loose._handlers[Quote.QuoteDeclined] == "union"
