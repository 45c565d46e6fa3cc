"""Runs and their processes: who runs a run, abandoned runs, the latest run, resuming one."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from garrison.journal import Journal, JournalError, RunRow
from garrison.journal.owners import Owner, abandoned, process_alive

from .conftest import T0

HOST = socket.gethostname()

# Opens the journal, starts a run with a checkpoint committed, says its id, then waits
# to be killed: a host process that dies without finishing its run.
VICTIM = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path

    from garrison.journal import Journal

    journal = Journal.open(Path(sys.argv[1]))
    run_id = journal.start_run(
        profile_name="victim", mode="replay", profile_toml="", started_ms=1,
        selection={"paths": ["data/*.csv"], "from": "2025-10-01", "to": None},
    )
    journal.record_checkpoint(5, {"step": 5, "phantoms": [{"id": "s1"}]})
    journal.flush()
    print(run_id, flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def victim(journal_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A live process running a run in ``journal_path``, and that run's id."""
    proc = subprocess.Popen(
        [sys.executable, "-c", VICTIM, str(journal_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"the victim process failed: {err}")
    try:
        yield proc, line
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def _set_owner(path: Path, run_id: str, pid: int | None, hostname: str | None) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE runs SET pid = ?, hostname = ? WHERE id = ?", (pid, hostname, run_id))


def _dead_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# --- what a run records ----------------------------------------------------------------


def test_a_run_records_its_process_and_selection(journal: Journal) -> None:
    selection = {"paths": ["../data/bybit_*_5m.csv"], "from": "2025-10-01", "to": None}
    run_id = journal.start_run(
        profile_name="demo", mode="replay", profile_toml="", started_ms=T0, selection=selection
    )
    row = journal.run_row(run_id)
    assert row == RunRow(
        id=run_id,
        profile_name="demo",
        mode="replay",
        status="running",
        started_ms=T0,
        finished_ms=None,
        pid=os.getpid(),
        hostname=HOST,
        selection=selection,
        resumed_ms=None,
        summary=None,
    )
    assert journal.run(run_id)["selection"] == selection
    with pytest.raises(JournalError, match="no run 'nope'"):
        journal.run_row("nope")


def test_selection_is_optional_and_checked(journal: Journal) -> None:
    run_id = journal.start_run(profile_name="p", mode="live", profile_toml="", started_ms=T0)
    assert journal.run_row(run_id).selection is None
    journal.finish_run(status="completed", finished_ms=T0, summary={})
    with pytest.raises(JournalError, match="selection is not JSON-serialisable"):
        journal.start_run(
            profile_name="p", mode="live", profile_toml="", started_ms=T0, selection={"x": object()}
        )
    with pytest.raises(JournalError, match="selection must be a mapping, got list"):
        journal.start_run(
            profile_name="p",
            mode="live",
            profile_toml="",
            started_ms=T0,
            selection=["a"],  # type: ignore[arg-type]
        )


def test_latest_run_is_the_last_started_of_profile_and_mode(journal: Journal) -> None:
    assert journal.latest_run("demo", "replay") is None
    ids = {}
    for k, (profile, mode) in enumerate(
        [("demo", "replay"), ("demo", "replay"), ("demo", "paper"), ("other", "replay")]
    ):
        ids[k] = journal.start_run(
            profile_name=profile, mode=mode, profile_toml="", started_ms=T0 + k * 1000
        )
        journal.finish_run(status="completed", finished_ms=T0 + k * 1000 + 1, summary={"k": k})
    latest = journal.latest_run("demo", "replay")
    assert latest is not None
    assert (latest.id, latest.status, latest.summary) == (ids[1], "completed", {"k": 1})
    paper = journal.latest_run("demo", "paper")
    assert paper is not None
    assert paper.id == ids[2]
    assert journal.latest_run("demo", "live") is None


# --- abandoned runs ----------------------------------------------------------------------


def test_a_sigkilled_run_is_marked_interrupted_at_the_next_open(
    journal_path: Path, victim: tuple[subprocess.Popen[str], str]
) -> None:
    proc, run_id = victim
    # Alive: opening the journal leaves its run alone, and it cannot be resumed.
    with Journal.open(journal_path) as journal:
        assert journal.abandoned_runs == ()
        row = journal.run_row(run_id)
        assert (row.status, row.pid, row.hostname) == ("running", proc.pid, HOST)
        assert row.selection == {"paths": ["data/*.csv"], "from": "2025-10-01", "to": None}
        with pytest.raises(JournalError, match=f"still running in process {proc.pid} on"):
            journal.resume_run(run_id)

    _kill(proc)

    with Journal.open(journal_path) as journal:
        assert journal.abandoned_runs == (run_id,)
        row = journal.run_row(run_id)
        assert row.status == "interrupted"
        assert row.finished_ms is not None
        assert row.summary is not None
        assert row.summary["abandoned"] is True
        assert f"process {proc.pid} on {HOST}, which is gone" in row.summary["message"]
        assert journal.last_checkpoint(run_id) == (5, {"step": 5, "phantoms": [{"id": "s1"}]})
        before = row.finished_ms
    # Marked once: the next open finds nothing to mark and changes nothing.
    with Journal.open(journal_path) as journal:
        assert journal.abandoned_runs == ()
        assert journal.run_row(run_id).finished_ms == before


def test_a_killed_run_can_be_resumed_and_finished(
    journal_path: Path, victim: tuple[subprocess.Popen[str], str], samples
) -> None:
    proc, run_id = victim
    _kill(proc)
    with Journal.open(journal_path) as journal:
        assert journal.resume_run(run_id) == run_id
        assert journal.run_id == run_id
        row = journal.run_row(run_id)
        assert (row.status, row.pid, row.hostname) == ("running", os.getpid(), HOST)
        assert (row.finished_ms, row.summary) == (None, None)
        assert row.resumed_ms is not None
        assert row.started_ms == 1  # still the same run
        state = journal.last_checkpoint(run_id)
        assert state is not None
        journal.record_trade(samples.trade())
        journal.record_checkpoint(9, {"step": 9})
        journal.finish_run(status="completed", finished_ms=T0, summary={"resumed": True})
        assert journal.trades(run_id) == [samples.trade()]
        assert journal.last_checkpoint(run_id) == (9, {"step": 9})
        assert journal.run_row(run_id).status == "completed"


def test_only_runs_of_gone_processes_on_this_host_are_marked(journal_path: Path) -> None:
    with Journal.open(journal_path) as journal:
        ids = []
        for k in range(4):
            ids.append(
                journal.start_run(
                    profile_name="p", mode="replay", profile_toml="", started_ms=T0 + k
                )
            )
            journal.finish_run(status="completed", finished_ms=T0, summary={})
    mine, gone, elsewhere, unknown = ids
    with sqlite3.connect(journal_path) as conn:
        conn.execute("UPDATE runs SET status = 'running', finished_ms = NULL")
    _set_owner(journal_path, mine, os.getpid(), HOST)  # this process: alive
    _set_owner(journal_path, gone, _dead_pid(), HOST)
    _set_owner(journal_path, elsewhere, _dead_pid(), HOST + "-elsewhere")
    _set_owner(journal_path, unknown, None, None)  # as schema v1 left runs
    with Journal.open(journal_path) as journal:
        assert journal.abandoned_runs == (gone, unknown)
        status = {r["id"]: r["status"] for r in journal.runs()}
    assert status == {
        mine: "running",
        gone: "interrupted",
        elsewhere: "running",
        unknown: "interrupted",
    }


def test_process_liveness() -> None:
    here = Owner.current()
    assert here == Owner(os.getpid(), HOST)
    assert process_alive(os.getpid())
    assert not process_alive(_dead_pid())
    assert not process_alive(0)
    assert not abandoned(here.pid, HOST, here)
    assert abandoned(None, None, here)
    assert abandoned(_dead_pid(), HOST, here)
    assert not abandoned(_dead_pid(), "another-host", here)


def test_a_process_we_may_not_signal_counts_as_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "kill", refuse)
    assert process_alive(12345)
    assert not abandoned(12345, HOST, Owner(os.getpid(), HOST))


# --- resume refusals ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_a_run_that_ended_cannot_be_resumed(journal: Journal, status: str) -> None:
    run_id = journal.start_run(profile_name="p", mode="replay", profile_toml="", started_ms=T0)
    journal.finish_run(status=status, finished_ms=T0 + 1, summary={})
    with pytest.raises(JournalError, match=f"run {run_id} in .* is {status}: only an interrupted"):
        journal.resume_run(run_id)
    assert journal.run_row(run_id).status == status


def test_resume_refusals_name_the_run(journal: Journal, journal_path: Path) -> None:
    with pytest.raises(JournalError, match=r"no run 'nope' in .* to resume"):
        journal.resume_run("nope")
    run_id = journal.start_run(profile_name="p", mode="replay", profile_toml="", started_ms=T0)
    # Open in this journal: finish it first.
    with pytest.raises(JournalError, match=f"run {run_id} is still open"):
        journal.resume_run(run_id)
    # Running in this process, through another journal on the same file.
    with (
        Journal.open(journal_path) as other,
        pytest.raises(JournalError, match="still running in this process"),
    ):
        other.resume_run(run_id)
    journal.finish_run(status="interrupted", finished_ms=T0 + 1, summary={})
    # Running on another host: cannot be checked, so it is refused.
    with sqlite3.connect(journal_path) as conn:
        conn.execute("UPDATE runs SET status = 'running', hostname = 'far-away', pid = 1")
    with pytest.raises(JournalError, match="process 1 on far-away \\(another host"):
        journal.resume_run(run_id)


def test_an_interrupted_run_is_resumed_in_place(journal: Journal, samples) -> None:
    run_id = journal.start_run(profile_name="p", mode="replay", profile_toml="", started_ms=T0)
    journal.record_signal("s1", "turtle", samples.signal(1))
    journal.finish_run(status="interrupted", finished_ms=T0 + 1, summary={"resumable": True})
    journal.resume_run(run_id)
    journal.record_signal("s2", "turtle", samples.signal(2))
    journal.flush()
    assert [r.signal_id for r in journal.signals(run_id)] == ["s1", "s2"]
    assert len(journal.runs()) == 1
