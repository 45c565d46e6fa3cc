"""garrison-pullback through the real host: listed by `garrison plugins`, selected by name in
configs/pullback.toml, backtested over the bundled demo candles, its setups saved in the
journal's storage for the next run."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "configs" / "pullback.toml"
DEMO = REPO / "data" / "demo"


def garrison(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GARRISON_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "garrison.cli.main", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_garrison_plugins_lists_pullback(tmp_path: Path) -> None:
    proc = garrison("plugins", "--json", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    plugins = listed if isinstance(listed, list) else listed["plugins"]
    (info,) = [p for p in plugins if p["name"] == "pullback"]
    assert info["distribution"] == "garrison-pullback"
    assert info["api_range"] == ">=1.1,<2"
    assert info["status"] == "ok"
    assert info["components"] == {"strategy": ["pullback"]}


@pytest.mark.slow
def test_backtest_of_the_example_profile_trades_and_saves_its_setups(tmp_path: Path) -> None:
    journal = tmp_path / "pullback.sqlite"
    data = str(DEMO / "bybit_*_5m.csv.gz")
    proc = garrison(
        "backtest",
        str(PROFILE),
        "--data",
        data,
        "--journal",
        str(journal),
        "--no-progress",
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Expectancy (R)" in proc.stdout
    with sqlite3.connect(journal) as db:
        trades = db.execute("SELECT COUNT(*) FROM trades").fetchone()[0]
        signals = db.execute("SELECT features FROM signals LIMIT 1").fetchone()
        keys = {
            key
            for (key,) in db.execute(
                "SELECT key FROM kv WHERE namespace = 'replay/strategy/pullback'"
            )
        }
    assert trades > 20
    assert len(json.loads(signals[0])) == 34
    symbols = ("ADAUSDT", "AVAXUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT")
    assert keys == {"books", "seen", *(f"book/{s}/5m" for s in symbols)}
    # A second backtest over the same data does not start from the first one's setups.
    again = garrison(
        "backtest",
        str(PROFILE),
        "--data",
        data,
        "--journal",
        str(journal),
        "--no-progress",
        tmp_path=tmp_path,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    with sqlite3.connect(journal) as db:
        runs = db.execute("SELECT id FROM runs ORDER BY started_ms").fetchall()
        counts = [
            db.execute("SELECT COUNT(*) FROM trades WHERE run_id = ?", run).fetchone()[0]
            for run in runs
        ]
    assert counts == [trades, trades]
