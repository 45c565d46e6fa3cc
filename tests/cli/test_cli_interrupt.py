"""A backtest stopped from outside: SIGKILL leaves a sound journal, Ctrl-C a closed run.

The five real Bybit 5m files (433,020 candles) keep ``garrison backtest`` busy for
a few seconds. The tests watch the journal read-only from outside, as the console
would, and stop the process once intents and fills are committed. After SIGKILL the
file must pass its integrity check, keep every row seen before the kill unchanged,
hold no fill without its intent, and still show the run as ``running`` until a
journal is opened for writing again, which marks it ``interrupted``.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import attrs
import pytest
from garrison.journal import Journal

Snapshot = dict[str, list[tuple[object, ...]]]

#: Fills the journal must show before the kill, per moment.
MOMENTS = {"first-commit": 1, "later": 3_000}


class Spawner(Protocol):
    def __call__(self, *args: str) -> subprocess.Popen[bytes]: ...

    def output(self, proc: subprocess.Popen[bytes]) -> tuple[str, str]: ...


def backtest_args(files: dict[str, Path], journal: Path) -> list[str]:
    data = [arg for path in files.values() for arg in ("--data", str(path))]
    return [
        "backtest",
        "configs/turtle-system1.toml",
        *data,
        "--journal",
        str(journal),
        "--no-progress",
        "--no-cache",
    ]


def visible(path: Path) -> Snapshot | None:
    """Every intent and fill row a read-only reader sees now, or None if it cannot look yet."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0.1)
    except sqlite3.OperationalError:
        return None
    try:
        intents = conn.execute("SELECT * FROM intents ORDER BY rowid").fetchall()
        fills = conn.execute("SELECT * FROM fills ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # schema not created yet, or busy: look again
        return None
    finally:
        conn.close()
    return {"intents": intents, "fills": fills}


def stop_when_filled(
    proc: subprocess.Popen[bytes], journal: Path, fills_wanted: int, signum: int
) -> Snapshot:
    """Poll until ``fills_wanted`` fills are committed, snapshot, send ``signum``, wait."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"garrison exited ({proc.returncode}) before {fills_wanted} fills showed")
        seen = visible(journal)
        if seen is not None and seen["intents"] and len(seen["fills"]) >= fills_wanted:
            proc.send_signal(signum)
            proc.wait(timeout=60)
            return seen
        time.sleep(0.01)
    pytest.fail(f"no {fills_wanted} fills in {journal} within 120 s")


@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_sigkill_leaves_every_committed_row(
    moment: str,
    tmp_path: Path,
    bybit_5m: dict[str, Path],
    spawn_garrison: Spawner,
) -> None:
    journal = tmp_path / "j.sqlite"
    proc = spawn_garrison(*backtest_args(bybit_5m, journal))
    snapshot = stop_when_filled(proc, journal, MOMENTS[moment], signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    assert len(snapshot["fills"]) >= MOMENTS[moment]

    conn = sqlite3.connect(journal)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        intents = conn.execute("SELECT * FROM intents ORDER BY rowid").fetchall()
        fills = conn.execute("SELECT * FROM fills ORDER BY seq").fetchall()
        orphans = conn.execute(
            "SELECT f.seq, f.intent_id FROM fills f LEFT JOIN intents i "
            "ON i.run_id = f.run_id AND i.id = f.intent_id WHERE i.id IS NULL"
        ).fetchall()
        runs = conn.execute("SELECT status, finished_ms FROM runs").fetchall()
    finally:
        conn.close()

    # What was committed before the kill is still there, row for row, unchanged.
    assert intents[: len(snapshot["intents"])] == snapshot["intents"]
    assert fills[: len(snapshot["fills"])] == snapshot["fills"]
    assert orphans == []
    assert runs == [("running", None)]

    # Its process is gone: the next journal opened for writing marks the run interrupted.
    with Journal.open(journal) as reopened:
        (run,) = reopened.runs()
        assert reopened.abandoned_runs == (run["id"],)
        assert (run["status"], run["summary"]["abandoned"]) == ("interrupted", True)
        assert run["pid"] == proc.pid
        assert run["finished_ms"] is not None


# --- Ctrl-C ---------------------------------------------------------------------------------


@attrs.frozen
class Interrupted:
    returncode: int
    stdout: str
    stderr: str
    journal: Path


@pytest.fixture(scope="module")
def interrupted(
    spawn_garrison_in: Spawner, bybit_5m: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Interrupted:
    """A five-file backtest sent SIGINT (what Ctrl-C sends) once fills are committed."""
    journal = tmp_path_factory.mktemp("sigint") / "j.sqlite"
    proc = spawn_garrison_in(*backtest_args(bybit_5m, journal))
    stop_when_filled(proc, journal, 1, signal.SIGINT)
    out, err = spawn_garrison_in.output(proc)
    return Interrupted(proc.returncode, out, err, journal)


def test_ctrl_c_exits_130_with_a_message(interrupted: Interrupted) -> None:
    assert interrupted.returncode == 130
    assert "interrupted: the journal keeps every row committed so far" in interrupted.stderr
    assert "Traceback" not in interrupted.stderr
    assert "Backtest report" not in interrupted.stdout


def test_ctrl_c_closes_the_run(
    interrupted: Interrupted, read_journal: Callable[..., list[sqlite3.Row]]
) -> None:
    (run,) = read_journal(interrupted.journal, "SELECT * FROM runs")
    assert run["finished_ms"] is not None
    assert run["status"] != "running"


def test_ctrl_c_marks_the_run_interrupted(
    interrupted: Interrupted, read_journal: Callable[..., list[sqlite3.Row]]
) -> None:
    (run,) = read_journal(interrupted.journal, "SELECT status, summary FROM runs")
    # Ctrl-C lands between chunks, after a checkpoint: the run can be resumed.
    assert (run["status"], run["summary"]) == (
        "interrupted",
        '{"status":"interrupted","resumable":true}',
    )
