"""IncrementalIndicators behaviour on small hand-made series (no data files needed)."""

from __future__ import annotations

import math

import pytest
from garrison.indicators import IncrementalIndicators
from garrison_api.indicators import Atr, Ema, Highest, IndicatorSpec, Lowest, Sma
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
    with pytest.raises(TypeError, match="indicator 'rsi'"):
        IncrementalIndicators({"rsi": "RSI(14)"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="non-empty string"):
        IncrementalIndicators({"": Sma("close", 2)})


def test_empty_specs_is_fine() -> None:
    ind = IncrementalIndicators({})
    ind.update(candle(0, 1.0))
    assert dict(ind.values) == {}
    assert ind.is_warm()
