"""Which database errors are transient, and which mean the database is unreachable."""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors as pg
import psycopg_pool
import pytest
import sqlalchemy.exc as sa_exc
from eventsourcing import persistence as es
from graphql import GraphQLError

from infra.db_errors import DatabaseUnavailable, is_connectivity, is_transient


def wrapped_by_sqlalchemy(orig: BaseException, *, invalidated: bool = False) -> BaseException:
    return sa_exc.OperationalError("SELECT 1", {}, orig, connection_invalidated=invalidated)


def raised_from(outer: BaseException, cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as error:
            raise outer from error
    except BaseException as final:
        return final


@pytest.mark.parametrize(
    "error",
    [
        psycopg.OperationalError("connection failed: Connection refused"),
        psycopg.OperationalError("consuming input failed: server closed the connection"),
        pg.AdminShutdown("terminating connection due to administrator command"),
        pg.CannotConnectNow("the database system is starting up"),
        pg.ConnectionFailure("connection failure"),
        pg.TooManyConnections("too many clients"),
        pg.IdleInTransactionSessionTimeout("terminating connection due to idle-in-transaction"),
        psycopg.InterfaceError("the connection is closed"),
        DatabaseUnavailable("the database failed moments ago"),
        wrapped_by_sqlalchemy(psycopg.OperationalError("server closed the connection")),
        wrapped_by_sqlalchemy(pg.InternalError_("whatever"), invalidated=True),
        sa_exc.DisconnectionError("gone"),
        raised_from(es.OperationalError("x"), psycopg.OperationalError("connection refused")),
        es.OperationalError("no cause recorded"),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_connectivity_errors_are_transient(error: BaseException) -> None:
    assert is_connectivity(error)
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        pg.SerializationFailure("could not serialize access"),
        pg.DeadlockDetected("deadlock detected"),
        pg.LockNotAvailable("canceling statement due to lock timeout"),
        pg.QueryCanceled("canceling statement due to statement timeout"),
        psycopg_pool.PoolTimeout("couldn't get a connection after 1.00 sec"),
        sa_exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached"),
        wrapped_by_sqlalchemy(sqlite3.OperationalError("database is locked")),
        raised_from(es.OperationalError("x"), pg.LockNotAvailable("lock timeout")),
        es.ConnectionUnavailableError("timed out waiting for a connection"),
    ],
)
def test_conflicts_and_timeouts_are_transient_but_not_connectivity(error: BaseException) -> None:
    assert is_transient(error)
    assert not is_connectivity(error)


@pytest.mark.parametrize(
    "error",
    [
        pg.UniqueViolation("duplicate key"),
        pg.UndefinedTable("relation does not exist"),
        pg.StringDataRightTruncation("value too long"),
        pg.UntranslatableCharacter("unsupported Unicode escape sequence"),
        psycopg.InterfaceError("the cursor is closed"),
        wrapped_by_sqlalchemy(sqlite3.OperationalError("no such table: rm_clients")),
        raised_from(es.IntegrityError("x"), pg.UniqueViolation("duplicate")),
        raised_from(es.DataError("x"), pg.NumericValueOutOfRange("out of range")),
        es.RecordConflictError("version 3 exists"),
        ValueError("not a database error"),
        TimeoutError("a wait of our own"),
    ],
)
def test_other_errors_are_not_transient(error: BaseException) -> None:
    assert not is_transient(error)
    assert not is_connectivity(error)


def test_the_chain_is_followed_through_our_own_wrappers() -> None:
    class ProjectionFailed(RuntimeError):
        pass

    lost = raised_from(
        ProjectionFailed("projection activity failed at position 3"),
        wrapped_by_sqlalchemy(psycopg.OperationalError("server closed the connection")),
    )
    assert is_connectivity(lost)
    bad_data = raised_from(ProjectionFailed("failed"), pg.NumericValueOutOfRange("too big"))
    assert not is_transient(bad_data)


def test_graphql_errors_are_classified_by_their_original_error() -> None:
    located = GraphQLError("x", original_error=pg.AdminShutdown("shutting down"))
    assert is_connectivity(located)
    assert not is_transient(GraphQLError("x", original_error=ValueError("no")))


def test_sqlite_busy_by_error_code() -> None:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = 5
    assert is_transient(error)
    other = sqlite3.OperationalError("no such column: x")
    other.sqlite_errorcode = 1
    assert not is_transient(other)


def test_a_cycle_in_the_chain_terminates() -> None:
    first = ValueError("a")
    second = ValueError("b")
    first.__cause__ = second
    second.__cause__ = first
    assert not is_transient(first)
