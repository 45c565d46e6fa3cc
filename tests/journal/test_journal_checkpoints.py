"""Restart checkpoints: buffered, committed with the rows recorded before them, read back."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from garrison.journal import Journal, JournalError

from .conftest import T0

STATE = {
    "version": 1,
    "step_close": T0,
    "phantoms": [{"signal_id": "s1", "stop": 99.5, "horizon_ms": None}],
    "sequences": {"intent": 12, "order": 7},
    "state": "running",
}


def _committed(path: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT ts, state FROM checkpoints ORDER BY seq").fetchall()
    finally:
        conn.close()


def test_a_checkpoint_waits_for_the_next_commit(
    running: Journal, journal_path: Path, samples
) -> None:
    running.record_signal("s1", "turtle", samples.signal(1))
    running.record_checkpoint(T0, STATE)
    assert running.pending == 2
    assert running.last_checkpoint(running.run_id) is None  # buffered, not committed
    assert _committed(journal_path) == []
    running.commit_intent(samples.intent(0), True)
    assert running.last_checkpoint(running.run_id) == (T0, STATE)
    assert len(_committed(journal_path)) == 1


def test_the_newest_committed_checkpoint_wins(running: Journal) -> None:
    for step in range(3):
        running.record_checkpoint(T0 + step, {**STATE, "step": step})
        running.flush()
    running.record_checkpoint(T0 + 9, {"step": 9})  # not committed yet
    assert running.last_checkpoint(running.run_id) == (T0 + 2, {**STATE, "step": 2})
    assert [ts for ts, _ in running.checkpoints(running.run_id)] == [T0, T0 + 1, T0 + 2]
    running.flush()
    assert running.last_checkpoint(running.run_id) == (T0 + 9, {"step": 9})


def test_checkpoints_belong_to_their_run(journal: Journal) -> None:
    first = journal.start_run(profile_name="p", mode="replay", profile_toml="", started_ms=T0)
    journal.record_checkpoint(1, {"run": "first"})
    journal.finish_run(status="interrupted", finished_ms=T0, summary={})
    second = journal.start_run(profile_name="p", mode="replay", profile_toml="", started_ms=T0)
    journal.flush()
    assert journal.last_checkpoint(first) == (1, {"run": "first"})
    assert journal.last_checkpoint(second) is None
    assert journal.count("checkpoints", first) == 1


def test_the_profiles_newest_checkpoint_skips_a_run_killed_before_its_first(
    journal: Journal,
) -> None:
    """A live run killed before its first commit wrote no checkpoint: a restart
    carries on from the run before it, never from an empty account."""
    first = journal.start_run(profile_name="p", mode="live", profile_toml="", started_ms=T0)
    journal.record_checkpoint(1, {"run": "first", "n": 1})
    journal.record_checkpoint(2, {"run": "first", "n": 2})
    journal.finish_run(status="completed", finished_ms=T0, summary={})
    other = journal.start_run(profile_name="q", mode="live", profile_toml="", started_ms=T0)
    journal.record_checkpoint(3, {"run": "other profile"})
    journal.finish_run(status="completed", finished_ms=T0, summary={})
    replayed = journal.start_run(profile_name="p", mode="replay", profile_toml="", started_ms=T0)
    journal.record_checkpoint(4, {"run": "replay"})
    journal.finish_run(status="completed", finished_ms=T0, summary={})
    killed = journal.start_run(profile_name="p", mode="live", profile_toml="", started_ms=T0)
    journal.finish_run(status="interrupted", finished_ms=T0, summary={})
    assert journal.last_checkpoint(killed) is None
    assert journal.last_profile_checkpoint("p", "live") == (first, 2, {"run": "first", "n": 2})
    assert journal.last_profile_checkpoint("q", "live") == (other, 3, {"run": "other profile"})
    assert journal.last_profile_checkpoint("p", "replay") == (replayed, 4, {"run": "replay"})
    assert journal.last_profile_checkpoint("p", "paper") is None


def test_a_failed_commit_takes_its_checkpoint_with_it(
    running: Journal, journal_path: Path, samples
) -> None:
    # The checkpoint must never say more than the rows committed with it.
    running.record_signal("dup", "turtle", samples.signal(0))
    running.record_signal("dup", "turtle", samples.signal(1))
    running.record_checkpoint(T0, STATE)
    with pytest.raises(JournalError, match="'signals'"):
        running.flush()
    assert _committed(journal_path) == []
    assert running.last_checkpoint(running.run_id) is None
    with pytest.raises(JournalError):  # finishing discards the batch and marks the run failed
        running.finish_run(status="completed", finished_ms=T0, summary={})


def test_checkpoints_go_through_the_background_writer(
    running: Journal, journal_path: Path, samples
) -> None:
    for chunk in range(4):
        for i in range(chunk * 50, chunk * 50 + 50):
            running.record_signal(str(i), "turtle", samples.signal(i))
        state = {**STATE, "chunk": chunk, "last_signal": str(chunk * 50 + 49)}
        running.record_checkpoint(T0 + chunk, state)
        running.flush(background=True)
    running.flush()
    assert running.writer_problem is None
    checkpoints = running.checkpoints(running.run_id)
    assert [state["chunk"] for _, state in checkpoints] == [0, 1, 2, 3]
    assert running.last_checkpoint(running.run_id) == (
        T0 + 3,
        {**STATE, "chunk": 3, "last_signal": "199"},
    )
    assert running.count("signals", running.run_id) == 200


def test_a_checkpoint_lands_with_the_rows_before_it_in_the_writer(
    running: Journal, journal_path: Path, samples
) -> None:
    # In every committed state of the file, the newest checkpoint names the
    # last signal committed: they were written in one transaction.
    running.start_background_writer()
    seen: list[tuple[int, int]] = []
    for chunk in range(6):
        for i in range(chunk * 20, chunk * 20 + 20):
            running.record_signal(f"{i:04d}", "turtle", samples.signal(i))
        running.record_checkpoint(T0 + chunk, {"signals": chunk * 20 + 20})
        running.flush(background=True)
        conn = sqlite3.connect(f"{journal_path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            # One read transaction: the two counts come from one snapshot.
            conn.execute("BEGIN")
            signals = conn.execute("SELECT COUNT(*) FROM signals").fetchone()[0]
            row = conn.execute(
                "SELECT json_extract(state, '$.signals') FROM checkpoints ORDER BY seq DESC"
            ).fetchone()
            conn.execute("COMMIT")
        finally:
            conn.close()
        seen.append((signals, 0 if row is None else row[0]))
    running.flush()
    assert all(signals == last for signals, last in seen), seen


def test_state_values_round_trip_as_json(running: Journal) -> None:
    state = {"nan": math.nan, "n": np.int64(3), "f": np.float64(0.5), "t": (1, 2), "none": None}
    running.record_checkpoint(np.int64(T0), state)
    running.flush()
    found = running.last_checkpoint(running.run_id)
    assert found is not None
    ts, back = found
    assert ts == T0
    assert type(ts) is int
    assert math.isnan(back.pop("nan"))
    assert back == {"n": 3, "f": 0.5, "t": [1, 2], "none": None}


def test_bad_states_are_named(running: Journal, journal_path: Path) -> None:
    with pytest.raises(JournalError, match="state must be a mapping, got list"):
        running.record_checkpoint(T0, [1, 2])  # type: ignore[arg-type]
    running.record_checkpoint(T0, {"model": object()})
    with pytest.raises(JournalError, match=r"'checkpoints'.*not JSON-serialisable"):
        running.flush()
    with pytest.raises(JournalError):  # finishing discards the batch and marks the run failed
        running.finish_run(status="completed", finished_ms=T0, summary={})
    assert _committed(journal_path) == []
