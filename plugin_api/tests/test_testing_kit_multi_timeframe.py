"""Acceptance: a strategy deciding on 15m while reading a 4h indicator, on real Bybit data.

The 4h candles are the real Bybit BTCUSDT 4h file. There is no Bybit 15m file,
so the 15m candles are the real Bybit BTCUSDT 5m candles aggregated here
(:func:`aggregate`): each 15m bucket starts on the 15-minute grid (UTC epoch),
and takes the open of its first 5m bar, the highest high, the lowest low, the
close of its last bar and the summed volume; a bucket is kept only when all
three of its 5m bars are present (the partial buckets at the edges of the slice
are dropped). The same rule applied to 4h reproduces the Bybit 4h file, which
one test checks. Slices keep the run short (3,000 15m bars, about a month).

The honest strategy passes :func:`check_lookahead` (cut by close time); a
deliberately peeking one, which judges each 15m bar by the close of the 4h bar
it belongs to (still open at that 15m close), is reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from garrison_api import (
    Atr,
    Candle,
    Ema,
    Highest,
    IndicatorSpec,
    Lowest,
    Side,
    Signal,
    StrategyContext,
)
from garrison_api.testing import (
    StrategyContract,
    candles_from_csv,
    check_lookahead,
    run_strategy,
    timeframe_ms,
)

BYBIT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "candles" / "bybit_linear"
FIVE_MINUTE = BYBIT / "bybit_BTCUSDT_5m.csv"
FOUR_HOUR = BYBIT / "bybit_BTCUSDT_4h.csv"
H4 = timeframe_ms("4h")

needs_data = pytest.mark.skipif(
    not (FIVE_MINUTE.exists() and FOUR_HOUR.exists()),
    reason=f"real candles not found in {BYBIT} (../shared/data)",
)


def aggregate(candles: Sequence[Candle], timeframe: str) -> list[Candle]:
    """Candles of one symbol and a finer timeframe, rolled up into complete ``timeframe`` bars.

    Open of the first bar, max high, min low, close of the last, summed
    volume; buckets on the ``timeframe`` grid from the epoch; a bucket
    missing any of its finer bars is dropped.
    """
    length = timeframe_ms(timeframe)
    fine = timeframe_ms(candles[0].timeframe)
    per_bucket = length // fine
    buckets: dict[int, list[Candle]] = {}
    for candle in candles:
        buckets.setdefault(candle.ts - candle.ts % length, []).append(candle)
    rolled = []
    for start, bars in sorted(buckets.items()):
        if len(bars) != per_bucket:
            continue
        rolled.append(
            Candle(
                bars[0].symbol,
                timeframe,
                start,
                bars[0].open,
                max(c.high for c in bars),
                min(c.low for c in bars),
                bars[-1].close,
                sum(c.volume for c in bars),
            )
        )
    return rolled


@lru_cache(maxsize=1)
def btc_5m() -> list[Candle]:
    return candles_from_csv(FIVE_MINUTE)


@lru_cache(maxsize=1)
def btc_4h() -> list[Candle]:
    return candles_from_csv(FOUR_HOUR)


@lru_cache(maxsize=1)
def btc_15m_and_4h() -> list[Candle]:
    """3,000 15m bars from December 2025 on, and the 4h bars up to their end (30 before)."""
    fifteen = aggregate(btc_5m()[20_000:29_003], "15m")
    first, end = fifteen[0].ts, fifteen[-1].ts + timeframe_ms("15m")
    four = [c for c in btc_4h() if first - 30 * H4 <= c.ts and c.ts + H4 <= end]
    return [*fifteen, *four]


@attrs.frozen
class NoParams:
    pass


class TrendBreakout:
    """Decides on 15m: a 20-bar breakout in the direction of the 4h trend.

    The trend is the last closed 4h bar's close against the 4h EMA(20), read
    through ``context_indicators`` and ``ctx.candles``.
    """

    Params: ClassVar[type] = NoParams
    warmup = 20
    timeframes: tuple[str, ...] = ("15m",)
    indicators: Mapping[str, IndicatorSpec] = {
        "hi": Highest("high", 20, offset=1),
        "lo": Lowest("low", 20, offset=1),
        "atr": Atr(14),
    }
    context_indicators: Mapping[str, Mapping[str, IndicatorSpec]] = {
        "4h": {"trend": Ema("close", 20)}
    }

    def __init__(self, params: NoParams | None = None) -> None:
        self.params = params or NoParams()

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        symbol = candle.symbol
        if ctx.position(symbol) is not None:
            return ()
        values = ctx.indicators(symbol)  # the 15m series being decided on
        trend = ctx.indicators(symbol, "4h")["trend"]
        last_4h = ctx.candles(symbol, "4h", 1)
        if not last_4h or trend != trend or values["atr"] != values["atr"]:
            return ()
        rising = last_4h[-1].close > trend
        if rising and candle.close > values["hi"]:
            side = Side.LONG
        elif not rising and candle.close < values["lo"]:
            side = Side.SHORT
        else:
            return ()
        risk = 2.0 * values["atr"] * side.sign
        return (
            Signal(
                symbol,
                candle.ts,
                side,
                entry=candle.close,
                stop=candle.close - risk,
                take_profit=candle.close + 1.5 * risk,
                reason="breakout with the 4h trend",
                features={"trend": trend, "close_4h": last_4h[-1].close},
                bracket_from_fill=True,
            ),
        )


class PeekingTrend(TrendBreakout):
    """Judges each 15m bar by the close of the 4h bar it belongs to: look-ahead.

    That is what joining 4h bars to 15m bars by *open* time does. Here it can
    only be done by waiting for the 4h bar to close, then reading the 15m
    candles of that 4h window and stamping a signal on the first one that
    closed above the 4h open when the 4h bar closed up: the signal claims a
    moment when that 4h close was not known yet.
    """

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        symbol = candle.symbol
        last_4h = ctx.candles(symbol, "4h", 1)
        now = ctx.clock.now_ms()
        if not last_4h or last_4h[-1].ts + H4 != now:
            return ()
        four = last_4h[-1]
        if four.close <= four.open:
            return ()
        window = [c for c in ctx.candles(symbol, "15m", 16) if c.ts >= four.ts]
        for bar in window:
            if bar.close > four.open:
                stop = bar.close * 0.99
                return (
                    Signal(symbol, bar.ts, Side.LONG, entry=bar.close, stop=stop, reason="peeked"),
                )
        return ()


@needs_data
def test_the_aggregation_rebuilds_the_4h_file_from_5m_bars() -> None:
    rebuilt = aggregate(btc_5m()[:9_000], "4h")
    by_ts = {c.ts: c for c in btc_4h()}
    assert len(rebuilt) > 150
    for bar in rebuilt:
        real = by_ts[bar.ts]
        assert (bar.open, bar.high, bar.low, bar.close) == (
            real.open,
            real.high,
            real.low,
            real.close,
        )
        assert bar.volume == pytest.approx(real.volume, rel=1e-6)


@needs_data
def test_the_15m_slice_is_complete_buckets_on_the_grid() -> None:
    candles = btc_15m_and_4h()
    fifteen = [c for c in candles if c.timeframe == "15m"]
    assert len(fifteen) == 3_000
    assert all(c.ts % timeframe_ms("15m") == 0 for c in fifteen)
    assert [b.ts - a.ts for a, b in pairwise(fifteen)] == [900_000] * 2_999
    # the slice starts mid-bucket: the partial first bucket was dropped
    assert btc_5m()[20_000].ts % timeframe_ms("15m") != 0


@needs_data
def test_a_15m_strategy_reading_a_4h_indicator_trades_on_real_data() -> None:
    candles = btc_15m_and_4h()
    result = run_strategy(TrendBreakout(), candles)
    assert len(result.trades) >= 10
    assert {s.side for s in result.signals} == {Side.LONG, Side.SHORT}
    four = sorted((c for c in candles if c.timeframe == "4h"), key=lambda c: c.ts)
    for signal, candle in zip(result.signals, result.decided_on, strict=True):
        assert candle.timeframe == "15m"
        decided_at = candle.ts + timeframe_ms("15m")
        # the 4h close the signal used is the last 4h bar closed by then, never a later one
        closed = [c for c in four if c.ts + H4 <= decided_at]
        assert signal.features["close_4h"] == closed[-1].close
        assert (signal.side is Side.LONG) == (
            signal.features["close_4h"] > signal.features["trend"]
        )
    for trade in result.trades:
        assert trade.exit_ts >= trade.entry_ts
        assert trade.entry_ts % timeframe_ms("15m") == 0


@needs_data
def test_the_honest_strategy_passes_the_lookahead_check_on_real_data() -> None:
    report = check_lookahead(TrendBreakout, btc_15m_and_4h())
    assert report.by_close
    assert len(report.cutoffs) == 20
    assert report.ok, report.describe()


@needs_data
def test_the_peeking_strategy_is_reported() -> None:
    report = check_lookahead(PeekingTrend, btc_15m_and_4h(), cutoffs=10)
    assert not report.ok
    assert len(report.mismatches) >= 5
    first = report.mismatches[0]
    assert first.what == "signal"
    assert isinstance(first.full, Signal)
    assert first.full.reason == "peeked"
    assert first.prefix is None or first.prefix != first.full
    assert f"cut at close time {first.cutoff_ts}" in report.describe()


@needs_data
class TestTrendBreakoutContract(StrategyContract):
    """The whole contract, multi-timeframe check included, on a shorter slice."""

    make_strategy = TrendBreakout
    lookahead_cutoffs = 5

    def candles(self) -> list[Candle]:
        candles = btc_15m_and_4h()
        fifteen = [c for c in candles if c.timeframe == "15m"][:1_000]
        end = fifteen[-1].ts + timeframe_ms("15m")
        return [*fifteen, *(c for c in candles if c.timeframe == "4h" and c.ts + H4 <= end)]
