"""Turtle over the Bybit 5m data set: every symbol trades, in one multi-symbol run."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest
from garrison_api import Candle, ExitReason
from garrison_api.testing import candles_from_csv, run_strategy
from garrison_turtle import TurtleStrategy

BYBIT = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "candles" / "bybit_linear"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "AVAXUSDT", "ADAUSDT")


def five_symbols(bars: int | None) -> list[Candle]:
    paths = [BYBIT / f"bybit_{symbol}_5m.csv" for symbol in SYMBOLS]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"real candles not found: {', '.join(missing)} (../shared/data)")
    return [c for path in paths for c in candles_from_csv(path)[:bars]]


def check_every_symbol_trades(candles: list[Candle], at_least: int) -> None:
    result = run_strategy(TurtleStrategy(), candles)
    assert len(result.open_positions) <= len(SYMBOLS)
    for symbol in SYMBOLS:
        trades = [t for t in result.trades if t.symbol == symbol]
        assert len(trades) >= at_least, symbol
        assert {t.exit_reason for t in trades} == {ExitReason.SIGNAL, ExitReason.STOP}, symbol
        assert all(t.entry_ts <= t.exit_ts for t in trades), symbol
        # one position per symbol: its trades never overlap
        for before, after in pairwise(trades):
            assert before.exit_ts <= after.entry_ts, (before, after)


def test_all_five_bybit_5m_symbols_trade_in_their_first_10000_bars() -> None:
    check_every_symbol_trades(five_symbols(10_000), at_least=100)


@pytest.mark.slow
def test_all_five_bybit_5m_symbols_trade_over_the_whole_data_set() -> None:
    check_every_symbol_trades(five_symbols(None), at_least=1_000)
