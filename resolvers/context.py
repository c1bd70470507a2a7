"""The per-request context: viewer, loaders and the ports to the application."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio.to_thread
import sqlalchemy as sa

from domain import access
from domain.actor import acting_as
from resolvers.billing import BillingLoaders
from resolvers.errors import forbidden, recorded_not_projected, unauthenticated, unavailable
from resolvers.loaders import Loaders
from resolvers.pages import PageLoaders
from resolvers.viewer import Viewer

if TYPE_CHECKING:
    from domain.audit import ChainVerification
    from resolvers.history import HistoryPort

T = TypeVar("T")


class Outcome(Protocol):
    """What a command reports back (see infra.service.Outcome)."""

    @property
    def ids(self) -> dict[str, str]: ...

    @property
    def position(self) -> int | None: ...


class Ports(Protocol):
    """What resolvers need from the composition root."""

    @property
    def engine(self) -> sa.Engine: ...

    @property
    def service(self) -> Any: ...

    @property
    def organizations(self) -> Any: ...

    @property
    def billing(self) -> Any: ...

    @property
    def quotes(self) -> Any: ...

    @property
    def service_subscriptions(self) -> Any: ...

    @property
    def history(self) -> HistoryPort: ...

    def verify_audit_chains(
        self, limits: dict[str, int | None]
    ) -> dict[str, ChainVerification]: ...

    def wait_for(self, position: int | None, positions: Sequence[int] = ()) -> list[int]: ...


@dataclass
class RequestContext:
    """Everything a resolver may use while answering one request."""

    ports: Ports
    viewer: Viewer | None
    auth_error: str | None = None
    request_id: str | None = None
    _loaders: Loaders | None = field(default=None, repr=False)
    _pages: PageLoaders | None = field(default=None, repr=False)
    _billing: BillingLoaders | None = field(default=None, repr=False)
    _audit: Any = field(default=None, repr=False)  # resolvers.audit: per-request loader

    # Authorization ------------------------------------------------------------

    def require_viewer(self) -> Viewer:
        """The authenticated staff viewer; anything else is a top-level error."""
        if self.viewer is None:
            raise unauthenticated(self.auth_error or "a valid bearer token is required")
        if not self.viewer.is_staff:
            raise forbidden("the client portal is not available yet")
        return self.viewer

    def require_mutator(self) -> Viewer:
        viewer = self.require_viewer()
        if not access.can_mutate(viewer.role):
            raise forbidden(f"the {viewer.role} role cannot make changes")
        return viewer

    def require(self, allowed: Callable[[str], bool], what: str) -> Viewer:
        viewer = self.require_mutator()
        if not allowed(viewer.role):
            raise forbidden(f"the {viewer.role} role cannot {what}")
        return viewer

    # Loaders ------------------------------------------------------------------

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.ports.engine, self.require_viewer())
        return self._loaders

    @property
    def pages(self) -> PageLoaders:
        if self._pages is None:
            self._pages = PageLoaders(self.loaders)
        return self._pages

    @property
    def billing(self) -> BillingLoaders:
        if self._billing is None:
            self._billing = BillingLoaders(self.loaders)
        return self._billing

    def forget_loaded(self) -> None:
        """Drop cached reads (after a mutation, so its payload shows the new state)."""
        self._loaders = None
        self._pages = None
        self._billing = None
        self._audit = None

    # Commands -----------------------------------------------------------------

    async def execute(self, viewer: Viewer, command: Callable[[], T]) -> T:
        """Run a command as the viewer, then wait until the read models include it.

        If a read model parked one of the command's events (see projections.parked), the change
        is recorded but cannot be shown: a top-level RECORDED_NOT_PROJECTED error says so.
        """

        def work() -> tuple[T, list[int]]:
            with acting_as(viewer.actor, viewer.firm_id, viewer.role):
                result = command()
            try:
                parked = self.ports.wait_for(
                    getattr(result, "position", None), getattr(result, "positions", ())
                )
            except TimeoutError:
                raise unavailable(
                    "the change was recorded but the read models have not caught up yet; "
                    "repeat the request with the same idempotencyKey to read its result"
                ) from None
            return result, parked

        result, parked = await anyio.to_thread.run_sync(work)
        if parked:
            raise recorded_not_projected(parked[0])
        self.forget_loaded()
        return result
