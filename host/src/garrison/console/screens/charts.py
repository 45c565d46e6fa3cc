"""Charts: equity and drawdown over the run, and one symbol's candles with its trades."""

from __future__ import annotations

from typing import Any

import attrs
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Static

from garrison.console import plots
from garrison.console.model import Snapshot
from garrison.console.screens.base import HostView


@attrs.frozen
class ChartData:
    """What the charts draw, fetched by the app while this screen is shown."""

    #: ``[ts, equity, balance]`` points of the run.
    equity: list[list[float]] = attrs.field(factory=list)
    #: The ``candles`` answer: symbol, timeframe, timeframes, symbols, candles.
    candles: dict[str, Any] = attrs.field(factory=dict)
    trades: list[dict[str, Any]] = attrs.field(factory=list)
    #: Why a part could not be fetched (the host's error), by part.
    problems: dict[str, str] = attrs.field(factory=dict)


class Chart(Widget):
    """A plotext chart sized to the widget; ``draw(width, height)`` returns it or None."""

    DEFAULT_CSS = "Chart { width: 1fr; height: 1fr; }"

    def __init__(self, empty: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._empty = empty
        self._draw: Any = None

    def plot(self, draw: Any, empty: str | None = None) -> None:
        self._draw = draw
        if empty is not None:
            self._empty = empty
        self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        if self._draw is None or width < 20 or height < 7:
            return Text(self._empty, style="dim")
        # A row spare: plotext may take one more than asked for its tick labels.
        chart = self._draw(width, height - 1)
        if chart is None:
            return Text(self._empty, style="dim")
        return Text.from_ansi(chart)


class ChartsView(HostView):
    """Equity and drawdown side by side, the symbol's candles below ([ and ] change symbol)."""

    #: What the charts show now: the data, and the symbol's positions' entries and stops.
    _shown: tuple[ChartData, list[tuple[Any, Any, Any]]] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="charts-top"):
            yield Chart("no equity points journaled yet", id="equity-chart")
            yield Chart("no equity points journaled yet", id="drawdown-chart")
        with Vertical(id="charts-bottom"):
            yield Static(id="candles-title")
            yield Chart("no candles held yet", id="candles-chart")

    def show(self, snapshot: Snapshot) -> None:
        """The charts are drawn from :meth:`show_charts`; the snapshot adds nothing here."""

    def show_charts(self, data: ChartData, positions: list[dict[str, Any]]) -> None:
        candles = data.candles
        symbol = str(candles.get("symbol", ""))
        held = [p for p in positions if p.get("symbol") == symbol]
        # Drawn again only when what they show changed (not on every mark of a
        # position): plotext takes a while per chart.
        shown = (data, [(p.get("entry_ts"), p.get("stop"), p.get("side")) for p in held])
        if shown == self._shown:
            return
        self._shown = shown
        ts = [int(p[0]) for p in data.equity]
        values = [float(p[1]) for p in data.equity]
        problem = data.problems.get("equity_history")
        self.query_one("#equity-chart", Chart).plot(
            lambda w, h: plots.line_chart(ts, values, "Equity (USDT)", width=w, height=h),
            problem,
        )
        falls = plots.drawdowns(values)
        self.query_one("#drawdown-chart", Chart).plot(
            lambda w, h: plots.line_chart(ts, falls, "Drawdown from peak (%)", width=w, height=h),
            problem,
        )
        rows = candles.get("candles", [])
        title = (
            Text(f"{symbol} {candles.get('timeframe', '')}", style="bold") if symbol else Text("")
        )
        if symbol:
            title.append(
                f"  ▲▼ entries  ✕ exits  ─ stops  ·  {len(data.trades)} closed trade(s), "
                f"{len(held)} open  ·  [ ] other symbol",
                style="dim",
            )
        self.query_one("#candles-title", Static).update(title)
        self.query_one("#candles-chart", Chart).plot(
            lambda w, h: plots.candle_chart(
                rows, data.trades, held, f"{symbol} candles", width=w, height=h
            ),
            data.problems.get("candles"),
        )
