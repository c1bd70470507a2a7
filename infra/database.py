"""One database URL for both the event store (eventsourcing) and the read models.

Every connection gets the same bounded waits, from one setting (`DOSSIER_DB_TIMEOUT`,
`DatabaseConfig.timeout`): connecting, a statement, a lock, a free pooled connection, and
(PostgreSQL) TCP keepalives so that a silently dropped connection is noticed. A failed
connect also opens a short circuit on the read-model engine: for `CIRCUIT_SECONDS` further
connects fail at once, so a request and its neighbours do not each wait out the timeout.
"""

from __future__ import annotations

import functools
import inspect
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg_pool
import sqlalchemy as sa
from eventsourcing import persistence as es
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.utils import Environment, EnvType

from infra.db_errors import DatabaseUnavailable, is_connectivity, is_transient

DEFAULT_TIMEOUT_SECONDS = 5.0
MIN_CONNECT_TIMEOUT_SECONDS = 2  # psycopg's floor for connect_timeout
CIRCUIT_SECONDS = 1.0
CLIENT_TIMEOUT_KEY = "POSTGRES_CLIENT_TIMEOUT"
EVENT_STORE_POOL_SIZE = 10
EVENT_STORE_MAX_OVERFLOW = 10
MAX_RECORDER_ATTEMPTS = EVENT_STORE_POOL_SIZE + EVENT_STORE_MAX_OVERFLOW + 2


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
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    """Seconds any single database wait may take (DOSSIER_DB_TIMEOUT)."""

    @classmethod
    def parse(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> DatabaseConfig:
        parts = urlsplit(url)
        scheme = parts.scheme.split("+")[0]
        if scheme == "sqlite":
            path = url.split(":///", 1)[1] if ":///" in url else ""
            if not path or path == ":memory:":
                raise ValueError("the SQLite store needs a file path: sqlite:///path/to/file.db")
            return cls(url=url, backend="sqlite", sqlite_path=path, timeout=timeout)
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
                timeout=timeout,
            )
        raise ValueError(f"unsupported database URL: {url}")

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    # Timeouts -------------------------------------------------------------------

    @property
    def connect_timeout(self) -> int:
        """Whole seconds allowed to open a connection (psycopg rounds, with a 2 s floor)."""
        return max(MIN_CONNECT_TIMEOUT_SECONDS, math.ceil(self.timeout))

    @property
    def idle_in_transaction_timeout(self) -> int:
        """Whole seconds the server keeps a transaction whose client went quiet."""
        return max(5, math.ceil(2 * self.timeout))

    def libpq_params(self, *, search_path: bool = True) -> dict[str, Any]:
        """Connection parameters bounding every wait on a PostgreSQL connection."""
        millis = max(1, round(self.timeout * 1000))
        options = [
            f"-c statement_timeout={millis}",
            f"-c lock_timeout={millis}",
            f"-c idle_in_transaction_session_timeout={self.idle_in_transaction_timeout * 1000}",
        ]
        if search_path and self.schema:
            options.insert(0, f"-c search_path={self.schema}")
        idle = max(1, math.ceil(self.timeout))
        return {
            "connect_timeout": self.connect_timeout,
            "options": " ".join(options),
            # A peer that vanished without closing: probes after `idle` quiet seconds, and
            # unacknowledged data or probes for that long plus three more end the connection.
            "keepalives": 1,
            "keepalives_idle": idle,
            "keepalives_interval": 1,
            "keepalives_count": 3,
            "tcp_user_timeout": (idle + 3) * 1000,
        }

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's settings for this database."""
        env = {"CREATE_TABLE": "y"}
        if self.backend == "sqlite":
            assert self.sqlite_path is not None
            Path(self.sqlite_path).parent.mkdir(parents=True, exist_ok=True)
            env.update(
                PERSISTENCE_MODULE="eventsourcing.sqlite",
                SQLITE_DBNAME=self.sqlite_path,
                SQLITE_LOCK_TIMEOUT=str(max(1, math.ceil(self.timeout))),
            )
        else:
            env.update(
                PERSISTENCE_MODULE=f"{__name__}:{TimedPostgresFactory.__name__}",
                POSTGRES_DBNAME=self.dbname or "postgres",
                POSTGRES_HOST=self.host or "127.0.0.1",
                POSTGRES_PORT=str(self.port or 5432),
                POSTGRES_USER=self.user or "postgres",
                POSTGRES_PASSWORD=self.password or "",
                POSTGRES_POOL_SIZE=str(EVENT_STORE_POOL_SIZE),
                POSTGRES_MAX_OVERFLOW=str(EVENT_STORE_MAX_OVERFLOW),
                # The pool's wait for a connection; new connections get libpq_params().
                POSTGRES_CONNECT_TIMEOUT=str(max(1, math.ceil(self.timeout))),
                POSTGRES_LOCK_TIMEOUT=str(max(1, math.ceil(self.timeout))),
                POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT=str(self.idle_in_transaction_timeout),
                **{CLIENT_TIMEOUT_KEY: repr(self.timeout)},
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
            connect_args={"check_same_thread": False, "timeout": config.timeout},
            pool_size=8,
            max_overflow=8,
            pool_timeout=config.timeout,
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
            cursor.execute(f"PRAGMA busy_timeout={max(1, round(config.timeout * 1000))}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            write = conn.get_execution_options().get("dossier_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    engine = sa.create_engine(
        config.sqlalchemy_url(),
        connect_args=config.libpq_params(),
        pool_size=10,
        max_overflow=10,
        pool_timeout=config.timeout,
        pool_pre_ping=True,
    )
    circuit = ConnectCircuit()

    @sa.event.listens_for(engine, "do_connect")
    def _do_connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        circuit.check()
        try:
            connection = dialect.connect(*cargs, **cparams)
        except Exception as error:
            if is_connectivity(error):
                circuit.trip()
            raise
        circuit.reset()
        return connection

    return engine


class ConnectCircuit:
    """Remembers a failed connect for a moment, so the next ones fail at once (thread-safe)."""

    def __init__(self, hold: float = CIRCUIT_SECONDS) -> None:
        self.hold = hold
        self._lock = threading.Lock()
        self._open_until = 0.0

    def check(self) -> None:
        """Raise DatabaseUnavailable while a recent connect failure is remembered."""
        with self._lock:
            open_until = self._open_until
        if time.monotonic() < open_until:
            raise DatabaseUnavailable("the database could not be reached moments ago")

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + self.hold

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


def _bounded(name: str) -> Callable[..., Any]:
    """A recorder method without the library's retries (ten attempts, whatever they cost)."""
    raw = inspect.unwrap(getattr(PostgresApplicationRecorder, name))

    @functools.wraps(raw)
    def method(self: BoundedPostgresApplicationRecorder, *args: Any, **kwargs: Any) -> Any:
        return self.attempt(raw, *args, **kwargs)

    return method


class BoundedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's application recorder, retrying transient failures within a time budget.

    The library retries each call ten times on any operational error, which turns an outage
    into ten pool timeouts per call. Here a transient failure is tried again only while the
    budget (the database timeout) lasts; a dead pooled connection is replaced at once (the
    pool does not pre-ping: its check loop backs off between dead connections, which after an
    outage delays recovery by seconds); and a pool that could not hand out a connection opens
    a short circuit: calls in the next moment fail at once.
    """

    budget: float = DEFAULT_TIMEOUT_SECONDS
    retry_wait: float = 0.2

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.circuit = ConnectCircuit()

    insert_events = _bounded("insert_events")
    select_events = _bounded("select_events")
    select_notifications = _bounded("select_notifications")
    max_notification_id = _bounded("max_notification_id")

    def attempt(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        attempts = 0
        while True:
            try:
                self.circuit.check()
            except DatabaseUnavailable as error:
                raise es.OperationalError(str(error)) from error
            try:
                return call(self, *args, **kwargs)
            except (es.OperationalError, es.InterfaceError) as error:
                attempts += 1
                if _no_connection(error):
                    self.circuit.trip()
                    raise
                if (
                    not is_transient(error)
                    or time.monotonic() - started >= self.budget
                    or attempts >= MAX_RECORDER_ATTEMPTS
                ):
                    raise
                if is_connectivity(error):
                    # A pooled connection that died (the pool discards it): try the next one
                    # at once; after an outage the idle ones are all dead, and are drained so.
                    continue
            time.sleep(self.retry_wait * random.uniform(0.8, 1.2))


def _no_connection(error: BaseException) -> bool:
    """The pool could not hand out a connection in time (it cannot connect)."""
    cause = error.__cause__
    return isinstance(cause, psycopg_pool.PoolTimeout)


class TimedPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL persistence, with DatabaseConfig's waits on every connection.

    The library reads a connect timeout only for its pool's wait; this also gives each new
    connection (including the pool's background reconnects) the libpq connect timeout,
    statement and lock timeouts and keepalives, bounds the recorder's retries (see
    BoundedPostgresApplicationRecorder), and makes a pool that lost its connections give up
    on a reconnect series quickly enough to try afresh soon after the database is back
    (psycopg_pool otherwise backs off for up to five minutes).
    """

    application_recorder_class = BoundedPostgresApplicationRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        raw = self.env.get(CLIENT_TIMEOUT_KEY)
        self.timeout = float(raw) if raw else DEFAULT_TIMEOUT_SECONDS
        config = DatabaseConfig(url="", backend="postgresql", timeout=self.timeout)
        pool = self.datastore.pool
        if isinstance(pool.kwargs, dict):
            pool.kwargs.update(config.libpq_params(search_path=False))
        pool.reconnect_timeout = 2.0 * config.connect_timeout

    def application_recorder(self) -> ApplicationRecorder:
        recorder = super().application_recorder()
        if isinstance(recorder, BoundedPostgresApplicationRecorder):
            recorder.budget = self.timeout
        return recorder


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
        **config.libpq_params(search_path=False),
    ) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{config.schema}"')
