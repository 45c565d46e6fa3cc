"""Charts as plotext strings: equity, drawdown, and a symbol's candles with its trades.

plotext draws on one module-level figure: every function clears it before
and after, and lifts plotext's own cap at the real terminal's size (the
widget decides the size). The console calls these from its one UI thread.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import plotext

#: Columns plotext takes for the y tick labels (left of the frame).
_Y_AXIS_ROOM = 12


def drawdowns(equity: Sequence[float]) -> list[float]:
    """Drawdown from the running peak at each point, in percent (0 at a new peak)."""
    peak = float("-inf")
    found = []
    for value in equity:
        peak = max(peak, value)
        found.append(0.0 if peak <= 0 else (peak - value) / peak * 100)
    return found


def _labels(ts: Sequence[int], width: int) -> tuple[list[float], list[str]]:
    """Tick positions (indexes into ``ts``) and their UTC labels, as many as fit."""
    span = ts[-1] - ts[0] if ts else 0
    form = "%Y-%m-%d" if span >= 14 * 86_400_000 else "%m-%d %H:%M"
    count = max(2, min(6, (width - _Y_AXIS_ROOM) // 18))
    count = min(count, len(ts))
    places = [round(i * (len(ts) - 1) / (count - 1)) for i in range(count)] if count > 1 else [0]
    return [float(p) for p in places], [
        datetime.fromtimestamp(ts[p] / 1000, tz=UTC).strftime(form) for p in places
    ]


def _build(draw: Callable[[Any], None], width: int, height: int, colorless: bool) -> str:
    figure = plotext.figure
    figure.clear()
    plotext.terminal.limit(False, False)
    try:
        figure.theme("simple")
        draw(figure)
        figure.plot_size(max(20, width), max(6, height))
        chart: str = figure.build().string(colorless=colorless)
    finally:
        figure.clear()
        plotext.terminal.limit()
    return chart


def line_chart(
    ts: Sequence[int],
    values: Sequence[float],
    title: str,
    *,
    width: int,
    height: int,
    colorless: bool = False,
) -> str | None:
    """One series over time (x = point index, ticks in UTC); None under 2 points."""
    if len(values) < 2:
        return None
    positions, labels = _labels(ts, width)

    def draw(figure: Any) -> None:
        signal = figure.signal(list(range(len(values))), list(values))
        signal.lines()
        figure.draw(signal)
        figure.ruler("x").ticks(positions, labels)
        figure.title(title)

    return _build(draw, width, height, colorless)


def candle_chart(
    candles: Sequence[Sequence[float]],
    trades: Sequence[dict[str, Any]],
    positions: Sequence[dict[str, Any]],
    title: str,
    *,
    width: int,
    height: int,
    colorless: bool = False,
) -> str | None:
    """Candles ``[ts, o, h, l, c, v]`` with entries (▲ long, ▼ short), exits (✕) and stops.

    A trade's stop is drawn from its entry to its exit; an open position's
    from its entry to the last candle. Only what falls in the candles' span
    is drawn. None without candles.
    """
    if not candles:
        return None
    ts = [int(c[0]) for c in candles]
    first, last = ts[0], ts[-1]

    def place(at: int) -> int:
        return max(0, min(len(ts) - 1, bisect.bisect_right(ts, at) - 1))

    def draw(figure: Any) -> None:
        xs = list(range(len(candles)))
        figure.draw(
            figure.candlestick(
                {
                    "date": xs,
                    "open": [c[1] for c in candles],
                    "high": [c[2] for c in candles],
                    "low": [c[3] for c in candles],
                    "close": [c[4] for c in candles],
                }
            )
        )
        held = [
            (p["entry_ts"], p["entry_price"], None, None, p.get("stop"), p["side"])
            for p in positions
        ]
        closed = [
            (
                t["entry_ts"],
                t["entry_price"],
                t["exit_ts"],
                t["exit_price"],
                t.get("stop"),
                t["side"],
            )
            for t in trades
        ]
        for entry_ts, entry, exit_ts, exit_price, stop, side in [*closed, *held]:
            if entry_ts is None or entry_ts > last or (exit_ts is not None and exit_ts < first):
                continue
            start = place(entry_ts)
            end = len(ts) - 1 if exit_ts is None else place(exit_ts)
            if isinstance(stop, int | float):
                figure.draw(figure.segment((start, max(end, start + 1)), (stop, stop), marker="─"))
            if entry_ts >= first:
                figure.draw(figure.signal([start], [entry], marker="▲" if side == "long" else "▼"))
            if exit_ts is not None and exit_price is not None and exit_ts <= last:
                figure.draw(figure.signal([end], [exit_price], marker="✕"))
        positions_x, labels = _labels(ts, width)
        figure.ruler("x").ticks(positions_x, labels)
        figure.title(title)

    return _build(draw, width, height, colorless)
