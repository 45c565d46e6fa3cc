"""The replay's shortcut past settling gives the money of settling on every step.

The replay driver settles a step (marks, kill switches, equity rows) only when
its estimate of equity leaves the bounds the last settle gave, or an equity
row or a new day is due (``StepProcessor.settle``). Here the bundled demo data
runs twice with limits tight enough to halt several times: once as shipped
and once with the bounds emptied after every settle, which makes every step
settle. Trades, halts, equity rows and the final account must be identical.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from garrison.engine import step
from garrison.engine.run import RunResult
from garrison.plugins import PluginSet

from .test_engine_step_driver import profile_text

Replay = Callable[..., RunResult]


# Timed halts (until the next UTC midnight) on a small daily loss, and a
# drawdown halt late in the data: both judged on marks.
RISK = """
[[risk]]
use = "trading_state"
[[risk]]
use = "max_open_positions"
params = { limit = 5 }
[[risk]]
use = "daily_loss_limit"
params = { max_pct = 0.4 }
[[risk]]
use = "max_drawdown"
params = { max_pct = 4.0 }
"""


def _profile(repo: Path) -> str:
    data = (repo / "data" / "demo").as_posix() + "/bybit_*_5m.csv.gz"
    return profile_text(data, risk=RISK, name="settle-bounds")


def _equity_rows(journal: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(journal)
    try:
        return conn.execute("SELECT ts, balance, equity, open_positions FROM equity").fetchall()
    finally:
        conn.close()


def test_skipping_settles_inside_the_bounds_changes_nothing(
    repo: Path,
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = write_profile(_profile(repo))
    settle = step.StepProcessor.settle
    settles: list[int] = []

    def counted(self: step.StepProcessor) -> float:
        settles.append(self.step_close)
        return settle(self)

    monkeypatch.setattr(step.StepProcessor, "settle", counted)
    shortcut_journal = tmp_path / "shortcut.sqlite"
    shortcut = run_replay(path, plugins, journal=shortcut_journal)
    assert len(settles) < shortcut.stats.steps / 4  # the shortcut was taken on most steps
    settles.clear()

    def settle_every_step(self: step.StepProcessor) -> float:
        equity = settle(self)
        settles.append(self.step_close)
        # Nothing lies inside these bounds: the driver settles the next step too.
        self.bounds = (float("inf"), float("-inf"), 0, float("inf"), float("-inf"))
        return equity

    monkeypatch.setattr(step.StepProcessor, "settle", settle_every_step)
    every_journal = tmp_path / "every.sqlite"
    every = run_replay(path, plugins, journal=every_journal)

    assert len(settles) == every.stats.steps  # the forced run did settle every step
    assert len(every.halts) >= 3  # the limits bind, several times
    assert shortcut.halts == every.halts
    assert shortcut.trades == every.trades
    assert shortcut.final_equity == every.final_equity
    assert every.max_drawdown >= 0.04  # the 4 % drawdown limit fired on a close
    assert (shortcut.max_drawdown, shortcut.max_drawdown_usdt) == (
        every.max_drawdown,
        every.max_drawdown_usdt,
    )
    assert _equity_rows(shortcut_journal) == _equity_rows(every_journal)
