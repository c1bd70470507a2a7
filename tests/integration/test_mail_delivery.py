"""Mail delivery against a real SMTP server on localhost (aiosmtpd), on SQLite and PostgreSQL.

The projections and the worker are driven by hand (`catch_up()`, `run_once()`), with a clock
the test moves forward, so retries happen exactly when the test says.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from domain.actor import Actor, ActorKind, acting_as
from domain.email import FAILED, QUEUED, SENT, EmailKind
from domain.values import ClientType
from infra.container import Container
from infra.mail.store import deliveries
from infra.mail.transport import DirectoryTransport
from infra.mail.worker import DeliveryWorker
from infra.settings import MailOptions, Settings
from projections.emails import EmailsProjection, emails
from tests.integration.mail_support import SmtpServer, free_port

FIRM = "firm-a"
ANN = Actor(id="user-ann", kind=ActorKind.STAFF, name="Ann Archer")
SENDER = "Dossier <mail@dossier.test>"
ROOT = Path(__file__).resolve().parents[2]


class Clock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def options_for(port: int, **overrides: Any) -> MailOptions:
    base = MailOptions(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_timeout=5,
        mail_from=SENDER,
        retry_first=30,
        retry_max=3600,
        max_attempts=8,
        worker=False,
    )
    return replace(base, **overrides)


@pytest.fixture
def idle(settings: Settings) -> Iterator[Container]:
    opened = Container(replace(settings, mail=MailOptions(worker=False))).open(
        start_projections=False
    )
    yield opened
    opened.close()


def make_worker(container: Container, options: MailOptions, **kwargs: Any) -> DeliveryWorker:
    return DeliveryWorker(container.engine, container.services.emails, options, **kwargs)


def register(container: Container, name: str = "Acme Ltd") -> UUID:
    with acting_as(ANN, FIRM, "owner"):
        done = container.service.register_client(name=name, client_type=ClientType.COMPANY)
    return UUID(done.ids["client_id"])


def send(
    container: Container,
    client_id: UUID,
    to: list[str],
    subject: str = "Your annual accounts",
    body: str = "Dear client,\n\nPlease find the accounts attached.\n\nAnn",
) -> str:
    with acting_as(ANN, FIRM, "owner"):
        done = container.services.emails.send_email(client_id, to=to, subject=subject, body=body)
    container.runner.catch_up()
    return done.ids["email_id"]


def row_of(container: Container, email_id: str) -> Any:
    with container.engine.connect() as conn:
        return conn.execute(sa.select(emails).where(emails.c.id == email_id)).one()


def test_a_queued_email_is_sent_with_its_exact_headers(idle: Container, smtp: SmtpServer) -> None:
    client = register(idle)
    email_id = send(idle, client, ["jane@client.test", "Bob@Client.test"])
    row = row_of(idle, email_id)
    assert (row.status, row.kind, row.attempts, row.sent_at) == (QUEUED, EmailKind.MANUAL, 0, None)
    assert row.message_id == f"<{email_id}@dossier.invalid>"
    assert row.queued_by["id"] == "user-ann"

    report = make_worker(idle, options_for(smtp.port)).run_once()
    assert report.sent == [email_id]

    [received] = smtp.received
    assert received.mail_from == "mail@dossier.test"
    assert received.rcpt_tos == ["jane@client.test", "Bob@Client.test"]
    message = received.message
    assert message["Message-ID"] == f"<{email_id}@dossier.invalid>"
    assert message["To"] == "jane@client.test, Bob@Client.test"
    assert message["From"] == SENDER
    assert message["Subject"] == "Your annual accounts"
    assert message["X-Dossier-Email-Id"] == email_id
    assert message["Auto-Submitted"] is None  # written by a person
    assert message["Date"] is not None
    assert message.get_content() == "Dear client,\n\nPlease find the accounts attached.\n\nAnn\n"

    idle.runner.catch_up()
    row = row_of(idle, email_id)
    assert (row.status, row.attempts, row.last_error, row.next_attempt_at) == (SENT, 1, None, None)
    assert row.sent_at is not None
    # Nothing is due any more: another round sends nothing.
    assert make_worker(idle, options_for(smtp.port)).run_once().handled == 0
    assert len(smtp.received) == 1


def test_a_server_that_is_down_is_retried_later_and_the_email_sent_once(idle: Container) -> None:
    port = free_port()  # nothing listens here yet
    clock = Clock()
    worker = make_worker(idle, options_for(port), clock=clock)
    email_id = send(idle, register(idle), ["jane@client.test"])

    report = worker.run_once()
    assert report.retrying == [email_id]
    idle.runner.catch_up()
    row = row_of(idle, email_id)
    assert row.status == QUEUED
    assert row.attempts == 1
    assert row.last_error == (
        "could not connect to the SMTP server (connection refused or unreachable)"
    )
    assert row.next_attempt_at == pytest.approx(
        clock() + timedelta(seconds=30), abs=timedelta(seconds=5)
    )

    # Not due yet: nothing happens before the retry time, even once the server is up.
    server = SmtpServer(port).start()
    try:
        assert worker.run_once().handled == 0
        assert server.received == []
        clock.advance(31)
        assert worker.run_once().sent == [email_id]
        assert len(server.received) == 1
        idle.runner.catch_up()
        row = row_of(idle, email_id)
        assert (row.status, row.attempts, row.last_error) == (SENT, 2, None)
        clock.advance(3600)
        assert worker.run_once().handled == 0
        assert len(server.received) == 1
    finally:
        server.stop()


def test_backoff_doubles_up_to_the_cap_and_the_last_attempt_fails_for_good(
    idle: Container,
) -> None:
    port = free_port()
    clock = Clock()
    worker = make_worker(
        idle, options_for(port, retry_first=10, retry_max=25, max_attempts=4), clock=clock
    )
    email_id = send(idle, register(idle), ["jane@client.test"])
    delays = []
    for _ in range(3):
        started = clock()
        assert worker.run_once().retrying == [email_id]
        idle.runner.catch_up()
        delays.append(round((row_of(idle, email_id).next_attempt_at - started).total_seconds()))
        clock.advance(60)
    assert delays == [10, 20, 25]
    assert worker.run_once().failed == [email_id]
    idle.runner.catch_up()
    row = row_of(idle, email_id)
    assert (row.status, row.attempts, row.next_attempt_at) == (FAILED, 4, None)
    assert row.last_error == (
        "gave up after 4 attempts: could not connect to the SMTP server "
        "(connection refused or unreachable)"
    )


def test_a_refused_recipient_fails_the_email_with_the_servers_reason(
    idle: Container, smtp: SmtpServer
) -> None:
    email_id = send(idle, register(idle), ["refused@client.test"])
    assert make_worker(idle, options_for(smtp.port)).run_once().failed == [email_id]
    idle.runner.catch_up()
    row = row_of(idle, email_id)
    assert (row.status, row.attempts) == (FAILED, 1)
    assert row.last_error == (
        "every recipient was refused: refused@client.test: 550 5.1.1 <refused@client.test>: "
        "Recipient address rejected: User unknown"
    )
    assert smtp.received == []


def test_a_temporary_refusal_is_retried(idle: Container, smtp: SmtpServer) -> None:
    email_id = send(idle, register(idle), ["later@client.test"])
    assert make_worker(idle, options_for(smtp.port)).run_once().retrying == [email_id]
    idle.runner.catch_up()
    row = row_of(idle, email_id)
    assert (row.status, row.attempts) == (QUEUED, 1)
    assert row.last_error.startswith("every recipient was refused: later@client.test: 450 4.2.1")


def test_a_partly_refused_email_is_sent_to_the_accepted_recipients(
    idle: Container, smtp: SmtpServer
) -> None:
    email_id = send(idle, register(idle), ["jane@client.test", "refused-bob@client.test"])
    assert make_worker(idle, options_for(smtp.port)).run_once().sent == [email_id]
    [received] = smtp.received
    assert received.rcpt_tos == ["jane@client.test"]
    idle.runner.catch_up()
    row = row_of(idle, email_id)
    assert row.status == SENT
    assert row.refused == [
        "refused-bob@client.test: 550 5.1.1 <refused-bob@client.test>: "
        "Recipient address rejected: User unknown"
    ]
    assert row.last_error == (
        "refused: refused-bob@client.test: 550 5.1.1 <refused-bob@client.test>: "
        "Recipient address rejected: User unknown"
    )


def test_a_worker_killed_between_sending_and_recording_never_sends_twice(
    idle: Container, smtp: SmtpServer, database_url: str
) -> None:
    """SIGKILL right after the server accepted the message and accepted_at was written, before
    EmailSent: the restarted worker records it as sent without sending it again."""
    email_id = send(idle, register(idle), ["jane@client.test"])
    crashed = subprocess.run(
        [sys.executable, "-m", "tests.integration.mail_crash_worker", database_url, str(smtp.port)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert crashed.returncode == -9, crashed.stderr.decode()[-2000:]
    assert len(smtp.received) == 1
    idle.runner.catch_up()
    assert row_of(idle, email_id).status == QUEUED  # nothing recorded after the send
    with idle.engine.connect() as conn:
        accepted = conn.execute(
            sa.select(deliveries.c.accepted_at).where(deliveries.c.email_id == email_id)
        ).scalar_one()
    assert accepted is not None

    # Restart: the lease of the killed worker has not even expired, and it does not matter.
    report = make_worker(idle, options_for(smtp.port)).run_once()
    assert report.recovered == [email_id]
    assert report.sent == []
    idle.runner.catch_up()
    row = row_of(idle, email_id)
    assert (row.status, row.attempts) == (SENT, 1)
    assert row.sent_at == accepted
    assert len(smtp.received) == 1
    assert make_worker(idle, options_for(smtp.port)).run_once().handled == 0
    assert len(smtp.received) == 1


def test_two_workers_at_once_send_each_email_exactly_once(
    idle: Container, smtp: SmtpServer
) -> None:
    client = register(idle)
    ids = {send(idle, client, [f"person{i}@client.test"], subject=f"Letter {i}") for i in range(12)}
    workers = [make_worker(idle, options_for(smtp.port)) for _ in range(3)]
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(worker: DeliveryWorker) -> None:
        try:
            barrier.wait()
            worker.drain()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    received_ids = [r.message["X-Dossier-Email-Id"] for r in smtp.received]
    assert sorted(received_ids) == sorted(ids)
    idle.runner.catch_up()
    with idle.engine.connect() as conn:
        statuses = conn.execute(sa.select(emails.c.status, emails.c.attempts)).all()
    assert sorted(statuses) == [(SENT, 1)] * 12


def test_the_directory_transport_writes_exactly_one_eml_file(
    idle: Container, tmp_path: Path
) -> None:
    directory = tmp_path / "mail"
    options = replace(MailOptions(worker=False), mail_from=SENDER, mail_dir=directory)
    worker = make_worker(idle, options)
    assert isinstance(worker.transport, DirectoryTransport)
    email_id = send(idle, register(idle), ["jane@client.test"], subject="Hello")
    assert worker.run_once().sent == [email_id]
    files = sorted(p.name for p in directory.iterdir())
    assert files == [f"{email_id}.eml"]
    written = (directory / f"{email_id}.eml").read_bytes()
    assert f"Message-ID: <{email_id}@dossier.invalid>".encode() in written
    assert b"Subject: Hello" in written
    # A repeated delivery of the same email (as after a crash before accepted_at) keeps one file.
    with idle.engine.begin() as conn:
        conn.execute(sa.delete(deliveries))
    import asyncio

    from infra.mail.message import OutgoingEmail, build_message

    message = build_message(OutgoingEmail.from_row(row_of(idle, email_id)), SENDER)
    asyncio.run(worker.transport.send(email_id, message, "mail@dossier.test", ["jane@client.test"]))
    assert sorted(p.name for p in directory.iterdir()) == [f"{email_id}.eml"]
    assert (directory / f"{email_id}.eml").read_bytes() == written


def test_a_rebuild_reproduces_the_email_log(idle: Container, smtp: SmtpServer) -> None:
    client = register(idle)
    clock = Clock()
    queued = send(idle, client, ["bob@client.test"], subject="Later")
    assert make_worker(idle, options_for(free_port()), clock=clock).run_once().retrying == [queued]
    idle.runner.catch_up()
    sent = send(idle, client, ["jane@client.test"])
    failed = send(idle, client, ["refused@client.test"])
    report = make_worker(idle, options_for(smtp.port), clock=clock).run_once()
    assert (report.sent, report.failed) == ([sent], [failed])
    idle.runner.catch_up()
    with idle.engine.connect() as conn:
        before = sorted(tuple(r) for r in conn.execute(sa.select(emails)).all())
    assert {r[0]: r[4] for r in before} == {sent: SENT, failed: FAILED, queued: QUEUED}
    idle.runner.rebuild(EmailsProjection())
    with idle.engine.connect() as conn:
        after = sorted(tuple(r) for r in conn.execute(sa.select(emails)).all())
        kept = conn.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar_one()
    assert after == before
    assert kept == 3  # the worker's own records are not a read model


def test_the_background_worker_survives_a_database_outage(
    idle: Container, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A round that fails (the outbox cannot be read) is retried; the worker goes on."""
    import infra.mail.worker as worker_module
    from infra.mail.store import due_emails as real

    failures = {"left": 2}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))
        return real(*args, **kwargs)

    monkeypatch.setattr(worker_module, "due_emails", flaky)
    email_id = send(idle, register(idle), ["jane@client.test"])
    worker = make_worker(idle, options_for(smtp.port, poll_interval=0.05))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert failures["left"] == 0
    assert worker.error is None
    idle.runner.catch_up()
    assert row_of(idle, email_id).status == SENT
    assert len(smtp.received) == 1
