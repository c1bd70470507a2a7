"""The per-request context: viewer, loaders and the ports to the application."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from uuid import UUID

import anyio.to_thread

from domain import access
from domain.actor import acting_as
from domain.errors import DomainError
from resolvers.billing import BillingLoaders
from resolvers.commands import failure_of, local_id
from resolvers.errors import forbidden, recorded_not_projected, unauthenticated, unavailable
from resolvers.loaders import FeatureLoaders, Loaders
from resolvers.pages import PageLoaders
from resolvers.portal_access import session_refusal
from resolvers.ports import Outcome, Ports
from resolvers.staff_roles import Standing, standing
from resolvers.viewer import Viewer

T = TypeVar("T")
L = TypeVar("L", bound=FeatureLoaders)

STANDING_TTL = 5.0
"""Seconds a context keeps what the staff records said (an HTTP request lives shorter; a
websocket connection's context re-reads them for a subscribe after this)."""


@dataclass
class RequestContext:
    """Everything a resolver may use while answering one request."""

    ports: Ports
    viewer: Viewer | None
    auth_error: str | None = None
    request_id: str | None = None
    _loaders: Loaders | None = field(default=None, repr=False)
    _features: dict[type[Any], Any] = field(default_factory=dict, repr=False)
    # What the staff records said of `viewer` (the token's), and when (time.monotonic()).
    _standing: tuple[Viewer, Standing, float] | None = field(default=None, repr=False)
    # Why the contact token's session is refused (None: valid), and when it was read.
    _contact_session: tuple[Viewer, str | None, float] | None = field(default=None, repr=False)

    # Authorization ------------------------------------------------------------

    def require_viewer(self) -> Viewer:
        """The authenticated staff viewer, with the role the firm's staff records give it;
        anything else is a top-level error (UNAUTHENTICATED without a valid token, FORBIDDEN
        for a contact or for someone the records refuse)."""
        if self.viewer is None:
            raise unauthenticated(self.auth_error or "a valid bearer token is required")
        if not self.viewer.is_staff:
            self.require_contact()  # a revoked contact's session is UNAUTHENTICATED
            raise forbidden("the client portal is not available yet")
        found = self._known_standing(self.viewer)
        if found is None:
            found = standing(self.ports.engine, self.viewer)
            self.remember_standing(self.viewer, found)
        if found.viewer is None:
            raise forbidden(found.refusal or "you are not on this firm's staff")
        return found.viewer

    def require_contact(self) -> Viewer:
        """The authenticated contact, while its portal session is valid (resolvers.
        portal_access: read once per request, like the staff standing): UNAUTHENTICATED without
        a valid token or for a revoked session, FORBIDDEN for staff."""
        viewer = self.viewer
        if viewer is None:
            raise unauthenticated(self.auth_error or "a valid bearer token is required")
        if viewer.role != "contact":
            raise forbidden("only a client's contact has a portal session")
        known = self._contact_session
        if known is None or known[0] is not viewer or time.monotonic() - known[2] > STANDING_TTL:
            known = (viewer, session_refusal(self.ports.engine, viewer), time.monotonic())
            self._contact_session = known
        if known[1] is not None:
            raise unauthenticated(known[1])
        return viewer

    def _known_standing(self, viewer: Viewer) -> Standing | None:
        known = self._standing
        if known is None or known[0] is not viewer:
            return None
        if time.monotonic() - known[2] > STANDING_TTL:
            return None
        return known[1]

    def remember_standing(self, viewer: Viewer, found: Standing) -> None:
        """Keep what the staff records said of this token viewer (e.g. read ahead in a worker
        thread by `resolve_standing`, or by the response cache)."""
        self._standing = (viewer, found, time.monotonic())

    async def resolve_standing(self) -> None:
        """Read the viewer's standing in a worker thread, so that `require_viewer` does not
        query the database on the event loop. A failure is left for `require_viewer` to meet
        inside a resolver, where a database outage becomes SERVICE_UNAVAILABLE."""
        viewer = self.viewer
        if viewer is not None and viewer.role == "contact" and self._contact_session is None:
            try:  # the contact's portal session, likewise
                refusal = await anyio.to_thread.run_sync(session_refusal, self.ports.engine, viewer)
            except Exception:
                return
            self._contact_session = (viewer, refusal, time.monotonic())
            return
        if viewer is None or not viewer.is_staff or self._known_standing(viewer) is not None:
            return
        try:
            found = await anyio.to_thread.run_sync(standing, self.ports.engine, viewer)
        except Exception:
            return
        self.remember_standing(viewer, found)

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
        """The request's core loaders (clients, contacts, staff, comments, activity)."""
        if self._loaders is None:
            self._loaders = Loaders(self.ports, self.require_viewer())
        return self._loaders

    def loaders_of(self, kind: type[L]) -> L:
        """The request's loaders of one feature (`QuoteLoaders`, `BillingLoaders`...).

        The one registry of per-request loaders: each feature's loader class takes the core
        `Loaders` and is created on first use, once per request (and again after
        `forget_loaded`), so every list under a list is batched into one statement.
        """
        found = self._features.get(kind)
        if found is None:
            found = self._features[kind] = kind(self.loaders)
        return cast(L, found)

    @property
    def pages(self) -> PageLoaders:
        return self.loaders_of(PageLoaders)

    @property
    def billing(self) -> BillingLoaders:
        return self.loaders_of(BillingLoaders)

    def forget_loaded(self) -> None:
        """Drop cached reads (after a mutation, so its payload shows the new state)."""
        self._loaders = None
        self._features.clear()

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
                replayed = bool(getattr(result, "replayed", False))
                parked = self.ports.wait_for(
                    getattr(result, "position", None),
                    getattr(result, "positions", ()),
                    # A replay does not know its first request's positions: look for parked
                    # events of what that request reported.
                    list(getattr(result, "ids", {}).values()) if replayed else (),
                )
            except TimeoutError:
                raise unavailable(
                    "the change was recorded but the read models have not caught up yet; "
                    "if you sent an idempotencyKey, repeat the request with the same key to "
                    "read its result"
                ) from None
            return result, parked

        result, parked = await anyio.to_thread.run_sync(work)
        if parked:
            raise recorded_not_projected(parked[0])
        self.forget_loaded()
        return result

    async def run(
        self,
        call: Callable[[Ports], Outcome],
        *,
        given: Mapping[str, str | None] | None = None,
        own: bool = False,
    ) -> Outcome:
        """Run a command as the viewer and wait until the read models include it (`execute`).

        Only roles that may make changes may run commands, unless `own`: a command on the
        viewer's own marks (what they have seen), which any viewer the field's permission let
        through may run, watchers included.

        An expected domain failure is raised as a `resolvers.commands.Failure` (a NOT_FOUND names
        the id the caller gave for that kind in `given`); one no result union has a member for
        is a top-level error (IDEMPOTENCY_KEY_REUSED, SERVICE_UNAVAILABLE).
        """
        viewer = self.require_viewer() if own else self.require_mutator()
        try:
            return await self.execute(viewer, lambda: call(self.ports))
        except DomainError as error:
            raise failure_of(error, given or {}) from None

    async def run_on(
        self,
        kind: str,
        global_id: str,
        act: Callable[[Ports, UUID], Outcome],
        *,
        given: Mapping[str, str | None] | None = None,
        own: bool = False,
    ) -> Outcome:
        """`run` a command on one entity named by the caller's global id of `kind`.

        The id is decoded first (NOT_FOUND naming it when it is of another kind, as
        `resolvers.commands.local_id`); `act` gets the ports and the uuid; a NOT_FOUND of the
        command names `global_id` for `kind` (and the ids in `given` for other kinds).
        """
        found = local_id(global_id, kind)
        return await self.run(
            lambda app: act(app, found), given={kind: global_id, **(given or {})}, own=own
        )
