"""turtle_rules on real candles: the kit's contract, the look-ahead check, regime parity."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from garrison_api import Candle
from garrison_api.testing import (
    StrategyContract,
    candles_from_csv,
    check_indicator_parity,
    check_lookahead,
    check_screen,
    run_strategy,
)
from garrison_turtle import RegimeIndicator, TurtleRulesParams, TurtleRulesStrategy

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "candles"
BYBIT = DATA / "bybit_linear"
BINANCE = DATA / "binance_usdm"


@lru_cache(maxsize=8)
def bars(path: Path, count: int | None = None) -> list[Candle]:
    if not path.exists():
        pytest.skip(f"real candles not found at {path} (../shared/data)")
    return candles_from_csv(path)[:count]


def bybit(symbol: str, count: int | None = None) -> list[Candle]:
    return bars(BYBIT / f"bybit_{symbol}_5m.csv", count)


def binance(symbol: str) -> list[Candle]:
    return bars(BINANCE / f"binance_{symbol}_15m.csv")


class TestTurtleRulesContract(StrategyContract):
    make_strategy = TurtleRulesStrategy

    def candles(self) -> list[Candle]:
        return bybit("BTCUSDT", 4_000) + bybit("ETHUSDT", 4_000)


class TestTurtleRulesClampedSumContract(StrategyContract):
    @staticmethod
    def make_strategy() -> TurtleRulesStrategy:
        return TurtleRulesStrategy(
            TurtleRulesParams(aggregation="clamped_sum", take_profit_atr=3.0)
        )

    def candles(self) -> list[Candle]:
        return bybit("SOLUSDT", 3_000)


def test_no_lookahead_on_bybit_5m_at_20_cutoffs() -> None:
    candles = bybit("SOLUSDT", 8_000) + bybit("AVAXUSDT", 8_000)
    report = check_lookahead(TurtleRulesStrategy, candles)
    assert len(report.cutoffs) == 20
    assert report.ok, report.describe()


def test_no_lookahead_on_binance_15m_at_20_cutoffs() -> None:
    candles = binance("BTCUSDT") + binance("ETHUSDT") + binance("XRPUSDT")
    report = check_lookahead(TurtleRulesStrategy, candles)
    assert report.ok, report.describe()
    assert run_strategy(TurtleRulesStrategy(), candles).signals, "no signals: a vacuous check"


def test_screen_is_sound_on_a_whole_bybit_file() -> None:
    report = check_screen(TurtleRulesStrategy, bybit("ADAUSDT", 20_000))
    assert report.ok, report.describe()
    assert report.flagged < report.bars // 10  # the point of it: most bars are skipped


@pytest.mark.parametrize("symbol", ["BTCUSDT", "SOLUSDT"])
def test_regime_indicator_parity_on_real_candles(symbol: str) -> None:
    # bit for bit: the updater repeats compute's arithmetic
    report = check_indicator_parity(RegimeIndicator(), bybit(symbol), tolerance=0.0)
    assert report.ok, report.describe()


def test_regime_indicator_parity_with_other_settings() -> None:
    spec = RegimeIndicator(adx_period=10, ema_fast=8, ema_slow=21, trend_bars=2, range_bars=8)
    report = check_indicator_parity(spec, binance("SOLUSDT"), tolerance=0.0)
    assert report.ok, report.describe()


def test_every_regime_occurs_on_real_data() -> None:
    candles = bybit("BTCUSDT", 20_000)
    columns = {
        key: np.array([getattr(c, key) for c in candles], dtype=np.float64)
        for key in ("open", "high", "low", "close", "volume")
    }
    codes = RegimeIndicator().compute(columns)
    seen = {int(code) for code in codes.tolist() if code == code}
    assert seen == {0, 1, 2, 3}
