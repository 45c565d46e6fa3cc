"""API 1.1 indicators: specs, definitions (by hand and by textbook loops), the kit's updaters.

The textbook loops here are written from the definitions in the spec docstrings,
independently of ``compute`` (Wilder's sum form, ``np.std``, plain running sums), so
``compute`` is checked against the definition and not only against itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt
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
    Sma,
    Stochastic,
    Vwap,
)
from garrison_api.indicators import BUILTIN_SPECS, IndicatorSpec, compute
from garrison_api.testing import candles_from_csv, random_walk
from garrison_api.testing.columns import candle_columns
from garrison_api.testing.incremental import make_updater

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "candles"
BTC_5M = DATA / "bybit_linear" / "bybit_BTCUSDT_5m.csv"
ETH_15M = DATA / "binance_usdm" / "binance_ETHUSDT_15m.csv"
needs_data = pytest.mark.skipif(
    not (BTC_5M.exists() and ETH_15M.exists()), reason=f"real candles not found in {DATA}"
)
FloatArray = npt.NDArray[np.float64]

NEW_SPECS: list[IndicatorSpec] = [
    Rsi(),
    Rsi(1),
    Rsi(2, "open"),
    Rsi(30, "volume"),
    Macd(),
    Macd(output="signal"),
    Macd(output="hist"),
    Macd(1, 2, 1, "hist"),
    Macd(5, 35, 5, "signal", "volume"),
    Bollinger(),
    Bollinger(output="middle"),
    Bollinger(output="lower"),
    Bollinger(output="width"),
    Bollinger(1, 2.0, "width"),
    Bollinger(50, 1.5, "upper", "high"),
    Bollinger(20, 2.0, "width", "volume"),
    Stochastic(),
    Stochastic(output="d"),
    Stochastic(1, 1, 1, "d"),
    Stochastic(5, 1, 7, "d"),
    Stochastic(21, 5, 5, "k"),
    Adx(),
    Adx(output="plus_di"),
    Adx(output="minus_di"),
    Adx(1),
    Adx(30, "adx"),
    Vwap(),
    Vwap(3_600_000),
    Vwap(900_000),
    Vwap(604_800_000, 345_600_000),
]


def bars(
    rows: Sequence[tuple[float, float, float, float, float]], step: int = 60_000
) -> list[Candle]:
    """Candles from (open, high, low, close, volume) rows, one ``step`` apart from ts 0."""
    return [Candle("AUSDT", "1m", i * step, *row) for i, row in enumerate(rows)]


def closes(values: Sequence[float]) -> list[Candle]:
    return bars([(v, v, v, v, 1.0) for v in values])


def values_of(spec: IndicatorSpec, candles: Sequence[Candle]) -> FloatArray:
    return compute(spec, candle_columns(candles))


# --- specs ------------------------------------------------------------------------------


def test_defaults_and_warmups() -> None:
    assert Rsi() == Rsi(14, "close")
    assert Rsi().warmup == 14
    assert Macd() == Macd(12, 26, 9, "macd", "close")
    assert (Macd().warmup, Macd(output="signal").warmup, Macd(output="hist").warmup) == (25, 33, 33)
    assert Bollinger() == Bollinger(20, 2.0, "upper", "close")
    assert Bollinger(k=2) == Bollinger(k=2.0)
    assert Bollinger().warmup == 19
    assert Stochastic() == Stochastic(14, 3, 3, "k")
    assert (Stochastic().warmup, Stochastic(output="d").warmup) == (15, 17)
    assert (Stochastic(1, 1, 1, "k").warmup, Stochastic(1, 1, 1, "d").warmup) == (0, 0)
    assert (Adx().warmup, Adx(output="plus_di").warmup, Adx(output="minus_di").warmup) == (
        27,
        14,
        14,
    )
    assert Vwap() == Vwap(86_400_000, 0)
    assert Vwap().warmup == 0
    assert Vwap(3_600_000, 900_000).session(900_000 + 3 * 3_600_000 - 1) == 2


def test_specs_are_hashable_values_and_one_column_per_output() -> None:
    specs = {Macd(output="macd"), Macd(output="signal"), Macd(output="macd")}
    assert len(specs) == 2
    with pytest.raises(AttributeError):
        Rsi().period = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Rsi(0), "period must be at least 1, got 0"),
        (lambda: Rsi(2.5), "period must be a whole number, got 2.5"),
        (lambda: Rsi(True), "period must be a whole number"),
        (lambda: Rsi(14, "typical"), "source must be one of open, high, low, close, volume"),
        (lambda: Macd(26, 12), "fast must be less than slow, got fast=26 slow=12"),
        (lambda: Macd(12, 12), "fast must be less than slow"),
        (lambda: Macd(signal=0), "signal must be at least 1"),
        (lambda: Macd(output="histogram"), "output must be one of macd, signal, hist"),
        (lambda: Bollinger(k=0), "k must be a finite number above 0, got 0.0"),
        (lambda: Bollinger(k=float("inf")), "k must be a finite number above 0"),
        (lambda: Bollinger(k=-1.0), "k must be a finite number above 0"),
        (lambda: Bollinger(k="2"), "k must be a number, got '2'"),
        (lambda: Bollinger(k=True), "k must be a number, got True"),
        (lambda: Bollinger(output="band"), "output must be one of upper, middle, lower, width"),
        (lambda: Bollinger(period=0), "period must be at least 1"),
        (lambda: Stochastic(k_smooth=0), "k_smooth must be at least 1"),
        (lambda: Stochastic(output="j"), "output must be one of k, d"),
        (lambda: Adx(0), "period must be at least 1"),
        (lambda: Adx(output="dx"), "output must be one of adx, plus_di, minus_di"),
        (lambda: Vwap(0), "session_ms must be at least 1"),
        (lambda: Vwap(offset_ms=-1), "offset_ms must be at least 0"),
        (lambda: Vwap(3_600_000, 3_600_000), "offset_ms must be less than session_ms"),
    ],
)
def test_bad_fields_are_named(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_builtin_specs_are_not_custom_indicators() -> None:
    one_of_each = [Highest("high", 3), Lowest("low", 3), Atr(3), Sma("close", 3), Ema("close", 3)]
    one_of_each += [Rsi(), Macd(), Bollinger(), Stochastic(), Adx(), Vwap()]
    assert {type(spec) for spec in one_of_each} == set(BUILTIN_SPECS)
    for spec in one_of_each:
        assert not isinstance(spec, CustomIndicator), spec


# --- definitions by hand -------------------------------------------------------------------


def test_rsi_by_hand() -> None:
    # Changes: +1, +2, -1, 0, +3; gains 1,2,0,0,3; losses 0,0,1,0,0.
    got = values_of(Rsi(3), closes([10.0, 11.0, 13.0, 12.0, 12.0, 15.0]))
    assert np.isnan(got[:3]).all()
    gain, loss = 1.0, 1.0 / 3.0  # means of bars 1..3
    assert got[3] == pytest.approx(100 - 100 / (1 + gain / loss))
    gain, loss = (2 * gain + 0) / 3, (2 * loss + 0) / 3
    assert got[4] == pytest.approx(100 - 100 / (1 + gain / loss))
    gain, loss = (2 * gain + 3) / 3, (2 * loss + 0) / 3
    assert got[5] == pytest.approx(100 - 100 / (1 + gain / loss))


def test_rsi_rising_is_100_flat_is_50() -> None:
    assert values_of(Rsi(2), closes([1.0, 2.0, 3.0, 4.0]))[2:].tolist() == [100.0, 100.0]
    assert values_of(Rsi(2), closes([5.0, 5.0, 5.0, 5.0]))[2:].tolist() == [50.0, 50.0]
    assert values_of(Rsi(2), closes([4.0, 3.0, 2.0]))[2] == 0.0
    # Flat after a rise: losses stay 0, gains decay but stay above 0.
    assert values_of(Rsi(2), closes([1.0, 2.0, 3.0, 3.0, 3.0]))[4] == 100.0


def test_macd_by_hand() -> None:
    prices = [1.0, 2.0, 4.0, 3.0, 5.0, 6.0]
    spec = Macd(2, 3, 2)
    line = values_of(spec, closes(prices))
    fast = values_of(Ema("close", 2), closes(prices))
    slow = values_of(Ema("close", 3), closes(prices))
    assert np.isnan(line[:2]).all()
    assert line[2:].tolist() == (fast - slow)[2:].tolist()
    signal = values_of(Macd(2, 3, 2, "signal"), closes(prices))
    assert np.isnan(signal[:3]).all()  # starts at slow + signal - 2 = 3
    assert signal[3] == pytest.approx((line[2] + line[3]) / 2)
    assert signal[4] == pytest.approx(2 / 3 * line[4] + 1 / 3 * signal[3])
    hist = values_of(Macd(2, 3, 2, "hist"), closes(prices))
    assert hist[3:].tolist() == (line - signal)[3:].tolist()


def test_bollinger_by_hand() -> None:
    prices = [1.0, 2.0, 3.0, 4.0]
    candles = closes(prices)
    std = math.sqrt(2 / 3)  # population std of 1, 2, 3 (and of 2, 3, 4)
    upper = values_of(Bollinger(3, 2.0, "upper"), candles)
    middle = values_of(Bollinger(3, 2.0, "middle"), candles)
    lower = values_of(Bollinger(3, 2.0, "lower"), candles)
    width = values_of(Bollinger(3, 2.0, "width"), candles)
    assert np.isnan(upper[:2]).all()
    assert middle[2:].tolist() == [2.0, 3.0]
    assert upper[2:] == pytest.approx([2 + 2 * std, 3 + 2 * std])
    assert lower[2:] == pytest.approx([2 - 2 * std, 3 - 2 * std])
    assert width[2:] == pytest.approx([4 * std / 2, 4 * std / 3])


def test_bollinger_width_of_zero_volume_is_nan() -> None:
    candles = bars([(1.0, 1.0, 1.0, 1.0, 0.0)] * 3 + [(1.0, 1.0, 1.0, 1.0, 6.0)])
    width = values_of(Bollinger(2, 2.0, "width", "volume"), candles)
    assert np.isnan(width[:3]).all()  # bar 0: warming up; bars 1, 2: middle is 0
    assert width[3] == pytest.approx(4 * 3.0 / 3.0)


def test_stochastic_by_hand() -> None:
    rows = [
        (5.0, 6.0, 4.0, 5.0, 1.0),
        (5.0, 8.0, 5.0, 7.0, 1.0),
        (7.0, 7.0, 3.0, 4.0, 1.0),
        (4.0, 9.0, 4.0, 9.0, 1.0),
        (9.0, 9.0, 6.0, 6.0, 1.0),
    ]
    candles = bars(rows)
    raw = values_of(Stochastic(3, 1, 1, "k"), candles)
    assert np.isnan(raw[:2]).all()
    assert raw[2:] == pytest.approx([100 * (4 - 3) / (8 - 3), 100 * (9 - 3) / 6, 100 * (6 - 3) / 6])
    k = values_of(Stochastic(3, 2, 2, "k"), candles)
    assert np.isnan(k[:3]).all()
    assert k[3:] == pytest.approx([(raw[2] + raw[3]) / 2, (raw[3] + raw[4]) / 2])
    d = values_of(Stochastic(3, 2, 2, "d"), candles)
    assert np.isnan(d[:4]).all()
    assert d[4] == pytest.approx((k[3] + k[4]) / 2)


def test_stochastic_without_range_is_50() -> None:
    got = values_of(Stochastic(2, 1, 1, "k"), closes([3.0, 3.0, 3.0]))
    assert got[1:].tolist() == [50.0, 50.0]


def test_adx_by_hand() -> None:
    rows = [
        (10.0, 11.0, 9.0, 10.0, 1.0),
        (10.0, 12.0, 10.0, 11.5, 1.0),  # up 1, down -1: +DM 1; TR max(2, 2, 0) = 2
        (11.5, 12.5, 9.5, 10.0, 1.0),  # up 0.5, down 0.5: neither; TR max(3, 1, 2) = 3
        (10.0, 10.5, 8.5, 9.0, 1.0),  # up -2, down 1: -DM 1; TR max(2, 0.5, 1.5) = 2
    ]
    candles = bars(rows)
    plus = values_of(Adx(2, "plus_di"), candles)
    minus = values_of(Adx(2, "minus_di"), candles)
    adx = values_of(Adx(2, "adx"), candles)
    assert np.isnan(plus[:2]).all()
    atr2, atr3 = (2 + 3) / 2, (1 * 2.5 + 2) / 2
    pdm2, pdm3 = (1 + 0) / 2, (1 * 0.5 + 0) / 2
    mdm2, mdm3 = 0.0, (0 + 1) / 2
    assert plus[2:] == pytest.approx([100 * pdm2 / atr2, 100 * pdm3 / atr3])
    assert minus[2:] == pytest.approx([100 * mdm2 / atr2, 100 * mdm3 / atr3])
    dx = 100 * np.abs(plus - minus) / (plus + minus)
    assert np.isnan(adx[:3]).all()
    assert adx[3] == pytest.approx((dx[2] + dx[3]) / 2)


def test_adx_without_range_is_zero() -> None:
    candles = closes([5.0] * 6)
    assert values_of(Adx(2, "plus_di"), candles)[2:].tolist() == [0.0] * 4
    assert values_of(Adx(2, "adx"), candles)[3:].tolist() == [0.0] * 3


def test_vwap_by_hand_resets_at_each_session() -> None:
    hour = 3_600_000
    rows = [
        (1.0, 3.0, 0.0, 3.0, 2.0),  # tp 2
        (1.0, 6.0, 3.0, 6.0, 1.0),  # tp 5
        (1.0, 3.0, 3.0, 3.0, 4.0),  # tp 3, a new session
    ]
    candles = bars(rows, step=hour // 2)  # ts 0, 30 min, 60 min
    got = values_of(Vwap(hour), candles)
    assert got.tolist() == [2.0, (2 * 2 + 5 * 1) / 3, 3.0]
    # Offset 45 min: bars at 0 and 30 min belong to the session that began at -15 min.
    shifted = values_of(Vwap(hour, 45 * 60_000), candles)
    assert shifted.tolist() == got.tolist()
    # Offset 15 min: bar 0 is in one session, bars 1 and 2 in the next.
    assert values_of(Vwap(hour, 15 * 60_000), candles).tolist() == [2.0, 5.0, (5 + 12) / 5]


def test_vwap_with_no_volume_yet_is_the_typical_price() -> None:
    rows = [(1.0, 3.0, 0.0, 3.0, 0.0), (1.0, 6.0, 3.0, 6.0, 0.0), (1.0, 3.0, 3.0, 3.0, 2.0)]
    assert values_of(Vwap(), bars(rows)).tolist() == [2.0, 5.0, 3.0]


def test_vwap_needs_the_ts_column() -> None:
    columns = candle_columns(closes([1.0, 2.0]))
    del columns["ts"]
    with pytest.raises(KeyError, match="needs the 'ts' column"):
        compute(Vwap(), columns)


# --- definitions by textbook loops on real data ------------------------------------------------


def textbook_wilder_sums(values: Sequence[float], period: int) -> list[float]:
    """Wilder's own form: a running SUM (first = sum of ``period`` values, then s - s/n + x)."""
    out = [math.nan] * len(values)
    total = sum(values[:period])
    out[period - 1] = total
    for i in range(period, len(values)):
        total = total - total / period + values[i]
        out[i] = total
    return out


