"""DOSSIER_DB_TIMEOUT: read once, applied to every kind of database connection (no I/O)."""

from __future__ import annotations

import pytest

from infra.database import ConnectCircuit, DatabaseConfig, TimedPostgresFactory
from infra.db_errors import DatabaseUnavailable
from infra.settings import Settings, SettingsError

PG = "postgresql://app:pw@db.example:6543/dossier?schema=tenant"


def test_the_setting_defaults_to_five_seconds_and_must_be_positive() -> None:
    assert Settings.from_env({}).db_timeout == 5.0
    assert Settings.from_env({"DOSSIER_DB_TIMEOUT": "1.5"}).db_timeout == 1.5
    for bad in ("0", "-1", "soon"):
        with pytest.raises(SettingsError, match="DOSSIER_DB_TIMEOUT"):
            Settings.from_env({"DOSSIER_DB_TIMEOUT": bad})


def test_postgres_connections_get_every_bound() -> None:
    config = DatabaseConfig.parse(PG, timeout=1.5)
    params = config.libpq_params()
    assert params["connect_timeout"] == 2  # psycopg's floor
    assert params["options"].split(" -c ") == [
        "-c search_path=tenant",
        "statement_timeout=1500",
        "lock_timeout=1500",
        "idle_in_transaction_session_timeout=5000",
    ]
    assert params["keepalives"] == 1 and params["tcp_user_timeout"] == 5000
    assert "search_path" not in config.libpq_params(search_path=False)["options"]
    assert DatabaseConfig.parse(PG, timeout=7).connect_timeout == 7


def test_the_event_store_gets_the_timed_factory_and_its_waits() -> None:
    env = DatabaseConfig.parse(PG, timeout=3).eventsourcing_env()
    assert env["PERSISTENCE_MODULE"] == "infra.database:TimedPostgresFactory"
    assert TimedPostgresFactory.__module__ == "infra.database"
    assert env["POSTGRES_CONNECT_TIMEOUT"] == "3"
    assert env["POSTGRES_LOCK_TIMEOUT"] == "3"
    assert env["POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT"] == "6"
    assert env["POSTGRES_CLIENT_TIMEOUT"] == "3"
    assert env["POSTGRES_SCHEMA"] == "tenant"


def test_sqlite_waits_for_locks_as_long_as_the_timeout(tmp_path: object) -> None:
    env = DatabaseConfig.parse(f"sqlite:///{tmp_path}/x.db", timeout=2.5).eventsourcing_env()
    assert env["SQLITE_LOCK_TIMEOUT"] == "3"


def test_the_circuit_refuses_for_a_moment_after_a_failure() -> None:
    circuit = ConnectCircuit(hold=60)
    circuit.check()
    circuit.trip()
    with pytest.raises(DatabaseUnavailable):
        circuit.check()
    circuit.reset()
    circuit.check()
    brief = ConnectCircuit(hold=0)
    brief.trip()
    brief.check()
