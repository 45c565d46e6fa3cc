"""Fixtures for the CLI tests: ``garrison`` as a real subprocess, with an isolated cache.

Every subprocess runs ``sys.executable -m garrison.cli.main`` from the repository
root with ``GARRISON_CACHE_DIR`` in a temporary folder (never ``~/.cache``) and a
wide terminal so rich does not wrap the report.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
BYBIT_5M = REPO.parent / "shared" / "data" / "candles" / "bybit_linear"
SYMBOLS = ("ADAUSDT", "AVAXUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT")

Garrison = Callable[..., subprocess.CompletedProcess[str]]


def garrison_env(cache_dir: Path) -> dict[str, str]:
    """The environment of a ``garrison`` subprocess: ours, a private cache, a wide console."""
    return {**os.environ, "GARRISON_CACHE_DIR": str(cache_dir), "COLUMNS": "200"}


def garrison_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "garrison.cli.main", *args]


def run_garrison(
    *args: str, cache_dir: Path, cwd: Path = REPO, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run ``garrison ARGS`` to completion and capture its output."""
    return subprocess.run(
        garrison_command(*args),
        cwd=cwd,
        env=garrison_env(cache_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "garrison-cache"
    monkeypatch.setenv("GARRISON_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def garrison_in(tmp_path_factory: pytest.TempPathFactory) -> Garrison:
    """``garrison_in(*args, cwd=REPO)`` for module-scoped fixtures: a session-wide cache dir."""
    cache = tmp_path_factory.mktemp("garrison-cache")

    def call(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        return run_garrison(*args, cache_dir=cache, cwd=cwd)

    return call


@pytest.fixture
def garrison(isolated_cache: Path) -> Garrison:
    """``garrison(*args, cwd=REPO)``: the CLI as a subprocess, with this test's cache."""

    def call(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
        return run_garrison(*args, cache_dir=isolated_cache, cwd=cwd)

    return call


class Spawner:
    """Starts ``garrison ARGS`` without waiting, output to files in ``folder``; kills leftovers."""

    def __init__(self, folder: Path, cache_dir: Path) -> None:
        self.folder = folder
        self.cache_dir = cache_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, *args: str, cwd: Path = REPO) -> subprocess.Popen[bytes]:
        n = len(self.started)
        with (
            (self.folder / f"spawn{n}.out").open("wb") as out,
            (self.folder / f"spawn{n}.err").open("wb") as err,
        ):
            proc = subprocess.Popen(
                garrison_command(*args),
                cwd=cwd,
                env=garrison_env(self.cache_dir),
                stdout=out,
                stderr=err,
            )
        self.started.append(proc)
        return proc

    def output(self, proc: subprocess.Popen[bytes]) -> tuple[str, str]:
        """(stdout, stderr) of a process this spawner started, once it has ended."""
        n = self.started.index(proc)
        out = (self.folder / f"spawn{n}.out").read_text(encoding="utf-8", errors="replace")
        err = (self.folder / f"spawn{n}.err").read_text(encoding="utf-8", errors="replace")
        return out, err

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


@pytest.fixture
def spawn_garrison(tmp_path: Path, isolated_cache: Path) -> Iterator[Spawner]:
    """``spawn_garrison(*args)``: a running ``garrison`` subprocess; killed at teardown."""
    spawner = Spawner(tmp_path, isolated_cache)
    yield spawner
    spawner.stop_all()


@pytest.fixture(scope="module")
def spawn_garrison_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spawner]:
    """Like ``spawn_garrison``, for module-scoped fixtures."""
    folder = tmp_path_factory.mktemp("spawned")
    spawner = Spawner(folder, folder / "garrison-cache")
    yield spawner
    spawner.stop_all()


@pytest.fixture(scope="session")
def bybit_5m() -> dict[str, Path]:
    """The five real Bybit 5-minute files by symbol; skips when ../shared/data is absent."""
    files = {symbol: BYBIT_5M / f"bybit_{symbol}_5m.csv" for symbol in SYMBOLS}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        pytest.skip(f"real candles not found ({', '.join(missing)}); ../shared/data is absent")
    return files


def journal_rows(path: Path, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
    """Rows of ``sql`` on the journal at ``path``, opened read-only."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def read_journal() -> Callable[..., list[sqlite3.Row]]:
    """``read_journal(path, sql, params)``: read-only rows from a journal file."""
    return journal_rows
