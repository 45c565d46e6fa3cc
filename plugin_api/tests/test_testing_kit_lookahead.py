"""check_lookahead passes an honest strategy and catches two kinds of peeking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import attrs
import pytest
from garrison_api import (
    Atr,
    Candle,
    Highest,
    IndicatorSpec,
    Lowest,
    Side,
    Signal,
    Sma,
    StrategyContext,
)
from garrison_api.testing import check_lookahead, random_walk, run_strategy


@attrs.frozen
class NoParams:
    pass


CANDLES = random_walk("AUSDT", 1_200, 1) + random_walk("BUSDT", 1_200, 2)


class Breakout:
    """Honest: 10-bar channel breakouts with an ATR stop and take-profit."""

    Params: ClassVar[type] = NoParams
    warmup = 10
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {
        "hi": Highest("high", 10, offset=1),
        "lo": Lowest("low", 10, offset=1),
        "atr": Atr(10),
    }

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        v = ctx.indicators(candle.symbol)
        if v["atr"] != v["atr"] or ctx.position(candle.symbol) is not None:
            return ()
        side = (
            Side.LONG if candle.close > v["hi"] else Side.SHORT if candle.close < v["lo"] else None
        )
        if side is None:
            return ()
        risk = 1.5 * v["atr"] * side.sign
        return (
            Signal(
                candle.symbol,
                candle.ts,
                side,
                entry=candle.close,
                stop=candle.close - risk,
                take_profit=candle.close + 2 * risk,
                bracket_from_fill=True,
            ),
        )


class Backdater:
    """Peeks: at bar t it stamps, with bar t-1's time, which way bar t went."""

    Params: ClassVar[type] = NoParams
    warmup = 1
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {}

    def __init__(self) -> None:
        self.previous: dict[str, Candle] = {}

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        before = self.previous.get(candle.symbol)
        self.previous[candle.symbol] = candle
        if before is None:
            return ()
        side = Side.LONG if candle.close > before.close else Side.SHORT
        return (Signal(candle.symbol, before.ts, side, entry=before.close),)


class LeakyMemory:
    """Peeks: a class-level cache outlives the run, so later runs know the next bar."""

    Params: ClassVar[type] = NoParams
    warmup = 0
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {}
    memory: ClassVar[dict[tuple[str, int], float]] = {}

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        LeakyMemory.memory[(candle.symbol, candle.ts)] = candle.close
        following = LeakyMemory.memory.get((candle.symbol, candle.ts + 300_000))
        if following is not None and following > candle.close * 1.004:
            return (Signal(candle.symbol, candle.ts, Side.LONG, entry=candle.close),)
        return ()


def test_an_honest_strategy_passes() -> None:
    report = check_lookahead(Breakout, CANDLES)
    assert report.ok, report.describe()
    assert len(report.cutoffs) == 20
    assert report.mismatches == ()
    assert report.describe() == "no look-ahead found at 20 cutoffs"


def test_a_back_dating_strategy_fails() -> None:
    report = check_lookahead(Backdater, CANDLES, cutoffs=5)
    assert not report.ok
    assert len(report.mismatches) == 5
    first = report.mismatches[0]
    assert first.what == "signal"
    assert isinstance(first.full, Signal)
    assert "look-ahead: 5 of 5 cutoffs differ" in report.describe()
    assert f"cut at ts {first.cutoff_ts}" in first.describe()


def test_a_strategy_remembering_the_future_across_runs_fails() -> None:
    LeakyMemory.memory.clear()
    report = check_lookahead(LeakyMemory, CANDLES, cutoffs=4)
    LeakyMemory.memory.clear()
    assert not report.ok
    assert {m.what for m in report.mismatches} == {"signal"}


def test_cutoffs_are_spread_and_never_the_last_bar() -> None:
    report = check_lookahead(Breakout, CANDLES[:100], cutoffs=3)
    assert report.cutoffs == (24 * 300_000, 49 * 300_000, 74 * 300_000)
    few = check_lookahead(Breakout, CANDLES[:3], cutoffs=10)
    assert few.cutoffs == (0, 300_000)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="cutoffs must be a positive int, got 0"):
        check_lookahead(Breakout, CANDLES, cutoffs=0)
    with pytest.raises(ValueError, match="check_lookahead needs candles, got none"):
        check_lookahead(Breakout, [])


# -- several timeframes: cut by close time ------------------------------------

HOUR = 3_600_000
FIVE = random_walk("AUSDT", 1_200, 5)
# An hourly series of its own that starts 20 hours in: the first cut sees none of it.
HOURLY = [attrs.evolve(c, ts=c.ts + 20 * HOUR) for c in random_walk("AUSDT", 80, 6, timeframe="1h")]


class HourlyTrend(Breakout):
    """Honest: 5m breakouts taken only with the last closed hourly bar above its SMA(5)."""

    timeframes: tuple[str, ...] = ("5m",)
    context_indicators: Mapping[str, Mapping[str, IndicatorSpec]] = {"1h": {"sma": Sma("close", 5)}}

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        hourly = ctx.candles(candle.symbol, "1h", 1)
        sma = ctx.indicators(candle.symbol, "1h")["sma"]
        if not hourly or not hourly[-1].close > sma:
            return ()
        return super().on_candle(candle, ctx)


class HourlyBackdater(HourlyTrend):
    """Peeks: when an hourly bar closes up, it signals as of that hour's first 5m bar."""

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        hourly = ctx.candles(candle.symbol, "1h", 1)
        if not hourly or hourly[-1].ts + HOUR != ctx.clock.now_ms():
            return ()
        bar = hourly[-1]
        if bar.close <= bar.open:
            return ()
        return (Signal(candle.symbol, bar.ts, Side.LONG, entry=bar.open),)


def test_several_timeframes_are_cut_by_close_time() -> None:
    report = check_lookahead(HourlyTrend, [*FIVE, *HOURLY], cutoffs=8)
    assert report.ok, report.describe()
    assert report.by_close
    closes = {c.ts + 300_000 for c in FIVE} | {c.ts + HOUR for c in HOURLY}
    assert set(report.cutoffs) <= closes
    assert report.cutoffs[0] < HOURLY[0].ts + HOUR  # a prefix without any hourly bar works
    assert len(run_strategy(HourlyTrend(), [*FIVE, *HOURLY]).signals) > 3


def test_a_strategy_back_dating_what_a_longer_bar_told_it_fails() -> None:
    report = check_lookahead(HourlyBackdater, [*FIVE, *HOURLY], cutoffs=8)
    assert not report.ok
    assert {m.what for m in report.mismatches} == {"signal"}
    assert all(m.by_close for m in report.mismatches)
    assert "cut at close time" in report.describe()


def test_one_timeframe_reports_open_times_as_before() -> None:
    report = check_lookahead(Breakout, CANDLES[:100], cutoffs=3)
    assert not report.by_close
    assert report.cutoffs == (24 * 300_000, 49 * 300_000, 74 * 300_000)