def textbook_rsi(close: Sequence[float], period: int) -> list[float]:
    changes = [b - a for a, b in pairwise(close)]
    gains = textbook_wilder_sums([max(c, 0.0) for c in changes], period)
    losses = textbook_wilder_sums([max(-c, 0.0) for c in changes], period)
    out = [math.nan]
    for g, lo in zip(gains, losses, strict=True):
        out.append(math.nan if math.isnan(g) else 100 * g / (g + lo) if g + lo else 50.0)
    return out


def textbook_adx(candles: Sequence[Candle], period: int) -> list[float]:
    trs, pdms, mdms = [], [], []
    for prev, bar in pairwise(candles):
        trs.append(max(bar.high, prev.close) - min(bar.low, prev.close))
        up, down = bar.high - prev.high, prev.low - bar.low
        pdms.append(up if up > max(down, 0) else 0.0)
        mdms.append(down if down > max(up, 0) else 0.0)
    tr_sum = textbook_wilder_sums(trs, period)
    pdm_sum = textbook_wilder_sums(pdms, period)
    mdm_sum = textbook_wilder_sums(mdms, period)
    dxs = []
    for t, p, m in zip(
        tr_sum[period - 1 :], pdm_sum[period - 1 :], mdm_sum[period - 1 :], strict=True
    ):
        pdi, mdi = 100 * p / t, 100 * m / t
        dxs.append(100 * abs(pdi - mdi) / (pdi + mdi))
    adx = [s / period for s in textbook_wilder_sums(dxs, period)]
    return [math.nan] * period + adx


