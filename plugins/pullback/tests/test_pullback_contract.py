"""The pullback strategy through the kit's contract tests and look-ahead check, on real candles."""

from __future__ import annotations

import pytest
from garrison_api import Candle
from garrison_api.testing import StrategyContract, check_lookahead, run_strategy
from garrison_pullback import PullbackParams, PullbackStrategy

from .conftest import real_candles


class TestPullbackContract(StrategyContract):
    make_strategy = PullbackStrategy

    def candles(self) -> list[Candle]:
        return real_candles("bybit_linear/bybit_BTCUSDT_5m.csv", 6_000) + real_candles(
            "bybit_linear/bybit_SOLUSDT_5m.csv", 6_000
        )


class TestPullbackFeedHtfContract(StrategyContract):
    """HTF levels from the feed's 4h series instead of the base candles."""

    @staticmethod
    def make_strategy() -> PullbackStrategy:
        return PullbackStrategy(PullbackParams(htf_source="feed", timeframe="5m"))

    def candles(self) -> list[Candle]:
        base = real_candles("bybit_linear/bybit_ETHUSDT_5m.csv", 8_000)
        end = base[-1].ts
        four_hour = [
            c for c in real_candles("bybit_linear/bybit_ETHUSDT_4h.csv") if c.ts + 14_400_000 <= end
        ]
        return base + four_hour


@pytest.mark.parametrize(
    ("files", "count"),
    [
        (("bybit_linear/bybit_ADAUSDT_5m.csv", "bybit_linear/bybit_AVAXUSDT_5m.csv"), 10_000),
        (("binance_usdm/binance_BTCUSDT_15m.csv", "binance_usdm/binance_XRPUSDT_15m.csv"), None),
    ],
)
def test_no_lookahead_at_20_cutoffs(files: tuple[str, str], count: int | None) -> None:
    candles = [c for name in files for c in real_candles(name, count)]
    report = check_lookahead(PullbackStrategy, candles)
    assert len(report.cutoffs) == 20
    assert report.ok, report.describe()
    # The check means something only when there are signals to compare.
    assert len(run_strategy(PullbackStrategy(), candles).signals) >= 10
