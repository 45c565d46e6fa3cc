"""Marks read from the series when the account is valued equal marks pushed on every bar.

A symbol replayed in one series is marked at that series' close by the
ledger itself (``Ledger.mark_sources``); the engine pushes a close on every
bar only for symbols with several series. Sizing depends on equity, so the
demo profile (fixed risk of equity, fees, slippage) trades differently at the
first wrong mark: both ways must journal the same trades and equity.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from garrison.engine import replay as replay_module
from garrison.engine.run import RunResult
from garrison.engine.sources import DataSelection
from garrison.plugins import PluginSet

Rows = list[tuple[Any, ...]]


def journaled(path: Path) -> tuple[Rows, Rows]:
    conn = sqlite3.connect(path)
    try:
        trades = conn.execute(
            "SELECT symbol, side, qty, entry_ts, entry_price, exit_ts, exit_price, pnl "
            "FROM trades ORDER BY entry_ts, symbol"
        ).fetchall()
        equity = conn.execute("SELECT ts, balance, equity, open_positions FROM equity ORDER BY seq")
        return trades, equity.fetchall()
    finally:
        conn.close()


def test_read_marks_journal_what_pushed_marks_journal(
    repo: Path,
    plugins: PluginSet,
    run_replay: Callable[..., RunResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    profile = repo / "configs" / "demo.toml"
    selection = DataSelection(paths=(str(repo / "data" / "demo" / "bybit_*_5m.csv.gz"),))
    read = run_replay(profile, plugins, selection=selection, journal=tmp_path / "read.sqlite")

    prepare = replay_module.ReplayEngine._prepare

    def pushing_every_close(engine: replay_module.ReplayEngine) -> list[Any]:
        states = prepare(engine)
        for state in states:
            state.pushes_mark = True
        engine._ledger.mark_sources.clear()
        return states

    monkeypatch.setattr(replay_module.ReplayEngine, "_prepare", pushing_every_close)
    pushed = run_replay(profile, plugins, selection=selection, journal=tmp_path / "pushed.sqlite")

    assert len(read.trades) > 10
    assert journaled(tmp_path / "read.sqlite") == journaled(tmp_path / "pushed.sqlite")
    assert read.final_equity == pushed.final_equity