def textbook_vwap(candles: Sequence[Candle], session_ms: int) -> list[float]:
    out, day, pv, vol = [], None, 0.0, 0.0
    for c in candles:
        if c.ts // session_ms != day:
            day, pv, vol = c.ts // session_ms, 0.0, 0.0
        tp = (c.high + c.low + c.close) / 3
        pv, vol = pv + tp * c.volume, vol + c.volume
        out.append(pv / vol)
    return out


def close_enough(got: FloatArray, expected: Sequence[float]) -> None:
    want = np.array(expected)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert np.allclose(got[ok], want[ok], rtol=1e-9, atol=1e-9)


@needs_data
def test_compute_matches_textbook_loops_on_real_candles() -> None:
    candles = candles_from_csv(ETH_15M)
    columns = candle_columns(candles)
    close = [c.close for c in candles]
    close_enough(compute(Rsi(14), columns), textbook_rsi(close, 14))
    close_enough(compute(Adx(14), columns), textbook_adx(candles, 14))
    close_enough(compute(Vwap(), columns), textbook_vwap(candles, 86_400_000))
    windows = np.lib.stride_tricks.sliding_window_view(columns["close"], 20)
    middle, std = windows.mean(axis=1), windows.std(axis=1, ddof=0)
    close_enough(compute(Bollinger(20, 2.5, "lower"), columns)[19:], middle - 2.5 * std)
    close_enough(compute(Bollinger(20, 2.5, "width"), columns)[19:], 5 * std / middle)
    hh = np.lib.stride_tricks.sliding_window_view(columns["high"], 14).max(axis=1)
    ll = np.lib.stride_tricks.sliding_window_view(columns["low"], 14).min(axis=1)
    raw = 100 * (columns["close"][13:] - ll) / (hh - ll)
    k = np.convolve(raw, np.ones(3) / 3, mode="valid")
    close_enough(compute(Stochastic(14, 3, 3, "k"), columns)[15:], k)
    close_enough(
        compute(Stochastic(14, 3, 3, "d"), columns)[17:], np.convolve(k, np.ones(3) / 3, "valid")
    )


