"""The CSV ledger import and the `dossier import-ledger` command, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from domain.actor import acting_as
from infra.cli import app
from infra.container import Container
from infra.ledger_csv import (
    LedgerFileRejected,
    LineError,
    import_ledger_file,
    parse_ledger_csv,
)
from projections.organizations import ledger_alerts, ledger_balances
from projections.tables import activity
from resolvers.ids import to_global_id
from tests.integration.test_organizations import MONTHS, STEADY, as_owner, rows, setup_client

GOOD = (
    "account,period,balance\n"
    + "".join(f"Revenue,{month},{balance}\n" for month, balance in zip(MONTHS, STEADY, strict=True))
    + "Revenue,2025-01,7100.00\n"
)


def flat(output: str) -> str:
    """Console output with Rich's line wrapping undone."""
    return " ".join(output.split())


def test_a_bad_line_7_is_reported_and_nothing_is_imported() -> None:
    lines = GOOD.splitlines()
    lines[6] = "Revenue,2024-06,12.5x"  # line 7 of the file
    with pytest.raises(LedgerFileRejected) as rejected:
        parse_ledger_csv("\n".join(lines) + "\n")
    assert rejected.value.errors == [LineError(7, "balance: '12.5x' is not a decimal number")]


def test_every_bad_line_is_reported_with_its_number() -> None:
    text = (
        "Account, Period ,Balance\n"
        "Revenue,2024-01,1\n"
        "Revenue,2024-13,1\n"
        "\n"
        "Revenue,2024-02\n"
        ",2024-03,1\n"
        '"Cost, direct",2024-01,1.001\n'
        "Revenue,2024-01,2\n"
        "Revenue,2024-04,Infinity\n"
    )
    with pytest.raises(LedgerFileRejected) as rejected:
        parse_ledger_csv(text)
    assert [str(e) for e in rejected.value.errors] == [
        "line 3: period: '2024-13' is not a period in the form YYYY-MM",
        "line 5: expected 3 columns, got 2",
        "line 6: account: account must not be blank",
        "line 7: balance: balances have at most 2 decimal places",
        "line 8: Revenue 2024-01 is already given on line 2",
        "line 9: balance: 'Infinity' is not a finite number",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the header must be account,period,balance, got "),
        (
            "account;period;balance\n",
            "line 1: the header must be account,period,balance, got account;period;balance",
        ),
        ("account,period,balance\n\n", "line 1: the file has no balances"),
    ],
)
def test_headers_and_empty_files(text: str, message: str) -> None:
    with pytest.raises(LedgerFileRejected) as rejected:
        parse_ledger_csv(text)
    assert [str(e) for e in rejected.value.errors] == [message]


def test_a_good_file_imports_in_batches_once(container: Container) -> None:
    ledger = parse_ledger_csv("\ufeff" + GOOD)
    assert ledger.lines == list(range(2, 15))
    with as_owner():
        _client, org_id = setup_client(container)
        progress: list[int] = []
        outcomes = import_ledger_file(
            container.organizations,
            org_id,
            ledger,
            source="gl.csv",
            on_batch=progress.append,
            batch_size=5,
        )
        assert progress == [5, 10, 13]
        head = container.store.head()
        again = import_ledger_file(
            container.organizations, org_id, ledger, source="gl.csv", batch_size=5
        )
    assert [o.replayed for o in again] == [True, True, True]
    assert container.store.head() == head
    container.wait_for(outcomes[-1].position)
    assert rows(container, sa.select(sa.func.count()).select_from(ledger_balances)) == [(13,)]
    assert rows(container, sa.select(ledger_alerts.c.period, ledger_alerts.c.z_score)) == [
        ("2025-01", "661.01")
    ]


def test_the_cli_command(container: Container, database_url: str, tmp_path: Path) -> None:
    with as_owner():
        _client, org_id = setup_client(container)
    env = {"DOSSIER_DATABASE_URL": database_url, "DOSSIER_JWT_SECRET": "x" * 40}
    runner = CliRunner()
    gid = to_global_id("LinkedOrganization", org_id)

    bad = tmp_path / "bad.csv"
    lines = GOOD.splitlines()
    lines[6] = "Revenue,2024-06,twelve"
    bad.write_text("\n".join(lines) + "\n")
    head = container.store.head()
    result = runner.invoke(app, ["import-ledger", gid, str(bad)], env=env)
    assert result.exit_code == 1
    assert "bad.csv was rejected; nothing was imported." in flat(result.output)
    assert "line 7: balance: 'twelve' is not a decimal number" in flat(result.output)
    assert container.store.head() == head

    good = tmp_path / "gl-2024.csv"
    good.write_text(GOOD)
    result = runner.invoke(app, ["import-ledger", gid, str(good), "--user", "user-zoe"], env=env)
    assert result.exit_code == 0, result.output
    assert (
        "Imported 13 balances from gl-2024.csv; the organization has 1 open ledger alert(s)."
        in flat(result.output)
    )
    container.wait_for(container.store.head())
    last = rows(
        container,
        sa.select(activity.c.actor_id, activity.c.summary).order_by(activity.c.position.desc()),
    )[0]
    assert last == (
        "user-zoe",
        "Zoe imported 13 ledger balances (1 account, 2024-01 to 2025-01) from gl-2024.csv "
        "into Acme Ltd of Acme.",
    )

    unknown = runner.invoke(app, ["import-ledger", str(UUID(int=5)), str(good)], env=env)
    assert unknown.exit_code == 1
    assert f"LinkedOrganization {UUID(int=5)} was not found" in flat(unknown.output)
    stranger = runner.invoke(app, ["import-ledger", gid, str(good), "--user", "nobody"], env=env)
    assert stranger.exit_code == 1
    assert "StaffMember nobody was not found" in flat(stranger.output)
    assert runner.invoke(app, ["import-ledger", "nope", str(good)], env=env).exit_code == 2


def test_acting_for_the_system_by_default(container: Container) -> None:
    from infra.ledger_csv import acting_for_import

    with as_owner():
        _client, org_id = setup_client(container)
    ctx = acting_for_import(container.organizations, org_id, None)
    assert (ctx.actor.id, ctx.firm_id, ctx.role) == ("system", "firm-a", "system")
    with acting_as(ctx.actor, ctx.firm_id, ctx.role):
        out = container.organizations.import_ledger_balances(org_id, [("Cash", "2025-01", "1")])
    assert out.position == container.store.head()
