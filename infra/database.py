"""One database URL for both the event store (eventsourcing) and the read models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import sqlalchemy as sa

SQLITE_LOCK_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class DatabaseConfig:
    """The parsed DOSSIER_DATABASE_URL."""

    url: str
    backend: str  # "sqlite" | "postgresql"
    sqlite_path: str | None = None
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    dbname: str | None = None
    schema: str | None = None

    @classmethod
    def parse(cls, url: str) -> DatabaseConfig:
        parts = urlsplit(url)
        scheme = parts.scheme.split("+")[0]
        if scheme == "sqlite":
            path = url.split(":///", 1)[1] if ":///" in url else ""
            if not path or path == ":memory:":
                raise ValueError("the SQLite store needs a file path: sqlite:///path/to/file.db")
            return cls(url=url, backend="sqlite", sqlite_path=path)
        if scheme in ("postgresql", "postgres"):
            query = parse_qs(parts.query)
            return cls(
                url=url,
                backend="postgresql",
                host=parts.hostname or "127.0.0.1",
                port=parts.port or 5432,
                user=unquote(parts.username) if parts.username else "postgres",
                password=unquote(parts.password) if parts.password else "",
                dbname=parts.path.lstrip("/") or "postgres",
                schema=query.get("schema", [None])[0],
            )
        raise ValueError(f"unsupported database URL: {url}")

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's settings for this database."""
        env = {"CREATE_TABLE": "y"}
        if self.backend == "sqlite":
            assert self.sqlite_path is not None
            Path(self.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            env.update(
                PERSISTENCE_MODULE="eventsourcing.sqlite",
                SQLITE_DBNAME=self.sqlite_path,
                SQLITE_LOCK_TIMEOUT=str(SQLITE_LOCK_TIMEOUT_SECONDS),
            )
        else:
            env.update(
                PERSISTENCE_MODULE="eventsourcing.postgres",
                POSTGRES_DBNAME=self.dbname or "postgres",
                POSTGRES_HOST=self.host or "127.0.0.1",
                POSTGRES_PORT=str(self.port or 5432),
                POSTGRES_USER=self.user or "postgres",
                POSTGRES_PASSWORD=self.password or "",
                POSTGRES_POOL_SIZE="10",
                POSTGRES_MAX_OVERFLOW="10",
            )
            if self.schema:
                env["POSTGRES_SCHEMA"] = self.schema
        return env

    def sqlalchemy_url(self) -> sa.URL:
        if self.backend == "sqlite":
            return sa.URL.create("sqlite+pysqlite", database=self.sqlite_path)
        return sa.URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password or None,
            host=self.host,
            port=self.port,
            database=self.dbname,
        )


def create_engine(config: DatabaseConfig) -> sa.Engine:
    """The read-model engine.

    On SQLite the driver's own transaction handling is replaced with explicit BEGINs, and
    engines derived with `execution_options(dossier_write=True)` begin IMMEDIATE so that a
    projection's read of its tracking position and its writes form one serialised transaction.
    """
    if config.backend == "sqlite":
        assert config.sqlite_path is not None
        Path(config.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            config.sqlalchemy_url(),
            connect_args={"check_same_thread": False, "timeout": SQLITE_LOCK_TIMEOUT_SECONDS},
            pool_size=8,
            max_overflow=8,
            poolclass=sa.pool.QueuePool,
        )

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL cannot corrupt the file; a power cut may lose the last
            # commits, which for read models are re-projected from their tracking position.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_LOCK_TIMEOUT_SECONDS * 1000}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            write = conn.get_execution_options().get("dossier_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    connect_args: dict[str, Any] = {}
    if config.schema:
        connect_args["options"] = f"-csearch_path={config.schema}"
    return sa.create_engine(
        config.sqlalchemy_url(),
        connect_args=connect_args,
        pool_size=10,
        max_overflow=10,
        pool_pre_ping=True,
    )


def writer(engine: sa.Engine) -> sa.Engine:
    """The same engine, with transactions that take the write lock up front on SQLite."""
    return engine.execution_options(dossier_write=True)


def ensure_schema(config: DatabaseConfig) -> None:
    """Create the PostgreSQL schema named in the URL, if any."""
    if not config.is_postgres or not config.schema:
        return
    import psycopg

    with psycopg.connect(
        host=config.host,
        port=config.port,
        user=config.user,
        password=config.password or None,
        dbname=config.dbname,
        autocommit=True,
    ) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{config.schema}"')
