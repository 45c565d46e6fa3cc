"""``garrison backtest --trades-csv`` refuses, before the replay, paths it must not replace.

Pointed at the journal (as ``--journal`` or the profile's ``[journal] path``
names it, or one of its ``-wal``/``-shm``/``-journal`` files), at any other
SQLite database, or at the profile, the command exits 2 with a message and
writes nothing: no run is started and the file keeps every byte.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from garrison.journal import Journal

Garrison = Callable[..., subprocess.CompletedProcess[str]]


def flat(text: str) -> str:
    return " ".join(text.split())


def profile_in(folder: Path, repo: Path) -> Path:
    """The demo profile, copied to ``folder`` with its journal at ``folder/journal.sqlite``."""
    text = (repo / "configs" / "demo.toml").read_text(encoding="utf-8")
    data = repo / "data" / "demo"
    assert 'path = "../var/demo.sqlite"' in text
    assert '"../data/demo/bybit_*_5m.csv.gz"' in text
    text = text.replace('path = "../var/demo.sqlite"', 'path = "journal.sqlite"')
    text = text.replace('"../data/demo/bybit_*_5m.csv.gz"', f'"{data}/bybit_*_5m.csv.gz"')
    profile = folder / "demo.toml"
    profile.write_text(text, encoding="utf-8")
    return profile


def a_journal_with_one_run(path: Path) -> bytes:
    """A real journal holding one finished run; its bytes once closed."""
    with Journal.open(path) as journal:
        journal.start_run(profile_name="demo", mode="replay", profile_toml="", started_ms=1)
        journal.finish_run(status="completed", finished_ms=2, summary={"kept": True})
    return path.read_bytes()


def assert_refused(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    message = flat(proc.stderr)
    assert message.startswith("error: refusing to write trades CSV"), proc.stderr
    for word in words:
        assert word in message, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Backtest report" not in proc.stdout


def test_the_journal_named_by_journal_option_is_refused(garrison: Garrison, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    before = a_journal_with_one_run(journal)
    proc = garrison(
        "backtest",
        "configs/demo.toml",
        "--journal",
        str(journal),
        "--trades-csv",
        str(journal),
        "--no-progress",
    )
    assert_refused(proc, str(journal), "the run's journal")
    assert journal.read_bytes() == before  # no run started, nothing replaced
    with sqlite3.connect(journal) as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs").fetchone() == (1,)


def test_a_relative_spelling_of_the_journal_is_refused(
    garrison: Garrison, tmp_path: Path, repo: Path
) -> None:
    journal = tmp_path / "j.sqlite"
    a_journal_with_one_run(journal)
    (tmp_path / "sub").mkdir()
    proc = garrison(
        "backtest",
        str(repo / "configs" / "demo.toml"),
        "--journal",
        "j.sqlite",
        "--trades-csv",
        "sub/../j.sqlite",
        cwd=tmp_path,
    )
    assert_refused(proc, "the run's journal")


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
def test_the_profiles_journal_and_its_side_files_are_refused(
    garrison: Garrison, tmp_path: Path, repo: Path, suffix: str
) -> None:
    # No --journal: the journal is the profile's [journal] path, resolved against
    # the profile's folder, not the working directory.
    profile = profile_in(tmp_path, repo)
    target = tmp_path / f"journal.sqlite{suffix}"
    proc = garrison("backtest", str(profile), "--trades-csv", str(target), "--no-progress")
    assert_refused(proc, str(target), str(tmp_path / "journal.sqlite"))
    assert not (tmp_path / "journal.sqlite").exists()  # the replay never started


def test_any_other_sqlite_database_is_refused(garrison: Garrison, tmp_path: Path) -> None:
    other = tmp_path / "old-runs.db"
    before = a_journal_with_one_run(other)
    proc = garrison(
        "backtest",
        "configs/demo.toml",
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--trades-csv",
        str(other),
    )
    assert_refused(proc, str(other), "is a SQLite database")
    assert other.read_bytes() == before
    assert not (tmp_path / "j.sqlite").exists()


def test_the_profile_itself_is_refused(garrison: Garrison, tmp_path: Path, repo: Path) -> None:
    profile = profile_in(tmp_path, repo)
    before = profile.read_bytes()
    proc = garrison("backtest", str(profile), "--trades-csv", str(profile))
    assert_refused(proc, str(profile))
    assert profile.read_bytes() == before


def test_a_missing_folder_is_named_before_the_replay(garrison: Garrison, tmp_path: Path) -> None:
    target = tmp_path / "absent" / "trades.csv"
    proc = garrison(
        "backtest",
        "configs/demo.toml",
        "--journal",
        str(tmp_path / "j.sqlite"),
        "--trades-csv",
        str(target),
    )
    assert proc.returncode == 2
    assert f"folder {tmp_path / 'absent'} does not exist" in flat(proc.stderr)
    assert not (tmp_path / "j.sqlite").exists()
