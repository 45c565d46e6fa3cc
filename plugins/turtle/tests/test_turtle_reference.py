"""Turtle against an independent, plain-Python reading of the rules, on real Bybit candles."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest
from garrison_api import Candle
from garrison_api.testing import candles_from_csv, run_strategy
from garrison_turtle import TurtleParams, TurtleStrategy

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
BTC_5M = DATA / "candles" / "bybit_linear" / "bybit_BTCUSDT_5m.csv"

needs_data = pytest.mark.skipif(
    not BTC_5M.exists(), reason=f"real candles not found at {BTC_5M} (../shared/data)"
)

# (entry_ts, entry_price, exit_ts, exit_price, exit_reason) of the first System 1 trades on
# Bybit BTCUSDT 5m, checked against the raw rows: the first breakout is bar 27 (close
# 112027.7 below the 20-bar low 112067.7), filled at bar 28's open; bar 53 closes at
# 111968.0 above the 10-bar high 111861.0, so the short exits at bar 54's open.
FIRST_S1_TRADES = [
    ("short", 1758680400000, 112027.7, 1758688200000, 111968.0, "signal"),
    ("long", 1758688800000, 112298.9, 1758699000000, 112458.9, "signal"),
    ("long", 1758706500000, 112612.5, 1758722400000, 112783.5, "signal"),
]

Row = tuple[int, float, float, float, float]
HandTrade = tuple[str, int, float, int, float, str]


def read_rows(path: Path, limit: int) -> list[Row]:
    """The first ``limit`` bars as (ts, open, high, low, close), read with the csv module."""
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        rows: list[Row] = []
        for record in reader:
            rows.append(
                (
                    int(record[0]),
                    float(record[1]),
                    float(record[2]),
                    float(record[3]),
                    float(record[4]),
                )
            )
            if len(rows) == limit:
                break
    return rows


@dataclass
class HandPosition:
    side: str
    ts: int
    price: float
    stop: float

    def closed(self, ts: int, price: float, reason: str) -> HandTrade:
        return (self.side, self.ts, self.price, ts, price, reason)


def turtle_by_hand(
    rows: list[Row], entry: int = 20, exit_: int = 10, atr: int = 20, stop_n: float = 2.0
) -> list[HandTrade]:
    """The Turtle rules of the brief, written out longhand with no shared code."""
    trades: list[HandTrade] = []
    position: HandPosition | None = None
    order: tuple[str, str, float] | None = None  # ("entry", side, stop distance) or ("exit", ...)
    ranges: list[float] = []
    n = None
    for t, (ts, open_, high, low, close) in enumerate(rows):
        # 1. the order decided at the previous close fills at this open
        if order is not None:
            kind, side, distance = order
            order = None
            if kind == "exit":
                assert position is not None
                trades.append(position.closed(ts, open_, "signal"))
                position = None
            else:
                stop = open_ - distance if side == "long" else open_ + distance
                position = HandPosition(side, ts, open_, stop)
        # 2. the protective stop rests from the entry bar on
        if position is not None:
            stop = position.stop
            if position.side == "long" and low <= stop:
                trades.append(position.closed(ts, open_ if open_ <= stop else stop, "stop"))
                position = None
            elif position.side == "short" and high >= stop:
                trades.append(position.closed(ts, open_ if open_ >= stop else stop, "stop"))
                position = None
        # 3. N: Wilder ATR over true ranges from bar 1
        if t >= 1:
            previous_close = rows[t - 1][4]
            ranges.append(max(high - low, abs(high - previous_close), abs(low - previous_close)))
        if t == atr:
            n = sum(ranges[:atr]) / atr
        elif t > atr:
            assert n is not None
            n = ((atr - 1) * n + ranges[-1]) / atr
        if n is None:
            continue
        # 4. decide at the close, from the bars before t
        if position is None:
            if t < entry:
                continue
            upper = max(r[2] for r in rows[t - entry : t])
            lower = min(r[3] for r in rows[t - entry : t])
            if close > upper:
                order = ("entry", "long", stop_n * n)
            elif close < lower:
                order = ("entry", "short", stop_n * n)
        elif t >= exit_:
            if position.side == "long" and close < min(r[3] for r in rows[t - exit_ : t]):
                order = ("exit", "long", 0.0)
            elif position.side == "short" and close > max(r[2] for r in rows[t - exit_ : t]):
                order = ("exit", "short", 0.0)
    return trades


@lru_cache(maxsize=1)
def btc_candles() -> list[Candle]:
    return candles_from_csv(BTC_5M)[:5_000]


def kit_trades(params: TurtleParams, limit: int) -> list[HandTrade]:
    candles = btc_candles()[:limit]
    result = run_strategy(TurtleStrategy(params), candles)
    return [
        (t.side.value, t.entry_ts, t.entry_price, t.exit_ts, t.exit_price, t.exit_reason.value)
        for t in result.trades
    ]


def assert_same_trades(expected: list[HandTrade], actual: list[HandTrade]) -> None:
    assert len(actual) == len(expected)
    for want, got in zip(expected, actual, strict=True):
        side, entry_ts, entry_price, exit_ts, exit_price, reason = want
        assert got[0] == side, (want, got)
        assert got[1] == entry_ts, (want, got)
        assert got[2] == entry_price, (want, got)  # fills at an open: exact
        assert got[3] == exit_ts, (want, got)
        # a stop exit is fill ± 2N, computed along two float paths
        assert got[4] == pytest.approx(exit_price, rel=1e-12), (want, got)
        assert got[5] == reason, (want, got)


@needs_data
def test_first_system1_trades_are_the_verified_ones() -> None:
    hand = turtle_by_hand(read_rows(BTC_5M, 2_000))
    assert hand[:3] == FIRST_S1_TRADES
    assert kit_trades(TurtleParams(), 2_000)[:3] == FIRST_S1_TRADES


@needs_data
def test_system1_matches_the_hand_computation_on_2000_bars() -> None:
    hand = turtle_by_hand(read_rows(BTC_5M, 2_000))
    assert len(hand) >= 5
    assert {t[5] for t in hand} == {"signal", "stop"}, "the sample should exercise both exits"
    assert_same_trades(hand, kit_trades(TurtleParams(), 2_000))


@needs_data
def test_system2_matches_the_hand_computation_on_4000_bars() -> None:
    hand = turtle_by_hand(read_rows(BTC_5M, 4_000), entry=55, exit_=20)
    assert len(hand) >= 5
    assert_same_trades(hand, kit_trades(TurtleParams(system=2), 4_000))


@needs_data
def test_overridden_periods_and_stop_match_the_hand_computation() -> None:
    params = TurtleParams(entry_period=30, exit_period=15, atr_period=14, stop_n=1.5)
    hand = turtle_by_hand(read_rows(BTC_5M, 3_000), entry=30, exit_=15, atr=14, stop_n=1.5)
    assert len(hand) >= 5
    assert_same_trades(hand, kit_trades(params, 3_000))
