"""fixed_risk against hand-computed sizes on real exchange trading rules."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from typing import Any

import attrs
import cattrs
import pytest
from garrison_api import AccountState, Market, Score, Side, Signal
from garrison_api.testing import SizerContract
from garrison_sizers import FixedRiskParams, FixedRiskSizer, floor_to_step

# Trading rules copied from ../shared/data/markets: Bybit from the v5 instruments-info
# excerpt (qtyStep, minOrderQty, maxOrderQty, minNotionalValue), Binance from the
# 2025-11-27 USDⓈ-M instrument list (step_size, min_qty, min_notional).
BYBIT_BTC = Market("BTCUSDT", 0.1, 0.001, 0.001, min_notional=5.0, max_qty=1190.0)
BYBIT_ETH = Market("ETHUSDT", 0.01, 0.01, 0.01, min_notional=5.0, max_qty=7240.0)
BYBIT_ADA = Market("ADAUSDT", 0.0001, 1.0, 1.0, min_notional=5.0, max_qty=6315500.0)
BYBIT_SOL = Market("SOLUSDT", 0.01, 0.1, 0.1, max_qty=79770.0)
BINANCE_BTC = Market("BTCUSDT", 0.1, 0.001, 0.001, min_notional=100.0)
BINANCE_ETH = Market("ETHUSDT", 0.01, 0.001, 0.001, min_notional=20.0)


def account(equity: float) -> AccountState:
    return AccountState(
        ts=0,
        balance=equity,
        equity=equity,
        peak_equity=max(equity, 0.0),
        day_start_equity=equity,
        used_margin=0.0,
    )


def long(entry: float, stop: float | None, symbol: str = "BTCUSDT") -> Signal:
    return Signal(symbol, 0, Side.LONG, entry=entry, stop=stop)


def size(signal: Signal, equity: float, market: Market, **params: Any) -> float | None:
    return FixedRiskSizer(FixedRiskParams(**params)).size(signal, None, account(equity), market)


def test_one_percent_of_equity_on_bybit_btc() -> None:
    # risk 100; per unit 2000 + 0.00055·198000 = 2108.9; 100/2108.9 = 0.04741... -> 0.047
    assert size(long(100_000.0, 98_000.0), 10_000.0, BYBIT_BTC) == 0.047


def test_short_uses_the_same_fee_aware_loss() -> None:
    # per unit 1500 + 0.00055·(100000 + 101500) = 1610.825; 200/1610.825 = 0.1241... -> 0.124
    signal = Signal("BTCUSDT", 0, Side.SHORT, entry=100_000.0, stop=101_500.0)
    assert size(signal, 10_000.0, BYBIT_BTC, risk_pct=2.0) == 0.124


def test_fixed_usd_on_bybit_ada_rounds_to_whole_coins() -> None:
    # per unit 0.02 + 0.00055·1.58 = 0.020869; 50/0.020869 = 2395.9 -> 2395
    qty = size(long(0.8, 0.78, "ADAUSDT"), 10_000.0, BYBIT_ADA, risk_usd=50.0)
    assert qty == 2395.0


def test_fixed_usd_does_not_depend_on_equity() -> None:
    signal = long(0.8, 0.78, "ADAUSDT")
    assert size(signal, 1_000.0, BYBIT_ADA, risk_usd=50.0) == size(
        signal, 1_000_000.0, BYBIT_ADA, risk_usd=50.0
    )


def test_fees_shrink_the_position() -> None:
    without_fees = size(long(100_000.0, 98_000.0), 10_000.0, BYBIT_BTC, fee_rate=0.0)
    assert without_fees == 0.05  # 100 / 2000
    assert size(long(100_000.0, 98_000.0), 10_000.0, BYBIT_BTC) == 0.047


def test_max_notional_caps_the_position() -> None:
    # uncapped: 1000 / (100 + 0.00055·199900) = 4.76 BTC; 50,000 USDT caps it at 0.5
    signal = long(100_000.0, 99_900.0)
    assert size(signal, 100_000.0, BYBIT_BTC) == 4.763
    assert size(signal, 100_000.0, BYBIT_BTC, max_notional=50_000.0) == 0.5


def test_market_max_qty_caps_the_position() -> None:
    market = attrs.evolve(BYBIT_SOL, max_qty=3.0)
    assert size(long(150.0, 149.0), 100_000.0, market) == 3.0


def test_contract_size_divides_the_quantity() -> None:
    market = Market("1000PEPEUSDT", 1e-7, 1.0, 1.0, contract_size=10.0)
    # per unit 0.001 + 0.00055·0.019 = 0.00101045; 100 / 0.00101045 = 98965.8 units
    assert size(long(0.01, 0.009, "1000PEPEUSDT"), 10_000.0, market) == 9896.0


def test_binance_minimum_notional_refuses_small_positions() -> None:
    # 1 USDT of risk on ETH with a 500 stop: 0.001 ETH = 2.5 USDT < 20 minimum
    assert size(long(2_500.0, 2_000.0, "ETHUSDT"), 100.0, BINANCE_ETH) is None
    # 0.004 BTC at 100,000 = 400 USDT >= 100 minimum
    assert size(long(100_000.0, 98_000.0), 1_000.0, BINANCE_BTC) == 0.004


def test_below_minimum_quantity_is_refused() -> None:
    # 2 USDT of risk: 0.00094 BTC rounds down to 0 < 0.001
    assert size(long(100_000.0, 98_000.0), 200.0, BINANCE_BTC) is None
    # ETH on Bybit: 0.0094 < 0.01
    assert size(long(2_500.0, 2_000.0, "ETHUSDT"), 500.0, BYBIT_ETH) is None


@pytest.mark.parametrize(
    ("signal", "equity"),
    [
        (long(100_000.0, None), 10_000.0),
        (long(100_000.0, 100_000.0), 10_000.0),
        (long(float("nan"), 98_000.0), 10_000.0),
        (long(100_000.0, float("inf")), 10_000.0),
        (long(100_000.0, 98_000.0), 0.0),
        (long(100_000.0, 98_000.0), -500.0),
    ],
)
def test_no_trade_without_a_usable_stop_or_equity(signal: Signal, equity: float) -> None:
    assert size(signal, equity, BYBIT_BTC) is None
    assert size(signal, equity, BYBIT_BTC, risk_usd=100.0) is None


def test_score_does_not_change_a_fixed_risk_size() -> None:
    sizer, signal = FixedRiskSizer(), long(100_000.0, 98_000.0)
    plain = sizer.size(signal, None, account(10_000.0), BYBIT_BTC)
    assert sizer.size(signal, Score(0.99), account(10_000.0), BYBIT_BTC) == plain


def test_a_market_without_a_lot_step_is_an_error_naming_it() -> None:
    market = attrs.evolve(BYBIT_BTC, lot_step=0.0)
    with pytest.raises(ValueError, match="market BTCUSDT: lot_step must be positive"):
        size(long(100_000.0, 98_000.0), 10_000.0, market)


@pytest.mark.parametrize(
    ("qty", "step", "expected"),
    [
        (0.3 / 0.1 * 0.1, 0.1, 0.3),  # 0.30000000000000004
        (0.29999999999999999, 0.1, 0.3),
        (0.7, 0.1, 0.7),
        (0.0479999, 0.001, 0.047),
        (2395.99, 1.0, 2395.0),
        (0.123456, 1e-5, 0.12345),
        (123.0, 10.0, 120.0),
        (0.0009, 0.001, 0.0),
    ],
)
def test_floor_to_step_is_exact_on_the_lot_grid(qty: float, step: float, expected: float) -> None:
    result = floor_to_step(qty, step)
    assert result == expected
    assert repr(result) == repr(expected)


@pytest.mark.parametrize(
    "step", [1e-8, 1e-5, 0.0001, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.25, 1.0, 5.0, 10.0, 100.0]
)
def test_floor_to_step_equals_rounding_the_product_to_the_steps_decimals(step: float) -> None:
    # floor_to_step divides an exact integer by a power of ten; rounding
    # steps * step to the step's decimal places is the plain definition.
    decimals = max(0, -Decimal(repr(step)).normalize().as_tuple().exponent)  # type: ignore[operator]
    rng = random.Random(step)
    for _ in range(5_000):
        qty = rng.random() * 10 ** rng.uniform(-3, 7)
        steps = math.floor(qty / step + 1e-9)
        assert floor_to_step(qty, step) == round(steps * step, decimals), (qty, step)


def test_quantities_sit_on_the_lot_grid_across_many_sizes() -> None:
    for equity in range(1_000, 200_000, 997):
        qty = size(long(3_456.78, 3_400.0, "ETHUSDT"), float(equity), BYBIT_ETH)
        assert qty is not None
        assert math.isclose(qty * 100, round(qty * 100), abs_tol=1e-9)
        assert qty == round(qty, 2)


# -- parameters ---------------------------------------------------------------


def structure(table: dict[str, Any]) -> FixedRiskParams:
    """What the host does with a profile's params table (unknown keys rejected)."""
    return cattrs.Converter(forbid_extra_keys=True).structure(table, FixedRiskParams)


