"""Turtle's fill edge cases and signal shape, on small hand-made bar series."""

from __future__ import annotations

import math

import attrs
import pytest
from garrison_api import Candle, ExitReason, Position, Side, SignalKind
from garrison_api.testing import StubContext, run_strategy
from garrison_turtle import TurtleParams, TurtleStrategy

STEP = 300_000  # 5m


def bar(i: int, o: float, h: float, low: float, c: float, symbol: str = "TESTUSDT") -> Candle:
    return Candle(symbol, "5m", i * STEP, o, h, low, c, 1.0)


def quiet_bars(count: int = 21) -> list[Candle]:
    """Bars 0..count-1 ranging 99..101 around 100: every true range is 2, so N = 2 at bar 20."""
    return [bar(i, 100.0, 101.0, 99.0, 100.0) for i in range(count)]


def breakout_long() -> list[Candle]:
    """Quiet bars, then bar 21 closes at 102 above the 20-bar high (101): a long entry.

    TR[21] = 3, so N[21] = (19·2 + 3)/20 = 2.05 and the stop sits 4.1 below the fill.
    Bar 22 opens at 102.5 (the fill): stop 98.4.
    """
    return [
        *quiet_bars(),
        bar(21, 100.0, 102.5, 99.5, 102.0),
        bar(22, 102.5, 103.0, 102.0, 102.8),
    ]


def test_entry_signal_carries_close_stop_and_features() -> None:
    result = run_strategy(TurtleStrategy(), breakout_long())
    (signal,) = result.signals
    assert signal.kind is SignalKind.ENTRY
    assert signal.side is Side.LONG
    assert signal.ts == 21 * STEP
    assert signal.entry == 102.0
    assert signal.stop == pytest.approx(102.0 - 2 * 2.05)
    assert signal.bracket_from_fill
    assert signal.reason == "turtle s1 breakout above 20-bar high"
    assert signal.features["n"] == pytest.approx(2.05)
    assert signal.features["upper"] == 101.0
    assert signal.features["lower"] == 99.0
    (position,) = result.open_positions
    assert position.entry_price == 102.5
    assert position.entry_ts == 22 * STEP
    assert position.stop == pytest.approx(102.5 - 4.1)


def test_stop_gapped_through_exits_at_the_open() -> None:
    candles = [*breakout_long(), bar(23, 97.0, 99.5, 96.5, 99.2)]
    (trade,) = run_strategy(TurtleStrategy(), candles).trades
    assert trade.exit_reason is ExitReason.STOP
    assert trade.exit_ts == 23 * STEP
    assert trade.exit_price == 97.0  # the bar opened below the 98.4 stop


def test_stop_touched_intrabar_exits_at_the_stop() -> None:
    candles = [*breakout_long(), bar(23, 102.0, 102.2, 98.0, 99.5)]
    (trade,) = run_strategy(TurtleStrategy(), candles).trades
    assert trade.exit_reason is ExitReason.STOP
    assert trade.exit_price == pytest.approx(98.4)
    assert trade.r_multiple == pytest.approx(-1.0)


def test_stop_out_then_entry_decision_at_the_same_close() -> None:
    # Bar 23 hits the 98.4 stop and closes at 97.5, below the 20-bar low (99): the
    # stop-out does not stop the strategy from going short at that close.
    candles = [
        *breakout_long(),
        bar(23, 102.0, 102.2, 97.0, 97.5),
        bar(24, 97.4, 97.6, 97.0, 97.2),
    ]
    result = run_strategy(TurtleStrategy(), candles)
    (trade,) = result.trades
    assert (trade.exit_ts, trade.exit_reason) == (23 * STEP, ExitReason.STOP)
    entry = result.signals[-1]
    assert (entry.ts, entry.side, entry.kind) == (23 * STEP, Side.SHORT, SignalKind.ENTRY)
    assert entry.reason == "turtle s1 breakout below 20-bar low"
    (position,) = result.open_positions
    assert (position.side, position.entry_ts, position.entry_price) == (Side.SHORT, 24 * STEP, 97.4)


