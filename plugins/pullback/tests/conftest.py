"""Where the tests find the real candles of ../shared/data (skipping when absent)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pytest
from garrison_api import Candle
from garrison_api.testing import candles_from_csv

# ../shared/data beside the repository, or GARRISON_SHARED_DATA (a worktree elsewhere).
SHARED_DATA = Path(
    os.environ.get(
        "GARRISON_SHARED_DATA",
        str(Path(__file__).resolve().parents[3].parent / "shared" / "data"),
    )
)
CANDLES = SHARED_DATA / "candles"


@lru_cache(maxsize=16)
def _load(relative: str) -> tuple[Candle, ...]:
    return tuple(candles_from_csv(CANDLES / relative))


def real_candles(relative: str, count: int | None = None) -> list[Candle]:
    """Candles of ``candles/<relative>`` (the first ``count``), or skip the test."""
    path = CANDLES / relative
    if not path.exists():
        pytest.skip(f"real candles not found at {path} (../shared/data or GARRISON_SHARED_DATA)")
    every = _load(relative)
    return list(every if count is None else every[:count])
