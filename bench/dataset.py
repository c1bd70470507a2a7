"""The generated, seeded data set: recorded through the application, reused across runs.

Everything is written as events through the application services' commands inside
`acting_as` (the long streams through the Client aggregate's own command, saved in batches),
then projected: clients, contacts, teams, holds, invoices and comments, and on the profile
clients the firm's work and communication (documents, emails, chats, client requests, jobs on
a pipeline, tasks, time entries; some by the team's agents, so the owner sees new items).
A marker next to the store records the sizes and the generator's version it was made with; a
run with other sizes or an older generator wipes the store and generates it again.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.utils import TopicError, resolve_topic
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.config import (
    FIRM,
    OWNER,
    OWNER_NAME,
    SECRET,
    BenchConfig,
    Sizes,
    blob_settings,
    mail_dir,
    store_files,
)
from domain.actor import Actor, ActorKind, acting_as
from domain.client import Client
from domain.job import Pipeline
from domain.task import Task
from domain.values import ClientType, StaffRole
from infra.container import Container
from infra.database import DatabaseConfig
from infra.mail.worker import DeliveryWorker
from infra.services.documents import FileBytes, FileSource
from infra.settings import MailOptions, Settings

MARKER_VERSION = 2
"""The generator's version: raise it when the generated data changes (2: work, documents,
emails, chats, requests and time on the profile and small clients), so older stores are
generated again."""
LONG_BATCH = 250
STAFF = [
    ("bench-agent-1", "Alex Agent", StaffRole.AGENT),
    ("bench-agent-2", "Sam Agent", StaffRole.AGENT),
    ("bench-manager", "Morgan Manager", StaffRole.MANAGER),
    ("bench-watcher", "Wren Watcher", StaffRole.WATCHER),
]
WORDS = ["Acme", "Blue", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juno"]
KINDS = ["Ltd", "LLP", "GmbH", "Trust", "Foods", "Studio", "Partners", "Holdings"]
FIRST = ["Alice", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack"]
LAST = ["Turner", "Okafor", "Lindqvist", "Moreau", "Kowalski", "Rossi", "Nakamura", "Byrne"]
TAGS = ["vip", "payroll", "audit", "tax-return", "bookkeeping", "advisory", "nonprofit"]
YEAR_START = date(2026, 1, 5)
WORK_DAY = date(2026, 11, 16)
"""The day the generated work is planned around (due dates before it are overdue)."""
STAGES = ["Records requested", "In preparation", "Review", "Filed"]
TASKS = [
    ("Reconcile bank accounts", -6, "HIGH", ["Current account", "Savings", "Card"]),
    ("Prepare VAT return", 4, "URGENT", []),
    ("Chase missing receipts", -2, "NORMAL", []),
    ("Payroll run", 9, "NORMAL", ["Timesheets in", "Payslips sent"]),
    ("Draft year-end accounts", 14, "HIGH", ["Trial balance", "Notes", "Director's report"]),
    ("Review fixed asset register", 20, "LOW", []),
    ("Confirmation statement", -1, "NORMAL", []),
    ("Corporation tax computation", 30, "HIGH", []),
]
REQUESTS = [
    "Bank statements for the year-end",
    "Signed engagement letter",
    "Payroll records for October",
    "Receipts for the company card",
]
AGENTS = [user for user, _, role in STAFF if role is StaffRole.AGENT]
MANAGER = "bench-manager"


@dataclass
class Dataset:
    """Ids of the generated data the measured paths use."""

    profile_clients: list[str]
    small_client: str
    long_clients: list[str]
    clients: int
    events: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Dataset:
        return cls(**data)


def owner() -> Actor:
    return Actor(id=OWNER, kind=ActorKind.STAFF, name=OWNER_NAME)


def settings_for(url: str, *, run_projections: bool = False) -> Settings:
    store, folder = blob_settings(url)
    return Settings(
        database_url=url,
        jwt_secret=SECRET,
        run_projections=run_projections,
        blob_store=store,
        blob_dir=folder,
        mail=MailOptions(mail_dir=mail_dir(url)),
    )


def marker_path(config: BenchConfig, backend: str) -> Path:
    return config.work_dir(backend) / "dataset.json"


def wipe(config: BenchConfig, backend: str) -> None:
    """Remove the bench store of this backend (the SQLite files or the PostgreSQL schema)."""
    db = DatabaseConfig.parse(config.database_url(backend))
    shutil.rmtree(store_files(config.database_url(backend)), ignore_errors=True)
    if db.backend == "sqlite":
        assert db.sqlite_path is not None
        folder = Path(db.sqlite_path).parent
        if folder.exists():
            for path in folder.glob(Path(db.sqlite_path).name + "*"):
                path.unlink()
        return
    import psycopg

    with psycopg.connect(config.postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{config.pg_schema}" CASCADE')


def _wanted(config: BenchConfig) -> dict[str, Any]:
    return {"version": MARKER_VERSION, "sizes": asdict(config.sizes)}


def reusable(config: BenchConfig, backend: str) -> Dataset | None:
    """The data set recorded for these sizes, if its marker says it exists and the code can
    still read every event type in it."""
    path = marker_path(config, backend)
    if path.exists():
        marker = json.loads(path.read_text())
        if marker.get("params") == _wanted(config) and readable(config, backend):
            return Dataset.from_json(marker["dataset"])
    return None


def readable(config: BenchConfig, backend: str) -> bool:
    """Whether every stored event's topic still resolves to a class in the code."""
    db = DatabaseConfig.parse(config.database_url(backend))
    try:
        if db.backend == "sqlite":
            assert db.sqlite_path is not None
            with sqlite3.connect(db.sqlite_path) as conn:
                rows = conn.execute("SELECT DISTINCT topic FROM stored_events").fetchall()
        else:
            import psycopg

            with psycopg.connect(config.postgres_url) as pg:
                query = f'SELECT DISTINCT topic FROM "{config.pg_schema}".dossier_events'
                rows = pg.execute(query).fetchall()
    except Exception:
        return False
    try:
        for (topic,) in rows:
            resolve_topic(str(topic))
    except TopicError:
        return False
    return True


