"""Which database errors are worth retrying, and which mean the database cannot be reached.

Errors arrive raw from psycopg, sqlite3 or psycopg_pool, wrapped by SQLAlchemy (`.orig`),
wrapped by eventsourcing (`__cause__`), or re-raised by our own code (`raise X from error`),
so the whole chain is examined.

- `is_transient`: another attempt may succeed (lost connections, server restarts and
  shutdowns, refused or timed-out connects, pool timeouts, serialization failures,
  deadlocks, lock timeouts, statement timeouts, SQLite's "database is locked").
- `is_connectivity`: the subset meaning the server could not be reached or dropped the
  connection (as opposed to a conflict between transactions).

Neither looks at error messages except where a driver gives nothing else (sqlite3 before it
sets an error code, psycopg's InterfaceError for a closed connection).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import psycopg_pool
import sqlalchemy.exc as sa_exc
from eventsourcing import persistence as es

MAX_CHAIN = 16

# SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html).
CONNECTIVITY_STATES = frozenset(
    {
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, recovering)
        "57P05",  # idle_session_timeout
        "25P03",  # idle_in_transaction_session_timeout (the server closed the session)
        "53300",  # too_many_connections
    }
)
CONNECTIVITY_CLASSES = frozenset({"08"})  # connection_exception and its subclasses
CONFLICT_STATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available (lock_timeout)
        "57014",  # query_canceled (statement_timeout)
        "53000",  # insufficient_resources
        "53200",  # out_of_memory
        "53400",  # configuration_limit_exceeded
    }
)
CONFLICT_CLASSES = frozenset({"40"})  # transaction_rollback
SQLITE_BUSY = 5
SQLITE_LOCKED = 6


class DatabaseUnavailable(psycopg.OperationalError):
    """The database failed moments ago; this call was refused without trying (a circuit)."""


def is_transient(error: BaseException) -> bool:
    """Whether the operation that raised `error` may succeed if it is simply tried again."""
    return any(verdict is not None for verdict in _verdicts(error))


def is_connectivity(error: BaseException) -> bool:
    """Whether `error` means the database could not be reached or dropped the connection."""
    return any(verdict == "connectivity" for verdict in _verdicts(error))


def _verdicts(error: BaseException) -> Iterator[str | None]:
    for link in _chain(error):
        yield _classify(link)


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, what SQLAlchemy or GraphQL wrapped, and each explicit `__cause__`."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < MAX_CHAIN:
        seen.add(id(current))
        yield current
        wrapped = getattr(current, "orig", None)  # sqlalchemy.exc.DBAPIError
        if not isinstance(wrapped, BaseException):
            wrapped = getattr(current, "original_error", None)  # graphql.GraphQLError
        if isinstance(wrapped, BaseException) and id(wrapped) not in seen:
            current = wrapped
        else:
            current = current.__cause__


def _classify(error: BaseException) -> str | None:
    """'connectivity', 'conflict' or None (not transient, or not known from this link)."""
    if isinstance(error, DatabaseUnavailable):
        return "connectivity"
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return "connectivity"
    if isinstance(error, sa_exc.DisconnectionError):
        return "connectivity"
    if isinstance(error, sa_exc.TimeoutError):  # QueuePool: no connection free in time
        return "conflict"
    if isinstance(error, (psycopg_pool.PoolTimeout, psycopg_pool.TooManyRequests)):
        return "conflict"
    if isinstance(error, psycopg.Error):
        return _classify_psycopg(error)
    if isinstance(error, sqlite3.Error):
        return _classify_sqlite(error)
    if isinstance(error, es.ConnectionUnavailableError):  # the library's own pools
        return "conflict"
    if isinstance(error, (es.OperationalError, es.InterfaceError)) and error.__cause__ is None:
        return "connectivity"
    if isinstance(error, ConnectionError):  # refused, reset, broken pipe
        return "connectivity"
    return None


def _classify_psycopg(error: psycopg.Error) -> str | None:
    state = error.sqlstate
    if state is None:
        if isinstance(error, psycopg.OperationalError):
            # No server error: connecting failed, or the connection broke or was closed.
            return "connectivity"
        if isinstance(error, psycopg.InterfaceError) and "connection" in str(error).lower():
            return "connectivity"
        return None
    if state in CONNECTIVITY_STATES or state[:2] in CONNECTIVITY_CLASSES:
        return "connectivity"
    if state in CONFLICT_STATES or state[:2] in CONFLICT_CLASSES:
        return "conflict"
    return None


def _classify_sqlite(error: sqlite3.Error) -> str | None:
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return "conflict" if code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED) else None
    message = str(error).lower()
    if isinstance(error, sqlite3.OperationalError) and (
        "database is locked" in message or "database table is locked" in message
    ):
        return "conflict"
    return None
