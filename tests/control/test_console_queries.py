"""The read-only queries the console's charts use: candles, trades, equity_history.

Against a real ``garrison run`` replay (the control tests' host, loaded from
``test_control_host.py``), and on their own with a journal written by hand
for the cases a replay does not make on demand.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from garrison.control import console_queries
from garrison.control.client import ControlRefusedError
from garrison.control.console_queries import QueryError
from garrison_api import Candle

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def control_tests(script_loader: Any) -> ModuleType:
    return script_loader("garrison_console_queries_host", HERE / "test_control_host.py")


@pytest.fixture(scope="module")
def host(control_tests: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    files = [control_tests.BYBIT_5M / f"bybit_{s}_5m.csv" for s in control_tests.SYMBOLS]
    if not all(path.is_file() for path in files):
        pytest.skip("real candles not found; ../shared/data is absent")
    work = tmp_path_factory.mktemp("queries")
    control_tests.install_slow_plugin(work / "site")
    sock, journal, profile = work / "run" / "q.sock", work / "j.sqlite", work / "p.toml"
    profile.write_text(control_tests.profile_text(sock, journal, files))
    env = {**os.environ, "GARRISON_PLUGINS_DIR": str(work / "site"), "COLUMNS": "200"}
    env["GARRISON_CACHE_DIR"] = str(work / "cache")
    err = work / "host.err"
    with err.open("wb") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "garrison.cli.main", "run", str(profile), "--no-progress"],
            cwd=control_tests.REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err_file,
        )
    running = control_tests.Host(proc, sock, journal, profile, env, err)
    try:
        control_tests.wait_for(
            "the socket", lambda: sock.exists() and running.call("status"), running
        )
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)


@pytest.mark.slow
def test_candles_trades_and_equity_history_from_a_running_host(
    host: Any, control_tests: ModuleType
) -> None:
    first = host.call("candles", {"n": 50})
    assert first["symbols"] == sorted(control_tests.SYMBOLS)
    assert first["symbol"] == "ADAUSDT"
    assert first["timeframe"] == "5m"
    assert 1 <= len(first["candles"]) <= 50
    ts = [c[0] for c in first["candles"]]
    assert ts == sorted(ts)
    assert all(
        len(c) == 6 and c[2] >= max(c[1], c[4]) and c[3] <= min(c[1], c[4])
        for c in first["candles"]
    )
    # The last candle is the engine's current bar: at or before the step's close.
    assert ts[-1] < host.call("status")["step_close"]
    btc = host.call("candles", {"symbol": "btcusdt", "timeframe": "5m", "n": 3})
    assert (btc["symbol"], len(btc["candles"])) == ("BTCUSDT", 3)
    with pytest.raises(
        ControlRefusedError, match=r"no candles held for ZZZUSDT \(symbols held: ADA"
    ):
        host.call("candles", {"symbol": "ZZZUSDT"})
    with pytest.raises(ControlRefusedError, match=r"no BTCUSDT candles in timeframe '4h'"):
        host.call("candles", {"symbol": "BTCUSDT", "timeframe": "4h"})
    with pytest.raises(ControlRefusedError, match="n must be a whole number"):
        host.call("candles", {"n": 0})
    # Close a position, so a trade is journaled with its stop.
    symbol = control_tests.wait_for("a position", lambda: host.call("positions"), host)[0]["symbol"]
    # (Refused only when it closed on its own meanwhile: a trade too.)
    with contextlib.suppress(ControlRefusedError):
        offer = host.call("flatten", {"symbol": symbol})
        host.call("flatten", {"symbol": symbol, "confirm": offer["confirm"]})
    trades = control_tests.wait_for("a closed trade", lambda: host.call("trades"), host)
    trade = trades[-1]
    assert {"symbol", "side", "entry_ts", "entry_price", "exit_ts", "exit_price", "stop"} <= set(
        trade
    )
    assert isinstance(trade["stop"], float)
    assert trade["entry_ts"] <= trade["exit_ts"]
    mine = host.call("trades", {"symbol": trade["symbol"]})
    assert {t["symbol"] for t in mine} == {trade["symbol"]}
    assert host.call("trades", {"since_ts": 2**62}) == []
    history = control_tests.wait_for(
        "equity points",
        lambda: len(host.call("equity_history")["points"]) >= 2 and host.call("equity_history"),
        host,
    )
    points = history["points"]
    assert [p[0] for p in points] == sorted(p[0] for p in points)
    thin = host.call("equity_history", {"n": 2})
    assert len(thin["points"]) <= 3  # every k-th point and the last
    assert thin["points"][-1][0] >= points[-1][0]


class _Series:
    def __init__(self, candles: list[Candle]) -> None:
        self.candles = candles

    def recent(self, n: int) -> list[Candle]:
        return self.candles[-n:]


def test_candles_picks_the_finest_timeframe_and_says_what_it_holds() -> None:
    def bars(tf: str, count: int) -> list[Candle]:
        return [Candle("BTCUSDT", tf, i, 1.0, 2.0, 0.5, 1.5, 10.0) for i in range(count)]

    held = {("BTCUSDT", "4h"): _Series(bars("4h", 5)), ("BTCUSDT", "5m"): _Series(bars("5m", 9))}
    found = console_queries.candles(held, {"n": 4})
    assert (found["timeframe"], found["timeframes"], len(found["candles"])) == (
        "5m",
        ["5m", "4h"],
        4,
    )
    assert console_queries.candles(held, {"timeframe": "4h"})["candles"][0] == [
        0,
        1.0,
        2.0,
        0.5,
        1.5,
        10.0,
    ]
    with pytest.raises(QueryError, match="holds no candles yet"):
        console_queries.candles({}, {})
    with pytest.raises(QueryError, match="symbol must be"):
        console_queries.candles(held, {"symbol": 5})


def test_equity_history_thins_evenly_and_keeps_the_last(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "j.sqlite")
    db.execute(
        "CREATE TABLE equity (seq INTEGER PRIMARY KEY, run_id TEXT, ts INTEGER, balance REAL, "
        "equity REAL, open_positions INTEGER)"
    )
    for i in range(10):
        db.execute(
            "INSERT INTO equity (run_id, ts, balance, equity) VALUES ('a', ?, 1.0, ?)",
            (i, float(i)),
        )
        db.execute(
            "INSERT INTO equity (run_id, ts, balance, equity) VALUES ('b', ?, 1.0, 0.0)", (i,)
        )
    db.commit()
    db.row_factory = sqlite3.Row

    def read(sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
        return db.execute(sql, params).fetchall()

    everything = console_queries.equity_history(read, "a", {})
    assert [p[0] for p in everything["points"]] == list(range(10))
    thin = console_queries.equity_history(read, "a", {"n": 4})
    assert [p[0] for p in thin["points"]] == [0, 3, 6, 9]
    assert console_queries.equity_history(read, "a", {"n": 3})["points"][-1][0] == 9
    assert console_queries.equity_history(read, "zzz", {})["points"] == []
    with pytest.raises(QueryError, match="n must be"):
        console_queries.equity_history(read, "a", {"n": -1})
