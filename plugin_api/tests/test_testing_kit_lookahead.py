"""check_lookahead passes an honest strategy and catches two kinds of peeking."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import attrs
import pytest
from garrison_api import Atr, Candle, Highest, IndicatorSpec, Lowest, Side, Signal, StrategyContext
from garrison_api.testing import check_lookahead, random_walk


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