def test_exit_channel_closes_the_position_at_the_next_open() -> None:
    # 10 bars before bar 23 have lows >= 99; bar 23 closes at 98.9 < 99, above the stop.
    candles = [
        *breakout_long(),
        bar(23, 102.7, 102.8, 98.8, 98.9),
        bar(24, 98.7, 99.0, 98.6, 98.8),
    ]
    result = run_strategy(TurtleStrategy(), candles)
    exit_signal = result.signals[-1]
    assert exit_signal.kind is SignalKind.EXIT
    assert exit_signal.side is Side.LONG
    assert exit_signal.entry == 98.9
    assert exit_signal.reason == "turtle s1 exit: close below 10-bar low"
    (trade,) = result.trades
    assert (trade.exit_ts, trade.exit_price, trade.exit_reason) == (
        24 * STEP,
        98.7,
        ExitReason.SIGNAL,
    )


def test_no_decision_before_bar_20() -> None:
    # A breakout at bar 19 is ignored: N is not warm until bar 20.
    candles = [*quiet_bars(19), bar(19, 100.0, 110.0, 100.0, 109.0)]
    assert run_strategy(TurtleStrategy(), candles).signals == ()


def test_open_position_at_the_end_is_not_a_trade() -> None:
    result = run_strategy(TurtleStrategy(), breakout_long())
    assert result.trades == ()
    assert len(result.open_positions) == 1


def _context_after(candles: list[Candle], strategy: TurtleStrategy) -> StubContext:
    ctx = StubContext(strategy.indicators)
    for candle in candles:
        ctx.push(candle)
    return ctx


def test_only_entries_when_flat_and_only_exits_of_the_held_side() -> None:
    strategy = TurtleStrategy()
    breakout = bar(21, 100.0, 102.5, 99.5, 102.0)
    ctx = _context_after([*quiet_bars(), breakout], strategy)
    assert len(strategy.on_candle(breakout, ctx)) == 1
    # Already long: the same breakout is no new entry, and no exit either.
    ctx.set_position("TESTUSDT", Position("TESTUSDT", Side.LONG, 1.0, 101.0, 0))
    assert strategy.on_candle(breakout, ctx) == ()
    # Short: a close above the 10-bar high is that short's exit.
    ctx.set_position("TESTUSDT", Position("TESTUSDT", Side.SHORT, 1.0, 99.0, 0))
    (signal,) = strategy.on_candle(breakout, ctx)
    assert (signal.kind, signal.side) == (SignalKind.EXIT, Side.SHORT)
    assert signal.reason == "turtle s1 exit: close above 10-bar high"


def test_nothing_returns_the_shared_empty_tuple() -> None:
    strategy = TurtleStrategy()
    candles = quiet_bars(25)
    ctx = _context_after(candles, strategy)
    first = strategy.on_candle(candles[-1], ctx)
    second = strategy.on_candle(candles[-1], ctx)
    assert first == ()
    assert first is second


def test_system2_waits_for_the_55_bar_channel() -> None:
    strategy = TurtleStrategy(TurtleParams(system=2))
    candles = [*quiet_bars(40), bar(40, 100.0, 103.0, 100.0, 102.0)]
    ctx = _context_after(candles, strategy)
    assert not math.isnan(ctx.indicators("TESTUSDT")["n"])
    assert strategy.on_candle(candles[-1], ctx) == ()
    candles = [*quiet_bars(55), bar(55, 100.0, 103.0, 100.0, 102.0)]
    result = run_strategy(TurtleStrategy(TurtleParams(system=2)), candles)
    (signal,) = result.signals
    assert signal.reason == "turtle s2 breakout above 55-bar high"


def test_timeframe_param_narrows_the_feed() -> None:
    strategy = TurtleStrategy(TurtleParams(timeframe="4h"))
    assert strategy.timeframes == ("4h",)
    assert TurtleStrategy().timeframes == ()
    five_minute = breakout_long()
    four_hour = [attrs.evolve(c, symbol="OTHERUSDT", timeframe="4h") for c in five_minute]
    result = run_strategy(strategy, [*five_minute, *four_hour])
    assert {s.symbol for s in result.signals} == {"OTHERUSDT"}
