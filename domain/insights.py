"""Ledger insights: the pure rule that flags an unusual period-over-period change.

The rule, for one account of one linked organization (all arithmetic in Decimal):

1. Periods are calendar months written "YYYY-MM". The *change* of period p is
   balance(p) - balance(p - 1 month); it is defined only when both months have a balance.
2. The *history* of p is the defined changes of the trailing 12 months p-12 ... p-1.
   With fewer than 6 changes in it (MIN_HISTORY) p gets no verdict: not enough history.
3. Robust z-score (Iglewicz and Hoaglin): z = 0.6745 * (change - median) / MAD, where
   median is the median of the history and MAD the median of |h - median| over it.
4. MAD = 0 (at least half of the history equals the median): fall back to the mean absolute
   deviation from the median, z = (change - median) / (1.253314 * MeanAD).
5. MeanAD = 0 as well (every change in the history is the same amount): a change equal to
   it is not unusual, and any other change is an alert with no finite z-score.
6. An alert is raised when |z| >= 3.5. The z-score is exposed rounded half-up to 2 decimal
   places; the threshold is applied to the unrounded value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

WINDOW = 12
MIN_HISTORY = 6
THRESHOLD = Decimal("3.5")
MAD_CONSISTENCY = Decimal("0.6745")
MEAN_AD_CONSISTENCY = Decimal("1.253314")
CENT = Decimal("0.01")

_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def is_period(text: str) -> bool:
    """True for a calendar month written YYYY-MM (month 01 to 12)."""
    return _PERIOD.fullmatch(text) is not None and text[:4] != "0000"


def period_index(period: str) -> int:
    """Months since year 0, so consecutive months differ by 1."""
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def period_of(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def median(values: list[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def changes(series: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The change of every period whose previous month also has a balance."""
    by_index = {period_index(p): b for p, b in series.items()}
    return {
        period_of(i): balance - by_index[i - 1]
        for i, balance in sorted(by_index.items())
        if i - 1 in by_index
    }


def amount(value: Decimal) -> str:
    """An amount for people: thousands separated, at least 2 decimal places."""
    shown = value.quantize(CENT) if value == value.quantize(CENT) else value.normalize()
    return format(shown, ",f")


@dataclass(frozen=True)
class Finding:
    """The verdict on one period of one account: its change against its trailing history."""

    account: str
    period: str
    balance: Decimal
    previous_balance: Decimal
    change: Decimal
    history_size: int
    median: Decimal
    deviation: Decimal
    method: str  # "MAD", "MEAN_AD" or "CONSTANT"
    z: Decimal | None  # unrounded; None when the history has no spread at all

    @property
    def alert(self) -> bool:
        if self.z is None:
            return self.change != self.median
        return abs(self.z) >= THRESHOLD

    @property
    def z_score(self) -> Decimal | None:
        """The z-score as exposed: rounded half-up to 2 decimal places."""
        return None if self.z is None else self.z.quantize(CENT, rounding=ROUND_HALF_UP)

    @property
    def why(self) -> str:
        """A sentence a person can check by hand."""
        moved = "rose" if self.change > 0 else "fell" if self.change < 0 else "did not change"
        by = f" by {amount(abs(self.change))}" if self.change else ""
        head = (
            f"{self.account} {moved}{by} in {self.period} "
            f"(from {amount(self.previous_balance)} to {amount(self.balance)})."
        )
        history = f"Over the previous {self.history_size} period-over-period changes"
        if self.method == "CONSTANT":
            return (
                f"{head} {history} every change was exactly {amount(self.median)}, "
                "so any other change is unusual."
            )
        spread = (
            f"the median absolute deviation {amount(self.deviation)}"
            if self.method == "MAD"
            else f"the mean absolute deviation {amount(self.deviation)} (the median absolute "
            "deviation was 0)"
        )
        return (
            f"{head} {history} the median was {amount(self.median)} and {spread}, "
            f"so the robust z-score is {self.z_score}; changes with |z| >= {THRESHOLD} "
            "are flagged."
        )


def evaluate(account: str, series: Mapping[str, Decimal], period: str) -> Finding | None:
    """The finding for one period, or None when the period has no change or too little history."""
    return _evaluate(account, series, changes(series), period)


def _evaluate(
    account: str, series: Mapping[str, Decimal], deltas: Mapping[str, Decimal], period: str
) -> Finding | None:
    if period not in deltas:
        return None
    index = period_index(period)
    history = [
        deltas[p] for p in (period_of(i) for i in range(index - WINDOW, index)) if p in deltas
    ]
    if len(history) < MIN_HISTORY:
        return None
    change = deltas[period]
    centre = median(history)
    mad = median([abs(h - centre) for h in history])
    z: Decimal | None
    if mad > 0:
        method, deviation = "MAD", mad
        z = MAD_CONSISTENCY * (change - centre) / mad
    else:
        mean_ad = sum((abs(h - centre) for h in history), Decimal(0)) / len(history)
        if mean_ad > 0:
            method, deviation = "MEAN_AD", mean_ad
            z = (change - centre) / (MEAN_AD_CONSISTENCY * mean_ad)
        else:
            method, deviation, z = "CONSTANT", Decimal(0), None
            if change == centre:
                z = Decimal(0)
    return Finding(
        account=account,
        period=period,
        balance=series[period],
        previous_balance=series[period_of(index - 1)],
        change=change,
        history_size=len(history),
        median=centre,
        deviation=deviation,
        method=method,
        z=z,
    )


def alerts(account: str, series: Mapping[str, Decimal]) -> list[Finding]:
    """Every alerting finding of one account, oldest period first."""
    deltas = changes(series)
    found = [_evaluate(account, series, deltas, period) for period in deltas]
    return [f for f in found if f is not None and f.alert]
