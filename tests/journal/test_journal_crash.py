"""Integrity after SIGKILL: every intent reported as committed is in the file, whole."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Records a few rows, commits an intent with them, then reports the count: a
# line on stdout means that many intents were committed before it was printed.
WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from garrison_api import Event, Market, OrderIntent, Side, Signal
    from garrison.journal import Journal

    journal = Journal.open(Path(sys.argv[1]), synchronous=sys.argv[2])
    journal.start_run(profile_name="crash", mode="live", profile_toml="", started_ms=0)
    market = Market(symbol="BTCUSDT", tick_size=0.1, lot_step=0.001, min_qty=0.001)
    n = 0
    while True:
        n += 1
        signal = Signal(symbol="BTCUSDT", ts=n, side=Side.LONG, entry=100.0, features={"n": n})
        journal.record_signal(f"s{n}", "turtle", signal)
        journal.record_event(Event(ts=n, kind="intent.committed", message="x" * 200))
        journal.record_equity(n, 1000.0, 1000.0 + n, 1)
        intent = OrderIntent(
            id=f"i{n}", ts=n, symbol="BTCUSDT", side=Side.LONG, qty=0.01, price=100.0,
            market=market,
        )
        journal.commit_intent(intent, True)
        print(n, flush=True)
    """
)

WANTED = 200


@pytest.mark.parametrize("synchronous", ["normal", "full"])
def test_committed_intents_survive_sigkill(tmp_path: Path, synchronous: str) -> None:
    path = tmp_path / "crash.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), synchronous],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    last = 0
    try:
        while last < WANTED:
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"writer exited early ({proc.wait()}): {proc.stderr.read()}")
            last = int(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    # Lines already in the pipe were printed after their commit too.
    for line in proc.stdout.read().split():
        last = int(line)
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        intents = conn.execute("SELECT COUNT(*) FROM intents").fetchone()[0]
        # Each intent was committed together with the rows recorded before it.
        signals = conn.execute("SELECT COUNT(*) FROM signals").fetchone()[0]
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        top = conn.execute("SELECT MAX(ts) FROM intents").fetchone()[0]
    assert intents >= last
    assert intents == signals == events == top
