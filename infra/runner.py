"""The projection runner: follows the notification log and updates every read model.

Each batch is applied to every projection in one transaction together with their tracking
records, after locking each record (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite), so
two runners on one database never apply an event twice, and the read models move together.
The SQLite recorder cannot subscribe(), so the runner polls, and is woken at once after a save
in the same process.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import structlog
from eventsourcing.persistence import Notification, Tracking
from sqlalchemy.dialects import postgresql, sqlite

from infra.database import writer
from infra.db_errors import is_connectivity, is_transient
from infra.eventstore import EventStore
from infra.supervised import Supervised
from projections.base import Projection
from projections.parked import (
    ParkedEvent,
    clear_parked,
    held_subjects,
    park,
    parked_among,
    parked_counts_in,
    parked_list,
    still_failing,
    unpark,
)
from projections.tables import tracking
from projections.tracking import insert_tracking, select_tracking

log = structlog.get_logger(__name__)

BATCH_SIZE = 500
STUCK_LIMIT = 5
"""Failures in a row of one batch with the same transient (not connectivity) error after which
the event that keeps failing is parked rather than retried for ever."""


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


@dataclass(frozen=True)
class Entry:
    """One event of a batch: its position, the decoded event (or why it could not be decoded)."""

    position: int
    notification: Notification
    event: Any
    decode_error: BaseException | None = None
    subject: str = ""
    """What later events are parked behind when this one is: its client, else its stream."""

    @property
    def aggregate(self) -> str:
        return str(self.notification.originator_id)

    def held_by(self, held: dict[str, int]) -> int | None:
        """The parked position this event must wait behind (by its client or its stream)."""
        found = held.get(self.subject)
        return found if found is not None else held.get(self.aggregate)

    @property
    def event_type(self) -> str:
        if self.event is not None:
            return type(self.event).__name__
        return self.notification.topic.rsplit(":", 1)[-1].rsplit(".", 1)[-1][:200]


class _HandlerFailed(Exception):
    """A projection raised a non-transient error: the batch is re-applied event by event."""


class Backoff:
    """Capped exponential delays with jitter, for retrying transient failures."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.first * (2.0**self.failures))
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


