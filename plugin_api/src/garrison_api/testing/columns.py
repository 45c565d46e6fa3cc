"""Whole-series columns and screens of one symbol's candles, as a replay host computes them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from garrison_api.components import BarMask, Strategy
from garrison_api.indicators import FloatArray, compute
from garrison_api.types import Candle

_FIELDS = ("ts", "open", "high", "low", "close", "volume")


def candle_columns(candles: Sequence[Candle]) -> dict[str, FloatArray]:
    """The candles' own columns, as :func:`garrison_api.indicators.compute` reads them.

    ``ts`` (bar open time, UTC ms) and ``open``..``volume``, all float64.
    """
    return {
        name: np.array([getattr(c, name) for c in candles], dtype=np.float64) for name in _FIELDS
    }


def series_columns(candles: Sequence[Candle], strategy: Strategy) -> dict[str, FloatArray]:
    """Whole-series columns of one symbol's candles, as a host hands them to ``screen``.

    ``ts`` (bar open time, UTC ms, float64), ``open``..``volume`` plus every
    indicator the strategy declared, computed over these candles only.
    """
    columns = candle_columns(candles)
    prices = dict(columns)
    for name, spec in dict(strategy.indicators).items():
        columns[name] = compute(spec, prices)
    return columns


def screen_of(strategy: Strategy, candles: Sequence[Candle]) -> BarMask:
    """The strategy's screen over one symbol's candles, checked to be one bool per bar."""
    screen = getattr(strategy, "screen", None)
    if screen is None:
        raise ValueError(f"{type(strategy).__qualname__} declares no screen")
    mask = np.asarray(screen(series_columns(candles, strategy)))
    if mask.dtype != np.bool_ or mask.shape != (len(candles),):
        raise ValueError(
            f"{type(strategy).__qualname__}.screen returned {mask.dtype} of shape {mask.shape}; "
            f"expected bool of shape ({len(candles)},)"
        )
    return mask
