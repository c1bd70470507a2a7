"""The ledger-insight rule (domain/insights.py): exact Decimal figures, no I/O."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import insights


def series(changes: list[str], start: str = "1000", first: str = "2024-01") -> dict[str, Decimal]:
    """Monthly balances from `first`, moving by each change in turn."""
    balance = Decimal(start)
    index = insights.period_index(first)
    out = {first: balance}
    for n, change in enumerate(changes, start=1):
        balance += Decimal(change)
        out[insights.period_of(index + n)] = balance
    return out


STEADY = ["100", "90", "110", "95", "105", "105", "95", "110", "90", "100", "100"]


def test_a_spike_after_steady_months_is_the_only_alert() -> None:
    balances = series([*STEADY, "5000"])
    found = insights.alerts("Revenue", balances)
    assert len(found) == 1
    alert = found[0]
    assert (alert.period, alert.change, alert.median, alert.deviation, alert.method) == (
        "2025-01",
        Decimal("5000"),
        Decimal("100"),
        Decimal("5"),
        "MAD",
    )
    assert alert.z == Decimal("661.01")  # 0.6745 * 4900 / 5
    assert alert.z_score == Decimal("661.01")
    assert alert.history_size == 11
    assert alert.why == (
        "Revenue rose by 5,000.00 in 2025-01 (from 2,100.00 to 7,100.00). Over the previous 11 "
        "period-over-period changes the median was 100.00 and the median absolute deviation "
        "5.00, so the robust z-score is 661.01; changes with |z| >= 3.5 are flagged."
    )
    # The steady months had verdicts but no alerts.
    verdict = insights.evaluate("Revenue", balances, "2024-08")
    assert verdict is not None
    assert (verdict.z_score, verdict.alert) == (Decimal("-1.01"), False)


def test_a_fall_is_negative_and_says_so() -> None:
    balances = series(["-50", "-40", "-60", "-55", "-45", "-50", "-900"])
    alert = insights.evaluate("Cash", balances, "2024-08")
    assert alert is not None
    assert (alert.z_score, alert.alert) == (Decimal("-114.67"), True)
    assert alert.why.startswith("Cash fell by 900.00 in 2024-08 (from 700.00 to -200.00).")


def test_mad_zero_falls_back_to_the_mean_absolute_deviation() -> None:
    balances = series(["100"] * 6 + ["110", "90", "150"])
    alert = insights.evaluate("Cash", balances, "2024-10")
    assert alert is not None
    assert (alert.method, alert.median, alert.deviation) == (
        "MEAN_AD",
        Decimal(100),
        Decimal("2.5"),
    )
    assert alert.z_score == Decimal("15.96")  # 50 / (1.253314 * 2.5)
    assert alert.alert is True
    assert "the mean absolute deviation 2.50 (the median absolute deviation was 0)" in alert.why


def test_a_constant_history_flags_any_other_change_without_a_z_score() -> None:
    same = insights.evaluate("Rent", series(["100"] * 9), "2024-10")
    assert same is not None
    assert (same.method, same.z_score, same.alert) == ("CONSTANT", Decimal("0.00"), False)
    other = insights.evaluate("Rent", series(["100"] * 8 + ["100.01"]), "2024-10")
    assert other is not None
    assert (other.method, other.z_score, other.alert) == ("CONSTANT", None, True)
    assert other.why == (
        "Rent rose by 100.01 in 2024-10 (from 1,800.00 to 1,900.01). Over the previous 8 "
        "period-over-period changes every change was exactly 100.00, so any other change is "
        "unusual."
    )


def test_at_least_six_earlier_changes_are_needed() -> None:
    # 6 changes then a spike: the spike has 6 earlier changes, so it is judged.
    judged = series(["100", "90", "110", "95", "105", "100", "5000"])
    assert [a.period for a in insights.alerts("A", judged)] == ["2024-08"]
    # 5 changes then a spike: not enough history, no verdict at all.
    early = series(["100", "90", "110", "95", "105", "5000"])
    assert insights.evaluate("A", early, "2024-07") is None
    assert insights.alerts("A", early) == []


def test_only_the_trailing_twelve_months_count_and_gaps_have_no_change() -> None:
    balances = series(["100"] * 3 + STEADY * 2 + ["5000"])
    alert = insights.alerts("A", balances)[-1]
    assert alert.history_size == 12
    # A missing month: the month after the gap has no change, so no verdict.
    gapped = series([*STEADY, "5000"])
    del gapped["2024-12"]
    assert "2025-01" not in insights.changes(gapped)
    assert insights.evaluate("A", gapped, "2025-01") is None
    assert insights.alerts("A", gapped) == []


def test_the_threshold_uses_the_unrounded_score() -> None:
    # history median 0, MAD 1; a change of 5.18 scores 0.6745 * 5.18 = 3.49391 -> 3.49, no alert.
    history = ["1", "-1", "1", "-1", "1", "-1", "0"]
    below = insights.evaluate("A", series([*history, "5.18"]), "2024-09")
    above = insights.evaluate("A", series([*history, "5.19"]), "2024-09")
    assert below is not None and above is not None
    assert (below.median, below.deviation) == (Decimal(0), Decimal(1))
    assert (below.z, below.z_score, below.alert) == (Decimal("3.493910"), Decimal("3.49"), False)
    assert (above.z, above.z_score, above.alert) == (Decimal("3.500655"), Decimal("3.50"), True)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2025-01", True),
        ("2025-12", True),
        ("2025-13", False),
        ("2025-00", False),
        ("25-01", False),
        ("2025-1", False),
        ("0000-01", False),
        (" 2025-01", False),
    ],
)
def test_periods(text: str, ok: bool) -> None:
    assert insights.is_period(text) is ok


def test_amounts_for_people() -> None:
    assert insights.amount(Decimal("1234567.5")) == "1,234,567.50"
    assert insights.amount(Decimal("102.125")) == "102.125"
    assert insights.amount(Decimal("-3")) == "-3.00"
