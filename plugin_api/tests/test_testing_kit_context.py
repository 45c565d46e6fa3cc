"""StubContext: indicators equal to compute() on real data, positions, markets, events."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from garrison_api import (
    Atr,
    Candle,
    Ema,
    Event,
    Highest,
    Lowest,
    Market,
    Position,
    Side,
    Signal,
    Sma,
    StrategyContext,
)
from garrison_api.indicators import IndicatorSpec, compute
from garrison_api.testing import StubContext, candles_from_csv

SOL_5M = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "candles"
    / "bybit_linear"
    / "bybit_SOLUSDT_5m.csv"
)

SPECS: dict[str, IndicatorSpec] = {
    "upper": Highest("high", 20, offset=1),
    "lower_late": Lowest("low", 55, offset=3),
    "highest_close": Highest("close", 7),
    "lowest_low": Lowest("low", 1),
    "n": Atr(20),
    "atr14": Atr(14),
    "sma": Sma("close", 20),
    "sma_volume": Sma("volume", 3),
    "ema": Ema("close", 12),
    "ema_open": Ema("open", 50),
}


def candle(i: int, close: float, symbol: str = "AUSDT") -> Candle:
    return Candle(symbol, "5m", i * 300_000, close, close + 1, close - 1, close, 1.0)


@pytest.mark.skipif(not SOL_5M.exists(), reason=f"real candles not found at {SOL_5M}")
def test_indicators_equal_compute_to_the_bit_on_real_candles() -> None:
    candles = candles_from_csv(SOL_5M)[:4_000]
    ctx = StubContext(SPECS)
    seen: dict[str, list[float]] = {name: [] for name in SPECS}
    for bar in candles:
        ctx.push(bar)
        for name, value in ctx.indicators("SOLUSDT").items():
            seen[name].append(value)
    columns = {
        field: np.array([getattr(c, field) for c in candles])
        for field in ("open", "high", "low", "close", "volume")
    }
    for name, spec in SPECS.items():
        expected = compute(spec, columns)
        assert np.array_equal(np.array(seen[name]), expected, equal_nan=True), name
        assert int(np.argmax(~np.isnan(expected))) == spec.warmup, name


def test_values_are_nan_until_warm_and_per_symbol() -> None:
    ctx = StubContext({"sma": Sma("close", 3)})
    assert math.isnan(ctx.indicators("AUSDT")["sma"])
    for i, close in enumerate([1.0, 2.0, 3.0]):
        ctx.push(candle(i, close))
        ctx.push(candle(i, 10 * close, "BUSDT"))
    assert ctx.indicators("AUSDT")["sma"] == 2.0
    assert ctx.indicators("BUSDT")["sma"] == 20.0
    assert math.isnan(ctx.indicators("CUSDT")["sma"])
    assert ctx.bars_seen("AUSDT") == 3
    assert ctx.bars_seen("CUSDT") == 0


def test_indicator_values_are_read_only() -> None:
    ctx = StubContext({"sma": Sma("close", 1)})
    ctx.push(candle(0, 1.0))
    with pytest.raises(TypeError):
        ctx.indicators("AUSDT")["sma"] = 5.0  # type: ignore[index]


def test_push_moves_the_clock_to_the_close_and_refuses_going_back() -> None:
    ctx = StubContext()
    ctx.push(candle(2, 1.0))
    assert ctx.clock.now_ms() == 3 * 300_000
    with pytest.raises(ValueError, match=r"AUSDT: candle at 600000 pushed after one at 600000"):
        ctx.push(candle(2, 1.0))


def test_positions_markets_storage_and_events() -> None:
    btc = Market("BTCUSDT", 0.1, 0.001, 0.001, 5.0)
    ctx = StubContext(markets=[btc])
    assert ctx.market("BTCUSDT") is btc
    assert ctx.market("XUSDT").lot_step == 1e-8  # permissive default
    assert StubContext(markets={"BTCUSDT": btc}).market("BTCUSDT") is btc

    position = Position("BTCUSDT", Side.LONG, 0.01, 100_000.0, 0)
    assert ctx.position("BTCUSDT") is None
    ctx.set_position("BTCUSDT", position)
    assert ctx.position("BTCUSDT") is position
    ctx.set_position("BTCUSDT", None)
    assert ctx.position("BTCUSDT") is None
    with pytest.raises(ValueError, match="position for BTCUSDT set under symbol ETHUSDT"):
        ctx.set_position("ETHUSDT", position)

    ctx.storage.set("k", [1, 2])
    assert ctx.storage.get("k") == [1, 2]

    ctx.emit(Event(ts=0, kind="strategy.note", message="hello"))
    assert [e.kind for e in ctx.events] == ["strategy.note"]
    with pytest.raises(TypeError, match=r"emit\(\) takes a garrison_api\.Event"):
        ctx.emit("hello")  # type: ignore[arg-type]


# -- several timeframes (API 1.1) -------------------------------------------


def tf_candle(i: int, close: float, timeframe: str, symbol: str = "AUSDT") -> Candle:
    step = {"5m": 300_000, "15m": 900_000, "4h": 14_400_000}[timeframe]
    return Candle(symbol, timeframe, i * step, close, close + 1, close - 1, close, 1.0)


class TwoTimeframes:
    """Declares what the context reads: decides on 15m, reads 4h as context."""

    Params: ClassVar[type] = object

    def __init__(self) -> None:
        self.warmup = 3
        self.timeframes: tuple[str, ...] = ("15m",)
        self.indicators: Mapping[str, IndicatorSpec] = {"fast": Sma("close", 2)}
        self.context_indicators = {"4h": {"slow": Sma("close", 2)}}

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        return ()


def test_each_series_has_its_own_indicators() -> None:
    ctx = StubContext.for_strategy(TwoTimeframes())
    for i in range(3):
        ctx.push(tf_candle(i, 10.0 * (i + 1), "4h"))
    for i in range(2):
        ctx.push(tf_candle(i, float(i + 1), "15m"))
    assert ctx.indicators("AUSDT", "15m")["fast"] == 1.5
    assert ctx.indicators("AUSDT", "4h")["slow"] == 25.0
    assert set(ctx.indicators("AUSDT", "4h")) == {"slow"}
    # None: the candle being decided on (the last 15m pushed)
    assert ctx.indicators("AUSDT") is ctx.indicators("AUSDT", "15m")
    assert ctx.bars_seen("AUSDT") == 5
    assert ctx.bars_seen("AUSDT", "4h") == 3
    assert ctx.clock.now_ms() == 2 * 900_000  # the last push's close


def test_timeframe_none_falls_back_to_the_only_decision_series() -> None:
    ctx = StubContext.for_strategy(TwoTimeframes())
    assert math.isnan(ctx.indicators("AUSDT")["fast"])  # nothing pushed: the 15m specs, nan
    ctx.push(tf_candle(0, 5.0, "15m", "BUSDT"))
    ctx.push(tf_candle(1, 7.0, "15m", "BUSDT"))
    ctx.push(tf_candle(0, 1.0, "4h", "AUSDT"))
    # deciding on BUSDT; AUSDT has no 15m series yet: its (only) decision timeframe, nan
    assert math.isnan(ctx.indicators("AUSDT")["fast"])
    assert ctx.indicators("BUSDT")["fast"] == 6.0


def test_timeframe_none_is_ambiguous_with_several_decision_series() -> None:
    ctx = StubContext({"sma": Sma("close", 1)})  # decides on every timeframe pushed
    ctx.push(tf_candle(0, 1.0, "5m", "BUSDT"))
    ctx.push(tf_candle(0, 2.0, "15m", "BUSDT"))
    ctx.push(tf_candle(0, 3.0, "5m"))
    assert ctx.indicators("BUSDT")["sma"] == 1.0  # deciding on a 5m candle: BUSDT's 5m
    ctx.push(tf_candle(0, 4.0, "4h"))
    with pytest.raises(ValueError, match=r"BUSDT has decision series 5m, 15m; pass the timef"):
        ctx.indicators("BUSDT")
    ctx.set_decision_candle(tf_candle(0, 2.0, "15m", "BUSDT"))
    assert ctx.indicators("BUSDT")["sma"] == 2.0


def test_candles_are_the_last_closed_ones_oldest_first_up_to_warmup() -> None:
    ctx = StubContext.for_strategy(TwoTimeframes())
    assert ctx.candles("AUSDT", "4h", 3) == ()
    for i in range(5):
        ctx.push(tf_candle(i, float(i), "4h"))
    assert [c.close for c in ctx.candles("AUSDT", "4h", 2)] == [3.0, 4.0]
    assert [c.close for c in ctx.candles("AUSDT", "4h", 3)] == [2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match=r"n must be from 1 to 3.*warmup is 3"):
        ctx.candles("AUSDT", "4h", 4)
    with pytest.raises(ValueError, match="n must be from 1 to 3"):
        ctx.candles("AUSDT", "4h", True)
    with pytest.raises(KeyError, match=r"does not read 1h: the strategy decides on 15m"):
        ctx.candles("AUSDT", "1h", 1)
    # a warm-up of 0 still keeps the last bar
    bare = StubContext()
    bare.push(tf_candle(0, 1.0, "5m"))
    bare.push(tf_candle(1, 2.0, "5m"))
    assert [c.close for c in bare.candles("AUSDT", "5m", 1)] == [2.0]
    with pytest.raises(ValueError, match=r"n must be from 1 to 1: .* warmup is 0"):
        bare.candles("AUSDT", "5m", 2)


def test_series_the_strategy_does_not_read_are_refused() -> None:
    ctx = StubContext.for_strategy(TwoTimeframes())
    with pytest.raises(KeyError, match=r"ctx.indicators\('AUSDT', '5m'\): the strategy does not"):
        ctx.indicators("AUSDT", "5m")
    with pytest.raises(ValueError, match=r"push: AUSDT 5m: the strategy does not read 5m"):
        ctx.push(tf_candle(0, 1.0, "5m"))
    with pytest.raises(ValueError, match="4h is not a decision timeframe"):
        ctx.set_decision_candle(tf_candle(0, 1.0, "4h"))
    with pytest.raises(ValueError, match="4h is both a decision timeframe and a context one"):
        StubContext(timeframes=("4h",), context_indicators={"4h": {}})
    with pytest.raises(ValueError, match="warmup must be an int of 0 or more"):
        StubContext(warmup=-2)


def test_add_series_makes_a_series_known_before_its_first_candle() -> None:
    ctx = StubContext.for_strategy(TwoTimeframes())
    ctx.add_series("AUSDT", "15m")
    ctx.add_series("AUSDT", "4h")
    ctx.push(tf_candle(0, 1.0, "15m", "BUSDT"))
    # AUSDT has a 15m series (empty so far): that is what None means while deciding on 15m
    assert math.isnan(ctx.indicators("AUSDT")["fast"])
    assert ctx.candles("AUSDT", "15m", 1) == ()
    assert ctx.bars_seen("AUSDT") == 0


def test_push_order_is_checked_per_series() -> None:
    ctx = StubContext()
    ctx.push(tf_candle(1, 1.0, "4h"))
    ctx.push(tf_candle(0, 1.0, "5m"))  # another series: fine
    with pytest.raises(ValueError, match=r"AUSDT: candle at 0 pushed after one at 14400000 \(4h\)"):
        ctx.push(tf_candle(0, 1.0, "4h"))
