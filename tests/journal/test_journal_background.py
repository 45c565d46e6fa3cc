"""Background commits: the writer process lands batches in order, and losing it loses nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from garrison.journal import Journal, JournalError
from garrison.journal.writer import WRITER_MODULE

from .conftest import T0


def _count(path: Path, table: str) -> int:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_background_flush_lands_after_the_next_use(
    running: Journal, journal_path: Path, samples
) -> None:
    for i in range(500):
        running.record_signal(str(i), "turtle", samples.signal(i))
    running.record_trade(samples.trade())
    running.flush(background=True)
    assert running.pending == 0  # handed over
    # Any use of the journal waits for the batch, so reads see it.
    assert len(running.signals(running.run_id)) == 500
    assert running.trades(running.run_id) == [samples.trade()]
    assert running.writer_problem is None


def test_batches_keep_their_order_and_values(running: Journal, samples) -> None:
    for batch in range(5):
        for i in range(batch * 100, batch * 100 + 100):
            running.record_signal(str(i), "turtle", samples.signal(i))
        running.flush(background=True)
    running.flush()
    recorded = running.signals(running.run_id)
    assert [r.signal_id for r in recorded] == [str(i) for i in range(500)]
    assert [r.signal for r in recorded] == [samples.signal(i) for i in range(500)]


def test_a_failed_background_batch_is_kept_and_reported(
    running: Journal, journal_path: Path, samples
) -> None:
    running.record_trade(samples.trade())
    running.record_signal("dup", "turtle", samples.signal(0))
    running.record_signal("dup", "turtle", samples.signal(1))
    running.flush(background=True)
    with pytest.raises(JournalError, match="journal table 'signals'"):
        running.flush()
    assert running.pending == 3  # nothing of the failed batch was lost or half-written
    assert _count(journal_path, "trades") == 0
    assert running.writer_problem is None  # an SQL error, not a dead writer
    with pytest.raises(JournalError):  # finishing discards the batch and marks the run failed
        running.finish_run(status="completed", finished_ms=T0, summary={})


def test_a_dead_writer_falls_back_to_foreground_commits(
    running: Journal, journal_path: Path, samples
) -> None:
    running.start_background_writer()
    writer = running._writer._proc  # the process, to kill it as a crash would
    assert writer is not None
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    for i in range(50):
        running.record_signal(str(i), "turtle", samples.signal(i))
    running.flush(background=True)  # sent into a dead pipe, or lost with the process
    running.record_signal("50", "turtle", samples.signal(50))
    running.flush(background=True)
    running.flush()
    assert running.writer_problem is not None
    assert "journal writer process" in running.writer_problem
    assert [r.signal_id for r in running.signals(running.run_id)] == [str(i) for i in range(51)]


def test_close_stops_the_writer_and_leaves_a_whole_file(journal_path: Path, samples) -> None:
    journal = Journal.open(journal_path)
    journal.start_run(profile_name="demo", mode="replay", profile_toml="", started_ms=T0)
    journal.record_signal("1", "turtle", samples.signal(1))
    journal.flush(background=True)
    writer = journal._writer._proc
    journal.record_signal("2", "turtle", samples.signal(2))
    journal.close()  # flushes the rest, then ends the process's input
    assert writer is not None
    assert writer.wait(timeout=30) == 0  # it exits on its own
    assert _count(journal_path, "signals") == 2
    conn = sqlite3.connect(journal_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_the_writer_process_refuses_bad_arguments() -> None:
    done = subprocess.run(
        [sys.executable, "-m", WRITER_MODULE, "only-one-argument"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "usage: python -m garrison.journal_writer PATH normal|full" in done.stderr


def test_json_values_are_encoded_by_the_writer_as_in_the_foreground(
    running: Journal, samples
) -> None:
    # Features and event data travel to the writer process as values and are
    # encoded there: numpy scalars, enums, tuples and NaN read back as they do
    # after a foreground commit.
    import math

    import numpy as np
    from garrison_api import Event, Level, Side

    features = {"n": np.float64(1.5), "count": np.int64(3), "nan": math.nan}
    data = {"side": Side.LONG, "levels": (1.0, 2.0), "ok": True}  # type: ignore[dict-item]
    for where, background in (("bg", True), ("fg", False)):
        running.record_signal(where, "turtle", samples.signal(0, features=features))
        running.record_event(Event(ts=T0, kind="test", message=where, level=Level.INFO, data=data))
        running.flush(background=background)
    signals = {r.signal_id: r.signal.features for r in running.signals(running.run_id)}
    assert signals["bg"] == signals["fg"] == {"n": 1.5, "count": 3, "nan": signals["bg"]["nan"]}
    assert math.isnan(signals["bg"]["nan"])
    events = [e.data for e in running.events(running.run_id) if e.kind == "test"]
    assert events == [{"side": "long", "levels": [1.0, 2.0], "ok": True}] * 2


def test_a_value_that_cannot_reach_the_writer_is_refused_in_the_foreground(
    running: Journal, journal_path: Path, samples
) -> None:
    # An object pickle cannot send (a lambda) keeps the batch in this process,
    # where encoding it fails with the table named and nothing half-written.
    running.record_trade(samples.trade())
    running.record_signal("odd", "turtle", samples.signal(0, features={"f": lambda: 1}))
    with pytest.raises(JournalError, match=r"journal table 'signals'.*not JSON-serialisable"):
        running.flush(background=True)
    assert running.pending == 2
    assert _count(journal_path, "trades") == 0
    assert running.writer_problem is None
    with pytest.raises(JournalError):  # finishing discards the batch and marks the run failed
        running.finish_run(status="completed", finished_ms=T0, summary={})


def test_the_writer_pipe_takes_a_whole_batch_at_once(running: Journal) -> None:
    fcntl = pytest.importorskip("fcntl")
    get_size = getattr(fcntl, "F_GETPIPE_SZ", None)
    if get_size is None:
        pytest.skip("this platform cannot size pipes")
    from garrison.journal.writer import PIPE_BYTES

    running.start_background_writer()
    stdin = running._writer._stdin()  # the pipe's host end
    limit = Path("/proc/sys/fs/pipe-max-size")
    if not limit.exists() or int(limit.read_text()) < PIPE_BYTES:
        pytest.skip("this system caps pipes below PIPE_BYTES")
    assert fcntl.fcntl(stdin.fileno(), get_size) == PIPE_BYTES


def test_a_flush_while_the_writer_is_busy_keeps_the_rows_for_the_next_batch(
    running: Journal, samples, monkeypatch: pytest.MonkeyPatch
) -> None:
    running.record_signal("1", "turtle", samples.signal(1))
    running.flush(background=True)  # under way
    monkeypatch.setattr(running._writer, "ready", lambda: False)
    running.record_signal("2", "turtle", samples.signal(2))
    running.flush(background=True)  # does not wait for the writer
    assert running.pending == 1
    monkeypatch.undo()
    running.flush()
    assert running.pending == 0
    assert [r.signal_id for r in running.signals(running.run_id)] == ["1", "2"]


def test_ready_turns_true_once_the_answer_is_in(running: Journal, samples) -> None:
    import time

    assert running._writer.ready()  # nothing under way
    running.record_signal("1", "turtle", samples.signal(1))
    running.flush(background=True)
    deadline = time.monotonic() + 30
    while not running._writer.ready():
        assert time.monotonic() < deadline, "the writer never answered"
        time.sleep(0.001)
    running.flush()  # collects the answer without waiting
    assert running._writer.ready()
    assert [r.signal_id for r in running.signals(running.run_id)] == ["1"]
