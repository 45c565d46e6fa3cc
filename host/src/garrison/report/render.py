"""A :class:`~garrison.report.metrics.Report` on a rich console: tables and an equity chart.

Works on any console, terminal or not (CI, files, ``Console(file=StringIO())``):
the chart is sized from ``console.width``, never from the terminal, and is
drawn without colour when the console has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import plotext
from rich.console import Console
from rich.table import Table
from rich.text import Text

from garrison.report.metrics import Report

_DAY_MS = 86_400_000
_CHART_HEIGHT = 16
_MIN_CHART_WIDTH = 30
_Y_AXIS_ROOM = 12  # columns plotext takes for the y tick labels
_NONE = "—"


def _money(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return _NONE
    return f"{value:+,.2f}" if signed else f"{value:,.2f}"


def _pct(fraction: float | None) -> str:
    return _NONE if fraction is None else f"{fraction * 100:.2f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return _NONE if value is None else f"{value:.{digits}f}"


def _when(ts: int | None) -> str:
    if ts is None:
        return _NONE
    return datetime.fromtimestamp(ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _duration(ms: float | None) -> str:
    if ms is None:
        return _NONE
    minutes = round(ms / 60_000)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def _pnl_text(value: float) -> Text:
    style = "green" if value > 0 else "red" if value < 0 else ""
    return Text(_money(value, signed=True), style=style)


def _profit_factor(value: float | None, wins: int) -> str:
    if value is not None:
        return f"{value:.2f}"
    # None means no losing trade (see metrics); say which case it is.
    return "∞ (no losses)" if wins > 0 else _NONE


def _summary_table(report: Report, title: str) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    table.add_row("Period", f"{_when(report.start_ts)} → {_when(report.end_ts)}")
    table.add_row("Starting balance", _money(report.starting_balance))
    table.add_row("Ending equity", _money(report.ending_equity))
    table.add_row("Ending balance (realised)", _money(report.ending_balance))
    if report.open_positions is not None:
        table.add_row("Open positions at end", str(report.open_positions))
    table.add_row("Net PnL", _pnl_text(report.net_pnl))
    table.add_row("Return", Text(f"{report.return_pct:+.2f}%"))
    table.add_row(
        "Trades",
        f"{report.trades} ({report.wins} W / {report.losses} L; "
        f"{report.longs} long / {report.shorts} short)",
    )
    table.add_row("Win rate", _pct(report.win_rate))
    table.add_row(
        "Gross profit / loss", f"{_money(report.gross_profit)} / {_money(report.gross_loss)}"
    )
    table.add_row("Profit factor", _profit_factor(report.profit_factor, report.wins))
    table.add_row("Expectancy (R)", _num(report.expectancy_r, 3))
    table.add_row(
        "Avg win / loss",
        f"{_money(report.avg_win, signed=True)} / {_money(report.avg_loss, signed=True)}",
    )
    table.add_row(
        "Largest win / loss",
        f"{_money(report.largest_win, signed=True)} / {_money(report.largest_loss, signed=True)}",
    )
    table.add_row(
        "Max drawdown", f"{_pct(report.max_drawdown)} ({_money(report.max_drawdown_usdt)} USDT)"
    )
    table.add_row("Sharpe (daily, ann.)", _num(report.sharpe))
    table.add_row("Exposure", _pct(report.exposure))
    table.add_row(
        "Trade duration avg / max",
        f"{_duration(report.avg_duration_ms)} / "
        f"{_duration(None if report.max_duration_ms is None else float(report.max_duration_ms))}",
    )
    table.add_row("Fees", _money(report.fees))
    return table


def _symbol_table(report: Report) -> Table:
    table = Table(title="Per symbol", title_justify="left")
    table.add_column("symbol")
    table.add_column("trades", justify="right")
    table.add_column("win rate", justify="right")
    table.add_column("net pnl", justify="right")
    table.add_column("profit factor", justify="right")
    table.add_column("expectancy R", justify="right")
    for row in report.per_symbol:
        table.add_row(
            row.symbol,
            str(row.trades),
            _pct(row.win_rate),
            _pnl_text(row.net_pnl),
            _profit_factor(row.profit_factor, row.wins),
            _num(row.expectancy_r, 3),
        )
    return table


def _thin(
    ts: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    max_points: int,
) -> tuple[list[int], list[float]]:
    """At most ``max_points`` points, keeping each bucket's low and high so drawdowns show."""
    n = ts.shape[0]
    if n <= max_points:
        return ts.tolist(), values.tolist()
    buckets = max(1, max_points // 2)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep: list[int] = []
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        if hi <= lo:
            continue
        chunk = values[lo:hi]
        keep.extend(sorted({lo + int(np.argmin(chunk)), lo + int(np.argmax(chunk))}))
    if keep[0] != 0:
        keep.insert(0, 0)
    if keep[-1] != n - 1:
        keep.append(n - 1)
    index = np.array(keep, dtype=np.int64)
    return ts[index].tolist(), values[index].tolist()


def equity_chart(
    equity: Sequence[tuple[int, float]], *, width: int, height: int, colorless: bool
) -> str | None:
    """The equity curve as a plotext chart string, dates on the x axis; None under 2 points."""
    if len(equity) < 2:
        return None
    ts = np.array([p[0] for p in equity], dtype=np.int64)
    values = np.array([p[1] for p in equity], dtype=np.float64)
    # Braille cells hold two points across; more would only cost time.
    xs, ys = _thin(ts, values, max_points=2 * width)
    # x is plain seconds (exact placement); the ticks carry the UTC date labels.
    # Day labels only when ticks are surely on distinct days (7 ticks over 2+ weeks).
    form = "%Y-%m-%d" if xs[-1] - xs[0] >= 14 * _DAY_MS else "%m-%d %H:%M"
    # Room for each label plus a gap; plotext silently drops labels that would touch.
    label_room = len(datetime.fromtimestamp(xs[0] / 1000, tz=UTC).strftime(form)) + 6
    n_ticks = max(2, min(7, (width - _Y_AXIS_ROOM) // label_room))
    ticks = np.linspace(xs[0], xs[-1], n_ticks).tolist()
    labels = [datetime.fromtimestamp(t / 1000, tz=UTC).strftime(form) for t in ticks]
    # plotext draws on one module-level figure; reset it before and after so
    # nothing leaks between charts. Its terminal would also cap the size at the
    # real terminal's (80x24 when there is none): the console decides instead.
    figure = plotext.figure
    figure.clear()
    plotext.terminal.limit(False, False)
    try:
        signal = figure.signal([x / 1000 for x in xs], ys)
        signal.lines()
        figure.draw(signal)
        figure.ruler("x").ticks([t / 1000 for t in ticks], labels)
        figure.title("Equity (USDT)")
        figure.plot_size(width, height)
        chart: str = figure.build().string(colorless=colorless)
    finally:
        figure.clear()
        plotext.terminal.limit()
    return chart


def halt_lines(halts: Sequence[tuple[int, str]]) -> list[str]:
    """One line per halt of trading: when (UTC) and why.

    ``message`` says why (the rule and its reason), e.g. ``drawdown 15.2 % >
    15 %``; the line adds the time: ``Trading halted at 2025-10-10 21:20 UTC: ...``.
    """
    return [f"Trading halted at {_when(ts)} UTC: {message}" for ts, message in halts]


def render_report(
    report: Report,
    equity: Sequence[tuple[int, float]],
    console: Console,
    *,
    title: str,
    halts: Sequence[tuple[int, str]] = (),
) -> None:
    """Print ``report`` to ``console``: summary, halts, per-symbol table and equity chart.

    ``halts`` are the (ts ms, message) of every time the kill switch fired,
    in order (see :func:`halt_lines`). The chart is as wide as the console
    and is left out (with a note) when the curve has fewer than 2 points.
    """
    console.print(_summary_table(report, title))
    for line in halt_lines(halts):
        console.print(Text(line, style="bold red"))
    if report.per_symbol:
        console.print(_symbol_table(report))
    chart = equity_chart(
        equity,
        width=max(_MIN_CHART_WIDTH, console.width),
        height=_CHART_HEIGHT,
        colorless=console.color_system is None,
    )
    if chart is None:
        console.print(Text("Equity curve: fewer than 2 points, no chart.", style="dim"))
        return
    console.print(Text.from_ansi(chart), no_wrap=True, overflow="crop")
