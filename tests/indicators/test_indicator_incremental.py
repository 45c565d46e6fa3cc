"""IncrementalIndicators behaviour on small hand-made series (no data files needed)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping

import attrs
import numpy as np
import pytest
from garrison.indicators import IncrementalIndicators
from garrison_api.indicators import (
    Adx,
    Atr,
    Bollinger,
    Ema,
    FloatArray,
    Highest,
    IndicatorSpec,
    IndicatorUpdater,
    Lowest,
    Macd,
    Rsi,
    Sma,
    Stochastic,
    Vwap,
)
from garrison_api.types import Candle

STEP = 300_000


def candle(i: int, close: float, *, high: float | None = None, low: float | None = None) -> Candle:
    return Candle(
        symbol="BTCUSDT",
        timeframe="5m",
        ts=1_700_000_000_000 + i * STEP,
        open=close,
        high=close if high is None else high,
        low=close if low is None else low,
        close=close,
        volume=1.0,
    )


def feed(indicators: IncrementalIndicators, closes: list[float]) -> list[dict[str, float]]:
    seen = []
    for i, close in enumerate(closes):
        indicators.update(candle(i, close))
        seen.append(dict(indicators.values))
    return seen


def test_nan_until_warm_then_hand_computed_values() -> None:
    ind = IncrementalIndicators(
        {
            "hi": Highest("close", 3),
            "hi_prev": Highest("close", 3, offset=1),
            "lo": Lowest("close", 2, offset=2),
            "sma": Sma("close", 3),
            "ema": Ema("close", 3),
        }
    )
    assert all(math.isnan(v) for v in ind.values.values())
    assert not ind.is_warm()
    seen = feed(ind, [1.0, 5.0, 3.0, 2.0, 4.0])
    assert [s["hi"] for s in seen][2:] == [5.0, 5.0, 4.0]
    assert math.isnan(seen[2]["hi_prev"])
    assert [s["hi_prev"] for s in seen][3:] == [5.0, 5.0]
    assert math.isnan(seen[2]["lo"])
    assert [s["lo"] for s in seen][3:] == [1.0, 3.0]
    assert seen[2]["sma"] == pytest.approx(3.0)
    assert seen[4]["sma"] == pytest.approx(3.0)
    # EMA(3): seed SMA(1, 5, 3) = 3, alpha 0.5: 2.5, then 3.25.
    assert [s["ema"] for s in seen][2:] == pytest.approx([3.0, 2.5, 3.25])
    assert ind.is_warm()


def test_atr_skips_bar_zero_and_uses_previous_close() -> None:
    ind = IncrementalIndicators({"n": Atr(2)})
    bars = [
        candle(0, 10.0, high=11.0, low=9.0),
        candle(1, 12.0, high=13.0, low=11.5),  # TR = max(1.5, |13-10|, |11.5-10|) = 3
        candle(2, 12.0, high=12.5, low=11.0),  # TR = max(1.5, 0.5, 1.0) = 1.5
        candle(3, 9.0, high=12.0, low=8.0),  # TR = max(4, 0, 4) = 4
    ]
    seen = []
    for bar in bars:
        ind.update(bar)
        seen.append(ind.values["n"])
    assert math.isnan(seen[0])
    assert math.isnan(seen[1])
    assert seen[2] == pytest.approx((3.0 + 1.5) / 2)
    assert seen[3] == pytest.approx((1 * 2.25 + 4.0) / 2)


def test_values_is_a_read_only_live_view() -> None:
    ind = IncrementalIndicators({"sma": Sma("close", 1)})
    view = ind.values
    ind.update(candle(0, 7.0))
    assert view["sma"] == 7.0
    ind.update(candle(1, 9.0))
    assert view["sma"] == pytest.approx(9.0)
    with pytest.raises(TypeError):
        view["sma"] = 1.0  # type: ignore[index]


def test_names_sharing_a_spec_share_one_computation() -> None:
    spec = Highest("high", 20, offset=1)
    ind = IncrementalIndicators({"upper": spec, "breakout": Highest("high", 20, offset=1)})
    single = IncrementalIndicators({"upper": spec})
    assert ind.retained() == single.retained()
    for i in range(30):
        ind.update(candle(i, float(i % 7)))
        single.update(candle(i, float(i % 7)))
    assert ind.values["upper"] == ind.values["breakout"] == single.values["upper"]
    assert ind.retained() == single.retained()


def test_memory_stays_bounded_on_long_runs() -> None:
    specs: dict[str, IndicatorSpec] = {
        "atr": Atr(20),
        "sma": Sma("close", 50),
        "ema": Ema("close", 50),
        "hi": Highest("high", 20, offset=1),
        "lo": Lowest("low", 55, offset=3),
    }
    ind = IncrementalIndicators(specs)
    peak = 0
    for i in range(5_000):
        ind.update(candle(i, 100.0 + math.sin(i / 10.0)))
        peak = max(peak, ind.retained())
    # A talipp indicator is purged back to period + 1 inputs once it holds that plus
    # a batch of max(period + 1, 64); ATR also remembers one close; a rolling
    # extreme holds at most offset + period values.
    atr = 21 + 64 + 1
    sma = ema = 51 + 64
    assert peak <= atr + sma + ema + (1 + 20) + (3 + 55)


def test_memory_purge_keeps_values_exact() -> None:
    # Runs well past several purges; SMA(3) of a repeating pattern is known exactly.
    ind = IncrementalIndicators({"sma": Sma("close", 3), "ema": Ema("close", 1)})
    pattern = [1.0, 2.0, 3.0]
    for i in range(1_000):
        ind.update(candle(i, pattern[i % 3]))
        if i >= 2:
            assert ind.values["sma"] == pytest.approx(2.0, abs=1e-9)
            assert ind.values["ema"] == pattern[i % 3]


def test_rejects_out_of_order_and_foreign_candles() -> None:
    ind = IncrementalIndicators({"sma": Sma("close", 2)})
    ind.update(candle(5, 1.0))
    assert ind.last_ts == candle(5, 1.0).ts
    with pytest.raises(ValueError, match=r"ts=.* is not after the previous candle"):
        ind.update(candle(5, 1.0))
    with pytest.raises(ValueError, match="not after"):
        ind.update(candle(4, 1.0))
    other = Candle("ETHUSDT", "5m", candle(6, 1.0).ts, 1.0, 1.0, 1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"ETHUSDT 5m .* fed to the indicators of BTCUSDT 5m"):
        ind.update(other)


def test_bad_specs_are_named() -> None:
    with pytest.raises(
        TypeError, match=r"indicator 'rsi': expected a garrison_api\.indicators spec"
    ):
        IncrementalIndicators({"rsi": "RSI(14)"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="non-empty string"):
        IncrementalIndicators({"": Sma("close", 2)})


def test_empty_specs_is_fine() -> None:
    ind = IncrementalIndicators({})
    ind.update(candle(0, 1.0))
    assert dict(ind.values) == {}
    assert ind.is_warm()


# --- API 1.1 indicators -----------------------------------------------------------------


def bar(i: int, o: float, h: float, lo: float, c: float, v: float, step: int = STEP) -> Candle:
    return Candle("BTCUSDT", "5m", 1_700_000_000_000 + i * step, o, h, lo, c, v)


def test_rsi_through_talipp_follows_our_flat_and_rising_cases() -> None:
    ind = IncrementalIndicators({"flat": Rsi(3), "one": Rsi(1)})
    seen = feed(ind, [5.0, 5.0, 5.0, 5.0, 6.0, 7.0, 6.0, 6.0])
    assert all(math.isnan(s["flat"]) for s in seen[:3])
    assert [s["flat"] for s in seen[3:5]] == [50.0, 100.0]  # talipp alone would say 100, 100
    assert seen[6]["flat"] == pytest.approx(
        100 - 100 / (1 + (2 / 3 * (2 / 3 * 1 / 3 + 1 / 3)) / (1 / 3))
    )
    assert math.isnan(seen[0]["one"])
    assert [s["one"] for s in seen[1:]] == [50.0, 50.0, 50.0, 100.0, 100.0, 0.0, 50.0]


def test_macd_lines_start_where_the_spec_says() -> None:
    ind = IncrementalIndicators(
        {"macd": Macd(2, 3, 2), "signal": Macd(2, 3, 2, "signal"), "hist": Macd(2, 3, 2, "hist")}
    )
    seen = feed(ind, [1.0, 2.0, 4.0, 3.0, 5.0])
    assert [math.isnan(s["macd"]) for s in seen] == [True, True, False, False, False]
    assert [math.isnan(s["signal"]) for s in seen] == [True, True, True, False, False]
    assert seen[3]["signal"] == pytest.approx((seen[2]["macd"] + seen[3]["macd"]) / 2)
    assert seen[4]["hist"] == pytest.approx(seen[4]["macd"] - seen[4]["signal"])


def test_bollinger_width_and_bands() -> None:
    ind = IncrementalIndicators(
        {
            "upper": Bollinger(3, 2.0, "upper"),
            "lower": Bollinger(3, 2.0, "lower"),
            "width": Bollinger(3, 2.0, "width"),
            "vol_width": Bollinger(2, 2.0, "width", "volume"),
        }
    )
    candles = [
        bar(i, c, c, c, c, v) for i, (c, v) in enumerate([(1.0, 0.0), (2.0, 0.0), (3.0, 4.0)])
    ]
    for candle in candles:
        ind.update(candle)
    std = math.sqrt(2 / 3)
    assert ind.values["upper"] == pytest.approx(2 + 2 * std)
    assert ind.values["lower"] == pytest.approx(2 - 2 * std)
    assert ind.values["width"] == pytest.approx(4 * std / 2)
    assert ind.values["vol_width"] == pytest.approx(4 * 2 / 2)  # window (0, 4): mean 2, std 2


def test_stochastic_without_range_is_50() -> None:
    ind = IncrementalIndicators({"k": Stochastic(2, 1, 1), "d": Stochastic(2, 2, 2, "d")})
    seen = feed(ind, [3.0, 3.0, 3.0, 3.0, 4.0])
    assert math.isnan(seen[0]["k"])
    assert [s["k"] for s in seen[1:4]] == [50.0, 50.0, 50.0]
    assert seen[4]["k"] == 100.0
    assert [math.isnan(s["d"]) for s in seen] == [True, True, True, False, False]
    assert seen[3]["d"] == 50.0


def test_adx_without_range_is_zero_then_moves() -> None:
    ind = IncrementalIndicators({"adx": Adx(2), "plus": Adx(2, "plus_di")})
    seen = feed(ind, [5.0, 5.0, 5.0, 5.0, 6.0])
    assert [math.isnan(s["plus"]) for s in seen[:2]] == [True, True]
    assert [s["plus"] for s in seen[2:4]] == [0.0, 0.0]
    assert seen[3]["adx"] == 0.0
    assert seen[4]["plus"] == pytest.approx(100.0)  # all of the range is up: +DM = TR


def test_vwap_resets_at_session_start_and_handles_no_volume() -> None:
    hour = 3_600_000
    ind = IncrementalIndicators({"vwap": Vwap(hour), "offset": Vwap(hour, 15 * 60_000)})
    # Open times 0, 30, 60 min after a whole hour.
    start = 1_700_000_000_000 - 1_700_000_000_000 % hour
    rows = [(0.0, 3.0, 0.0, 3.0, 0.0), (0.0, 6.0, 3.0, 6.0, 1.0), (0.0, 3.0, 3.0, 3.0, 4.0)]
    seen = []
    for i, row in enumerate(rows):
        ind.update(Candle("BTCUSDT", "30m", start + i * hour // 2, *row))
        seen.append(dict(ind.values))
    assert [s["vwap"] for s in seen] == [2.0, 5.0, 3.0]  # bar 0 has no volume: its own tp
    assert [s["offset"] for s in seen] == [2.0, 5.0, (5 + 12) / 5]


@attrs.frozen
class LastRange:
    """A custom indicator: high − low of the bar ``lag`` bars back."""

    lag: int

    @property
    def warmup(self) -> int:
        return self.lag

    def compute(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        spread = columns["high"] - columns["low"]
        out = np.full(spread.shape[0], np.nan)
        out[self.lag :] = spread[: spread.shape[0] - self.lag]
        return out

    def updater(self) -> IndicatorUpdater:
        return _LastRangeUpdater(self.lag)


class _LastRangeUpdater:
    def __init__(self, lag: int) -> None:
        self._seen: deque[float] = deque(maxlen=lag + 1)

    def update(self, candle: Candle) -> float:
        self._seen.append(candle.high - candle.low)
        return self._seen[0] if len(self._seen) == self._seen.maxlen else math.nan


def test_custom_indicators_run_through_their_updater() -> None:
    ind = IncrementalIndicators({"a": LastRange(1), "b": LastRange(1), "c": LastRange(0)})
    seen = []
    for i, spread in enumerate([1.0, 2.0, 3.0]):
        ind.update(candle(i, 10.0, high=10.0 + spread, low=10.0))
        seen.append(dict(ind.values))
    assert math.isnan(seen[0]["a"])
    assert [s["a"] for s in seen[1:]] == [1.0, 2.0]
    assert [s["b"] for s in seen[1:]] == [1.0, 2.0]
    assert [s["c"] for s in seen] == [1.0, 2.0, 3.0]
    assert ind.retained() == 0  # a custom indicator's own memory is its own business


def test_bad_custom_indicators_are_named() -> None:
    class Unhashable(LastRange):
        __hash__ = None  # type: ignore[assignment]

    with pytest.raises(TypeError, match=r"indicator 'x': custom indicator .* is not hashable"):
        IncrementalIndicators({"x": Unhashable(1)})

    @attrs.frozen
    class NoUpdate(LastRange):
        def updater(self) -> IndicatorUpdater:
            return object()  # type: ignore[return-value]

    with pytest.raises(TypeError, match=r"updater\(\) returned .* no update\(candle\) method"):
        IncrementalIndicators({"x": NoUpdate(1)})
    with pytest.raises(TypeError, match=r"Rsi, Macd, Bollinger, Stochastic, Adx, Vwap\) or a Cu"):
        IncrementalIndicators({"x": object()})  # type: ignore[dict-item]


def test_memory_stays_bounded_for_the_api_11_indicators() -> None:
    specs: dict[str, IndicatorSpec] = {
        "rsi": Rsi(14),
        "macd": Macd(12, 26, 9, "hist"),
        "bb": Bollinger(20, 2.0, "width"),
        "stoch": Stochastic(14, 3, 3, "d"),
        "adx": Adx(14),
        "vwap": Vwap(3_600_000),
    }
    ind = IncrementalIndicators(specs)
    peak = 0
    for i in range(5_000):
        price = 100.0 + 5 * math.sin(i / 10.0)
        ind.update(bar(i, price, price + 1, price - 1, price + 0.5, 1.0 + i % 3))
        peak = max(peak, ind.retained())

    # A talipp line holds fewer than keep + max(keep, 64) inputs (then it is purged to keep).
    def talipp(keep: int) -> int:
        return keep + max(keep, 64) - 1

    rsi = talipp(16)
    macd = talipp(36)
    bb = talipp(21)
    stoch = 14 + 14 + talipp(4) + talipp(4)
    adx = 1 + 4
    vwap = talipp(2)
    assert peak <= rsi + macd + bb + stoch + adx + vwap
    assert ind.is_warm()
