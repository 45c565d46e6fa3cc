"""Per scorer: is it calibrated, and does its gate pick winners? Measured on held-out time.

For every scorer of a run, the signals it rated whose outcome the journal
holds (traded or phantom: every entry signal with a stop resolves) are split
by time: the report judges the later part only (``holdout_from_ms``; by
default the last ``holdout_share`` of the span of those signals), where an
online learner has had the earlier part to learn from and a trained model can
be checked on time it was not fit on. There it gives:

- **the gate**: the win rate and mean R of all rated signals, of those at or
  above the threshold (``passed``) and of those below it. A gate that helps
  has a passed win rate (its *precision*) above the base rate, and a higher
  mean R;
- **calibration**: scores binned by value, each bin's mean score beside the
  win rate it saw, the Brier score and the expected calibration error (the
  count-weighted mean gap between them).

A win is an outcome with ``r_multiple > 0``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt

_ROWS = (
    "SELECT c.scorer, c.mode, c.value, c.passed, s.ts, p.r_multiple FROM scores c "
    "JOIN signals s ON s.run_id = c.run_id AND s.id = c.signal_id "
    "JOIN phantoms p ON p.run_id = c.run_id AND p.signal_id = c.signal_id "
    "WHERE c.run_id = ? ORDER BY c.scorer, s.ts, c.seq"
)

#: Score bins of the calibration table: [0, 0.1), [0.1, 0.2), ... [0.9, 1.0].
BINS = 10


@attrs.frozen
class Slice:
    """Outcomes of a set of signals: how many, how many won, their mean R."""

    count: int
    wins: int
    mean_r: float | None

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.count if self.count else None


@attrs.frozen
class CalibrationBin:
    """Signals scored in ``[low, high)``: their mean score and the win rate they saw."""

    low: float
    high: float
    count: int
    mean_score: float
    win_rate: float


@attrs.frozen
class ScorerReport:
    """One scorer's report on the held-out part of a run."""

    scorer: str
    mode: str
    holdout_from_ms: int
    #: Rated signals with an outcome, over the whole run.
    rated: int
    all: Slice
    passed: Slice
    below: Slice
    brier: float | None
    ece: float | None
    bins: tuple[CalibrationBin, ...]

    @property
    def lift(self) -> float | None:
        """Precision (passed win rate) minus the base win rate: above 0, it picks winners."""
        p, b = self.passed.win_rate, self.all.win_rate
        return None if p is None or b is None else p - b

    @property
    def verdict(self) -> str:
        """Does the gate help? ``helps`` when the passed signals win more often *and* earn
        a higher mean R than all of them, ``hurts`` when both are lower, else ``mixed``."""
        lift = self.lift
        passed_r, all_r = self.passed.mean_r, self.all.mean_r
        if lift is None or passed_r is None or all_r is None:
            return "cannot be judged (no signal passed)"
        r_gain = passed_r - all_r
        detail = f"precision {lift * 100:+.1f} points, mean R {r_gain:+.3f}"
        if lift > 0 and r_gain > 0:
            return f"helps ({detail})"
        if lift < 0 and r_gain < 0:
            return f"hurts ({detail})"
        return f"is mixed ({detail})"


def _slice(r: npt.NDArray[np.float64]) -> Slice:
    count = len(r)
    return Slice(
        count=count,
        wins=int((r > 0).sum()),
        mean_r=float(r.mean()) if count else None,
    )


def scorer_reports(
    journal: Path,
    run_id: str,
    *,
    holdout_from_ms: int | None = None,
    holdout_share: float = 0.3,
) -> list[ScorerReport]:
    """A report per scorer that rated signals in ``run_id`` (none without scorers)."""
    if not 0 < holdout_share <= 1:
        raise ValueError(f"holdout_share must lie in (0, 1], got {holdout_share!r}")
    conn = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(_ROWS, (run_id,)).fetchall()
    finally:
        conn.close()
    by_scorer: dict[tuple[str, str], list[tuple[float, int, int, float]]] = {}
    for scorer, mode, value, passed, ts, r in rows:
        by_scorer.setdefault((scorer, mode), []).append((value, passed, ts, r))
    return [
        _report(scorer, mode, items, holdout_from_ms, holdout_share)
        for (scorer, mode), items in sorted(by_scorer.items())
    ]


def _report(
    scorer: str,
    mode: str,
    items: Sequence[tuple[float, int, int, float]],
    holdout_from_ms: int | None,
    share: float,
) -> ScorerReport:
    ts = np.array([i[2] for i in items], dtype=np.int64)
    if holdout_from_ms is None:
        first, last = int(ts.min()), int(ts.max())
        holdout_from_ms = last - int((last - first) * share)
    keep = ts >= holdout_from_ms
    values = np.array([i[0] for i in items], dtype=np.float64)[keep]
    passed = np.array([i[1] for i in items], dtype=bool)[keep]
    r = np.array([i[3] for i in items], dtype=np.float64)[keep]
    won = (r > 0).astype(np.float64)
    bins: list[CalibrationBin] = []
    ece = brier = None
    if len(values):
        brier = float(((values - won) ** 2).mean())
        index = np.minimum((values * BINS).astype(np.int64), BINS - 1)
        gap = 0.0
        for b in range(BINS):
            inside = index == b
            count = int(inside.sum())
            if not count:
                continue
            mean_score = float(values[inside].mean())
            rate = float(won[inside].mean())
            gap += count * abs(mean_score - rate)
            bins.append(CalibrationBin(b / BINS, (b + 1) / BINS, count, mean_score, rate))
        ece = gap / len(values)
    return ScorerReport(
        scorer=scorer,
        mode=mode,
        holdout_from_ms=holdout_from_ms,
        rated=len(items),
        all=_slice(r),
        passed=_slice(r[passed]),
        below=_slice(r[~passed]),
        brier=brier,
        ece=ece,
        bins=tuple(bins),
    )
