"""The GraphQL-over-HTTP audit (npm `graphql-http`, its `auditServer`) against a real server.

In development every audit passes. In production four cannot (a SHOULD, a MUST and two MAY):
they send their variables, by POST and by GET, in `query Type($name: String!) { __type(name:
$name) { name } }`, and production refuses introspection (`__type` included) on purpose. Those
four are pinned here with the reason; anything else that is not "ok" fails the test.

tests/http_audit/ holds the pinned package (package.json + package-lock.json); `npm ci` installs
it there on first use. Without node or npm the test is skipped locally, and fails with CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.http_guard import server_limits
from infra.web import create_app
from tests.e2e.conftest import make_settings
from tests.e2e.servers import running

AUDIT = Path(__file__).resolve().parents[1] / "http_audit"
INSTALL_TIMEOUT = 180
AUDIT_TIMEOUT = 90
INTROSPECTION_AUDITS = {"2EA1", "28B9", "D6D5", "6A70"}
"""Audits whose document reads `__type`: refused in production (no introspection)."""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the GraphQL-over-HTTP audit cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def node() -> str:
    """The node executable, with graphql-http installed under tests/http_audit/."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed for the graphql-http audit")
        raise AssertionError("unreachable")
    if not (AUDIT / "node_modules" / "graphql-http" / "package.json").exists():
        try:
            installed = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=AUDIT,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            _unavailable(f"npm ci did not finish within {INSTALL_TIMEOUT} s")
            raise AssertionError("unreachable") from None
        if installed.returncode != 0:
            _unavailable(f"npm ci failed: {installed.stderr[-1000:]}")
    return node


@pytest.fixture(params=["production", "development"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(mode, GraphQL URL) of the app under uvicorn with the options `dossier serve` uses."""
    settings = make_settings(f"sqlite:///{tmp_path / 'dossier.db'}", env=str(request.param))
    with running(create_app(settings), **server_limits(settings.max_body_bytes)) as served:
        yield settings.env, f"{served.url}/graphql"


def test_the_graphql_over_http_audit_passes(node: str, server: tuple[str, str]) -> None:
    mode, url = server
    ran = subprocess.run(
        [node, "audit.mjs", url],
        cwd=AUDIT,
        capture_output=True,
        text=True,
        timeout=AUDIT_TIMEOUT,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    results = json.loads(ran.stdout)
    assert len(results) >= 50, results  # the whole audit ran
    failed = [r for r in results if r["status"] != "ok"]
    if mode == "production":
        refused = [r for r in failed if r["id"] in INTROSPECTION_AUDITS]
        assert {r["id"] for r in refused} == INTROSPECTION_AUDITS, json.dumps(failed, indent=2)
        assert all("introspection has been disabled" in r["body"] for r in refused), refused
        failed = [r for r in failed if r["id"] not in INTROSPECTION_AUDITS]
    assert failed == [], json.dumps(failed, indent=2)