class ProjectionRunner(Supervised):
    """Applies new events to every projection, in a supervised background thread or on demand.

    An event a projection cannot apply is parked for that projection (see projections.parked)
    and the runner goes on; transient database errors are retried with capped backoff and never
    end the runner; if its thread dies anyway, a supervisor starts a new one.
    """

    thread_name = "projections"
    restart_event = "projection_runner_restarted"

    def __init__(
        self,
        store: EventStore,
        engine: sa.Engine,
        projections: Sequence[Projection],
        *,
        poll_interval: float = 0.2,
        batch_size: int = BATCH_SIZE,
        supervise_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.engine = engine
        self.projections = list(projections)
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        super().__init__(supervise_interval)
        self._changed = threading.Condition()
        self._step_lock = threading.Lock()
        self.error: BaseException | None = None
        """The last failure of the background thread, None once a step succeeds again."""
        self.failing_since: float | None = None
        self.last_progress = time.monotonic()
        self._stuck_at = (0, 0)  # (batch start, failures in a row)
        self.batch_observers: list[Callable[[str, float, int], None]] = []
        """Called with (projection name, seconds, events applied) after each batch."""
        ensure_tracking_rows(engine, self.projections)
        self.positions = tracking_positions(engine, [p.name for p in self.projections])
        self.listeners: list[Callable[[int], None]] = []

    # Lifecycle --------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.projections]

    @property
    def alive(self) -> bool:
        """The background thread is running and its last step did not fail."""
        return self.thread_alive and self.error is None

    def run_forever(self) -> None:
        """Step until stopped; failures are logged and retried with backoff, never fatal."""
        backoff = Backoff()
        while not self._stopping.is_set():
            try:
                progressed = self.step()
            except Exception as error:
                self._failed(error)
                self._stopping.wait(backoff.next_delay())
                continue
            if backoff.failures:
                log.info("projection_runner_recovered", after_failures=backoff.failures)
            self.error = self.failing_since = None
            backoff.reset()
            if not progressed:
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    def _failed(self, error: BaseException) -> None:
        if self.error is None:
            self.failing_since = time.monotonic()
        self.error = error
        if is_transient(error):
            log.warning("projection_runner_retrying", error_class=type(error).__name__)
        else:
            log.exception("projection_runner_failed", error_class=type(error).__name__)
        with self._changed:
            self._changed.notify_all()

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
                self.positions = tracking_positions(self.engine, self.names)
                return False
            entries = [self._decode(n) for n in notifications]
            try:
                try:
                    reached = self._apply_batch(self.projections, start, entries, careful=False)
                except _HandlerFailed:
                    reached = self._apply_batch(self.projections, start, entries, careful=True)
            except Exception as error:
                if not self._stuck(start, error):
                    raise
                # The same batch failed "transiently" (a statement timeout, say, but never a
                # lost connection) time after time: the event that keeps failing is parked.
                log.error("projection_batch_stuck", position=start, attempts=STUCK_LIMIT)
                reached = self._apply_batch(
                    self.projections, start, entries, careful=True, park_transient=True
                )
            self._stuck_at = (0, 0)
            self.positions.update(reached)
            self.last_progress = time.monotonic()
            self.error = self.failing_since = None
            last = entries[-1].position
        with self._changed:
            self._changed.notify_all()
        for listener in self.listeners:
            listener(last)
        return True

    def _stuck(self, start: int, error: BaseException) -> bool:
        """Count a transient, non-connectivity failure of the batch at `start`; True once the
        same batch has failed STUCK_LIMIT times in a row."""
        if not is_transient(error) or is_connectivity(error):
            return False
        at, count = self._stuck_at
        count = count + 1 if at == start else 1
        self._stuck_at = (start, count)
        return count >= STUCK_LIMIT

    def _decode(self, notification: Notification) -> Entry:
        """The event and its subject; one that no code can read any more is parked everywhere."""
        stream = str(notification.originator_id)
        try:
            event = self.store.mapper.to_domain_event(notification)
            about = getattr(event, "about_client", None)
            client = about() if callable(about) else None
        except Exception as error:
            return Entry(notification.id, notification, None, error, stream)
        return Entry(notification.id, notification, event, None, str(client or stream))

    def _apply_batch(
        self,
        projections: Sequence[Projection],
        start: int,
        entries: Sequence[Entry],
        *,
        careful: bool,
        park_transient: bool = False,
    ) -> dict[str, int]:
        """Apply a batch to the projections in one transaction with their tracking rows.

        The tracking rows are locked first (in name order), so a second runner waits and then
        skips what this one applied. Without `careful`, the first handler failure aborts the
        whole transaction (cheap when nothing fails); with it, each event runs in a savepoint
        and a failure parks the event instead.
        """
        names = sorted(p.name for p in projections)
        with writer(self.engine).begin() as conn:
            current = lock_tracking(conn, names)
            held = held_subjects(conn, names)
            reached: dict[str, int] = {}
            for projection in projections:
                began = time.perf_counter()
                position, applied = self._apply_in(
                    conn,
                    projection,
                    current.get(projection.name, 0),
                    start,
                    entries,
                    held.setdefault(projection.name, {}),
                    careful=careful,
                    park_transient=park_transient,
                )
                reached[projection.name] = position
                for observe in self.batch_observers:
                    observe(projection.name, time.perf_counter() - began, applied)
        return reached

    def _apply_in(
        self,
        conn: sa.Connection,
        projection: Projection,
        current: int,
        start: int,
        entries: Sequence[Entry],
        held: dict[str, int],
        *,
        careful: bool,
        park_transient: bool = False,
    ) -> tuple[int, int]:
        """Apply the events after the projection's position; returns (new position, applied)."""
        if start > current + 1:
            # The batch was read from beyond this projection's position (it was reset, e.g.
            # by a rebuild in another process): apply nothing; the caller re-reads from there.
            return current, 0
        todo = [entry for entry in entries if entry.position > current]
        if not todo:
            return current, 0
        for entry in todo:
            behind = entry.held_by(held)
            if behind is not None:
                if entry.event is None or projection.concerns(entry.event):
                    self._park(conn, projection, entry, None, held_behind=behind)
            elif entry.decode_error is not None:
                self._park(conn, projection, entry, entry.decode_error)
                self._hold(held, entry)
            elif careful:
                savepoint = conn.begin_nested()
                try:
                    projection.process(conn, entry.event, entry.position, entry.notification)
                except Exception as error:
                    savepoint.rollback()
                    if is_transient(error) and (is_connectivity(error) or not park_transient):
                        raise
                    self._park(conn, projection, entry, error)
                    self._hold(held, entry)
                else:
                    savepoint.commit()
            else:
                try:
                    projection.process(conn, entry.event, entry.position, entry.notification)
                except Exception as error:
                    if is_transient(error):
                        raise
                    raise _HandlerFailed(projection.name, entry.position) from error
        insert_tracking(conn, Tracking(projection.name, todo[-1].position))
        return todo[-1].position, len(todo)

    @staticmethod
    def _hold(held: dict[str, int], entry: Entry) -> None:
        """Later events about the same client, or of the same stream, wait behind this one."""
        held.setdefault(entry.subject, entry.position)
        held.setdefault(entry.aggregate, entry.position)

    @staticmethod
    def _park(
        conn: sa.Connection,
        projection: Projection,
        entry: Entry,
        error: BaseException | None,
        *,
        held_behind: int | None = None,
    ) -> None:
        firm = getattr(entry.event, "firm_id", None)
        park(
            conn,
            projection=projection.name,
            position=entry.position,
            event_type=entry.event_type,
            aggregate_id=str(entry.notification.originator_id),
            subject_id=entry.subject,
            firm_id=firm if isinstance(firm, str) else None,
            error=error,
            held_behind=held_behind,
        )
        if error is not None:
            log.error(
                "event_parked",
                projection=projection.name,
                position=entry.position,
                event_type=entry.event_type,
                aggregate_id=str(entry.notification.originator_id),
                subject_id=entry.subject,
                firm_id=firm,
                error_class=type(error).__name__,
                error=str(error)[:2000],
            )

    def catch_up(self, on_batch: Callable[[int], None] | None = None) -> int:
        """Apply everything recorded so far, synchronously; returns the position reached."""
        while self.step():
            if on_batch is not None:
                on_batch(self.position)
        return self.position

    def wait_for(
        self, position: int, timeout: float, *, give_up_when_failing_for: float | None = None
    ) -> None:
        """Block until every projection has processed `position` (read-your-writes).

        Raises ReadYourWritesTimeout when that takes longer than `timeout`, or, with
        `give_up_when_failing_for`, as soon as this process's runner has been failing (for
        example on an unreachable database) for that long.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.position < position:
                now = time.monotonic()
                failing = self.failing_since
                if now >= deadline or (
                    give_up_when_failing_for is not None
                    and failing is not None
                    and now - failing >= give_up_when_failing_for
                ):
                    raise ReadYourWritesTimeout(f"projections did not reach position {position}")
                remaining = deadline - now
                self._wake.set()
                self._changed.wait(min(remaining, self.poll_interval))
                if not self.running and not self._stopping.is_set():
                    # No background thread in this process: poll the tracking records.
                    self.positions = tracking_positions(self.engine, self.names)

    # Parked events ------------------------------------------------------------

    def parked(self, projection: str | None = None) -> list[ParkedEvent]:
        """Events set aside, by projection and position."""
        with self.engine.connect() as conn:
            return parked_list(conn, projection)

    def retry_parked(self, projection: str | None = None) -> RetryReport:
        """Re-apply parked events in their original order, after a fix.

        Each event runs in a savepoint with its original position; one that fails again stays
        parked (with later events about the same subject behind it). The projection's tracking
        row is locked meanwhile, so its runner waits.
        """
        report = RetryReport()
        chosen = [p for p in self.projections if projection in (None, p.name)]
        if projection is not None and not chosen:
            raise ValueError(f"no projection named {projection!r}")
        with self._step_lock:
            for target in chosen:
                with writer(self.engine).begin() as conn:
                    lock_tracking(conn, [target.name])
                    failing: dict[str, int] = {}
                    for parked in parked_list(conn, target.name):
                        self._retry_one(conn, target, parked, failing, report)
        with self._changed:
            self._changed.notify_all()
        return report

    def _retry_one(
        self,
        conn: sa.Connection,
        projection: Projection,
        parked: ParkedEvent,
        failing: dict[str, int],
        report: RetryReport,
    ) -> None:
        behind = failing.get(parked.subject_id, failing.get(parked.aggregate_id))
        if behind is not None:
            still_failing(conn, projection.name, parked.position, None, behind)
            report.still_parked += 1
            return
        notifications = self.store.recorder.select_notifications(start=parked.position, limit=1)
        if not notifications or notifications[0].id != parked.position:
            raise LookupError(f"no stored event at position {parked.position}")
        entry = self._decode(notifications[0])
        error = entry.decode_error
        if error is None:
            savepoint = conn.begin_nested()
            try:
                projection.process(conn, entry.event, entry.position, entry.notification)
            except Exception as failure:
                savepoint.rollback()
                if is_transient(failure):
                    raise
                error = failure
            else:
                savepoint.commit()
        if error is None:
            unpark(conn, projection.name, parked.position)
            report.applied += 1
            log.info("parked_event_applied", projection=projection.name, position=parked.position)
            return
        still_failing(conn, projection.name, parked.position, error, None)
        failing.setdefault(parked.subject_id, parked.position)
        failing.setdefault(parked.aggregate_id, parked.position)
        report.still_parked += 1
        log.error(
            "parked_event_failed_again",
            projection=projection.name,
            position=parked.position,
            error_class=type(error).__name__,
            error=str(error)[:2000],
        )

    # Rebuild ------------------------------------------------------------------

    def rebuild(self, projection: Projection, on_batch: Callable[[int], None] | None = None) -> int:
        """Drop a projection's rows, parked events and tracking record; replay from position 0."""
        with self._step_lock:
            with writer(self.engine).begin() as conn:
                select_tracking(conn, projection.name, for_update=True)
                projection.clear(conn)
                clear_parked(conn, projection.name)
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
                entries = [self._decode(n) for n in notifications]
                try:
                    reached = self._apply_batch([projection], position + 1, entries, careful=False)
                except _HandlerFailed:
                    reached = self._apply_batch([projection], position + 1, entries, careful=True)
                position = reached[projection.name]
                self.positions[projection.name] = position
                if on_batch is not None:
                    on_batch(position)
            return position


@dataclass
class RetryReport:
    """What a retry of parked events did."""

    applied: int = 0
    still_parked: int = 0


def lock_tracking(conn: sa.Connection, names: Sequence[str]) -> dict[str, int]:
    """Lock the named tracking rows (in name order) and return their positions."""
    query = (
        sa.select(tracking.c.application_name, tracking.c.notification_id)
        .where(tracking.c.application_name.in_(sorted(names)))
        .order_by(tracking.c.application_name)
        .with_for_update()
    )
    return {str(name): int(pos) for name, pos in conn.execute(query).all()}


def parked_counts(engine: sa.Engine) -> dict[str, int]:
    """Projection name → number of parked events, as the database says (any process)."""
    with engine.connect() as conn:
        return parked_counts_in(conn)


def parked_positions(
    engine: sa.Engine, positions: Sequence[int], aggregates: Sequence[str] = ()
) -> list[int]:
    """Which of these positions some projection has parked (and any parked event of these
    aggregates or about these clients)."""
    if not positions and not aggregates:
        return []
    with engine.connect() as conn:
        return parked_among(conn, positions, aggregates)
