"""A bounded schemathesis fuzz run of every root field, on a real server, on both backends.

For each Query and Mutation field schemathesis generates documents with random (valid-typed)
arguments, sent as the firm's owner. No answer may be a server error, and no body may carry a
traceback or SQL. Afterwards every recorded event has been projected (nothing parked) and the
server is ready: random input is refused at the command boundary or stored exactly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import schemathesis
from graphql import build_schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from infra.auth import TokenIssuer
from infra.web import create_app
from tests.conftest import make_database_url
from tests.e2e.conftest import SECRET, make_settings
from tests.e2e.servers import running

# Strategies for Dossier's custom scalars: mostly well-formed values, with hostile ones mixed in
# (the server must refuse those cleanly).
DECIMALS = st.one_of(
    st.decimals(min_value=-(10**13), max_value=10**13, places=2, allow_nan=False).map(str),
    st.sampled_from(["1e3", "1_000", "١٢٣", "NaN", "-0", " 5", "99999999999999.999", ""]),
)
DATES = st.one_of(st.dates().map(str), st.sampled_from(["2026-02-30", "0000-01-01", "x"]))
DATETIMES = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.sampled_from(["2026-13-01T00:00:00Z", "yesterday"]),
)
schemathesis.graphql.scalar("Decimal", DECIMALS.map(nodes.String))
schemathesis.graphql.scalar("Date", DATES.map(nodes.String))
schemathesis.graphql.scalar("DateTime", DATETIMES.map(nodes.String))
schemathesis.graphql.scalar("JSON", st.text(max_size=20).map(nodes.String))
schemathesis.graphql.scalar("Upload", st.just(nodes.Null))

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"
EXAMPLES = int(os.environ.get("DOSSIER_FUZZ_EXAMPLES", "8"))
LEAKS = (
    "Traceback",
    'File "',
    "SELECT ",
    "INSERT INTO",
    "UPDATE rm_",
    "psycopg",
    "sqlite3",
    "sqlalchemy",
    "eventsourcing",
)


@pytest.fixture(params=["sqlite", "postgresql"])
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, dict[str, str]]]:
    database_url = make_database_url(str(request.param), tmp_path, request)
    app = create_app(make_settings(database_url))
    token = TokenIssuer(SECRET).issue(sub="owner-1", firm="firm-a", role="owner", name="Owner")
    with running(app) as served:
        yield served.url, {"Authorization": f"Bearer {token}"}


def assert_sound(response: Any) -> None:
    body = response.text
    assert response.status_code < 500, body[:2000]
    for leak in LEAKS:
        assert leak not in body, f"{leak!r} in {body[:2000]}"


def test_no_generated_document_breaks_the_server(fuzz_server: tuple[str, dict[str, str]]) -> None:
    url, headers = fuzz_server
    schema = schemathesis.graphql.from_path(SCHEMA_FILE)
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
    sdl = build_schema(SCHEMA_FILE.read_text())
    roots = [sdl.query_type, sdl.mutation_type]
    assert len(operations) == sum(len(root.fields) for root in roots if root is not None)
    sent = 0
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            nonlocal sent
            response = case.call(base_url=f"{url}/graphql", headers=headers, timeout=30)
            sent += 1
            assert_sound(response)

        run()
    assert sent >= len(operations)
    ready = httpx.get(f"{url}/readyz", timeout=30)
    assert ready.status_code == 200, ready.text
    assert ready.json()["parked"] == {}