def ensure(config: BenchConfig, backends: list[str], console: Console) -> dict[str, Dataset]:
    """The data set of each backend, generating the missing ones side by side."""
    found: dict[str, Dataset] = {}
    missing: list[str] = []
    for backend in backends:
        dataset = reusable(config, backend)
        if dataset is None:
            missing.append(backend)
        else:
            console.print(
                f"\\[{backend}] reusing the generated data set ({marker_path(config, backend)})"
            )
            found[backend] = dataset
    if not missing:
        return found
    console.print(
        f"generating the data set ({config.sizes.clients} clients) for {', '.join(missing)}"
    )
    with _progress(console) as progress, ThreadPoolExecutor(len(missing)) as pool:
        futures = {b: pool.submit(_generate_one, config, b, progress) for b in missing}
        for backend, future in futures.items():
            found[backend] = future.result()
    return {backend: found[backend] for backend in backends}


def _generate_one(config: BenchConfig, backend: str, progress: Progress) -> Dataset:
    path = marker_path(config, backend)
    path.unlink(missing_ok=True)
    wipe(config, backend)
    dataset = generate(config.database_url(backend), config.sizes, progress, backend)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"params": _wanted(config), "dataset": asdict(dataset)}, indent=2))
    return dataset


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def generate(url: str, sizes: Sizes, progress: Progress, label: str) -> Dataset:
    """Record the firm through the application, then project it."""
    container = Container(settings_for(url)).open(start_projections=False)
    try:
        with acting_as(owner(), FIRM, "owner"):
            generator = Generator(container, sizes)
            generator.staff()
            task = progress.add_task(f"{label}: clients", total=sizes.clients)
            for index in range(sizes.clients):
                generator.client(index)
                progress.update(task, advance=1)
            total = sizes.long_clients * sizes.long_events
            task = progress.add_task(f"{label}: long streams", total=total)
            for n in range(sizes.long_clients):
                generator.long_client(n, lambda k: progress.update(task, advance=k))
        head = container.store.head()
        task = progress.add_task(f"{label}: projecting", total=head)
        container.runner.catch_up(lambda position: progress.update(task, completed=position))
        progress.update(task, completed=head)
        deliver_mail(container, progress, label)
        head = container.store.head()
        return Dataset(
            profile_clients=generator.profile_ids,
            small_client=generator.small_id,
            long_clients=generator.long_ids,
            clients=sizes.clients,
            events=head,
        )
    finally:
        container.close()


