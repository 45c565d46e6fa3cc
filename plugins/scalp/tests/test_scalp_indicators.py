"""The scalper's own indicators on real candles: both paths agree, and the trend is the 15m one."""

from __future__ import annotations

import math

import numpy as np
import pytest
from garrison_api import Ema
from garrison_api.indicators import compute
from garrison_api.testing import check_indicator_parity
from garrison_api.testing.columns import candle_columns
from garrison_scalp import BucketEma, OpeningRange

from .realdata import binance

M = 60_000
QUARTER = 15 * M


@pytest.mark.parametrize(("timeframe", "count"), [("3m", 6_000), ("1m", 12_000)])
@pytest.mark.parametrize("period", [8, 21])
def test_bucket_ema_parity(timeframe: str, count: int, period: int) -> None:
    candles = binance("BTCUSDT", timeframe, count)
    report = check_indicator_parity(BucketEma(QUARTER, period, M), candles, tolerance=0.0)
    assert report.ok, report.describe()


def test_bucket_ema_equals_the_ema_of_the_real_15m_closes() -> None:
    bars = binance("ETHUSDT", "3m")
    start = bars[0].ts
    assert start % QUARTER == 0
    quarters = [c for c in binance("ETHUSDT", "15m") if c.ts >= start]
    spec = BucketEma(QUARTER, 21, 3 * M)
    trend = compute(spec, candle_columns(bars))
    reference = compute(Ema("close", 21), candle_columns(quarters))
    at_close = {c.ts + QUARTER: value for c, value in zip(quarters, reference, strict=True)}
    compared = 0
    for bar, value in zip(bars, trend, strict=True):
        close_time = bar.ts + 3 * M
        if close_time % QUARTER or close_time not in at_close or math.isnan(value):
            continue
        assert value == pytest.approx(at_close[close_time], rel=1e-12), bar
        compared += 1
    assert compared > 2_500
    # Between quarter closes the value holds: a 3m bar mid-quarter reads the last closed 15m.
    assert np.all(np.isnan(trend[: spec.warmup]))
    assert not np.isnan(trend[spec.warmup])


def _incremental(spec: OpeningRange, candles: list) -> list[float]:  # type: ignore[type-arg]
    updater = spec.updater()
    return [updater.update(c) for c in candles]


@pytest.mark.parametrize("output", ["high", "low"])
@pytest.mark.parametrize(("timeframe", "offset"), [("3m", 0), ("1m", 8 * 3_600_000)])
def test_opening_range_parity_and_no_lookahead(timeframe: str, offset: int, output: str) -> None:
    candles = binance("ETHUSDT", timeframe, 8_000)[37:]  # start mid-session
    spec = OpeningRange(86_400_000, offset, 30 * M, output)  # type: ignore[arg-type]
    full = compute(spec, candle_columns(candles))
    stepped = np.array(_incremental(spec, candles))
    assert np.array_equal(full, stepped, equal_nan=True)
    for cut in (500, 2_345, 5_000):
        prefix = compute(spec, candle_columns(candles[:cut]))
        assert np.array_equal(prefix, full[:cut], equal_nan=True)


def test_opening_range_is_the_first_half_hour_of_each_session() -> None:
    candles = binance("BTCUSDT", "3m", 3_000)
    spec_high = OpeningRange(86_400_000, 0, 30 * M, "high")
    spec_low = OpeningRange(86_400_000, 0, 30 * M, "low")
    high = compute(spec_high, candle_columns(candles))
    low = compute(spec_low, candle_columns(candles))
    sessions = 0
    for i, c in enumerate(candles):
        into = c.ts % 86_400_000
        day = c.ts - into
        window = [b for b in candles if day <= b.ts < day + 30 * M]
        whole = candles[0].ts <= day
        if into < 30 * M or not whole:
            assert math.isnan(high[i])
            assert math.isnan(low[i])
            continue
        if into == 30 * M:
            sessions += 1
            assert len(window) == 10
        assert high[i] == max(b.high for b in window)
        assert low[i] == min(b.low for b in window)
    assert sessions >= 5
