"""turtle_n against hand-computed Turtle units on real exchange trading rules."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pytest
from garrison_api import AccountState, Market, Score, Side, Signal
from garrison_api.testing import SizerContract
from garrison_sizers import TurtleNParams, TurtleNSizer

# Bybit trading rules copied from ../shared/data/markets (v5 instruments-info excerpt).
BYBIT_BTC = Market("BTCUSDT", 0.1, 0.001, 0.001, min_notional=5.0, max_qty=1190.0)
BYBIT_ADA = Market("ADAUSDT", 0.0001, 1.0, 1.0, min_notional=5.0, max_qty=6315500.0)


def account(equity: float) -> AccountState:
    return AccountState(0, equity, equity, max(equity, 0.0), equity, 0.0)


def signal(entry: float, n: float | None, symbol: str = "BTCUSDT", **extra: float) -> Signal:
    features = {**extra} if n is None else {"n": n, **extra}
    return Signal(symbol, 0, Side.LONG, entry=entry, stop=entry - 2 * (n or 1), features=features)


def size(s: Signal, equity: float, market: Market, **params: Any) -> float | None:
    return TurtleNSizer(TurtleNParams(**params)).size(s, None, account(equity), market)


def test_one_percent_per_n_is_the_classic_unit() -> None:
    # 1 % of 10,000 = 100 USDT per N; ADA at 0.8 with N 0.02: 100 / 0.02 = 5000 ADA, which
    # would be worth 4000 USDT: the default 1000 USDT cap makes it 1250.
    assert size(signal(0.8, 0.02, "ADAUSDT"), 10_000.0, BYBIT_ADA) == 1250.0
    assert size(signal(0.8, 0.02, "ADAUSDT"), 10_000.0, BYBIT_ADA, max_value=None) == 5000.0


def test_two_n_sizes_to_a_two_n_stop_as_the_reference_bot() -> None:
    # 100 / (2 · 1500) = 0.0333 BTC at 100,000 = 3333 USDT, under a 5000 cap: 0.033.
    assert (
        size(signal(100_000.0, 1500.0), 10_000.0, BYBIT_BTC, n_multiple=2.0, max_value=5000.0)
        == 0.033
    )


def test_value_bounds() -> None:
    # 100 / 1500 = 0.0666 BTC = 6666 USDT, capped at 1000 USDT: 0.01 BTC.
    assert size(signal(100_000.0, 1500.0), 10_000.0, BYBIT_BTC) == 0.01
    # A tiny account: 0.1 / 1500 BTC is below the lot; and 0.002 BTC (200 USDT) is below a
    # 500 USDT minimum value.
    assert size(signal(100_000.0, 1500.0), 10.0, BYBIT_BTC) is None
    assert size(signal(100_000.0, 50_000.0), 10_000.0, BYBIT_BTC, min_value=500.0) is None


def test_no_usable_n_means_no_trade() -> None:
    assert size(signal(100.0, None), 10_000.0, BYBIT_BTC) is None
    assert size(signal(100.0, float("nan")), 10_000.0, BYBIT_BTC) is None
    assert size(signal(100.0, 0.0), 10_000.0, BYBIT_BTC) is None
    assert size(signal(100.0, 5.0), 0.0, BYBIT_BTC) is None
    # Another feature name, for strategies that call it atr.
    s = signal(0.8, None, "ADAUSDT", atr=0.02)
    assert size(s, 10_000.0, BYBIT_ADA, n_feature="atr") == 1250.0


def test_the_score_does_not_matter() -> None:
    sizer = TurtleNSizer()
    s = signal(0.8, 0.02, "ADAUSDT")
    assert sizer.size(s, Score(0.1), account(10_000.0), BYBIT_ADA) == sizer.size(
        s, Score(0.99), account(10_000.0), BYBIT_ADA
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"risk_pct": 0}, "risk_pct must be a positive number"),
        ({"risk_pct": 150}, "percent of equity"),
        ({"n_multiple": math.inf}, "n_multiple must be a positive number"),
        ({"n_feature": ""}, "n_feature must name a signal feature"),
        ({"min_value": -1}, "min_value must be a number >= 0"),
        ({"max_value": 0}, "max_value must be a positive number"),
    ],
)
def test_bad_params_are_refused_by_name(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TurtleNParams(**changes)


class TestTurtleNContract(SizerContract):
    make_sizer = TurtleNSizer
    signals: ClassVar = (
        signal(100_000.0, 800.0),
        signal(95_000.0, 1200.0),
        signal(100_000.0, None),
    )
