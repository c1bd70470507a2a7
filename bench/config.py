"""Sizes, durations and storage locations of one bench run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

VAR = Path("var/bench")
SECRET = "dossier-bench-secret-not-for-production-use-0123456789"
FIRM = "bench-firm"
OWNER = "bench-owner"
OWNER_NAME = "Bench Owner"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Sizes:
    """The generated data set (recorded in its marker, so a change regenerates it)."""

    clients: int
    profile_clients: int
    long_events: int
    long_clients: int
    max_contacts: int
    normal_max_contacts: int
    at_limit_share: float
    max_comments: int
    max_invoices: int
    skew: float  # larger: more small clients
    seed: int = 20261123


@dataclass(frozen=True)
class BenchConfig:
    """One run: sizes, per-phase durations, concurrency, where things live."""

    quick: bool
    sizes: Sizes
    phase_seconds: float
    short_seconds: float
    subscribers: int
    long_requests: int
    postgres_url: str

    @classmethod
    def make(cls, *, quick: bool, clients: int | None) -> BenchConfig:
        if quick:
            sizes = Sizes(
                clients=clients or 100,
                profile_clients=2,
                long_events=2_000,
                long_clients=1,
                max_contacts=100,
                normal_max_contacts=12,
                at_limit_share=0.0,
                max_comments=40,
                max_invoices=10,
                skew=8.0,
            )
            return cls(True, sizes, 2.0, 1.5, 10, 20, _postgres())
        sizes = Sizes(
            clients=clients or 1_000,
            profile_clients=6,
            long_events=10_000,
            long_clients=1,
            max_contacts=100,
            normal_max_contacts=100,
            at_limit_share=0.01,
            max_comments=200,
            max_invoices=50,
            skew=25.0,
        )
        return cls(False, sizes, 10.0, 4.0, 100, 100, _postgres())

    @property
    def tag(self) -> str:
        return "quick" if self.quick else "full"

    def database_url(self, backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{VAR / self.tag / 'dossier.db'}"
        return f"{self.postgres_url}?schema={self.pg_schema}"

    @property
    def pg_schema(self) -> str:
        return "bench_quick" if self.quick else "bench"

    def work_dir(self, backend: str) -> Path:
        return VAR / self.tag / backend


def _postgres() -> str:
    return os.environ.get("DOSSIER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES).split("?")[0]


def store_files(database_url: str) -> Path:
    """The folder of a bench store's files outside the database (document blobs of the
    directory store, delivered mail), wiped with the store: next to the SQLite file, or
    under var/bench/ for a PostgreSQL schema."""
    if database_url.startswith("sqlite:///"):
        database = Path(database_url.removeprefix("sqlite:///"))
        return database.parent / f"{database.stem}-files"
    schema = database_url.partition("?schema=")[2] or "public"
    return VAR / f"postgresql-{schema}-files"


def blob_settings(database_url: str) -> tuple[str, str]:
    """Where a bench store keeps document bytes (DOSSIER_BLOB_STORE, DOSSIER_BLOB_DIR): in its
    PostgreSQL schema, or in a folder next to the SQLite file."""
    store = "directory" if database_url.startswith("sqlite:///") else "postgresql"
    return store, str(store_files(database_url) / "blobs")


def mail_dir(database_url: str) -> Path:
    """Where the server and the generator deliver a bench store's mail (DOSSIER_MAIL_DIR), as
    .eml files: never the project's own var/mail/."""
    return store_files(database_url) / "mail"


def server_env(database_url: str) -> dict[str, str]:
    """The environment the bench server gets for a store's files."""
    store, blobs = blob_settings(database_url)
    return {
        "DOSSIER_BLOB_STORE": store,
        "DOSSIER_BLOB_DIR": blobs,
        "DOSSIER_MAIL_DIR": str(mail_dir(database_url)),
    }
