"""The API 1.1 indicators: the live path equals garrison_api.indicators.compute on real data.

Every new spec and every output, several parameter sets and sources, on Bybit 5m and
Binance 15m candles: within 1e-9 (absolute + relative), ``nan`` on exactly the same bars,
and the first value exactly at ``spec.warmup``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from garrison.indicators import IncrementalIndicators
from garrison_api.indicators import (
    Adx,
    Bollinger,
    IndicatorSpec,
    Macd,
    Rsi,
    Stochastic,
    Vwap,
    compute,
)
from garrison_api.types import Candle

CANDLES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "candles"
BYBIT = CANDLES / "bybit_linear"
BINANCE = CANDLES / "binance_usdm"
COLUMNS = ("ts", "open", "high", "low", "close", "volume")
TOLERANCE = 1e-9
FloatArray = npt.NDArray[np.float64]

pytestmark = pytest.mark.skipif(
    not (BYBIT.is_dir() and BINANCE.is_dir()),
    reason=f"real candle data not found at {CANDLES} (shared data folder absent)",
)


def specs() -> dict[str, IndicatorSpec]:
    out: dict[str, IndicatorSpec] = {}
    for period in (1, 2, 14, 50):
        out[f"rsi{period}"] = Rsi(period)
    out["rsi14_volume"] = Rsi(14, "volume")
    out["rsi9_open"] = Rsi(9, "open")
    for fast, slow, signal in ((12, 26, 9), (1, 2, 1), (5, 35, 5), (3, 10, 16)):
        for output in ("macd", "signal", "hist"):
            out[f"macd{fast}_{slow}_{signal}_{output}"] = Macd(fast, slow, signal, output)
    out["macd_volume_hist"] = Macd(output="hist", source="volume")
    for period, k in ((20, 2.0), (1, 2.0), (50, 1.5), (200, 3.0)):
        for output in ("upper", "middle", "lower", "width"):
            out[f"bb{period}_{k}_{output}"] = Bollinger(period, k, output)
    out["bb20_volume_width"] = Bollinger(20, 2.0, "width", "volume")
    out["bb10_high_upper"] = Bollinger(10, 1.0, "upper", "high")
    for k_period, k_smooth, d_period in ((14, 3, 3), (1, 1, 1), (5, 1, 7), (21, 5, 5)):
        for output in ("k", "d"):
            out[f"stoch{k_period}_{k_smooth}_{d_period}_{output}"] = Stochastic(
                k_period, k_smooth, d_period, output
            )
    for period in (1, 7, 14, 30):
        for output in ("adx", "plus_di", "minus_di"):
            out[f"adx{period}_{output}"] = Adx(period, output)
    out["vwap_day"] = Vwap()
    out["vwap_hour"] = Vwap(3_600_000)
    out["vwap_15m"] = Vwap(900_000)  # as long as a Binance bar: every bar its own session
    out["vwap_week_from_monday"] = Vwap(604_800_000, 345_600_000)
    out["vwap_4h_offset"] = Vwap(14_400_000, 7_200_000)
    return out


def load(path: Path, max_rows: int | None = None) -> FloatArray:
    rows = np.loadtxt(path, delimiter=",", skiprows=1, max_rows=max_rows)
    assert rows.ndim == 2
    assert rows.shape[1] == 6
    return rows


def run_incremental(
    rows: FloatArray, symbol: str, timeframe: str, wanted: dict[str, IndicatorSpec]
) -> dict[str, FloatArray]:
    indicators = IncrementalIndicators(wanted)
    values = indicators.values
    out = {name: np.empty(rows.shape[0]) for name in wanted}
    pairs = [(name, out[name]) for name in wanted]
    for i, (ts, o, h, lo, c, v) in enumerate(rows.tolist()):
        indicators.update(Candle(symbol, timeframe, int(ts), o, h, lo, c, v))
        for name, column in pairs:
            column[i] = values[name]
    return out


def assert_parity(rows: FloatArray, symbol: str, timeframe: str) -> None:
    wanted = specs()
    series = {col: rows[:, i].copy() for i, col in enumerate(COLUMNS)}
    incremental = run_incremental(rows, symbol, timeframe, wanted)
    for name, spec in wanted.items():
        reference = compute(spec, series)
        got = incremental[name]
        nan_ref, nan_got = np.isnan(reference), np.isnan(got)
        assert np.array_equal(nan_ref, nan_got), (
            f"{symbol} {name}={spec}: nan differs at bars {np.flatnonzero(nan_ref != nan_got)[:5]}"
        )
        values = np.flatnonzero(~nan_ref)
        if rows.shape[0] > spec.warmup:
            assert values[0] == spec.warmup, f"{name}: first value at {values[0]}"
        ok = np.abs(got - reference) <= TOLERANCE + TOLERANCE * np.abs(reference)
        bad = np.flatnonzero(~ok & ~nan_ref)
        assert bad.size == 0, (
            f"{symbol} {name}={spec}: first mismatch at bar {bad[0]}: "
            f"incremental {got[bad[0]]!r} vs reference {reference[bad[0]]!r}"
        )


def test_bybit_btc_5m_first_20000_bars() -> None:
    assert_parity(load(BYBIT / "bybit_BTCUSDT_5m.csv", max_rows=20_000), "BTCUSDT", "5m")


def test_bybit_sol_5m_over_the_2025_10_10_crash() -> None:
    rows = load(BYBIT / "bybit_SOLUSDT_5m.csv")
    start = datetime(2025, 10, 8, tzinfo=UTC).timestamp() * 1000
    end = datetime(2025, 10, 14, tzinfo=UTC).timestamp() * 1000
    window = rows[(rows[:, 0] >= start) & (rows[:, 0] < end)]
    crash = datetime(2025, 10, 10, 21, 15, tzinfo=UTC).timestamp() * 1000
    assert (window[:, 0] == crash).sum() == 1, "the crash bar must be inside the window"
    assert_parity(window, "SOLUSDT", "5m")


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT", "XRPUSDT", "SUIUSDT"])
def test_binance_15m_whole_files(symbol: str) -> None:
    assert_parity(load(BINANCE / f"binance_{symbol}_15m.csv"), symbol, "15m")


@pytest.mark.slow
def test_bybit_btc_5m_full_file() -> None:
    # 86,604 bars: many talipp purges, and the running sums of its SMA lines over a long run.
    assert_parity(load(BYBIT / "bybit_BTCUSDT_5m.csv"), "BTCUSDT", "5m")
