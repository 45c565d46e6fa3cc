"""Incremental indicators equal garrison_api.indicators.compute on real data.

Every spec kind, several periods/offsets/sources, within 1e-9 (absolute + relative)
and with nan at exactly the same bars.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from garrison.indicators import IncrementalIndicators
from garrison_api.indicators import Atr, Ema, Highest, IndicatorSpec, Lowest, Sma, compute
from garrison_api.types import Candle

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "candles" / "bybit_linear"
COLUMNS = ("open", "high", "low", "close", "volume")
TOLERANCE = 1e-9

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"real candle data not found at {DATA} (shared data folder absent)"
)


def load(name: str, max_rows: int | None = None) -> npt.NDArray[np.float64]:
    rows = np.loadtxt(DATA / name, delimiter=",", skiprows=1, max_rows=max_rows)
    assert rows.ndim == 2
    assert rows.shape[1] == 6
    return rows


def specs() -> dict[str, IndicatorSpec]:
    out: dict[str, IndicatorSpec] = {}
    for period in (1, 14, 55):
        out[f"atr{period}"] = Atr(period)
        for source in ("close", "volume"):
            out[f"sma_{source}{period}"] = Sma(source, period)
            out[f"ema_{source}{period}"] = Ema(source, period)
        for offset in (0, 1, 3):
            out[f"hi{period}_{offset}"] = Highest("high", period, offset=offset)
            out[f"lo{period}_{offset}"] = Lowest("low", period, offset=offset)
    out["atr20"] = Atr(20)
    out["sma200"] = Sma("close", 200)
    out["ema200"] = Ema("close", 200)
    out["hi_close20_1"] = Highest("close", 20, offset=1)
    out["lo_open10_2"] = Lowest("open", 10, offset=2)
    return out


def run_incremental(
    rows: npt.NDArray[np.float64], symbol: str, wanted: dict[str, IndicatorSpec]
) -> dict[str, npt.NDArray[np.float64]]:
    indicators = IncrementalIndicators(wanted)
    values = indicators.values
    out = {name: np.empty(rows.shape[0]) for name in wanted}
    columns = [out[name] for name in wanted]
    names = list(wanted)
    for i, (ts, o, h, lo, c, v) in enumerate(rows.tolist()):
        indicators.update(Candle(symbol, "5m", int(ts), o, h, lo, c, v))
        for name, column in zip(names, columns, strict=True):
            column[i] = values[name]
    return out


def assert_parity(rows: npt.NDArray[np.float64], symbol: str) -> None:
    wanted = specs()
    series = {col: rows[:, i + 1].copy() for i, col in enumerate(COLUMNS)}
    incremental = run_incremental(rows, symbol, wanted)
    for name, spec in wanted.items():
        reference = compute(spec, series)
        got = incremental[name]
        nan_ref, nan_got = np.isnan(reference), np.isnan(got)
        assert np.array_equal(nan_ref, nan_got), (
            f"{symbol} {name}={spec}: nan at bars {np.flatnonzero(nan_ref != nan_got)[:5]}"
        )
        assert int(nan_ref.sum()) == min(spec.warmup, rows.shape[0]), f"{name}: warm-up"
        ok = np.abs(got - reference) <= TOLERANCE + TOLERANCE * np.abs(reference)
        bad = np.flatnonzero(~ok & ~nan_ref)
        assert bad.size == 0, (
            f"{symbol} {name}={spec}: first mismatch at bar {bad[0]}: "
            f"incremental {got[bad[0]]!r} vs reference {reference[bad[0]]!r}"
        )


def test_btc_5m_first_20000_bars() -> None:
    assert_parity(load("bybit_BTCUSDT_5m.csv", max_rows=20_000), "BTCUSDT")


def test_sol_5m_over_the_2025_10_10_crash() -> None:
    rows = load("bybit_SOLUSDT_5m.csv")
    start = datetime(2025, 10, 8, tzinfo=UTC).timestamp() * 1000
    end = datetime(2025, 10, 14, tzinfo=UTC).timestamp() * 1000
    window = rows[(rows[:, 0] >= start) & (rows[:, 0] < end)]
    crash = datetime(2025, 10, 10, 21, 15, tzinfo=UTC).timestamp() * 1000
    crash_bar = window[window[:, 0] == crash]
    assert crash_bar.shape[0] == 1, "the crash bar must be inside the window"
    _, _, high, low, _, _ = crash_bar[0]
    assert (high - low) / high > 0.2  # really the ~30 % SOL bar
    assert_parity(window, "SOLUSDT")


@pytest.mark.slow
def test_btc_5m_full_file() -> None:
    # Long runs exercise talipp's purging and its running-sum SMA over 86k bars.
    assert_parity(load("bybit_BTCUSDT_5m.csv"), "BTCUSDT")
