"""Indicators updated one closed candle at a time, equal to :func:`garrison_api.indicators.compute`.

Each updater sees bars in order and returns the value at the bar it was just
given, using that bar and earlier ones only. The arithmetic mirrors
``compute`` operation for operation, so the values are the same to the bit on
the same data (the kit's tests check this on real candles).
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Protocol

import numpy as np

from garrison_api.indicators import Atr, Ema, Highest, IndicatorSpec, Lowest, Sma
from garrison_api.types import Candle

_NAN = float("nan")


class Updater(Protocol):
    """One indicator's running state."""

    def update(self, candle: Candle) -> float:
        """Take the next closed candle; return the indicator's value at it (``nan`` if not warm)."""
        ...


class _Extreme:
    """Highest/Lowest of ``period`` bars ending ``offset`` bars back."""

    def __init__(self, spec: Highest | Lowest) -> None:
        self._source = spec.source
        self._period = spec.period
        self._window: deque[float] = deque(maxlen=spec.period + spec.offset)
        self._pick = max if isinstance(spec, Highest) else min

    def update(self, candle: Candle) -> float:
        self._window.append(getattr(candle, self._source))
        if len(self._window) < self._window.maxlen:  # type: ignore[operator]
            return _NAN
        # The oldest ``period`` values of the window are the bars the spec covers.
        return float(self._pick(islice(self._window, 0, self._period)))


class _Sma:
    def __init__(self, spec: Sma) -> None:
        self._source = spec.source
        self._window: deque[float] = deque(maxlen=spec.period)

    def update(self, candle: Candle) -> float:
        self._window.append(getattr(candle, self._source))
        if len(self._window) < self._window.maxlen:  # type: ignore[operator]
            return _NAN
        return float(np.mean(np.fromiter(self._window, dtype=np.float64)))


class _Wilder:
    """Wilder-smoothed true range: mean of the first ``period`` ranges, then the recurrence."""

    def __init__(self, spec: Atr) -> None:
        self._period = spec.period
        self._keep = spec.period - 1
        self._previous_close: float | None = None
        self._seed: list[float] = []
        self._value = _NAN

    def update(self, candle: Candle) -> float:
        previous, self._previous_close = self._previous_close, candle.close
        if previous is None:
            return _NAN  # bar 0 has no true range
        high, low = candle.high, candle.low
        tr = max(high - low, max(abs(high - previous), abs(low - previous)))
        if len(self._seed) < self._period:
            self._seed.append(tr)
            if len(self._seed) < self._period:
                return _NAN
            self._value = float(np.mean(np.array(self._seed)))
            return self._value
        self._value = (self._keep * self._value + tr) / self._period
        return self._value


class _Ema:
    def __init__(self, spec: Ema) -> None:
        self._source = spec.source
        self._period = spec.period
        self._alpha = 2.0 / (spec.period + 1)
        self._seed: list[float] = []
        self._value = _NAN

    def update(self, candle: Candle) -> float:
        value: float = getattr(candle, self._source)
        if len(self._seed) < self._period:
            self._seed.append(value)
            if len(self._seed) < self._period:
                return _NAN
            self._value = float(np.mean(np.array(self._seed)))
            return self._value
        self._value = self._alpha * value + (1.0 - self._alpha) * self._value
        return self._value


def make_updater(spec: IndicatorSpec) -> Updater:
    """A fresh running state for ``spec``."""
    if isinstance(spec, Highest | Lowest):
        return _Extreme(spec)
    if isinstance(spec, Atr):
        return _Wilder(spec)
    if isinstance(spec, Sma):
        return _Sma(spec)
    if isinstance(spec, Ema):
        return _Ema(spec)
    raise TypeError(f"unknown indicator spec {spec!r}")
