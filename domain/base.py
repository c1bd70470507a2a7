"""Base aggregate and event classes that stamp actor and firm on every event."""

from __future__ import annotations

from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate, CanInitAggregate

from domain.actor import current_context
from domain.errors import VersionConflict


class ForeignFirm(RuntimeError):
    """A command tried to change an aggregate of a firm other than the acting one."""


class Bookkeeping:
    """Marker for events that keep records (indexes, counters), not activity about anyone."""


class DossierEvent(Aggregate.Event):
    """Every Dossier event carries the firm and the actor (as a plain dict)."""

    firm_id: str
    actor: dict[str, Any]

    def about_client(self) -> UUID | None:
        """The client this event is about, if any (used by the activity history)."""
        return None


class ClientRelatedEvent(DossierEvent):
    """An event of another aggregate's stream (invoice, quote...) that is about a client."""

    client_id: UUID

    def about_client(self) -> UUID | None:
        return self.client_id


class DossierCreated(Aggregate.Created, DossierEvent):
    """Base class of the first event of a Dossier aggregate."""


class DossierAggregate(Aggregate):
    """An aggregate that belongs to one firm; its events record who acted."""

    firm_id: str

    @classmethod
    def _create(
        cls,
        event_class: type[CanInitAggregate[UUID]],
        *,
        id: UUID | None = None,
        **kwargs: Any,
    ) -> Self:
        ctx = current_context()
        if kwargs.setdefault("firm_id", ctx.firm_id) != ctx.firm_id:
            raise ForeignFirm(f"cannot create a {cls.__name__} in another firm")
        kwargs.setdefault("actor", ctx.actor.to_dict())
        return super()._create(event_class, id=id, **kwargs)

    def trigger_event(self, event_class: type[Any], **kwargs: Any) -> None:
        ctx = current_context()
        if ctx.firm_id != self.firm_id:
            raise ForeignFirm(f"{type(self).__name__} {self.id} belongs to another firm")
        kwargs.setdefault("firm_id", self.firm_id)
        kwargs.setdefault("actor", ctx.actor.to_dict())
        super().trigger_event(event_class, **kwargs)

    def check_version(self, expected: int | None) -> None:
        """Raise VersionConflict if the caller expected another version."""
        if expected is not None and expected != self.version:
            raise VersionConflict(expected, self.version)
