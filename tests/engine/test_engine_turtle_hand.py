"""Turtle System 1 worked out by hand from the raw CSV rows, checked through the host and CLI.

``turtle_by_hand`` is a plain reading of the rules with no code shared with the
plugin, the indicators module or the engine: at the close of bar t, channels over
the 20 (entry) and 10 (exit) bars *before* t, N the Wilder ATR(20) of true ranges
from bar 1; entries and exits fill at the next bar's open; the stop is the fill
∓ 2N and rests from the entry bar on, filling at the stop or at a bar's open that
is already beyond it. Like a replay with ``--from``, the window starts warm: the
strategy's warm-up bars before it (``HISTORY``) feed the channels and N, and the
first decision is on the window's first bar.
"""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from garrison.engine.run import RunResult, replay
from garrison.engine.sources import DataSelection
from garrison.plugins import load_plugins
from garrison.profile.load import load_profile

START, END = "2025-10-01", "2025-11-01"
START_MS, END_MS = 1_759_276_800_000, 1_761_955_200_000
#: Bars loaded before the window: one more than the longest indicator warm-up (20).
HISTORY = 21
CSV_HEADER = "symbol,side,entry_ts,entry_price,exit_ts,exit_price,exit_reason"

Row = tuple[int, float, float, float, float]
HandTrade = tuple[str, int, float, int, float, str]

# Four BTCUSDT trades of October 2025 (times UTC), worked out once with turtle_by_hand and
# checked against the rows: (side, entry_ts, entry_price, exit_ts, exit_price, exit_reason).
# The window starts warm (HISTORY bars of September feed the channels and N).
PINNED: list[HandTrade] = [
    # 10-01 00:00, the window's first bar, closes above the 20-bar high of the bars before
    # it; fills at 00:05's open 114173.5; 00:20 (low 113922.9) reaches the stop fill − 2N.
    ("long", 1_759_277_100_000, 114173.5, 1_759_278_000_000, 113957.821, "stop"),
    # Long filled at 01:10's open; 02:55 closes below the 10-bar low; exits at 03:00's open.
    ("long", 1_759_281_000_000, 114264.3, 1_759_287_600_000, 114233.6, "signal"),
    # Short filled at 03:50's open; 04:05 (high 114400.0) reaches the stop fill + 2N.
    ("short", 1_759_290_600_000, 114091.9, 1_759_291_500_000, 114323.34913419091, "stop"),
    # Long filled at 04:30's open; 04:50 (low 114280.5) reaches the stop fill − 2N.
    ("long", 1_759_293_000_000, 114561.5, 1_759_294_200_000, 114312.05394777546, "stop"),
]


def read_rows(path: Path, start_ms: int, end_ms: int) -> list[Row]:
    """(ts, open, high, low, close) of the bars opening in [start_ms, end_ms), via csv."""
    rows: list[Row] = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for record in reader:
            ts = int(record[0])
            if start_ms <= ts < end_ms:
                o, h, lo, c = (float(x) for x in record[1:5])
                rows.append((ts, o, h, lo, c))
    return rows


def wilder_atr(rows: list[Row], period: int) -> list[float | None]:
    """N per bar: None until bar ``period``; then the mean of TR[1..period] and the recurrence."""
    true_ranges: list[float] = [0.0]  # bar 0 has no previous close; never used
    for t in range(1, len(rows)):
        _, _, high, low, _ = rows[t]
        previous_close = rows[t - 1][4]
        true_ranges.append(max(high - low, abs(high - previous_close), abs(low - previous_close)))
    atr: list[float | None] = [None] * len(rows)
    for t in range(period, len(rows)):
        if t == period:
            atr[t] = sum(true_ranges[1 : period + 1]) / period
        else:
            previous = atr[t - 1]
            assert previous is not None
            atr[t] = ((period - 1) * previous + true_ranges[t]) / period
    return atr


def turtle_by_hand(
    rows: list[Row],
    entry: int = 20,
    exit_: int = 10,
    period: int = 20,
    stop_n: float = 2.0,
    first: int = 0,
) -> list[HandTrade]:
    """Turtle's trades over ``rows``, deciding from row ``first`` on (rows before: history)."""
    n = wilder_atr(rows, period)
    trades: list[HandTrade] = []
    held: tuple[str, int, float, float] | None = None  # side, entry_ts, entry_price, stop
    order: tuple[str, str, float] | None = None  # ("entry"|"exit", side, stop distance)
    for t, (ts, open_, high, low, close) in enumerate(rows):
        if t < first:
            continue
        if order is not None:
            what, side, distance = order
            order = None
            if what == "exit":
                assert held is not None
                trades.append((held[0], held[1], held[2], ts, open_, "signal"))
                held = None
            else:
                stop = open_ - distance if side == "long" else open_ + distance
                held = (side, ts, open_, stop)
        if held is not None:
            side, entry_ts, entry_price, stop = held
            if side == "long" and low <= stop:
                trades.append((side, entry_ts, entry_price, ts, min(open_, stop), "stop"))
                held = None
            elif side == "short" and high >= stop:
                trades.append((side, entry_ts, entry_price, ts, max(open_, stop), "stop"))
                held = None
        n_t = n[t]
        if t < entry or n_t is None:
            continue
        if held is None:
            if close > max(r[2] for r in rows[t - entry : t]):
                order = ("entry", "long", stop_n * n_t)
            elif close < min(r[3] for r in rows[t - entry : t]):
                order = ("entry", "short", stop_n * n_t)
        elif held[0] == "long" and close < min(r[3] for r in rows[t - exit_ : t]):
            order = ("exit", "long", 0.0)
        elif held[0] == "short" and close > max(r[2] for r in rows[t - exit_ : t]):
            order = ("exit", "short", 0.0)
    return trades


