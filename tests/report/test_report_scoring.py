"""Per-scorer reports: the gate's precision against all signals, calibration, held-out time."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from garrison.journal import Journal
from garrison.report import render_scorer_reports, scorer_reports
from garrison_api import ExitReason, Outcome, Score, Side, Signal
from rich.console import Console

T0 = 1_759_276_800_000
HOUR = 3_600_000


def _journal(tmp_path: Path, rows: list[tuple[str, float, bool, float]]) -> tuple[Path, str]:
    """One run: signal i at T0 + i hours, scored by (scorer, value, passed), ending in R."""
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        run = journal.start_run(profile_name="t", mode="replay", profile_toml="", started_ms=T0)
        for i, (scorer, value, passed, r) in enumerate(rows):
            signal_id = str(i + 1)
            s = Signal("BTCUSDT", T0 + i * HOUR, Side.LONG, entry=100.0, stop=99.0)
            journal.record_signal(signal_id, "turtle", s)
            journal.record_score(signal_id, scorer, Score(value), "gate", passed)
            reason = ExitReason.TAKE_PROFIT if r > 0 else ExitReason.STOP
            outcome = Outcome(s, "turtle", r, reason, s.ts + HOUR, True, signal_id, value)
            journal.record_phantom(signal_id, "turtle", outcome)
        journal.flush()
    return path, run


def test_precision_of_the_passed_signals_against_all_of_them(tmp_path: Path) -> None:
    # Ten signals: the four passed (score >= 0.6) win three times; the six others once.
    rows = [
        ("m", 0.9, True, 2.0),
        ("m", 0.8, True, 2.0),
        ("m", 0.7, True, -1.0),
        ("m", 0.65, True, 2.0),
        ("m", 0.5, False, -1.0),
        ("m", 0.4, False, -1.0),
        ("m", 0.3, False, 2.0),
        ("m", 0.2, False, -1.0),
        ("m", 0.1, False, -1.0),
        ("m", 0.05, False, -1.0),
    ]
    path, run = _journal(tmp_path, rows)
    (report,) = scorer_reports(path, run, holdout_from_ms=T0)
    assert (report.all.count, report.all.wins) == (10, 4)
    assert (report.passed.count, report.passed.wins) == (4, 3)
    assert (report.below.count, report.below.wins) == (6, 1)
    assert report.lift == pytest.approx(0.75 - 0.4)
    assert report.passed.mean_r == pytest.approx(1.25)
    assert report.all.mean_r == pytest.approx(0.2)
    assert report.verdict.startswith("helps (precision +35.0 points, mean R +1.050)")
    # Brier: the mean squared gap between score and outcome.
    wins = [1, 1, 0, 1, 0, 0, 1, 0, 0, 0]
    values = [r[1] for r in rows]
    assert report.brier == pytest.approx(
        sum((v - w) ** 2 for v, w in zip(values, wins, strict=True)) / 10
    )
    (top,) = [b for b in report.bins if b.low == pytest.approx(0.9)]
    assert (top.count, top.mean_score, top.win_rate) == (1, 0.9, 1.0)
    assert sum(b.count for b in report.bins) == 10


def test_only_held_out_time_is_judged(tmp_path: Path) -> None:
    # 10 signals an hour apart; by default the last 30 % of the span (from hour 6.3 on,
    # so hours 7, 8, 9) is held out.
    rows = [("m", 0.9, True, 1.0)] * 7 + [("m", 0.9, True, -1.0)] * 3
    path, run = _journal(tmp_path, rows)
    (report,) = scorer_reports(path, run)
    assert report.rated == 10
    assert report.all.count == 3
    assert report.all.wins == 0
    assert report.holdout_from_ms == T0 + 9 * HOUR - int(9 * HOUR * 0.3)
    (later,) = scorer_reports(path, run, holdout_from_ms=T0 + 8 * HOUR)
    assert later.all.count == 2


def test_each_scorer_gets_its_own_report_and_tables(tmp_path: Path) -> None:
    rows = [("a", 0.7, True, 1.0), ("b", 0.2, False, 1.0), ("a", 0.3, False, -1.0)]
    path, run = _journal(tmp_path, rows)
    reports = scorer_reports(path, run, holdout_from_ms=T0)
    assert [r.scorer for r in reports] == ["a", "b"]
    assert reports[1].verdict == "cannot be judged (no signal passed)"
    out = io.StringIO()
    render_scorer_reports(reports, Console(file=out, width=120))
    text = out.getvalue()
    assert "Scorer a (gate) on held-out time" in text
    assert "Calibration of b" in text
    assert ">= threshold" in text


def test_a_run_without_scorers_has_no_report(tmp_path: Path) -> None:
    path, run = _journal(tmp_path, [])
    assert scorer_reports(path, run) == []
