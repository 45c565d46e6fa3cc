"""What a strategy sees during a replay: candle order, clock, indicators, positions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import attrs
import numpy as np
import pytest
from garrison.engine.feed import Series, merge
from garrison.engine.run import RunResult, replay
from garrison.plugins import PluginSet
from garrison.profile.load import load_profile
from garrison_api import Candle, IndicatorSpec, Signal, Sma, StrategyContext

T0 = 1_759_276_800_000  # 2025-10-01 00:00 UTC
BAR = 300_000
HOUR = 3_600_000

Replay = Callable[..., RunResult]
Row = tuple[int, float, float, float, float, float]


@attrs.frozen
class NoParams:
    """Throwaway components take no parameters."""


@attrs.frozen
class Seen:
    """One on_candle call as the strategy saw it."""

    symbol: str
    timeframe: str
    ts: int
    now: int
    sma: float


def watcher_class(seen: list[Seen]) -> type:
    """A strategy that only records what it is shown."""

    class Watcher:
        Params: ClassVar[type] = NoParams
        warmup = 0
        timeframes: tuple[str, ...] = ()
        indicators: Mapping[str, IndicatorSpec] = {"sma": Sma("close", 2)}

        def __init__(self, params: NoParams) -> None:
            self.params = params

        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
            sma = ctx.indicators(candle.symbol)["sma"]
            seen.append(Seen(candle.symbol, candle.timeframe, candle.ts, ctx.clock.now_ms(), sma))
            return ()

    return Watcher


PROFILE = """
[profile]
name = "timeline"
mode = "replay"

[data]
source = "csv"
paths = ["candles/*.csv"]

[journal]
path = "journal.sqlite"

[[strategies]]
use = "watcher"

[sizer]
use = "fixed_risk"
"""


def closes(start: float, n: int) -> list[float]:
    return [start + i for i in range(n)]


def rows(ts0: int, step: int, values: list[float]) -> list[Row]:
    return [(ts0 + i * step, v, v + 0.5, v - 0.5, v, 1.0) for i, v in enumerate(values)]


@pytest.fixture
def seen(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
) -> list[Seen]:
    """Two hours of 5m and 1h BTC bars and 5m ETH bars, replayed through the watcher."""
    write_candles(rows(T0, BAR, closes(100.0, 24)), "BTCUSDT", "5m")
    write_candles(rows(T0, HOUR, [500.0, 700.0]), "BTCUSDT", "1h")
    write_candles(rows(T0, BAR, closes(10.0, 24)), "ETHUSDT", "5m")
    calls: list[Seen] = []
    plugins.registry.for_plugin("test").add_strategy("watcher", watcher_class(calls))
    run_replay(write_profile(PROFILE), plugins)
    return calls


def close_of(s: Seen) -> int:
    return s.ts + (HOUR if s.timeframe == "1h" else BAR)


def test_candles_arrive_by_close_time_longer_timeframe_first(seen: list[Seen]) -> None:
    assert len(seen) == 24 + 2 + 24
    keys = [(close_of(s), s.timeframe != "1h", s.symbol) for s in seen]
    assert keys == sorted(keys)
    # At 01:00 three candles close (one step): the hour first, then the 5m bars by symbol.
    at_one = [(s.symbol, s.timeframe) for s in seen if close_of(s) == T0 + HOUR]
    assert at_one == [("BTCUSDT", "1h"), ("BTCUSDT", "5m"), ("ETHUSDT", "5m")]


def test_clock_reads_the_close_of_the_candle_being_decided(seen: list[Seen]) -> None:
    assert all(s.now == close_of(s) for s in seen)


def test_indicators_follow_the_series_being_decided(seen: list[Seen]) -> None:
    btc_5m = [s.sma for s in seen if (s.symbol, s.timeframe) == ("BTCUSDT", "5m")]
    btc_1h = [s.sma for s in seen if (s.symbol, s.timeframe) == ("BTCUSDT", "1h")]
    eth_5m = [s.sma for s in seen if s.symbol == "ETHUSDT"]
    assert btc_5m[0] != btc_5m[0]  # nan: one bar is not enough for a 2-bar average
    assert btc_5m[1:] == [100.5 + i for i in range(23)]
    assert btc_1h[0] != btc_1h[0]
    assert btc_1h[1:] == [600.0]
    assert eth_5m[1:] == [10.5 + i for i in range(23)]


def series(symbol: str, timeframe: str, stamps: list[int]) -> Series:
    ones = np.ones(len(stamps))
    return Series(symbol, timeframe, np.array(stamps, dtype=np.int64), ones, ones, ones, ones, ones)


def test_merge_orders_a_step_longer_timeframes_first_then_by_symbol() -> None:
    hourly = series("AAAUSDT", "1h", [T0])
    five = series("ZZZUSDT", "5m", [T0 + 11 * BAR, T0 + 12 * BAR])
    also_five = series("BBBUSDT", "5m", [T0 + 11 * BAR])
    timeline = merge([hourly, five, also_five])
    order = list(zip(timeline.series_index.tolist(), timeline.row_index.tolist(), strict=True))
    # All three first rows close at 01:00 (one step): the hour first, then the 5m
    # ones by symbol (BBB before ZZZ whatever the order given).
    assert order == [(0, 0), (2, 0), (1, 0), (1, 1)]
    assert len(merge([])) == 0


def test_merge_skips_the_history_rows_before_a_window() -> None:
    five = series("BTCUSDT", "5m", [T0 + i * BAR for i in range(5)])
    timeline = merge([five], first_rows=[3])
    assert timeline.row_index.tolist() == [3, 4]


def test_a_strategy_narrowed_to_symbols_sees_only_those(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
) -> None:
    write_candles(rows(T0, BAR, closes(100.0, 6)), "BTCUSDT", "5m")
    write_candles(rows(T0, BAR, closes(10.0, 6)), "ETHUSDT", "5m")
    calls: list[Seen] = []
    plugins.registry.for_plugin("test").add_strategy("watcher", watcher_class(calls))
    text = PROFILE.replace('use = "watcher"', 'use = "watcher"\nsymbols = ["ETHUSDT"]')
    profile = load_profile(write_profile(text), plugins.registry)
    result = asyncio.run(replay(profile, plugins))
    assert {s.symbol for s in calls} == {"ETHUSDT"}
    assert result.symbols == ("BTCUSDT", "ETHUSDT")
