"""Fixtures for the replay-engine tests: isolated cache, data locations, profiles, replays.

Every test gets its own ``GARRISON_CACHE_DIR`` so nothing here touches ``~/.cache``.
Real candles come from ``../shared/data`` beside the repository (tests that need them
skip with the reason when it is absent) and from the bundled ``data/demo``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from garrison.engine.run import RunResult, replay
from garrison.engine.sources import DataSelection
from garrison.plugins import PluginSet, load_plugins
from garrison.profile.load import load_profile

REPO = Path(__file__).resolve().parents[2]
BYBIT_5M = REPO.parent / "shared" / "data" / "candles" / "bybit_linear"
SYMBOLS = ("ADAUSDT", "AVAXUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT")
HEADER = "timestamp_ms,open,high,low,close,volume"

#: One candle row: (timestamp_ms, open, high, low, close, volume).
Row = tuple[int, float, float, float, float, float]


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Replays (in process or in a subprocess that inherits the environment) cache here.
    cache = tmp_path / "garrison-cache"
    monkeypatch.setenv("GARRISON_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root (configs/, data/demo/ live here)."""
    return REPO


@pytest.fixture(scope="session")
def bybit_5m() -> dict[str, Path]:
    """The five real Bybit 5-minute files by symbol; skips when ../shared/data is absent."""
    files = {symbol: BYBIT_5M / f"bybit_{symbol}_5m.csv" for symbol in SYMBOLS}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        pytest.skip(f"real candles not found ({', '.join(missing)}); ../shared/data is absent")
    return files


@pytest.fixture
def plugins() -> PluginSet:
    """A fresh plugin set per test, so throwaway registrations never leak between tests."""
    return load_plugins()


@pytest.fixture
def write_candles(tmp_path: Path) -> Callable[..., Path]:
    """Write candle rows as ``<folder>/bybit_<SYMBOL>_<tf>.csv`` and return the path."""

    def write(
        rows: Iterable[Row],
        symbol: str = "BTCUSDT",
        timeframe: str = "5m",
        folder: str = "candles",
    ) -> Path:
        target = tmp_path / folder
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"bybit_{symbol}_{timeframe}.csv"
        lines = [HEADER, *(",".join(repr(v) for v in row) for row in rows)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_profile(tmp_path: Path) -> Callable[..., Path]:
    """Write profile TOML text to ``tmp_path/profile.toml`` and return the path."""

    def write(text: str, name: str = "profile.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def run_replay(tmp_path: Path) -> Callable[..., RunResult]:
    """Load a profile against ``plugins`` and replay it into ``tmp_path/journal.sqlite``."""

    def run(
        profile_path: Path,
        plugins: PluginSet,
        selection: DataSelection | None = None,
        journal: Path | None = None,
    ) -> RunResult:
        profile = load_profile(profile_path, plugins.registry)
        return asyncio.run(
            replay(
                profile,
                plugins,
                selection=selection,
                journal_path=journal or tmp_path / "journal.sqlite",
                any_mode=True,
            )
        )

    return run


def query(path: Path, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
    """Rows of ``sql`` on the journal at ``path``, opened read-only."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def journal_query() -> Callable[..., list[sqlite3.Row]]:
    """``journal_query(path, sql, params)``: read-only rows from a journal file."""
    return query