def deliver_mail(container: Container, progress: Progress, label: str) -> None:
    """Deliver the outbox (notifications of the generated comments, the emails sent) into the
    store's mail folder, so the server under test does not spend the measured phases on it
    (each delivery records an event, which also invalidates the response cache)."""
    worker = DeliveryWorker(container.engine, container.services.emails, container.settings.mail)
    task = progress.add_task(f"{label}: delivering mail", total=None)
    for _ in range(10_000):
        report = worker.run_once()
        progress.update(task, advance=len(report.sent))
        if not report.handled:
            break
        container.runner.catch_up()


class Generator:
    """Records one firm's clients with seeded, skewed sizes (a few very large)."""

    def __init__(self, container: Container, sizes: Sizes) -> None:
        self.svc = container.service
        self.billing = container.billing
        self.store = container.store
        self.sizes = sizes
        self.rng = random.Random(sizes.seed)
        self.profile_ids: list[str] = []
        self.small_id = ""
        self.long_ids: list[str] = []
        self.last_contact: UUID | None = None
        self.invoice_count = 0
        # Work has its own sequence: the clients, contacts and invoices stay as they were.
        self.work_rng = random.Random(sizes.seed + 1)
        self.services = container.services
        self.pipeline_id: UUID | None = None
        self.stage_ids: list[str] = []

    def skewed(self, maximum: int) -> int:
        return int(maximum * self.rng.random() ** self.sizes.skew)

    def staff(self) -> None:
        self.svc.add_staff_member(
            user_id=OWNER, name=OWNER_NAME, email="owner@bench.test", role=StaffRole.OWNER
        )
        for user_id, name, role in STAFF:
            self.svc.add_staff_member(
                user_id=user_id, name=name, email=f"{user_id}@bench.test", role=role
            )
        self.billing.set_firm_currency("USD")
        made = self.services.jobs.create_pipeline(name="Year-end accounts", stages=STAGES)
        self.pipeline_id = UUID(made.ids["pipeline_id"])
        pipeline = self.services.uow.get(Pipeline, self.pipeline_id)
        self.stage_ids = [str(stage["id"]) for stage in pipeline.stages]

    def register(self, index: int, label: str) -> UUID:
        rng = self.rng
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(KINDS)} {label}{index:05d}"
        outcome = self.svc.register_client(
            name=name,
            client_type=rng.choice([ClientType.COMPANY, ClientType.INDIVIDUAL, ClientType.OTHER]),
            tags=rng.sample(TAGS, rng.randint(0, 3)),
            address={
                "line1": f"{rng.randint(1, 200)} {rng.choice(WORDS)} Street",
                "line2": None if rng.random() < 0.7 else f"Suite {rng.randint(1, 40)}",
                "city": rng.choice(["Leeds", "Bristol", "Porto", "Hamburg", "York"]),
                "region": None,
                "postal_code": f"LS{rng.randint(1, 30)} {rng.randint(1, 9)}AB",
                "country": rng.choice(["GB", "DE", "PT"]),
            },
            custom_fields=[
                ("VAT number", f"GB{rng.randint(10**8, 10**9 - 1)}"),
                ("Year end", "31 March"),
            ],
        )
        return UUID(outcome.ids["client_id"])

    def client(self, index: int) -> None:
        sizes, rng = self.sizes, self.rng
        profile = index < sizes.profile_clients
        small = index == sizes.profile_clients
        cid = self.register(index, "P" if profile else "C")
        if profile:
            contacts, comments, invoices = (
                sizes.max_contacts,
                sizes.max_comments,
                sizes.max_invoices,
            )
            self.profile_ids.append(str(cid))
        elif small:
            contacts, comments, invoices = 1, 0, 0
            self.small_id = str(cid)
        else:
            at_limit = rng.random() < sizes.at_limit_share
            contacts = (
                sizes.max_contacts if at_limit else 1 + self.skewed(sizes.normal_max_contacts - 1)
            )
            comments = self.skewed(sizes.max_comments)
            invoices = self.skewed(sizes.max_invoices)
        shared = self.last_contact if (not small and index % 5 == 0) else None
        if shared is not None:
            self.svc.link_contact(cid, contact_id=shared, description="Shared director")
            contacts -= 1
        first_contact: tuple[UUID, str] | None = None
        for m in range(contacts):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            emails = [
                f"{first}.{last}.{index}.{m}.{k}@bench.test".lower()
                for k in range(rng.randint(1, 3))
            ]
            outcome = self.svc.link_contact(
                cid,
                new_contact={
                    "first_name": first,
                    "last_name": last,
                    "emails": emails,
                    "phone": f"+44 20 7946 {rng.randint(1000, 9999)}",
                },
                description=rng.choice(["Director", "Bookkeeper", "Owner", "Spouse", None]),
            )
            self.last_contact = UUID(outcome.ids["contact_id"])
            if first_contact is None:
                first_contact = (self.last_contact, emails[0])
        if not small:
            self.team(cid, profile)
        for _ in range(invoices):
            self.invoice(cid)
        for c in range(comments):
            self.svc.add_comment(
                cid, f"Note {c}: {rng.choice(WORDS)} records received. " * rng.randint(1, 4)
            )
        if profile or small:
            assert first_contact is not None
            self.work(cid, index, first_contact, full=profile)
        elif self.work_rng.random() < 0.15:
            self.some_work(cid)
        if profile or rng.random() < 0.1:
            self.svc.put_client_on_hold(cid, reason="Overdue fees")
            if not profile or rng.random() < 0.5:
                self.svc.release_client_hold(cid)

    def team(self, cid: UUID, profile: bool) -> None:
        members = [user for user, _, _ in STAFF]
        chosen = self.rng.sample(members, 4 if profile else self.rng.randint(1, 2))
        for user in chosen:
            self.svc.assign_team_member(cid, user)
        if profile or self.rng.random() < 0.2:
            self.svc.remove_team_member(cid, chosen[0])
            self.svc.assign_team_member(cid, chosen[0])

    def invoice(self, cid: UUID) -> None:
        rng = self.rng
        issued = YEAR_START + timedelta(days=rng.randint(0, 300))
        lines: list[tuple[str, Decimal | str, Decimal | str]] = [
            (
                rng.choice(["Bookkeeping", "Payroll", "Tax return", "Advisory"]),
                str(rng.randint(1, 5)),
                f"{rng.randint(50, 900)}.00",
            )
            for _ in range(rng.randint(1, 3))
        ]
        outcome = self.billing.issue_invoice(
            cid,
            number=None,
            issued_on=issued,
            due_on=issued + timedelta(days=30),
            currency="USD",
            lines=lines,
        )
        total = sum((Decimal(q) * Decimal(p) for _, q, p in lines), Decimal(0))
        roll = rng.random()
        if roll < 0.75:
            amount = total if roll < 0.5 else (total / 2).quantize(Decimal("0.01"))
            self.billing.record_payment(
                UUID(outcome.ids["invoice_id"]),
                amount=f"{amount:.2f}",
                paid_on=issued + timedelta(days=rng.randint(1, 40)),
            )

    # The firm's work and communication --------------------------------------------

    def work(self, cid: UUID, index: int, contact: tuple[UUID, str], *, full: bool) -> None:
        """A profile client's handful of each kind the overview shows (one of each for the
        small client): documents, emails, chats, requests, jobs, tasks and time. On a profile
        client an agent of its team records part of it, so the owner has new items."""
        agent = AGENTS[index % len(AGENTS)] if full else MANAGER  # the small client has no team
        self.documents(cid, index, agent, full)
        self.emails(cid, index, agent, full)
        self.chats(cid, agent, full)
        self.requests(cid, contact, full)
        jobs = self.jobs(cid, index, full)
        tasks = self.tasks(cid, index, agent, jobs, full)
        self.time(cid, agent, tasks, jobs, full)

    def some_work(self, cid: UUID) -> None:
        """An ordinary client's task and time entry (the tables hold other clients' rows)."""
        rng = self.work_rng
        title, due, priority, _ = rng.choice(TASKS)
        self.services.tasks.create_task(
            cid,
            title=title,
            assignee_user_id=rng.choice([OWNER, MANAGER]),  # agents only on their clients
            due_on=WORK_DAY + timedelta(days=due),
            priority=priority,
        )
        self.services.time_entries.log_time(
            cid,
            user_id=rng.choice([OWNER, MANAGER]),
            worked_on=WORK_DAY - timedelta(days=rng.randint(0, 60)),
            minutes=15 * rng.randint(1, 8),
            rate=Decimal("85.00"),
            note="Bookkeeping",
        )

    @contextmanager
    def staff_member(self, user_id: str) -> Iterator[None]:
        """Record as this staff member (one of the client's team) instead of the owner."""
        name, role = next((n, r) for u, n, r in STAFF if u == user_id)
        with acting_as(Actor(id=user_id, kind=ActorKind.STAFF, name=name), FIRM, role.lower()):
            yield

    def documents(self, cid: UUID, index: int, agent: str, full: bool) -> None:
        rng = self.work_rng
        slug = f"client-{index:05d}"
        ledger = "date,description,amount\n" + "".join(
            f"2026-{1 + k % 12:02d}-{1 + k % 28:02d},{rng.choice(WORDS)} payment,"
            f"{rng.randint(-9000, 9000) / 100:.2f}\n"
            for k in range(rng.randint(50, 400) if full else 10)
        )
        letter = b"%PDF-1.4\n% bench engagement letter\n" + rng.randbytes(
            rng.randint(8_000, 60_000) if full else 1_000
        )
        files: list[FileSource] = [
            FileBytes(f"{slug}-engagement-letter.pdf", letter),
            FileBytes(f"{slug}-bank-statement-q3.csv", ledger.encode()),
        ]
        uploaded = self.services.documents.upload_documents(
            cid,
            files[: 2 if full else 1],
            folder="Tax/2026",
            tags=["year-end"],
        )
        if not full:
            return
        first = UUID(uploaded.ids["document_ids"].split(",")[0])
        self.services.documents.view_document(first)
        with self.staff_member(agent):
            for month in ("september", "october", "november"):
                payroll = f"employee,gross,net\n{rng.choice(FIRST)},{rng.randint(2, 6)}000,0\n"
                self.services.documents.upload_documents(
                    cid,
                    [FileBytes(f"{slug}-payroll-{month}.csv", payroll.encode())],
                    folder="Payroll",
                    tags=["payroll"],
                )

    def emails(self, cid: UUID, index: int, agent: str, full: bool) -> None:
        to = [f"contact.{index}@bench.test"]
        subjects = ["Documents for the year-end", "Your VAT return", "Payroll for November"]
        for n, subject in enumerate(subjects if full else subjects[:1]):
            body = f"Hello,\n\n{subject}: please see the request on the portal.\n\nBench"
            if n == 2:
                with self.staff_member(agent):
                    self.services.emails.send_email(cid, to=to, subject=subject, body=body)
            else:
                self.services.emails.send_email(cid, to=to, subject=subject, body=body)

    def chats(self, cid: UUID, agent: str, full: bool) -> None:
        chat = self.services.chat
        for title in ("Year-end planning", "Payroll questions")[: 2 if full else 1]:
            thread = chat.start_chat_thread(
                cid,
                title=title,
                visibility="INTERNAL",
                participant_user_ids=sorted({agent, MANAGER}),
            )
            thread_id = UUID(thread.ids["thread_id"])
            chat.post_chat_message(thread_id, body=f"{title}: statements are in the folder.")
            if not full:
                continue
            with self.staff_member(agent):
                chat.post_chat_message(thread_id, body="Thanks, I'll start on Monday.")
                chat.post_chat_message(thread_id, body="Two receipts are missing for October.")
            chat.post_chat_message(thread_id, body="I've asked the client for them.")

    def requests(self, cid: UUID, contact: tuple[UUID, str], full: bool) -> None:
        requests = self.services.client_requests
        contact_id, email = contact
        requests.set_contact_portal_access(contact_id, email=email, enabled=True)
        for n, title in enumerate(REQUESTS if full else REQUESTS[:1]):
            opened = requests.open_client_request(
                cid,
                title=title,
                message=f"Please upload: {title.lower()}.",
                due_on=WORK_DAY + timedelta(days=7 * n - 7),
            )
            request_id = UUID(opened.ids["client_request_id"])
            if n == 0 and full:
                requests.send_request_reminder(request_id)
                requests.reply_to_client_request(request_id, message="A reminder: due this week.")
            elif n == 1:
                requests.mark_client_request_answered(request_id)
            elif n == 2:
                requests.close_client_request(request_id)

    def jobs(self, cid: UUID, index: int, full: bool) -> list[UUID]:
        assert self.pipeline_id is not None
        made = []
        for n, name in enumerate(["Year-end 2025", "VAT Q3", "Payroll 2026"][: 3 if full else 1]):
            job = self.services.jobs.create_job(
                cid,
                name=name,
                pipeline_id=self.pipeline_id,
                stage_id=self.stage_ids[(index + n) % len(self.stage_ids)],
                manager_user_ids=[MANAGER],
                starts_on=WORK_DAY - timedelta(days=60),
                due_on=WORK_DAY + timedelta(days=20 * n - 10),
            )
            made.append(UUID(job.ids["job_id"]))
        if full:
            self.services.jobs.move_job(made[0], stage_id=self.stage_ids[-1])
        return made

    def tasks(self, cid: UUID, index: int, agent: str, jobs: list[UUID], full: bool) -> list[UUID]:
        tasks = self.services.tasks
        made = []
        for n, (title, due, priority, checklist) in enumerate(TASKS if full else TASKS[:1]):
            assignee = agent if n % 2 == 0 else MANAGER
            outcome = tasks.create_task(
                cid,
                title=title,
                assignee_user_id=assignee,
                description=f"{title} for client {index}.",
                due_on=WORK_DAY + timedelta(days=due),
                priority=priority,
                job_id=jobs[n % len(jobs)] if n < 6 else None,
                checklist=checklist or None,
                recurrence="MONTHLY" if title == "Payroll run" else None,
            )
            task_id = UUID(outcome.ids["task_id"])
            made.append(task_id)
            if not full:
                continue
            if checklist:
                item = self.services.uow.get(Task, task_id).checklist[0]
                tasks.check_task_checklist_item(task_id, item_id=str(item["id"]))
            if n in (2, 6):
                with self.staff_member(agent):
                    tasks.comment_on_task(task_id, body="Waiting for the client.")
            if n in (1, 5):
                tasks.set_task_status(task_id, status="DONE")
        return made

    def time(self, cid: UUID, agent: str, tasks: list[UUID], jobs: list[UUID], full: bool) -> None:
        rng = self.work_rng
        for n in range(12 if full else 1):
            user = [agent, MANAGER, OWNER][n % 3]
            billable = n % 4 != 3
            with self.staff_member(agent) if user == agent else nullcontext():
                self.services.time_entries.log_time(
                    cid,
                    worked_on=WORK_DAY - timedelta(days=2 * n),
                    minutes=15 * rng.randint(1, 12),
                    billable=billable,
                    user_id=user,
                    rate=Decimal("95.00") if billable else None,
                    note="Year-end bookkeeping" if billable else "Internal review",
                    task_id=tasks[n % len(tasks)] if n % 2 == 0 else None,
                    job_id=jobs[n % len(jobs)] if n % 2 == 1 else None,
                )

    def long_client(self, n: int, advance: Any) -> None:
        """A client whose own stream holds `long_events` events, saved in batches."""
        cid = self.register(n, "L")
        self.long_ids.append(str(cid))
        advance(1)
        remaining = self.sizes.long_events - 1
        revision = 0
        while remaining > 0:
            client: Client = self.svc.visible_client(cid)
            batch = min(LONG_BATCH, remaining)
            for _ in range(batch):
                revision += 1
                client.update_details(custom_fields=[("Revision", str(revision))])
            self.store.save(client)
            remaining -= batch
            advance(batch)