# --- the kit's updaters -------------------------------------------------------------------


def assert_updaters_equal_compute(
    candles: Sequence[Candle], specs: Sequence[IndicatorSpec]
) -> None:
    columns = candle_columns(candles)
    for spec in specs:
        expected = compute(spec, columns)
        updater = make_updater(spec)
        got = np.array([updater.update(c) for c in candles])
        assert np.array_equal(np.isnan(got), np.isnan(expected)), spec
        ok = ~np.isnan(expected)
        bad = np.flatnonzero(got[ok] != expected[ok])
        assert bad.size == 0, f"{spec}: bar {np.flatnonzero(ok)[bad[0]]} differs"
        assert int(np.flatnonzero(ok)[0]) == spec.warmup, spec


@needs_data
def test_kit_updaters_equal_compute_to_the_bit_on_bybit_5m() -> None:
    assert_updaters_equal_compute(candles_from_csv(BTC_5M)[:15_000], NEW_SPECS)


@needs_data
def test_kit_updaters_equal_compute_to_the_bit_on_binance_15m() -> None:
    assert_updaters_equal_compute(candles_from_csv(ETH_15M), NEW_SPECS)


def test_kit_updaters_equal_compute_on_short_series() -> None:
    # Shorter than most warm-ups: all nan, on both paths.
    for length in (0, 1, 2, 5, 30):
        assert_updaters_equal_compute_lenient(random_walk("AUSDT", length, seed=length), NEW_SPECS)


