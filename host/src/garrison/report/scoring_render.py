"""Scorer reports (:mod:`garrison.report.scoring`) as rich tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from garrison.report.scoring import ScorerReport, Slice

_NONE = "—"


def _rate(value: float | None) -> str:
    return _NONE if value is None else f"{value * 100:.1f}%"


def _r(value: float | None) -> str:
    return _NONE if value is None else f"{value:+.3f}"


def _num(value: float | None, digits: int = 4) -> str:
    return _NONE if value is None else f"{value:.{digits}f}"


def _when(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _row(table: Table, name: str, part: Slice) -> None:
    table.add_row(name, f"{part.count:,}", f"{part.wins:,}", _rate(part.win_rate), _r(part.mean_r))


def render_scorer_reports(reports: Sequence[ScorerReport], console: Console) -> None:
    """Print each scorer's gate table and calibration table."""
    for report in reports:
        held = report.all.count
        title = (
            f"Scorer {report.scorer} ({report.mode}) on held-out time from "
            f"{_when(report.holdout_from_ms)}: {held:,} of {report.rated:,} rated signals"
        )
        gate = Table(title=title, title_justify="left")
        for column in ("signals", "count", "wins", "win rate", "mean R"):
            gate.add_column(column, justify="right" if column != "signals" else "left")
        _row(gate, "all rated", report.all)
        _row(gate, ">= threshold", report.passed)
        _row(gate, "< threshold", report.below)
        console.print(gate)
        console.print(
            f"precision of >= threshold vs all: {_rate(report.passed.win_rate)} vs "
            f"{_rate(report.all.win_rate)}; the gate {report.verdict}. Brier "
            f"{_num(report.brier)}, expected calibration error {_num(report.ece)}"
        )
        if report.bins:
            calibration = Table(title=f"Calibration of {report.scorer}", title_justify="left")
            for column in ("score", "count", "mean score", "win rate"):
                calibration.add_column(column, justify="right")
            for b in report.bins:
                calibration.add_row(
                    f"{b.low:.1f}–{b.high:.1f}",
                    f"{b.count:,}",
                    f"{b.mean_score:.3f}",
                    _rate(b.win_rate),
                )
            console.print(calibration)
