"""Fixtures for the scoring tests: profiles over real Bybit candles, replays, journal reads.

The bundled ``data/demo`` files (three months of real Bybit 5-minute candles for
five symbols) are always there; the full ``../shared/data`` files are used where
present (tests that need them skip with the reason).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from garrison.engine.run import RunResult, replay
from garrison.plugins import PluginSet, load_plugins
from garrison.profile.load import load_profile

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
SHARED_5M = REPO.parent / "shared" / "data" / "candles" / "bybit_linear"
SYMBOLS = ("ADAUSDT", "AVAXUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT")


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "garrison-cache"
    monkeypatch.setenv("GARRISON_CACHE_DIR", str(cache))
    return cache


@pytest.fixture(scope="session")
def demo_glob() -> str:
    """The bundled real Bybit 5-minute files, as a data path glob."""
    return str(DEMO / "bybit_*_5m.csv.gz")


@pytest.fixture(scope="session")
def shared_5m() -> list[Path]:
    """The five full real Bybit 5-minute files; skips when ../shared/data is absent."""
    files = [SHARED_5M / f"bybit_{symbol}_5m.csv" for symbol in SYMBOLS]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        pytest.skip(f"real candles not found ({', '.join(missing)}); ../shared/data is absent")
    return files


@pytest.fixture
def plugins() -> PluginSet:
    return load_plugins()


@pytest.fixture
def write_profile(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "profile.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def run_replay(tmp_path: Path) -> Callable[..., RunResult]:
    """Replay a profile into ``journal`` (default ``tmp_path/journal.sqlite``)."""

    def run(
        profile_path: Path,
        plugins: PluginSet,
        journal: Path | None = None,
        driver: str = "replay",
    ) -> RunResult:
        profile = load_profile(profile_path, plugins.registry)
        return asyncio.run(
            replay(
                profile,
                plugins,
                journal_path=journal or tmp_path / "journal.sqlite",
                any_mode=True,
                driver=driver,
            )
        )

    return run