def test_default_is_one_percent_of_equity() -> None:
    params = structure({})
    assert (params.risk_pct, params.risk_usd, params.fee_rate, params.max_notional) == (
        1.0,
        None,
        0.00055,
        None,
    )


def test_a_profile_setting_risk_usd_switches_risk_pct_off() -> None:
    params = structure({"risk_usd": 25})
    assert (params.risk_pct, params.risk_usd) == (None, 25.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"risk_pct": 1.0, "risk_usd": 50.0}, "set exactly one of risk_pct and risk_usd"),
        ({"risk_pct": None}, "set exactly one of risk_pct and risk_usd"),
        ({"risk_pct": 0.0}, "risk_pct must be a positive number, got 0.0"),
        ({"risk_pct": 150.0}, r"risk_pct is a percent of equity \(0-100\], got 150.0"),
        ({"risk_usd": -5.0}, "risk_usd must be a positive number, got -5.0"),
        ({"risk_usd": float("nan")}, "risk_usd must be a positive number, got nan"),
        ({"fee_rate": -0.001}, "fee_rate is a fraction per side"),
        ({"fee_rate": 1.5}, "fee_rate is a fraction per side"),
        ({"max_notional": 0.0}, "max_notional must be a positive number, got 0.0"),
        ({"risk_pct": "2"}, "risk_pct must be a number, got '2'"),
    ],
)
def test_bad_params_are_refused_naming_the_key(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=f"fixed_risk: {message}"):
        FixedRiskParams(**kwargs)


def test_unknown_keys_are_refused_by_the_hosts_structuring() -> None:
    with pytest.raises(cattrs.errors.ClassValidationError):
        structure({"risk_percent": 2})


class TestFixedRiskContract(SizerContract):
    make_sizer = FixedRiskSizer


class TestFixedUsdOnAdaContract(SizerContract):
    market = BYBIT_ADA
    signals = (long(0.8, 0.78, "ADAUSDT"), long(0.8, None, "ADAUSDT"))

    @staticmethod
    def make_sizer() -> FixedRiskSizer:
        return FixedRiskSizer(FixedRiskParams(risk_usd=50.0))
