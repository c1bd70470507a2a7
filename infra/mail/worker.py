"""The delivery worker: sends queued emails and records what happened to each one.

Each round it reads the outbox (`rm_emails`, status QUEUED and due) and, per email:

1. If the server already accepted it (`mail_deliveries.accepted_at`: a worker crashed before
   recording it), it records `EmailSent` without sending again.
2. Otherwise it takes a lease on the email (infra/mail/store.py: one holder at a time across
   processes), re-reads the email from the event store (the read model may lag), builds the
   message (infra/mail/message.py: always the same bytes and Message-ID), sends it, writes
   `accepted_at` at once, and then records `EmailSent` through the application service as
   the system actor.
3. A transient failure records `EmailAttemptFailed` with the next attempt's time (capped
   exponential backoff); a permanent one, or the last allowed attempt, records `EmailFailed`
   with the reason.

The guarantee: once `accepted_at` is written, no worker sends that email again, whatever
crashes afterwards. The residual window is between the server's "250 OK" and that write (a
few milliseconds): a crash exactly there sends the message again on the next attempt, with
the same Message-ID (which receiving systems commonly use to drop the duplicate).

The worker never dies of an outage: a database or SMTP failure is logged and retried with
backoff; a supervisor restarts its thread if it ends anyway.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import sqlalchemy as sa
import structlog

from domain.actor import SYSTEM_ACTOR, acting_as
from domain.email import Email
from domain.errors import DomainError
from infra.database import create_engine
from infra.db_errors import is_transient
from infra.mail.message import OutgoingEmail, ascii_address, build_message, envelope_sender
from infra.mail.store import Due, claim, due_emails, ensure_tables, mark_accepted, release
from infra.mail.transport import PermanentFailure, TransientFailure, Transport, transport_for
from infra.runner import Backoff
from infra.services.emails import EmailsService
from infra.services.unit_of_work import Outcome
from infra.settings import MailOptions
from infra.supervised import Supervised

log = structlog.get_logger(__name__)

BATCH = 50
"""Emails handled per round."""
BUSY_PAUSE = 0.2
"""Seconds between rounds while there is work."""


def retry_delay(options: MailOptions, attempt: int) -> float:
    """Seconds before the attempt after failed attempt number `attempt` (1-based): the first
    delay, doubled each time, at most the maximum."""
    return float(min(options.retry_max, options.retry_first * 2.0 ** max(0, attempt - 1)))


@dataclass
class RoundReport:
    """What one round did (ids of the emails, as strings)."""

    sent: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    """Accepted by the server in an earlier round whose recording was lost (not re-sent)."""
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Held by another worker, or no longer due once re-read from the event store."""

    @property
    def handled(self) -> int:
        return len(self.sent) + len(self.recovered) + len(self.retrying) + len(self.failed)


