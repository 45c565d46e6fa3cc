"""The market tape: what is known at each market time, and the order bars close in."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from garrison.engine.feed import Series
from garrison.fakex import MarketTape
from garrison.fakex.tape import TapeError

M5 = 300_000
T0 = 1_700_000_100_000 - 1_700_000_100_000 % M5


def series(symbol: str, tf: str, ts: list[int], opens: list[float]) -> Series:
    o = np.array(opens, np.float64)
    return Series(
        symbol,
        tf,
        np.array(ts, np.int64),
        o,
        o + 2.0,
        o - 2.0,
        o + 1.0,
        np.full(len(ts), 10.0),
    )


def five_minute(symbol: str, n: int, start: int = T0, first: float = 100.0) -> Series:
    return series(symbol, "5m", [start + i * M5 for i in range(n)], [first + i for i in range(n)])


def test_history_then_the_bar_in_progress_shown_open_only() -> None:
    tape = MarketTape([five_minute("AAAUSDT", 10)])
    tape.reset(T0 + 3 * M5)
    bars = tape.klines("AAAUSDT", "5m", limit=10)
    assert [b[0] for b in bars] == [T0, T0 + M5, T0 + 2 * M5, T0 + 3 * M5]
    assert bars[2] == (T0 + 2 * M5, 102.0, 104.0, 100.0, 103.0, 10.0)
    assert bars[-1] == (T0 + 3 * M5, 103.0, 103.0, 103.0, 103.0, 0.0)
    assert tape.price("AAAUSDT") == 103.0
    assert tape.last_closed("AAAUSDT") == bars[2]


def test_klines_page_from_start_or_back_from_end() -> None:
    tape = MarketTape([five_minute("AAAUSDT", 10)])
    tape.reset(T0 + 8 * M5)
    assert [b[0] for b in tape.klines("AAAUSDT", "5m", start=T0 + M5, limit=2)] == [
        T0 + M5,
        T0 + 2 * M5,
    ]
    assert [b[0] for b in tape.klines("AAAUSDT", "5m", limit=2)] == [T0 + 7 * M5, T0 + 8 * M5]
    assert [b[0] for b in tape.klines("AAAUSDT", "5m", end=T0 + 4 * M5, limit=2)] == [
        T0 + 3 * M5,
        T0 + 4 * M5,
    ]
    # Nothing from the future, however far the window reaches.
    assert tape.klines("AAAUSDT", "5m", start=T0 + 9 * M5) == []


def test_step_closes_bars_then_opens_the_next_ones_in_symbol_order() -> None:
    tape = MarketTape([five_minute("BBBUSDT", 4, first=200.0), five_minute("AAAUSDT", 4)])
    tape.reset(T0)
    when, closed, opened = tape.step()
    assert when == T0 + M5
    assert [(s, tf, bar[0]) for s, tf, bar in closed] == [
        ("AAAUSDT", "5m", T0),
        ("BBBUSDT", "5m", T0),
    ]
    assert opened == [
        ("AAAUSDT", "5m", (T0 + M5, 101.0, 101.0, 101.0, 101.0, 0.0)),
        ("BBBUSDT", "5m", (T0 + M5, 201.0, 201.0, 201.0, 201.0, 0.0)),
    ]
    assert tape.now_ms() == T0 + M5
    assert tape.price("AAAUSDT") == 101.0


def test_coarser_series_close_with_the_fine_ones_and_the_tape_ends_cleanly() -> None:
    fine = five_minute("AAAUSDT", 6)
    coarse = series("AAAUSDT", "15m", [T0, T0 + 3 * M5], [100.0, 103.0])
    tape = MarketTape([coarse, fine])
    assert tape.timeframes("AAAUSDT") == ["5m", "15m"]
    tape.reset(T0)
    closes = []
    while tape.next_event_ms() is not None:
        when, closed, _ = tape.step()
        closes.append((when, [tf for _, tf, _ in closed]))
    assert closes[2] == (T0 + 3 * M5, ["5m", "15m"])
    assert closes[-1] == (T0 + 6 * M5, ["5m", "15m"])
    assert tape.end_ms == T0 + 6 * M5
    with pytest.raises(TapeError, match="ended"):
        tape.step()
    # Past the end the price is the last close.
    assert tape.price("AAAUSDT") == 106.0


def test_a_hole_in_the_data_opens_the_next_bar_when_it_begins() -> None:
    gap = series("AAAUSDT", "5m", [T0, T0 + M5, T0 + 5 * M5], [100.0, 101.0, 105.0])
    tape = MarketTape([gap])
    tape.reset(T0)
    tape.step()
    when, closed, opened = tape.step()
    assert (when, opened) == (T0 + 2 * M5, [])
    when, closed, opened = tape.step()
    assert (when, closed) == (T0 + 5 * M5, [])
    assert opened[0][2][0] == T0 + 5 * M5


def test_default_start_leaves_history_bars_before_it(
    demo_tape: Callable[..., MarketTape],
) -> None:
    tape = demo_tape("BTCUSDT")
    first = int(tape.series("BTCUSDT", "5m").ts[0])
    assert tape.default_start(1000) == first + 1000 * M5


def test_instruments_come_from_the_snapshot_with_defaults_for_unknown_symbols() -> None:
    tape = MarketTape([five_minute("BTCUSDT", 3, first=60_000.0), five_minute("ZZZUSDT", 3)])
    tape.exchange = "bybit"
    btc = tape.instrument("BTCUSDT")
    assert (btc.tick_size, btc.lot_step, btc.min_notional) == (0.1, 0.001, 5.0)
    unknown = tape.instrument("ZZZUSDT")
    assert unknown.tick_size == pytest.approx(0.01)
    assert unknown.lot_step == pytest.approx(0.1)


def test_unknown_symbols_and_timeframes_are_named() -> None:
    tape = MarketTape([five_minute("AAAUSDT", 3)])
    with pytest.raises(TapeError, match="XXXUSDT is not on the tape"):
        tape.price("XXXUSDT")
    with pytest.raises(TapeError, match=r"no 1h candles.*loaded: 5m"):
        tape.klines("AAAUSDT", "1h")
