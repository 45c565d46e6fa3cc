"""Acceptance (issue 8): real 5m and 4h files replayed together.

Fills, stops and phantoms come from each symbol's 5m series; the 4h files
only give context. Turtle narrowed to 5m therefore makes exactly the 13,380
trades of the 5m files alone, and the demo profile (Turtle on every
timeframe) backtests over the whole folder with no trade exiting before it
entered, the defect that made the 0.1 report crash.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from garrison.engine.run import RunResult
from garrison.engine.sources import DataSelection
from garrison.plugins import PluginSet
from garrison_api import Trade

pytestmark = pytest.mark.slow


def key(trade: Trade) -> tuple[object, ...]:
    return (
        trade.symbol,
        trade.side.value,
        trade.qty,
        trade.entry_ts,
        trade.entry_price,
        trade.exit_ts,
        trade.exit_price,
        trade.exit_reason.value,
        trade.pnl,
    )


def test_turtle_on_5m_with_the_4h_files_beside_makes_the_reference_trades(
    repo: Path,
    bybit_5m: dict[str, Path],
    plugins: PluginSet,
    run_replay: Callable[..., RunResult],
    tmp_path: Path,
) -> None:
    folder = next(iter(bybit_5m.values())).parent
    profile = repo / "configs" / "turtle-system1.toml"
    both = run_replay(profile, plugins, DataSelection((str(folder),)), tmp_path / "both.sqlite")
    alone = run_replay(
        profile,
        plugins,
        DataSelection(tuple(str(p) for p in bybit_5m.values())),
        tmp_path / "alone.sqlite",
    )
    assert len(both.symbols) == 8  # BNB, AAVE and APE come in 4h only
    assert both.stats.candles > alone.stats.candles
    assert len(alone.trades) == 13_380
    assert [key(t) for t in both.trades] == [key(t) for t in alone.trades]
    assert all(t.exit_ts >= t.entry_ts for t in both.trades)


def test_demo_backtests_over_5m_and_4h_together(
    repo: Path, bybit_5m: dict[str, Path], tmp_path: Path
) -> None:
    folder = next(iter(bybit_5m.values())).parent
    journal = tmp_path / "demo.sqlite"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "garrison.cli.main",
            "backtest",
            "configs/demo.toml",
            "--data",
            str(folder),
            "--journal",
            str(journal),
            "--no-progress",
            "--no-cache",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    conn = sqlite3.connect(journal)
    try:
        (status,) = conn.execute("SELECT status FROM runs").fetchone()
        backwards = conn.execute("SELECT COUNT(*) FROM trades WHERE exit_ts < entry_ts").fetchone()
        trades = conn.execute("SELECT COUNT(*) FROM trades").fetchone()
    finally:
        conn.close()
    assert status == "completed"
    assert backwards == (0,)
    assert trades[0] > 100
