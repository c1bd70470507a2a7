"""The eventsourcing library's recorder test cases, run against Dossier's own configuration.

Every case runs on SQLite (a fresh database file per test) and on PostgreSQL (a fresh
schema per test, named in the URL's `?schema=` parameter as the application does it):

- the library's recorders, built the way the application builds them: from
  `DatabaseConfig.parse(url).eventsourcing_env()` via `InfrastructureFactory.construct()`;
- the read models' own `SQLAlchemyTrackingRecorder`, against the library's tracking contract.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment
from psycopg import sql

from infra.database import DatabaseConfig, create_engine
from projections.tables import metadata
from projections.tracking import SQLAlchemyTrackingRecorder
from tests.conftest import POSTGRES_URL, require_postgres

APPLICATION_NAME = "Dossier"  # infra.eventstore.EventStore.name
THREAD_JOIN_TIMEOUT_SECONDS = 30


# Databases: each test gets its own, so notification IDs start at 1 and nothing leaks.


class JoinTestThreads:
    """Wait for threads a test started before its cleanups close the connection pools.

    `ApplicationRecorderTestCase.test_concurrent_no_conflicts` sets its readers' stop event
    but never joins them; a reader still inside `select_notifications()` when the pool is
    closed can crash the interpreter (seen: SIGSEGV in sqlite3's `execute`), and on
    PostgreSQL it would race the closing pool and the DROP SCHEMA.
    """

    _threads_before: set[threading.Thread]

    def setUp(self) -> None:
        self._threads_before = set(threading.enumerate())
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:  # runs before the cleanups that close pools and drop data
        super().tearDown()  # type: ignore[misc]
        started = set(threading.enumerate()) - self._threads_before
        # Daemon threads are the pools' own workers, which stop when the pools close.
        for thread in (t for t in started if not t.daemon):
            thread.join(timeout=THREAD_JOIN_TIMEOUT_SECONDS)
            if thread.is_alive():
                msg = f"{thread!r} was still running {THREAD_JOIN_TIMEOUT_SECONDS}s after the test"
                raise AssertionError(msg)


class SQLiteDatabase(JoinTestThreads):
    """A fresh SQLite database file per test (the concurrency tests need a real file)."""

    database_url: str
    addCleanup: Callable[..., None]  # noqa: N815 (unittest.TestCase's method)

    def setUp(self) -> None:
        directory = tempfile.mkdtemp(prefix="dossier_recorders_")
        self.addCleanup(shutil.rmtree, directory, True)
        self.database_url = f"sqlite:///{Path(directory) / 'dossier.db'}"
        super().setUp()


class PostgresDatabase(JoinTestThreads):
    """A fresh PostgreSQL schema per test, dropped (CASCADE) once its pools are closed."""

    database_url: str
    addCleanup: Callable[..., None]  # noqa: N815 (unittest.TestCase's method)

    def setUp(self) -> None:
        require_postgres()  # skips, or fails when CI=true
        schema = f"t_recorders_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        # Cleanups run last-in first-out: this drop runs after the recorders are closed.
        self.addCleanup(self._drop_schema, schema)
        separator = "&" if "?" in POSTGRES_URL else "?"
        self.database_url = f"{POSTGRES_URL}{separator}schema={schema}"
        super().setUp()

    @staticmethod
    def _drop_schema(schema: str) -> None:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


# Recorders.


class LibraryRecorders:
    """The library's recorders, as Dossier configures them (see infra/container.py)."""

    database_url: str
    addCleanup: Callable[..., None]  # noqa: N815 (unittest.TestCase's method)
    _factory: InfrastructureFactory[TrackingRecorder] | None = None

    def setUp(self) -> None:
        self._factory = None
        super().setUp()  # type: ignore[misc]

    def factory(self) -> InfrastructureFactory[TrackingRecorder]:
        if self._factory is None:
            env = DatabaseConfig.parse(self.database_url).eventsourcing_env()
            factory: InfrastructureFactory[TrackingRecorder] = InfrastructureFactory.construct(
                Environment(APPLICATION_NAME, env)
            )
            self.addCleanup(factory.close)  # closes the connection pool
            self._factory = factory
        return self._factory


class LibraryAggregateRecorder(LibraryRecorders):
    def create_recorder(self) -> AggregateRecorder:
        # Dossier's EventStore (snapshotting enabled) uses the aggregate recorder for snapshots.
        return self.factory().aggregate_recorder(purpose="snapshots")


class LibraryApplicationRecorder(LibraryRecorders):
    def create_recorder(self) -> ApplicationRecorder:
        return self.factory().application_recorder()


class LibraryTrackingRecorder(LibraryRecorders):
    def create_recorder(self) -> TrackingRecorder:
        return self.factory().tracking_recorder()


class LibraryProcessRecorder(LibraryRecorders):
    def create_recorder(self) -> ProcessRecorder:
        return self.factory().process_recorder()


class ReadModelTrackingRecorder:
    """projections.tracking.SQLAlchemyTrackingRecorder on the read-model engine."""

    database_url: str
    addCleanup: Callable[..., None]  # noqa: N815 (unittest.TestCase's method)

    def create_recorder(self) -> TrackingRecorder:
        engine = create_engine(DatabaseConfig.parse(self.database_url))
        self.addCleanup(engine.dispose)
        metadata.create_all(engine)
        return SQLAlchemyTrackingRecorder(engine)


# SQLite.


class TestSQLiteAggregateRecorder(
    SQLiteDatabase, LibraryAggregateRecorder, AggregateRecorderTestCase
):
    pass


class TestSQLiteApplicationRecorder(
    SQLiteDatabase, LibraryApplicationRecorder, ApplicationRecorderTestCase[ApplicationRecorder]
):
    pass


class TestSQLiteTrackingRecorder(SQLiteDatabase, LibraryTrackingRecorder, TrackingRecorderTestCase):
    pass


class TestSQLiteProcessRecorder(SQLiteDatabase, LibraryProcessRecorder, ProcessRecorderTestCase):
    pass


class TestSQLiteNonInterleavingNotificationIDs(
    SQLiteDatabase, LibraryApplicationRecorder, NonInterleavingNotificationIDsBaseCase
):
    pass


class TestSQLiteReadModelTrackingRecorder(
    SQLiteDatabase, ReadModelTrackingRecorder, TrackingRecorderTestCase
):
    pass


# PostgreSQL.


class TestPostgresAggregateRecorder(
    PostgresDatabase, LibraryAggregateRecorder, AggregateRecorderTestCase
):
    pass


class TestPostgresApplicationRecorder(
    PostgresDatabase, LibraryApplicationRecorder, ApplicationRecorderTestCase[ApplicationRecorder]
):
    pass


class TestPostgresTrackingRecorder(
    PostgresDatabase, LibraryTrackingRecorder, TrackingRecorderTestCase
):
    pass


class TestPostgresProcessRecorder(
    PostgresDatabase, LibraryProcessRecorder, ProcessRecorderTestCase
):
    pass


class TestPostgresNonInterleavingNotificationIDs(
    PostgresDatabase, LibraryApplicationRecorder, NonInterleavingNotificationIDsBaseCase
):
    pass


class TestPostgresReadModelTrackingRecorder(
    PostgresDatabase, ReadModelTrackingRecorder, TrackingRecorderTestCase
):
    pass


# Not collected by pytest/unittest as tests of their own.
del AggregateRecorderTestCase
del ApplicationRecorderTestCase
del NonInterleavingNotificationIDsBaseCase
del ProcessRecorderTestCase
del TrackingRecorderTestCase
