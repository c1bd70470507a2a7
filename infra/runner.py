"""The projection runner: follows the notification log and updates every read model.

Each batch is applied to every projection in one transaction together with their tracking
records, after locking each record (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite), so
two runners on one database never apply an event twice, and the read models move together.
The SQLite recorder cannot subscribe(), so the runner polls, and is woken at once after a save
in the same process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
import structlog
from eventsourcing.persistence import Notification, Tracking
from sqlalchemy.dialects import postgresql, sqlite

from infra.database import writer
from infra.eventstore import EventStore
from projections.base import Projection
from projections.tables import tracking
from projections.tracking import insert_tracking, select_tracking

log = structlog.get_logger(__name__)

BATCH_SIZE = 500


class ProjectionFailed(RuntimeError):
    """A projection raised while handling an event; its read model stopped at that event."""


class ReadYourWritesTimeout(TimeoutError):
    """The projections did not reach a position within the allowed time."""


def ensure_tracking_rows(engine: sa.Engine, projections: Sequence[Projection]) -> None:
    """Create each projection's tracking row at position 0 if it has none yet.

    Safe when several processes start at once: an existing row is left as it is.
    """
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    rows = [{"application_name": p.name, "notification_id": 0} for p in projections]
    with writer(engine).begin() as conn:
        conn.execute(
            insert(tracking)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["application_name"])
        )


def tracking_positions(engine: sa.Engine, names: Sequence[str]) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(tracking.c.application_name, tracking.c.notification_id).where(
                tracking.c.application_name.in_(names)
            )
        ).all()
    found = {str(name): int(pos) for name, pos in rows}
    return {name: found.get(name, 0) for name in names}


class ProjectionRunner:
    """Applies new events to every projection, in a background thread or on demand."""

    def __init__(
        self,
        store: EventStore,
        engine: sa.Engine,
        projections: Sequence[Projection],
        *,
        poll_interval: float = 0.2,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.store = store
        self.engine = engine
        self.projections = list(projections)
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._step_lock = threading.Lock()
        self.error: BaseException | None = None
        ensure_tracking_rows(engine, self.projections)
        self.positions = tracking_positions(engine, [p.name for p in self.projections])
        self.listeners: list[Callable[[int], None]] = []

    # Lifecycle --------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="projections", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self, _position: int | None = None) -> None:
        self._wake.set()

    def run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                progressed = self.step()
            except BaseException as error:
                self.error = error
                log.exception("projection_failed")
                with self._changed:
                    self._changed.notify_all()
                raise
            if not progressed:
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    # Work -------------------------------------------------------------------

    @property
    def position(self) -> int:
        """The position every projection has reached."""
        return min(self.positions.values()) if self.positions else 0

    def step(self) -> bool:
        """Apply the next batch of events; False when there was nothing new."""
        with self._step_lock:
            start = self.position + 1
            notifications = self.store.recorder.select_notifications(
                start=start, limit=self.batch_size
            )
            if not notifications:
                # Another runner may have moved the tracking records on.
                self.positions = tracking_positions(self.engine, [p.name for p in self.projections])
                return False
            events = [(n.id, self.store.mapper.to_domain_event(n), n) for n in notifications]
            with writer(self.engine).begin() as conn:
                reached = {p.name: self._apply_in(conn, p, start, events) for p in self.projections}
            self.positions.update(reached)
            last = events[-1][0]
        with self._changed:
            self._changed.notify_all()
        for listener in self.listeners:
            listener(last)
        return True

    def _apply(
        self, projection: Projection, start: int, events: list[tuple[int, Any, Notification]]
    ) -> int:
        with writer(self.engine).begin() as conn:
            return self._apply_in(conn, projection, start, events)

    @staticmethod
    def _apply_in(
        conn: sa.Connection,
        projection: Projection,
        start: int,
        events: list[tuple[int, Any, Notification]],
    ) -> int:
        """Apply the events after the projection's tracking position, and advance it.

        The tracking row is locked first, so a second runner waits and then skips what this
        one applied; the caller's transaction makes rows and tracking record one unit.
        """
        current = select_tracking(conn, projection.name, for_update=True) or 0
        if start > current + 1:
            # The batch was read from beyond this projection's position (it was reset, e.g.
            # by a rebuild in another process): apply nothing; the caller re-reads from there.
            return current
        todo = [entry for entry in events if entry[0] > current]
        if not todo:
            return current
        for position, event, stored in todo:
            try:
                projection.process(conn, event, position, stored)
            except Exception as error:
                raise ProjectionFailed(
                    f"projection {projection.name} failed at position {position}"
                    f" ({type(event).__name__}): {error}"
                ) from error
        insert_tracking(conn, Tracking(projection.name, todo[-1][0]))
        return todo[-1][0]

    def catch_up(self, on_batch: Callable[[int], None] | None = None) -> int:
        """Apply everything recorded so far, synchronously; returns the position reached."""
        while self.step():
            if on_batch is not None:
                on_batch(self.position)
        return self.position

    def wait_for(self, position: int, timeout: float) -> None:
        """Block until every projection has processed `position` (read-your-writes)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.position < position:
                if self.error is not None:
                    raise ProjectionFailed(str(self.error)) from self.error
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ReadYourWritesTimeout(f"projections did not reach position {position}")
                self._wake.set()
                self._changed.wait(min(remaining, self.poll_interval))
                if self._thread is None and not self._stopping.is_set():
                    # No background thread in this process: poll the tracking records.
                    self.positions = tracking_positions(
                        self.engine, [p.name for p in self.projections]
                    )

    def rebuild(self, projection: Projection, on_batch: Callable[[int], None] | None = None) -> int:
        """Drop a projection's rows and tracking record and replay it from position 0."""
        with self._step_lock:
            with writer(self.engine).begin() as conn:
                select_tracking(conn, projection.name, for_update=True)
                projection.clear(conn)
                conn.execute(
                    sa.update(tracking)
                    .where(tracking.c.application_name == projection.name)
                    .values(notification_id=0)
                )
            self.positions[projection.name] = 0
            position = 0
            while True:
                notifications = self.store.recorder.select_notifications(
                    start=position + 1, limit=self.batch_size
                )
                if not notifications:
                    break
                events = [(n.id, self.store.mapper.to_domain_event(n), n) for n in notifications]
                position = self._apply(projection, position + 1, events)
                self.positions[projection.name] = position
                if on_batch is not None:
                    on_batch(position)
            return position