def assert_updaters_equal_compute_lenient(
    candles: Sequence[Candle], specs: Sequence[IndicatorSpec]
) -> None:
    columns = candle_columns(candles)
    for spec in specs:
        expected = compute(spec, columns)
        assert expected.shape == (len(candles),)
        updater = make_updater(spec)
        got = np.array([updater.update(c) for c in candles], dtype=np.float64)
        assert np.array_equal(got, expected, equal_nan=True), spec


def test_updater_is_an_indicator_updater() -> None:
    for spec in NEW_SPECS:
        assert isinstance(make_updater(spec), IndicatorUpdater)


def test_make_updater_refuses_what_is_not_a_spec() -> None:
    with pytest.raises(TypeError, match="unknown indicator spec 'RSI'"):
        make_updater("RSI")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown indicator spec"):
        compute(object(), {})  # type: ignore[arg-type]


def test_existing_specs_unchanged_on_a_seeded_walk() -> None:
    # Atr's Wilder loop now serves Rsi and Adx too; Atr keeps the 1.0 operations, so
    # its values stay the same to the bit (Turtle's reference parity rests on them).
    columns = candle_columns(random_walk("AUSDT", 500, seed=7))
    atr = compute(Atr(20), columns)
    assert int(np.isnan(atr).sum()) == 20
    high, low, close = columns["high"][1:], columns["low"][1:], columns["close"][:-1]
    tr = np.maximum(high - low, np.maximum(np.abs(high - close), np.abs(low - close)))
    value = float(np.mean(tr[:20]))
    expected = [value]
    for x in tr[20:].tolist():
        value = (19.0 * value + x) / 20.0
        expected.append(value)
    assert atr[20:].tolist() == expected
