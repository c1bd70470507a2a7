"""Builds and closes the long-lived resources: event store, read-model engine, runner."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import sqlalchemy as sa
import structlog

from domain.audit import ChainVerification
from infra.audit import AuditStore
from infra.blobs import blob_store
from infra.database import DatabaseConfig, create_engine, ensure_schema
from infra.eventstore import EventStore
from infra.history import EventHistory
from infra.live import ActivityFanout
from infra.runner import ProjectionRunner, parked_positions
from infra.services import (
    BillingService,
    ClientsService,
    DocumentsService,
    OrganizationsService,
    QuotesService,
    Services,
    ServiceSubscriptionsService,
)
from infra.services.portal_access import portal_options
from infra.settings import Settings
from projections.billing import invoices
from projections.parked import parked_events
from projections.registry import all_projections
from projections.tables import metadata, tracking

log = structlog.get_logger(__name__)

PARKED_STAMP_BASE = 1_000_003


class Container:
    """Everything a process needs to serve Dossier; nothing connects before `open()`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = DatabaseConfig.parse(settings.database_url, timeout=settings.db_timeout)
        self._store: EventStore | None = None
        self._engine: sa.Engine | None = None
        self._runner: ProjectionRunner | None = None
        self._services: Services | None = None
        self._live: ActivityFanout | None = None

    def open(self, *, start_projections: bool | None = None) -> Container:
        ensure_schema(self.db)
        self._engine = create_engine(self.db)
        metadata.create_all(self._engine)
        self._store = EventStore(env=self.db.eventsourcing_env())
        self._runner = ProjectionRunner(
            self._store,
            self._engine,
            all_projections(),
            poll_interval=self.settings.poll_interval,
        )
        self._services = Services.over(
            self._store, blob_store(self.settings, self._engine), portal_options(self.settings)
        )
        self._live = ActivityFanout(
            self._engine, self.db, self._store.head, options=self.settings.live
        )
        self._runner.listeners.append(self._live.projected)
        run = self.settings.run_projections if start_projections is None else start_projections
        if run:
            self._store.on_saved = self._runner.wake
            self._runner.start()
        log.info("container_opened", backend=self.db.backend, projections_in_process=run)
        return self

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
        if self._runner is not None:
            self._runner.stop()
        if self._store is not None:
            self._store.close()
        if self._engine is not None:
            self._engine.dispose()
        self._store = self._engine = self._runner = self._services = None
        self._live = None

    @property
    def store(self) -> EventStore:
        assert self._store is not None, "container is not open"
        return self._store

    @property
    def engine(self) -> sa.Engine:
        assert self._engine is not None, "container is not open"
        return self._engine

    @property
    def runner(self) -> ProjectionRunner:
        assert self._runner is not None, "container is not open"
        return self._runner

    @property
    def live(self) -> ActivityFanout:
        """The live activity fan-out (one per process)."""
        assert self._live is not None, "container is not open"
        return self._live

    @property
    def services(self) -> Services:
        """The application services (built once in `open()`, over the same store)."""
        assert self._services is not None, "container is not open"
        return self._services

    # Aliases of `services.*` kept for existing callers.

    @property
    def service(self) -> ClientsService:
        return self.services.clients

    @property
    def organizations(self) -> OrganizationsService:
        return self.services.organizations

    @property
    def billing(self) -> BillingService:
        return self.services.billing

    @property
    def quotes(self) -> QuotesService:
        return self.services.quotes

    @property
    def service_subscriptions(self) -> ServiceSubscriptionsService:
        return self.services.subscriptions

    @property
    def documents(self) -> DocumentsService:
        return self.services.documents

    @property
    def history(self) -> EventHistory:
        """Time travel over the event store (audit features only)."""
        return EventHistory(self.store, invoice_ids=self._invoice_ids)

    def _invoice_ids(self, client_id: str) -> list[UUID]:
        """Ids of the client's invoice streams (from the billing read model)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(invoices.c.id).where(invoices.c.client_id == client_id))
            return [UUID(row.id) for row in rows]

    def verify_audit_chains(self, limits: dict[str, int | None]) -> dict[str, ChainVerification]:
        """Recompute clients' audit chains from the stored events (see infra.audit)."""
        return AuditStore(self.store, self.engine).verify_chains(limits)

    def read_model_stamp(self) -> int:
        """What the response cache validates entries with: the read models' position, and how
        many events are parked (a retry of parked events changes rows without moving the
        position). One statement."""
        names = [p.name for p in self.runner.projections]
        parked = sa.select(sa.func.count()).select_from(parked_events).scalar_subquery()
        with self.engine.connect() as conn:
            position, count = conn.execute(
                sa.select(sa.func.min(tracking.c.notification_id), parked).where(
                    tracking.c.application_name.in_(names)
                )
            ).one()
        return int(position or 0) * PARKED_STAMP_BASE + int(count or 0) % PARKED_STAMP_BASE

    def wait_for(
        self, position: int | None, positions: Sequence[int] = (), aggregates: Sequence[str] = ()
    ) -> list[int]:
        """Read-your-writes: wait until the read models include `position`.

        Returns those of `positions` (a command's own events) that a projection parked
        instead of applying, and for a replayed command (whose positions are not known) any
        parked event of the `aggregates` it reported (empty when every read model has them).
        """
        if position is None:
            return []
        self.runner.wait_for(
            position,
            self.settings.read_your_writes_timeout,
            give_up_when_failing_for=self.settings.db_timeout,
        )
        return parked_positions(self.engine, positions, aggregates)
