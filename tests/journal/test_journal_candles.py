"""Candles in the journal: write, INSERT OR IGNORE or replace, spans, filtered reads, bad input."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from garrison.journal import Journal, JournalError
from garrison.journal.candles import CandleCounts

T0 = 1_763_732_712_000
STEP = 300_000
REAL_BTC = Path(__file__).parents[2] / ".." / "shared" / "data" / "candles" / "bybit_linear"


def test_write_then_read_round_trips(
    journal: Journal, make_candles: Callable[..., np.ndarray]
) -> None:
    rows = make_candles(50)
    assert journal.write_candles("bybit", "BTCUSDT", "5m", rows) == 50
    got = journal.read_candles()
    assert list(got) == [("BTCUSDT", "5m")]
    np.testing.assert_array_equal(got[("BTCUSDT", "5m")], rows)
    assert got[("BTCUSDT", "5m")].dtype == np.float64
    assert journal.count("candles") == 50


def test_rewriting_bars_is_ignored(
    journal: Journal, make_candles: Callable[..., np.ndarray]
) -> None:
    rows = make_candles(20)
    journal.write_candles("bybit", "BTCUSDT", "5m", rows[:12])
    changed = rows.copy()
    changed[:, 4] += 1000.0  # same bars, other closes: the stored ones win
    assert journal.write_candles("bybit", "BTCUSDT", "5m", changed) == 8
    got = journal.read_candles()[("BTCUSDT", "5m")]
    np.testing.assert_array_equal(got[:12], rows[:12])
    np.testing.assert_array_equal(got[12:], changed[12:])
    assert journal.write_candles("bybit", "BTCUSDT", "5m", np.empty((0, 6))) == 0


def test_replace_overwrites_only_bars_whose_values_differ(
    journal: Journal, make_candles: Callable[..., np.ndarray]
) -> None:
    rows = make_candles(20)
    journal.write_candles("bybit", "BTCUSDT", "5m", rows[:12])
    changed = rows.copy()
    changed[3, 4] += 0.5  # one stored bar with another close, another with other volume
    changed[7, 5] = 0.0
    assert journal.store_candles("bybit", "BTCUSDT", "5m", changed, replace=True) == CandleCounts(
        new=8, replaced=2
    )
    np.testing.assert_array_equal(journal.read_candles()[("BTCUSDT", "5m")], changed)
    # The same rows again: nothing new, nothing differs, nothing written.
    assert journal.store_candles("bybit", "BTCUSDT", "5m", changed, replace=True) == CandleCounts(
        new=0, replaced=0
    )
    again = changed.copy()
    again[0, 2] += 1.0
    assert journal.write_candles("bybit", "BTCUSDT", "5m", again, replace=True) == 1
    assert journal.write_candles("bybit", "BTCUSDT", "5m", rows) == 0  # default: ignored
    np.testing.assert_array_equal(journal.read_candles()[("BTCUSDT", "5m")], again)
    assert journal.count("candles") == 20


def test_replace_touches_only_its_own_series(
    journal: Journal, make_candles: Callable[..., np.ndarray]
) -> None:
    rows = make_candles(5)
    for exchange, symbol, timeframe in (
        ("bybit", "BTCUSDT", "5m"),
        ("binance", "BTCUSDT", "5m"),
        ("bybit", "ETHUSDT", "5m"),
        ("bybit", "BTCUSDT", "1m"),
    ):
        journal.write_candles(exchange, symbol, timeframe, rows)
    changed = rows.copy()
    changed[:, 4] += 0.25
    counts = journal.store_candles("bybit", "BTCUSDT", "5m", changed, replace=True)
    assert counts == CandleCounts(new=0, replaced=5)
    np.testing.assert_array_equal(journal.read_candles(exchange="binance")[("BTCUSDT", "5m")], rows)
    untouched = journal.read_candles(exchange="bybit")
    np.testing.assert_array_equal(untouched[("ETHUSDT", "5m")], rows)
    np.testing.assert_array_equal(untouched[("BTCUSDT", "1m")], rows)
    np.testing.assert_array_equal(untouched[("BTCUSDT", "5m")], changed)


def test_candle_span_names_the_oldest_and_newest_bar(
    journal: Journal, make_candles: Callable[..., np.ndarray]
) -> None:
    assert journal.candle_span("bybit", "BTCUSDT", "5m") is None
    journal.write_candles("bybit", "BTCUSDT", "5m", make_candles(10, start=T0 + 5 * STEP))
    journal.write_candles("bybit", "BTCUSDT", "5m", make_candles(2))
    assert journal.candle_span("bybit", "BTCUSDT", "5m") == (T0, T0 + 14 * STEP)
    assert journal.candle_span("binance", "BTCUSDT", "5m") is None
    assert journal.candle_span("bybit", "BTCUSDT", "1m") is None


def test_unsorted_input_reads_back_sorted(
    journal: Journal, make_candles: Callable[..., np.ndarray]
) -> None:
    rows = make_candles(10)
    journal.write_candles("bybit", "ETHUSDT", "5m", rows[::-1])
    np.testing.assert_array_equal(journal.read_candles()[("ETHUSDT", "5m")], rows)


def test_filters(journal: Journal, make_candles: Callable[..., np.ndarray]) -> None:
    journal.write_candles("bybit", "BTCUSDT", "5m", make_candles(100))
    journal.write_candles("bybit", "ETHUSDT", "5m", make_candles(100))
    journal.write_candles("bybit", "BTCUSDT", "4h", make_candles(10, step=14_400_000))

    assert sorted(journal.read_candles()) == [
        ("BTCUSDT", "4h"),
        ("BTCUSDT", "5m"),
        ("ETHUSDT", "5m"),
    ]
    assert sorted(journal.read_candles(symbols=["BTCUSDT"])) == [
        ("BTCUSDT", "4h"),
        ("BTCUSDT", "5m"),
    ]
    assert sorted(journal.read_candles(timeframe="5m")) == [("BTCUSDT", "5m"), ("ETHUSDT", "5m")]

    window = journal.read_candles(
        symbols=["ETHUSDT"], timeframe="5m", start_ms=T0 + 10 * STEP, end_ms=T0 + 20 * STEP
    )
    eth = window[("ETHUSDT", "5m")]
    assert eth[0, 0] == T0 + 10 * STEP  # start inclusive
    assert eth[-1, 0] == T0 + 19 * STEP  # end exclusive
    assert len(eth) == 10
    assert journal.read_candles(start_ms=T0 + 10**12) == {}
    assert journal.read_candles(symbols=["XRPUSDT"]) == {}


def test_same_series_from_two_exchanges_needs_a_choice(
    journal: Journal, make_candles: Callable[..., np.ndarray]
) -> None:
    journal.write_candles("bybit", "BTCUSDT", "5m", make_candles(5))
    journal.write_candles("binance", "BTCUSDT", "5m", make_candles(7))
    with pytest.raises(
        JournalError, match=r"BTCUSDT 5m come from several exchanges \(binance, bybit\)"
    ):
        journal.read_candles()
    assert len(journal.read_candles(exchange="binance")[("BTCUSDT", "5m")]) == 7


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (np.zeros((3, 5)), r"shape \(n, 6\).*got \(3, 5\)"),
        (np.zeros(6), r"got \(6,\)"),
        ([["a", 1, 2, 3, 4, 5]], "not numeric"),
        (np.array([[T0, 1, 2, np.nan, 1, 1]]), "row 0 has a NaN"),
        (
            np.array([[T0, 1, 2, 0.5, 1, 1], [T0 + 0.5, 1, 2, 0.5, 1, 1]]),
            "row 1 has a non-integer ts",
        ),
    ],
)
def test_bad_candles_are_refused(journal: Journal, rows: object, message: str) -> None:
    with pytest.raises(JournalError, match=message) as info:
        journal.write_candles("bybit", "BTCUSDT", "5m", rows)  # type: ignore[arg-type]
    assert "'bybit' 'BTCUSDT' '5m'" in str(info.value)
    assert journal.count("candles") == 0


def test_empty_names_are_refused(journal: Journal, make_candles: Callable[..., np.ndarray]) -> None:
    with pytest.raises(JournalError, match="symbol must be a non-empty string"):
        journal.write_candles("bybit", "", "5m", make_candles(1))
    with pytest.raises(JournalError, match="symbols must be a sequence"):
        journal.read_candles(symbols="BTCUSDT")


@pytest.mark.skipif(not REAL_BTC.is_dir(), reason="shared real data not present")
def test_real_bybit_candles_round_trip(journal: Journal) -> None:
    with (REAL_BTC / "bybit_BTCUSDT_4h.csv").open() as f:
        reader = csv.reader(f)
        assert next(reader) == ["timestamp_ms", "open", "high", "low", "close", "volume"]
        rows = np.array([[float(x) for x in row] for row in reader])
    assert journal.write_candles("bybit", "BTCUSDT", "4h", rows) == len(rows)
    assert journal.write_candles("bybit", "BTCUSDT", "4h", rows) == 0
    got = journal.read_candles(symbols=["BTCUSDT"])[("BTCUSDT", "4h")]
    np.testing.assert_array_equal(got, rows)
