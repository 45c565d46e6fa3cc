"""Turtle through the kit's contract tests and look-ahead check, on real candles."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import pytest
from garrison_api import Candle
from garrison_api.testing import StrategyContract, candles_from_csv, check_lookahead
from garrison_turtle import TurtleParams, TurtleStrategy

BYBIT = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "candles" / "bybit_linear"


@lru_cache(maxsize=4)
def first_bars(symbol: str, count: int) -> list[Candle]:
    path = BYBIT / f"bybit_{symbol}_5m.csv"
    if not path.exists():
        pytest.skip(f"real candles not found at {path} (../shared/data)")
    return candles_from_csv(path)[:count]


class TestTurtleContract(StrategyContract):
    make_strategy = TurtleStrategy

    def candles(self) -> list[Candle]:
        return first_bars("BTCUSDT", 2_000) + first_bars("ETHUSDT", 2_000)


class TestTurtleSystem2Contract(StrategyContract):
    @staticmethod
    def make_strategy() -> TurtleStrategy:
        return TurtleStrategy(TurtleParams(system=2))

    def candles(self) -> list[Candle]:
        return first_bars("BTCUSDT", 3_000)


@pytest.mark.parametrize("system", [1, 2])
def test_no_lookahead_at_20_cutoffs(system: Literal[1, 2]) -> None:
    candles = first_bars("SOLUSDT", 3_000) + first_bars("ADAUSDT", 3_000)
    report = check_lookahead(lambda: TurtleStrategy(TurtleParams(system=system)), candles)
    assert len(report.cutoffs) == 20
    assert report.ok, report.describe()
