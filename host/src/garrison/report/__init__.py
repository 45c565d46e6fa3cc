"""Backtest reporting: metrics, a rich rendering with an equity chart, and the trades CSV."""

from garrison.report.metrics import Report, SymbolStats, compute_report
from garrison.report.render import equity_chart, halt_lines, render_report
from garrison.report.scoring import CalibrationBin, ScorerReport, Slice, scorer_reports
from garrison.report.scoring_render import render_scorer_reports
from garrison.report.trades_csv import (
    TradesCsvError,
    check_trades_csv_target,
    write_trades_csv,
)

__all__ = [
    "CalibrationBin",
    "Report",
    "ScorerReport",
    "Slice",
    "SymbolStats",
    "TradesCsvError",
    "check_trades_csv_target",
    "compute_report",
    "equity_chart",
    "halt_lines",
    "render_report",
    "render_scorer_reports",
    "scorer_reports",
    "write_trades_csv",
]
