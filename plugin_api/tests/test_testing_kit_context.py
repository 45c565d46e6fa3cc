"""StubContext: indicators equal to compute() on real data, positions, markets, events."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from garrison_api import Atr, Candle, Ema, Event, Highest, Lowest, Market, Position, Side, Sma
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
