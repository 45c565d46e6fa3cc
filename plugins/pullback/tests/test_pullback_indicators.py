"""The plugin's own indicators: vectorised and bar by bar agree on real data, and by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from garrison_api import Candle
from garrison_api.testing import check_indicator_parity
from garrison_pullback import AtrPercentile, MarketStructure, PivotLevel

from .conftest import real_candles

SPECS = [
    PivotLevel("high", 2, 2, 30),
    PivotLevel("low", 2, 2, 30),
    PivotLevel("high", 3, 1, 50),
    PivotLevel("low", 1, 4, 5),
    MarketStructure(2, 2),
    MarketStructure(3, 2),
    AtrPercentile(14, 100),
    AtrPercentile(5, 7),
]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@pytest.mark.parametrize("symbol", ["BTCUSDT", "SOLUSDT"])
def test_parity_on_real_candles(spec: object, symbol: str) -> None:
    candles = real_candles(f"bybit_linear/bybit_{symbol}_5m.csv", 6_000)
    report = check_indicator_parity(spec, candles)  # type: ignore[arg-type]
    assert report.ok, report.describe()


def bars(highs: list[float], lows: list[float]) -> list[Candle]:
    return [
        Candle("X", "15m", i * 900_000, (h + lo) / 2, h, lo, (h + lo) / 2, 1.0)
        for i, (h, lo) in enumerate(zip(highs, lows, strict=True))
    ]


def values(spec: object, candles: list[Candle]) -> list[float]:
    columns = {
        name: np.array([float(getattr(c, name)) for c in candles])
        for name in ("ts", "open", "high", "low", "close", "volume")
    }
    out = spec.compute(columns)  # type: ignore[attr-defined]
    updater = spec.updater()  # type: ignore[attr-defined]
    step = [updater.update(c) for c in candles]
    np.testing.assert_array_equal(out, np.array(step))
    return [float(v) for v in out]


def test_pivot_level_by_hand() -> None:
    highs = [10, 11, 15, 12, 11, 13, 12, 11.5, 11, 10.5, 10, 9.8, 9.6]
    lows = [9] * 13
    got = values(PivotLevel("high", 2, 2, 5), bars(highs, lows))
    # Bar 2's 15 is a pivot, confirmed at bar 4, within the last 5 bars up to bar 6; bar 5's
    # 13 is confirmed at bar 7 and ages out after bar 9; the falling highs after it are no pivots.
    assert [v if not math.isnan(v) else None for v in got] == [
        *[None] * 4,
        15.0,
        15.0,
        15.0,
        13.0,
        13.0,
        13.0,
        0.0,
        0.0,
        0.0,
    ]


def test_structure_by_hand() -> None:
    # Pivot highs 12 then 14, pivot lows 8 then 9: higher highs and higher lows.
    highs = [10, 11, 12, 11, 10, 9, 10, 12, 14, 13, 12, 11, 12, 13]
    lows = [9, 9, 10, 9, 8, 7.5, 8, 9, 11, 10, 9, 9.5, 10, 11]
    got = values(MarketStructure(2, 2), bars(highs, lows))
    assert got[-1] == 1.0
    flipped = values(
        MarketStructure(2, 2), bars([-h + 30 for h in lows], [-lo + 30 for lo in highs])
    )
    assert flipped[-1] == -1.0
