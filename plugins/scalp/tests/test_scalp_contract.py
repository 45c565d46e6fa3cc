"""The scalper through the kit's contract tests, screen check and look-ahead check, on real
Binance 3m and 1m candles."""

from __future__ import annotations

import pytest
from garrison_api import Candle
from garrison_api.testing import StrategyContract, check_lookahead, check_screen
from garrison_scalp import ScalpParams, ScalpStrategy

from .realdata import binance


class TestScalpContract(StrategyContract):
    make_strategy = ScalpStrategy

    def candles(self) -> list[Candle]:
        return binance("BTCUSDT", "3m", 5_000) + binance("ETHUSDT", "3m", 5_000)


class TestScalpOneMinuteContract(StrategyContract):
    @staticmethod
    def make_strategy() -> ScalpStrategy:
        return ScalpStrategy(ScalpParams(timeframes=("1m",)))

    def candles(self) -> list[Candle]:
        return binance("ETHUSDT", "1m", 15_000)


def test_no_lookahead_on_the_binance_3m_files() -> None:
    candles = binance("BTCUSDT", "3m") + binance("ETHUSDT", "3m")
    report = check_lookahead(ScalpStrategy, candles, cutoffs=20)
    assert len(report.cutoffs) == 20
    assert report.ok, report.describe()


@pytest.mark.slow
def test_no_lookahead_on_the_binance_1m_files() -> None:
    candles = binance("BTCUSDT", "1m") + binance("ETHUSDT", "1m")
    report = check_lookahead(
        lambda: ScalpStrategy(ScalpParams(timeframes=("1m",))), candles, cutoffs=10
    )
    assert len(report.cutoffs) == 10
    assert report.ok, report.describe()


def test_screen_on_a_whole_3m_file() -> None:
    report = check_screen(ScalpStrategy, binance("ETHUSDT", "3m"), cutoffs=5)
    assert report.ok, report.describe()
