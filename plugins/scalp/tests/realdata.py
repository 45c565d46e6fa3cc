"""Real Binance candles from ../shared/data beside the repository, skipped where absent.

``GARRISON_SHARED_DATA`` points elsewhere (a git worktree has no ``../shared``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pytest
from garrison_api import Candle
from garrison_api.testing import candles_from_csv

_DEFAULT = Path(__file__).resolve().parents[3].parent / "shared" / "data"
SHARED = Path(os.environ.get("GARRISON_SHARED_DATA") or _DEFAULT)
BINANCE = SHARED / "candles" / "binance_usdm"


@lru_cache(maxsize=8)
def _read(path: Path) -> tuple[Candle, ...]:
    return tuple(candles_from_csv(path))


def binance(symbol: str, timeframe: str, count: int | None = None) -> list[Candle]:
    """The Binance USDⓈ-M candles of ``symbol`` in ``timeframe`` (the first ``count``)."""
    path = BINANCE / f"binance_{symbol}_{timeframe}.csv"
    if not path.exists():
        pytest.skip(
            f"real candles not found at {path} (../shared/data; set GARRISON_SHARED_DATA "
            "to the data folder elsewhere)"
        )
    candles = _read(path)
    return list(candles if count is None else candles[:count])
