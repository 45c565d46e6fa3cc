"""A real ``garrison run`` with ``[redis]``: it publishes, withdraws, and trades alike without it.

Redis is a window on the host, never a part of trading: the bundled demo
replay makes the same trades whether Redis answers, is away for the whole
run, or is not configured at all, and a password given through
``password_env`` appears nowhere the host writes.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

SECRET = "s3cret-redis-pass"


def run_demo(work: Path, name: str, redis_table: str = "") -> Path:
    """The demo replay with ``redis_table`` appended; its journal."""
    demo = (REPO / "configs" / "demo.toml").read_text(encoding="utf-8")
    demo = demo.replace('"../data/', f'"{REPO}/data/').replace(
        '"../var/demo.sqlite"', f'"{name}.sqlite"'
    )
    profile = work / f"{name}.toml"
    profile.write_text(
        demo + f'\n[control]\nsocket = "{work}/run-{name}/ctl.sock"\n' + redis_table,
        encoding="utf-8",
    )
    env = {**os.environ, "GARRISON_TEST_REDIS_PASSWORD": SECRET}
    done = subprocess.run(
        [sys.executable, "-m", "garrison.cli.main", "run", str(profile), "--no-progress"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert SECRET not in done.stdout + done.stderr
    return work / f"{name}.sqlite"


def rows(journal: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


TRADES = (
    "SELECT symbol, side, entry_ts, exit_ts, qty, entry_price, exit_price, pnl "
    "FROM trades ORDER BY entry_ts, symbol"
)


def test_redis_changes_no_trade_and_holds_no_secret(redis_launcher: Any, tmp_path: Path) -> None:
    def table(url: str) -> str:
        return (
            f'\n[redis]\nurl = "{url}"\npassword_env = "GARRISON_TEST_REDIS_PASSWORD"\n'
            'prefix = "hosttest"\nevery_s = 0.2\n'
        )

    plain = run_demo(tmp_path, "plain")
    guarded = redis_launcher.start(tmp_path, redis_launcher.free_port(), "--requirepass", SECRET)
    try:
        published = run_demo(tmp_path, "published", table(guarded.url))
        # A clean stop withdraws the host.
        assert guarded.cli("-a", SECRET, "--no-auth-warning", "KEYS", "hosttest:*") == ""
    finally:
        guarded.process.kill()
        guarded.process.wait(timeout=30)
    dead_port = redis_launcher.free_port()
    away = run_demo(tmp_path, "away", table(f"redis://127.0.0.1:{dead_port}/0"))

    trades = rows(plain, TRADES)
    assert trades, "the demo makes trades"
    assert rows(published, TRADES) == trades
    assert rows(away, TRADES) == trades

    events = "SELECT kind, message FROM events WHERE kind LIKE 'redis.%' ORDER BY seq"
    assert rows(plain, events) == []
    said = rows(published, events)
    assert [kind for kind, _m in said] == ["redis.publishing"]
    assert "demo@" in said[0][1]
    lost = rows(away, events)
    assert [kind for kind, _m in lost] == ["redis.lost"]
    assert f"redis://127.0.0.1:{dead_port}/0" in lost[0][1]
    assert "trading goes on" in lost[0][1]
    for journal in (published, away):
        dump = "\n".join(
            str(r)
            for table_name in ("events", "runs")
            for r in rows(journal, f"SELECT * FROM {table_name}")
        )
        assert SECRET not in dump
