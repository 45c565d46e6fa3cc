"""check_indicator_parity and custom indicators: built-ins pass on real data, wrong ones fail."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import attrs
import numpy as np
import pytest
from garrison_api import (
    Adx,
    Atr,
    Bollinger,
    Candle,
    CustomIndicator,
    Ema,
    Highest,
    IndicatorUpdater,
    Lowest,
    Macd,
    Rsi,
    Signal,
    Sma,
    Stochastic,
    StrategyContext,
    Vwap,
)
from garrison_api.indicators import FloatArray, IndicatorSpec, compute
from garrison_api.testing import (
    IndicatorParityReport,
    StubContext,
    candles_from_csv,
    check_indicator_parity,
    random_walk,
    series_columns,
)
from garrison_api.testing.columns import candle_columns
from garrison_api.testing.incremental import make_updater

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "candles"
SOL_5M = DATA / "bybit_linear" / "bybit_SOLUSDT_5m.csv"
BTC_15M = DATA / "binance_usdm" / "binance_BTCUSDT_15m.csv"
needs_data = pytest.mark.skipif(
    not (SOL_5M.exists() and BTC_15M.exists()), reason=f"real candles not found in {DATA}"
)

BUILT_IN: list[IndicatorSpec] = [
    Highest("high", 20, offset=1),
    Lowest("low", 55, offset=3),
    Atr(20),
    Sma("close", 50),
    Ema("volume", 12),
    Rsi(),
    Rsi(7, "volume"),
    Macd(),
    Macd(output="signal"),
    Macd(8, 21, 5, "hist"),
    Bollinger(),
    Bollinger(output="middle"),
    Bollinger(output="lower"),
    Bollinger(30, 2.5, "width"),
    Stochastic(),
    Stochastic(output="d"),
    Stochastic(5, 1, 3, "d"),
    Adx(),
    Adx(output="plus_di"),
    Adx(7, "minus_di"),
    Vwap(),
    Vwap(14_400_000, 3_600_000),
]


class _MeanUpdater:
    def __init__(self, period: int, lag: int = 0) -> None:
        self._window: deque[float] = deque(maxlen=period + lag)
        self._period = period

    def update(self, candle: Candle) -> float:
        self._window.append(candle.high - candle.low)
        if len(self._window) < self._period:
            return float("nan")
        return float(np.mean(list(self._window)[: self._period]))


@attrs.frozen
class RangeMean:
    """Mean high − low over ``period`` bars: a correct custom indicator."""

    period: int

    @property
    def warmup(self) -> int:
        return self.period - 1

    def compute(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        spread = columns["high"] - columns["low"]
        out = np.full(spread.shape[0], np.nan)
        if spread.shape[0] >= self.period:
            windows = np.lib.stride_tricks.sliding_window_view(spread, self.period)
            out[self.period - 1 :] = windows.mean(axis=1)
        return out

    def updater(self) -> IndicatorUpdater:
        return _MeanUpdater(self.period)


@attrs.frozen
class LaggingRangeMean(RangeMean):
    """Its updater averages an older window than its compute: the two paths differ."""

    def updater(self) -> IndicatorUpdater:
        return _MeanUpdater(self.period, lag=1)


@attrs.frozen
class PeekingRangeMean(RangeMean):
    """Its compute divides by the range of the WHOLE series: it reads bars after t."""

    def compute(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        spread = columns["high"] - columns["low"]
        return super().compute(columns) / float(spread.max())


@attrs.frozen
class EarlyRangeMean(RangeMean):
    """Claims no warm-up though its first value comes at bar period − 1."""

    @property
    def warmup(self) -> int:
        return 0


@attrs.frozen
class BadOutput(RangeMean):
    """Its compute returns ``kind``: a list, float32 or a short array."""

    kind: str = "list"

    def compute(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        good = super().compute(columns)
        if self.kind == "list":
            return good.tolist()  # type: ignore[return-value]
        if self.kind == "float32":
            return good.astype(np.float32)  # type: ignore[return-value]
        return good[1:]


def test_a_custom_indicator_is_recognised_and_computes_itself() -> None:
    spec = RangeMean(5)
    assert isinstance(spec, CustomIndicator)
    candles = random_walk("AUSDT", 200, seed=3)
    columns = candle_columns(candles)
    assert np.array_equal(compute(spec, columns), spec.compute(columns), equal_nan=True)
    assert isinstance(make_updater(spec), _MeanUpdater)
    report = check_indicator_parity(spec, candles)
    assert report.ok, report.describe()
    assert report.describe().endswith(": ok")
    assert (report.bars, report.first_value, report.warmup, report.mismatches) == (200, 4, 4, 0)


@pytest.fixture(scope="module")
def sol_5m() -> list[Candle]:
    return candles_from_csv(SOL_5M)[:6_000]


@pytest.fixture(scope="module")
def btc_15m() -> list[Candle]:
    return candles_from_csv(BTC_15M)


@needs_data
@pytest.mark.parametrize("spec", BUILT_IN, ids=repr)
def test_every_built_in_spec_passes_on_bybit_5m(spec: IndicatorSpec, sol_5m: list[Candle]) -> None:
    report = check_indicator_parity(spec, sol_5m)
    assert report.ok, report.describe()


@needs_data
@pytest.mark.parametrize("spec", BUILT_IN, ids=repr)
def test_every_built_in_spec_passes_on_binance_15m(
    spec: IndicatorSpec, btc_15m: list[Candle]
) -> None:
    # The kit's updaters mirror compute operation for operation: not even 1 ulp apart.
    report = check_indicator_parity(spec, btc_15m, tolerance=0.0)
    assert report.ok, report.describe()


def test_an_updater_that_differs_is_reported_with_its_first_bar() -> None:
    candles = random_walk("AUSDT", 300, seed=11)
    report = check_indicator_parity(LaggingRangeMean(5), candles)
    assert not report.ok
    assert report.lookahead_cut is None  # compute itself is causal
    # The lagging updater's window is full only from bar 5; at bar 4 it averages
    # bars 0..4 like compute, from bar 5 on it averages one bar too old.
    assert report.first_mismatch == 5
    expected = RangeMean(5).compute(candle_columns(candles))
    assert report.vectorised_value == expected[5]
    assert report.incremental_value == expected[4]
    assert report.mismatches > 250
    text = report.describe()
    assert "FAILED" in text
    assert "incremental differs from compute on" in text
    assert "first at bar 5" in text


def test_a_compute_that_peeks_ahead_is_reported() -> None:
    candles = random_walk("AUSDT", 400, seed=5)
    report = check_indicator_parity(PeekingRangeMean(5), candles)
    assert not report.ok
    assert report.lookahead_cut is not None
    assert report.lookahead_index is not None
    assert report.prefix_value != report.full_value
    assert "compute looks ahead" in report.describe()


def test_a_wrong_warmup_is_reported() -> None:
    report = check_indicator_parity(EarlyRangeMean(5), random_walk("AUSDT", 50, seed=1))
    assert report.mismatches == 0
    assert not report.warmup_ok
    assert not report.ok
    assert "warmup is 0 but the first value is at bar 4" in report.describe()


def test_a_series_shorter_than_the_warmup_is_fine() -> None:
    report = check_indicator_parity(Adx(14), random_walk("AUSDT", 20, seed=2))
    assert report.first_value is None
    assert report.ok, report.describe()
    assert check_indicator_parity(Rsi(), []).ok


@pytest.mark.parametrize(
    ("kind", "error", "message"),
    [
        (
            "list",
            TypeError,
            r"compute returned list; expected a float64 numpy array of shape \(30,\)",
        ),
        ("float32", ValueError, r"compute returned float32 of shape \(30,\); expected float64"),
        ("short", ValueError, r"of shape \(29,\); expected float64 of shape \(30,\)"),
    ],
)
def test_a_custom_compute_of_the_wrong_shape_is_named(
    kind: str, error: type[Exception], message: str
) -> None:
    spec = BadOutput(3, kind)
    candles = random_walk("AUSDT", 30, seed=4)
    with pytest.raises(error, match=rf"custom indicator BadOutput\(period=3, kind='{kind}'\): "):
        compute(spec, candle_columns(candles))
    with pytest.raises(error, match=message):
        check_indicator_parity(spec, candles)


def test_bad_arguments_are_refused() -> None:
    candles = random_walk("AUSDT", 10, seed=4)
    with pytest.raises(ValueError, match="tolerance must be a finite number of 0 or more"):
        check_indicator_parity(Rsi(), candles, tolerance=-1.0)

    class Unhashable(RangeMean):
        __hash__ = None  # type: ignore[assignment]

    with pytest.raises(TypeError, match="is not hashable; make it a frozen attrs class"):
        check_indicator_parity(Unhashable(3), candles)

    @attrs.frozen
    class NegativeWarmup(RangeMean):
        @property
        def warmup(self) -> int:
            return -1

    with pytest.raises(ValueError, match="warmup must be a whole number of 0 or more, got -1"):
        check_indicator_parity(NegativeWarmup(3), candles)

    @attrs.frozen
    class NoUpdate(RangeMean):
        def updater(self) -> IndicatorUpdater:
            return object()  # type: ignore[return-value]

    with pytest.raises(TypeError, match=r"updater\(\) returned .* no update\(candle\) method"):
        make_updater(NoUpdate(3))


def test_report_is_a_frozen_value() -> None:
    report = check_indicator_parity(Sma("close", 3), random_walk("AUSDT", 10, seed=4))
    assert isinstance(report, IndicatorParityReport)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        report.mismatches = 1  # type: ignore[misc]


class UsesCustom:
    """A strategy that declares a custom indicator next to a built-in one."""

    Params: ClassVar[type] = dict
    warmup = 4
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {"range": RangeMean(5), "vwap": Vwap()}

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        return ()


def test_the_kit_serves_custom_indicators_to_strategies() -> None:
    candles = random_walk("AUSDT", 40, seed=8)
    columns = series_columns(candles, UsesCustom())  # type: ignore[arg-type]
    assert set(columns) == {"ts", "open", "high", "low", "close", "volume", "range", "vwap"}
    ctx = StubContext(UsesCustom.indicators)
    for candle in candles:
        ctx.push(candle)
    live = ctx.indicators("AUSDT")
    assert live["range"] == columns["range"][-1]
    assert live["vwap"] == columns["vwap"][-1]
