"""The console's pure parts: drawdowns, how close each risk limit is, the chart markers."""

from __future__ import annotations

from types import ModuleType

import pytest
from garrison.console import plots
from garrison.console.model import Snapshot
from garrison.console.screens.risk import limit_uses


def test_drawdown_is_the_fall_from_the_running_peak_in_percent() -> None:
    assert plots.drawdowns([100.0, 110.0, 99.0, 120.0, 90.0]) == pytest.approx(
        [0.0, 0.0, 10.0, 0.0, 25.0]
    )


def test_each_limit_says_how_much_of_it_is_used(canned: ModuleType) -> None:
    snapshot = Snapshot(
        status=canned.STATUS,
        positions=canned.POSITIONS,
        risk=canned.RISK,
        equity=canned.EQUITY,
    )
    uses = {u.rule: u for u in limit_uses(snapshot)}
    assert uses["max_open_positions"].used == pytest.approx(2 / 3)
    assert uses["max_drawdown"].used == pytest.approx(4.12 / 15)
    assert uses["max_drawdown"].kill_switch
    # 84.20 lost today of 10,582.32 at the day's start, against 3 %.
    assert uses["daily_loss_limit"].used == pytest.approx(84.2 / 10_582.32 * 100 / 3)
    largest = max(abs(p["qty"] * p["mark"]) for p in canned.POSITIONS)
    assert uses["max_notional"].used == pytest.approx(largest / 5000)
    assert uses["stop_distance"].used is None  # judged per order
    assert uses["trading_state"].used == 0.0


def test_a_halt_uses_the_trading_state_limit_whole(canned: ModuleType) -> None:
    halted = Snapshot(risk={**canned.RISK, "state": "halted"})
    assert {u.rule: u.used for u in limit_uses(halted)}["trading_state"] == 1.0


def test_the_candle_chart_marks_entries_exits_and_stops(canned: ModuleType) -> None:
    chart = plots.candle_chart(
        canned.CANDLES,
        canned.TRADES,
        [canned.POSITIONS[0]],
        "BTC",
        width=140,
        height=30,
        colorless=True,
    )
    assert chart is not None
    # The closed short trade: its entry ▼ and exit ✕; the open long: its entry ▲.
    assert "▼" in chart
    assert "✕" in chart
    assert "▲" in chart
    assert "─" * 10 in chart  # a stop line
    assert plots.candle_chart([], [], [], "none", width=80, height=20) is None
    assert plots.line_chart([1], [1.0], "one point", width=80, height=20) is None
