"""The bench's report logic: ratios, goals, percentiles and the results.json rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.load import problem, summarize
from bench.report import (
    Result,
    goal_met,
    markdown,
    parse_goal,
    percentile,
    ratio,
    unavailable,
    write_json,
)


def test_ratio_is_value_over_baseline_and_none_without_a_usable_baseline() -> None:
    assert ratio(30.0, 120.0) == 0.25
    assert ratio(30.0, None) is None
    assert ratio(None, 120.0) is None
    assert ratio(30.0, 0.0) is None


@pytest.mark.parametrize(
    ("goal", "subject", "met"),
    [
        (">= 1.0", 1.0, True),
        (">= 1.0", 0.99, False),
        ("<= 2.0", 2.5, False),
        ("<= 2.0", 1.2, True),
        ("== 1.0", 1.0, True),
        ("< 3", 3.0, False),
        ("info", 5.0, None),
        (">= 1.0", None, None),
    ],
)
def test_goal_met(goal: str, subject: float | None, met: bool | None) -> None:
    assert goal_met(goal, subject) is met


def test_parse_goal_rejects_what_it_cannot_read() -> None:
    assert parse_goal(">= x") is None
    assert parse_goal("fast") is None
    parsed = parse_goal("<=15")
    assert parsed is not None and parsed[1] == 15.0


def test_goal_applies_to_the_ratio_when_there_is_a_baseline_and_to_the_value_otherwise() -> None:
    vs_peer = Result(
        "profile_cold_rps_vs_postgraphile",
        "postgresql",
        60.0,
        "req/s",
        baseline=200.0,
        goal=">= 1.0",
    )
    assert vs_peer.ratio == 0.3
    assert vs_peer.met is False
    live = Result("live_p99_ms", "sqlite", 80.0, "ms", goal="<= 100")
    assert live.ratio is None
    assert live.met is True
    info = Result("rss_mb", "sqlite", 120.0, "MiB")
    assert info.met is None


def test_unavailable_rows_carry_the_reason_and_meet_nothing() -> None:
    row = unavailable(
        "live_p99_ms", "sqlite", "ms", "Subscription.activity is not in the schema", "<= 100"
    )
    assert row.value is None
    assert row.met is None
    assert row.note == "not available: Subscription.activity is not in the schema"


def test_results_json_rows_have_the_issue_fields(tmp_path: Path) -> None:
    rows = [
        Result(
            "mutations_vs_raw_save",
            "postgresql",
            150.0,
            "events/s",
            baseline=600.0,
            goal=">= 0.6",
            note="mix",
        ),
        unavailable(
            "profile_warm_rps_vs_postgraphile", "sqlite", "req/s", "peer serves PostgreSQL only"
        ),
    ]
    out = tmp_path / "bench" / "results.json"
    write_json(rows, out)
    data = json.loads(out.read_text())
    assert data[0] == {
        "name": "mutations_vs_raw_save",
        "backend": "postgresql",
        "value": 150.0,
        "unit": "events/s",
        "baseline": 600.0,
        "ratio": 0.25,
        "goal": ">= 0.6",
        "note": "mix",
        "met": False,
    }
    assert data[1]["value"] is None and data[1]["ratio"] is None and data[1]["goal"] == "info"


def test_percentile_is_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_summarize_reports_milliseconds_and_rate() -> None:
    result = summarize([0.010, 0.020, 0.030, 0.040], errors=1, elapsed=2.0, first_error="boom")
    assert result.count == 4
    assert result.rps == 2.0
    assert result.p50_ms == pytest.approx(20.0)
    assert result.p99_ms == pytest.approx(40.0)
    assert result.errors == 1 and result.first_error == "boom"
    empty = summarize([], errors=3, elapsed=1.0)
    assert empty.rps == 0.0 and empty.p50_ms is None


def test_problem_spots_errors_and_unexpected_union_members() -> None:
    assert problem({"data": {"client": {"id": "1"}}}, []) is None
    assert problem({"errors": [{"message": "nope"}]}, []) == '[{"message": "nope"}]'
    assert problem({"data": None}, []) == "no data"
    ok = {"data": {"addComment": {"__typename": "AddCommentSuccess"}}}
    assert problem(ok, ["AddCommentSuccess"]) is None
    bad = {"data": {"addComment": {"__typename": "ValidationError"}}}
    assert (
        problem(bad, ["AddCommentSuccess"]) == 'unexpected result {"__typename": "ValidationError"}'
    )


def test_markdown_table_has_one_line_per_result() -> None:
    text = markdown(
        [
            Result("rss_mb", "sqlite", 120.0, "MiB"),
            Result("x", "postgresql", 1.5, "ms", 1.0, "<= 2.0"),
        ]
    )
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[2] == "| rss_mb | sqlite | 120 | MiB | - | - |  |  |  |"
    assert lines[3] == "| x | postgresql | 1.50 | ms | 1.00 | 1.50 | <= 2.0 | yes |  |"