class DeliveryWorker(Supervised):
    """Delivers the outbox, in a supervised background thread or one round at a time."""

    thread_name = "mail"
    restart_event = "mail_worker_restarted"
    stop_timeout = 30.0

    def __init__(
        self,
        engine: sa.Engine,
        emails: EmailsService,
        options: MailOptions,
        *,
        transport: Transport | None = None,
        clock: Callable[[], datetime] | None = None,
        owner: str | None = None,
        supervise_interval: float = 1.0,
    ) -> None:
        self.engine = engine
        self.emails = emails
        self.options = options
        self.transport = transport or transport_for(options)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"
        self.sender = envelope_sender(options.mail_from)
        super().__init__(supervise_interval)
        self.after_accept: Callable[[str], None] | None = None
        """Called with the email id right after `accepted_at` is written and before EmailSent
        is recorded (a seam for the crash test)."""
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        ensure_tables(engine)

    # Lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        super().start()
        log.info("mail_worker_started", transport=self.transport.name, owner=self.owner)

    @property
    def alive(self) -> bool:
        return self.thread_alive

    def run_forever(self) -> None:
        """Rounds until stopped; failures are logged and retried with capped backoff."""
        backoff = Backoff(first=0.5, cap=max(self.options.poll_interval, 30.0))
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                report = self.run_once()
            except Exception as error:
                self.error = error
                delay = backoff.next_delay()
                log.warning(
                    "mail_round_failed",
                    error_class=type(error).__name__,
                    detail=str(error)[:500],
                    transient=is_transient(error),
                    retry_in=round(delay, 2),
                    exc_info=not is_transient(error),
                )
                self._stopping.wait(delay)
                continue
            self.error = None
            backoff.reset()
            # After a busy round look again soon (there may be more, and what was recorded
            # reaches the outbox once projected); otherwise wait to be woken or polled.
            pause = min(BUSY_PAUSE, self.options.poll_interval) if report.handled else None
            self._wake.wait(pause or self.options.poll_interval)

    # One round ----------------------------------------------------------------------------

    def run_once(self) -> RoundReport:
        """Handle every email due now (up to BATCH); returns what was done."""
        with self._lock:
            report = RoundReport()
            for due in due_emails(self.engine, self.clock(), BATCH):
                self._handle(due, report)
            return report

    def drain(self, rounds: int = 100) -> RoundReport:
        """Rounds until one handles nothing (for the CLI's --once and tests)."""
        total = RoundReport()
        for _ in range(rounds):
            report = self.run_once()
            for name in ("sent", "recovered", "retrying", "failed", "skipped"):
                getattr(total, name).extend(getattr(report, name))
            if not report.handled:
                break
        return total

    def _handle(self, due: Due, report: RoundReport) -> None:
        row = due.row
        if due.accepted_at is not None:
            # Accepted by the server in an earlier round: record it, never send it again.
            # Nothing is recorded when EmailSent already is (the outbox had not caught up).
            recorded = self._record_sent(row, due.accepted_at, due.refused)
            (report.recovered if recorded else report.skipped).append(row.id)
            return
        if not claim(self.engine, row, self.owner, self.clock(), self.options.lease):
            report.skipped.append(row.id)
            return
        try:
            self._deliver(row, report)
        finally:
            release(self.engine, row.id, self.owner)

    def _as_system(self, firm_id: str, act: Callable[[], Any]) -> Any:
        with acting_as(SYSTEM_ACTOR, firm_id, "system"):
            return act()

    def _deliver(self, row: Any, report: RoundReport) -> None:
        email_id = UUID(row.id)
        email: Email = self._as_system(row.firm_id, lambda: self.emails.get_email(email_id))
        now = self.clock()
        if not email.due(now):
            report.skipped.append(row.id)  # the read model lagged behind the event store
            return
        outgoing = OutgoingEmail.from_row(row)
        try:
            try:
                message = build_message(outgoing, self.options.mail_from)
                recipients = [ascii_address(address) for address in outgoing.to]
            except (ValueError, TypeError) as error:  # never retried: it would fail again
                raise PermanentFailure(f"the message cannot be written: {error}") from None
            delivery = asyncio.run(
                self.transport.send(outgoing.id, message, self.sender, recipients)
            )
        except PermanentFailure as failure:
            reason = failure.reason
            self._record(row, lambda: self.emails.record_failed(email_id, reason=reason))
            report.failed.append(row.id)
            log.info("mail_failed", email_id=row.id, reason=reason)
            return
        except Exception as error:
            reason = (
                error.reason
                if isinstance(error, TransientFailure)
                else f"unexpected error ({type(error).__name__})"
            )
            if not isinstance(error, TransientFailure):
                log.error("mail_transport_error", email_id=row.id, exc_info=error)
            self._attempt_failed(row, email, reason, report)
            return
        accepted_at = self.clock()
        refused = delivery.refused_lines()
        mark_accepted(self.engine, row.id, accepted_at, refused)
        if self.after_accept is not None:
            self.after_accept(row.id)
        self._record_sent(row, accepted_at, refused)
        report.sent.append(row.id)
        log.info("mail_sent", email_id=row.id, transport=self.transport.name, refused=len(refused))

    def _attempt_failed(self, row: Any, email: Email, reason: str, report: RoundReport) -> None:
        attempt = email.attempts + 1
        retry_at = self.clock() + timedelta(seconds=retry_delay(self.options, attempt))
        self._record(
            row,
            lambda: self.emails.record_attempt_failed(
                UUID(row.id),
                reason=reason,
                retry_at=retry_at,
                max_attempts=self.options.max_attempts,
            ),
        )
        if attempt >= self.options.max_attempts:
            report.failed.append(row.id)
        else:
            report.retrying.append(row.id)
        log.info("mail_attempt_failed", email_id=row.id, attempt=attempt, reason=reason)

    def _record_sent(self, row: Any, accepted_at: datetime, refused: list[str]) -> bool:
        return self._record(
            row,
            lambda: self.emails.record_sent(UUID(row.id), sent_at=accepted_at, refused=refused),
        )

    def _record(self, row: Any, command: Callable[[], Outcome]) -> bool:
        """Run a delivery command as the system; whether it recorded an event. A rule it
        breaks (the email is no longer queued: someone else recorded it first) is logged."""
        try:
            outcome: Outcome = self._as_system(row.firm_id, command)
        except DomainError as error:
            log.info("mail_record_skipped", email_id=row.id, reason=error.message)
            return False
        return outcome.position is not None


class InProcessWorker:
    """The worker of a server process: its own engine (so its polling never mixes with the
    requests' statements), woken whenever the projections move."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self.engine = create_engine(container.db)
        self.worker = DeliveryWorker(
            self.engine, container.services.emails, container.settings.mail
        )

    def start(self) -> InProcessWorker:
        self.container.runner.listeners.append(self.worker.wake)
        self.worker.start()
        return self

    def stop(self) -> None:
        listeners = self.container.runner.listeners
        if self.worker.wake in listeners:
            listeners.remove(self.worker.wake)
        self.worker.stop()
        self.engine.dispose()


def start_in_process(container: Any) -> InProcessWorker | None:
    """Start the delivery worker next to the projections, unless DOSSIER_MAIL_WORKER=0."""
    if not container.settings.mail.worker:
        return None
    return InProcessWorker(container).start()