@pytest.fixture(scope="module")
def btc_file(bybit_5m: dict[str, Path]) -> Path:
    return bybit_5m["BTCUSDT"]


@pytest.fixture(scope="module")
def by_hand(btc_file: Path) -> list[HandTrade]:
    rows = read_rows(btc_file, START_MS - HISTORY * 300_000, END_MS)
    return turtle_by_hand(rows, first=HISTORY)


@pytest.fixture(scope="module")
def host_btc(repo: Path, btc_file: Path, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """configs/turtle-system1.toml replayed through the host over BTCUSDT, October 2025."""
    plugins = load_plugins()
    profile = load_profile(repo / "configs" / "turtle-system1.toml", plugins.registry)
    selection = DataSelection(paths=(str(btc_file),), start=START, end=END)
    journal = tmp_path_factory.mktemp("hand") / "journal.sqlite"
    return asyncio.run(
        replay(profile, plugins, selection=selection, journal_path=journal, any_mode=True)
    )


def as_hand(result: RunResult) -> list[HandTrade]:
    return [
        (
            t.side.value,
            t.entry_ts,
            t.entry_price,
            t.exit_ts,
            t.exit_price,
            t.exit_reason.value,
        )
        for t in result.trades
    ]


def test_the_window_is_what_the_pins_assume(btc_file: Path) -> None:
    rows = read_rows(btc_file, START_MS, END_MS)
    assert (rows[0][0], rows[-1][0], len(rows)) == (START_MS, END_MS - 300_000, 31 * 288)


def test_hand_computation_gives_the_pinned_trades(by_hand: list[HandTrade]) -> None:
    for trade in PINNED:
        assert trade in by_hand
    assert by_hand[0] == PINNED[0]  # the window's first trade


def test_pinned_prices_are_raw_opens_or_stops(btc_file: Path) -> None:
    bars = {row[0]: row for row in read_rows(btc_file, START_MS, END_MS)}
    for side, entry_ts, entry_price, exit_ts, exit_price, reason in PINNED:
        assert entry_price == bars[entry_ts][1]
        _, open_, high, low, _ = bars[exit_ts]
        if reason == "signal":
            assert exit_price == open_
        elif side == "long":
            assert low <= exit_price < open_
        else:
            assert open_ < exit_price <= high


def test_host_makes_the_pinned_trades_exactly(host_btc: RunResult) -> None:
    host = as_hand(host_btc)
    for pin in PINNED:
        assert pin in host
    pinned = [t for t in host_btc.trades if t.entry_ts in {p[1] for p in PINNED}]
    assert [t.symbol for t in pinned] == ["BTCUSDT"] * len(PINNED)
    # risk_usd = 1000 and no fees: a stop-out loses 1000 USDT (qty floored to the lot).
    for trade in pinned:
        if trade.exit_reason.value == "stop":
            assert -1000.0 <= trade.pnl < -990.0
            assert trade.r_multiple == pytest.approx(-1.0, rel=1e-9)


def test_host_makes_every_hand_trade_of_the_window(
    host_btc: RunResult, by_hand: list[HandTrade]
) -> None:
    assert len(by_hand) > 200
    assert as_hand(host_btc) == by_hand


# --- the same through `garrison backtest --trades-csv` --------------------------------------


@pytest.fixture(scope="module")
def backtest_csv(
    repo: Path, btc_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], Path]:
    tmp = tmp_path_factory.mktemp("cli-hand")
    out = tmp / "out.csv"
    env = {**os.environ, "GARRISON_CACHE_DIR": str(tmp / "cache"), "COLUMNS": "160"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "garrison.cli.main",
            "backtest",
            "configs/turtle-system1.toml",
            "--data",
            str(btc_file),
            "--from",
            START,
            "--to",
            END,
            "--trades-csv",
            str(out),
            "--journal",
            str(tmp / "journal.sqlite"),
            "--no-progress",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc, out


def test_backtest_writes_the_hand_trades_as_csv(
    backtest_csv: tuple[subprocess.CompletedProcess[str], Path], by_hand: list[HandTrade]
) -> None:
    proc, out = backtest_csv
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text(encoding="utf-8").split("\n")
    assert lines[0] == CSV_HEADER
    assert lines[-1] == ""  # newline-terminated, nothing after
    expected = [
        f"BTCUSDT,{side},{entry_ts},{entry_price!r},{exit_ts},{exit_price!r},{reason}"
        for side, entry_ts, entry_price, exit_ts, exit_price, reason in by_hand
    ]
    assert lines[1:-1] == expected
    for side, entry_ts, entry_price, exit_ts, exit_price, reason in PINNED:
        line = f"BTCUSDT,{side},{entry_ts},{entry_price!r},{exit_ts},{exit_price!r},{reason}"
        assert line in lines
    assert f"trades written to {out}" in " ".join(proc.stdout.split())
