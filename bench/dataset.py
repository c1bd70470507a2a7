"""The generated, seeded data set: recorded through the application, reused across runs.

Everything is written as events through ClientsService and BillingService commands inside
`acting_as` (the long streams through the Client aggregate's own command, saved in batches),
then projected. A marker next to the store records the sizes it was made with; a run with
other sizes wipes the store and generates it again.
"""

from __future__ import annotations

import json
import random
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.utils import TopicError, resolve_topic
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.config import FIRM, OWNER, OWNER_NAME, SECRET, BenchConfig, Sizes
from domain.actor import Actor, ActorKind, acting_as
from domain.client import Client
from domain.values import ClientType, StaffRole
from infra.container import Container
from infra.database import DatabaseConfig
from infra.settings import Settings

MARKER_VERSION = 1
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
    return Settings(database_url=url, jwt_secret=SECRET, run_projections=run_projections)


def marker_path(config: BenchConfig, backend: str) -> Path:
    return config.work_dir(backend) / "dataset.json"


def wipe(config: BenchConfig, backend: str) -> None:
    """Remove the bench store of this backend (the SQLite files or the PostgreSQL schema)."""
    db = DatabaseConfig.parse(config.database_url(backend))
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
        return Dataset(
            profile_clients=generator.profile_ids,
            small_client=generator.small_id,
            long_clients=generator.long_ids,
            clients=sizes.clients,
            events=head,
        )
    finally:
        container.close()


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
        if not small:
            self.team(cid, profile)
        for _ in range(invoices):
            self.invoice(cid)
        for c in range(comments):
            self.svc.add_comment(
                cid, f"Note {c}: {rng.choice(WORDS)} records received. " * rng.randint(1, 4)
            )
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
