"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infra.container import Container
from infra.settings import MailOptions, Settings

POSTGRES_URL = os.environ.get(
    "DOSSIER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


def _postgres_reachable() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error)


def require_postgres() -> None:
    """Skip when PostgreSQL is unreachable, except in CI where that is a failure."""
    problem = _postgres_reachable()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"PostgreSQL is unreachable in CI: {problem}")
    pytest.skip(f"PostgreSQL is unreachable: {problem}")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards."""
    require_postgres()
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


def make_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'dossier.db'}"
    schema = request.getfixturevalue("pg_schema")
    return f"{POSTGRES_URL}?schema={schema}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return make_database_url(backend, tmp_path, request)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        jwt_secret="test-secret-that-is-long-enough-for-hs256!!",
        poll_interval=0.05,
        blob_dir=str(tmp_path / "blobs"),  # never the project's var/
        mail=MailOptions(mail_dir=tmp_path / "mail"),
    )


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    opened = Container(settings).open()
    yield opened
    opened.close()
