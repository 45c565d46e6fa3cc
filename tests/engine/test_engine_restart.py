"""Restart state: a replay killed with SIGKILL carries on from its journal, as if never stopped.

Every commit of the journal carries a checkpoint taken at the end of a step
(ledger, positions with their signals, the venue's resting brackets and open
orders, open phantoms, id sequences, trading state, quarantined plugins). The
test kills a real ``garrison backtest`` once thousands of fills are committed,
resumes the same profile, checks that the state the engine restored is the
journaled checkpoint, and that the resumed run ends with exactly the trades of
an uninterrupted run.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from garrison.engine import step as step_module
from garrison.engine.run import RunError, RunResult, replay
from garrison.engine.sources import DataSelection
from garrison.plugins import load_plugins
from garrison.profile.load import load_profile
from garrison_api import Trade

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "configs" / "turtle-system1.toml"

pytestmark = pytest.mark.slow


def trade_key(trade: Trade) -> tuple[object, ...]:
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


def last_checkpoint(journal: Path) -> tuple[str, int, dict[str, Any]] | None:
    """(run id, ts, state) of the newest committed checkpoint, read-only; None if none yet."""
    if not journal.exists():
        return None
    try:
        conn = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True, timeout=0.1)
    except sqlite3.OperationalError:
        return None
    try:
        row = conn.execute(
            "SELECT run_id, ts, state FROM checkpoints ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()
    if row is None:
        return None
    return row[0], row[1], json.loads(row[2])


def run(selection: DataSelection, journal: Path, *, resume: bool = False) -> RunResult:
    plugins = load_plugins()
    profile = load_profile(PROFILE, plugins.registry)
    return asyncio.run(
        replay(
            profile,
            plugins,
            selection=selection,
            journal_path=journal,
            any_mode=True,
            resume=resume,
        )
    )


def test_a_killed_replay_resumes_from_its_last_checkpoint(
    bybit_5m: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = [arg for path in bybit_5m.values() for arg in ("--data", str(path))]
    selection = DataSelection(paths=tuple(str(p) for p in bybit_5m.values()))
    journal = tmp_path / "killed.sqlite"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "garrison.cli.main",
            "backtest",
            str(PROFILE),
            *data,
            "--journal",
            str(journal),
            "--no-progress",
            "--no-cache",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    seen: tuple[str, int, dict[str, Any]] | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the backtest ended ({proc.returncode}) before it could be killed")
        seen = last_checkpoint(journal)
        if seen is not None and seen[2]["sequences"]["intent"] > 3_000:
            break
        time.sleep(0.01)
    else:
        pytest.fail("no checkpoint with 3,000 intents within 120 s")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    found = last_checkpoint(journal)
    assert found is not None
    run_id, _, journaled = found
    assert journaled["sequences"]["intent"] >= seen[2]["sequences"]["intent"]

    restored: list[dict[str, Any]] = []
    original_restore = step_module.StepProcessor.restore

    def spying_restore(self: step_module.StepProcessor, state: dict[str, Any]) -> None:
        original_restore(self, state)
        restored.append(json.loads(json.dumps(self.checkpoint())))

    monkeypatch.setattr(step_module.StepProcessor, "restore", spying_restore)
    resumed = run(selection, journal, resume=True)
    assert resumed.resumed
    assert resumed.run_id == run_id

    # What the engine holds after restoring is what the journal held.
    (state,) = restored
    for part in (
        "ledger",
        "venue",
        "pending_orders",
        "phantoms",
        "sequences",
        "open_signals",
        "guard",
        "step_close",
        "next_equity",
    ):
        assert state[part] == journaled[part], part
    assert state["ledger"]["state"] == "running"

    # And the resumed run ends where an uninterrupted one does.
    whole = run(selection, tmp_path / "whole.sqlite")
    assert len(whole.trades) == 13_380
    assert [trade_key(t) for t in resumed.trades] == [trade_key(t) for t in whole.trades]
    assert resumed.final_equity == whole.final_equity
    # Its counts cover the whole run, before the kill too.
    assert resumed.stats.signals == whole.stats.signals
    assert resumed.stats.vetoed_intents == whole.stats.vetoed_intents
    conn = sqlite3.connect(journal)
    try:
        statuses = conn.execute("SELECT status FROM runs").fetchall()
        duplicate_ids = conn.execute(
            "SELECT COUNT(*) - COUNT(DISTINCT id) FROM intents WHERE run_id = ?", (run_id,)
        ).fetchone()[0]
    finally:
        conn.close()
    assert statuses == [("completed",)]
    assert duplicate_ids == 0


def test_resume_refuses_a_completed_run_and_other_data(
    bybit_5m: dict[str, Path], tmp_path: Path
) -> None:
    journal = tmp_path / "done.sqlite"
    btc = DataSelection(paths=(str(bybit_5m["BTCUSDT"]),), start="2025-10-01", end="2025-10-08")
    run(btc, journal)
    with pytest.raises(RunError, match="completed, not interrupted"):
        run(btc, journal, resume=True)
