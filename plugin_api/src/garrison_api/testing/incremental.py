"""Indicators updated one closed candle at a time, equal to :func:`garrison_api.indicators.compute`.

Each updater sees bars in order and returns the value at the bar it was just
given, using that bar and earlier ones only. The arithmetic of every built-in
spec mirrors ``compute`` operation for operation (same seeds through
``np.mean``, same order of additions and multiplications), so the values are
the same to the bit on the same data (the kit's tests check this on real
candles). A :class:`~garrison_api.indicators.CustomIndicator` brings its own
updater (``spec.updater()``).
"""

from __future__ import annotations

import math
from collections import deque
from itertools import islice

import numpy as np

from garrison_api.indicators import (
    Adx,
    Atr,
    Bollinger,
    CustomIndicator,
    Ema,
    Highest,
    IndicatorSpec,
    IndicatorUpdater,
    Lowest,
    Macd,
    Rsi,
    Sma,
    Stochastic,
    Vwap,
)
from garrison_api.types import Candle

_NAN = float("nan")

#: One indicator's running state (the kit's name for :class:`IndicatorUpdater`).
Updater = IndicatorUpdater


def _mean(values: deque[float] | list[float]) -> float:
    """The mean as ``compute`` takes it (numpy's, over a contiguous float64 array)."""
    return float(np.mean(np.fromiter(values, dtype=np.float64, count=len(values))))


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


class _WilderAverage:
    """Wilder average of a stream: mean of the first ``period`` values, then the recurrence."""

    def __init__(self, period: int) -> None:
        self._period = period
        self._keep = float(period - 1)
        self._divisor = float(period)
        self._seed: list[float] = []
        self._value = _NAN

    def add(self, x: float) -> float:
        if len(self._seed) < self._period:
            self._seed.append(x)
            if len(self._seed) == self._period:
                self._value = _mean(self._seed)
            return self._value
        self._value = (self._keep * self._value + x) / self._divisor
        return self._value


class _EmaLine:
    """EMA of a stream as :class:`Ema` defines it (seeded with the mean of ``period`` values)."""

    def __init__(self, period: int) -> None:
        self._period = period
        self._alpha = 2.0 / (period + 1)
        self._rest = 1.0 - self._alpha
        self._seed: list[float] = []
        self._value = _NAN

    def add(self, x: float) -> float:
        if len(self._seed) < self._period:
            self._seed.append(x)
            if len(self._seed) == self._period:
                self._value = _mean(self._seed)
            return self._value
        self._value = self._alpha * x + self._rest * self._value
        return self._value


class _SmaLine:
    """Simple mean of the last ``period`` values of a stream."""

    def __init__(self, period: int) -> None:
        self._window: deque[float] = deque(maxlen=period)

    def add(self, x: float) -> float:
        self._window.append(x)
        if len(self._window) < self._window.maxlen:  # type: ignore[operator]
            return _NAN
        return _mean(self._window)


class _Rsi:
    def __init__(self, spec: Rsi) -> None:
        self._source = spec.source
        self._previous: float | None = None
        self._gain = _WilderAverage(spec.period)
        self._loss = _WilderAverage(spec.period)

    def update(self, candle: Candle) -> float:
        value: float = getattr(candle, self._source)
        previous, self._previous = self._previous, value
        if previous is None:
            return _NAN  # bar 0 has no change
        change = value - previous
        gain = self._gain.add(change if change > 0 else 0.0)
        loss = self._loss.add(-change if change < 0 else 0.0)
        if math.isnan(loss):
            return _NAN
        if loss == 0:
            return 100.0 if gain > 0 else 50.0
        return 100.0 - 100.0 / (1.0 + gain / loss)


class _Macd:
    def __init__(self, spec: Macd) -> None:
        self._source = spec.source
        self._output = spec.output
        self._fast = _EmaLine(spec.fast)
        self._slow = _EmaLine(spec.slow)
        self._signal = _EmaLine(spec.signal)

    def update(self, candle: Candle) -> float:
        value: float = getattr(candle, self._source)
        line = self._fast.add(value) - self._slow.add(value)
        if math.isnan(line):
            return _NAN  # the signal line starts with the first macd value
        if self._output == "macd":
            self._signal.add(line)
            return line
        signal = self._signal.add(line)
        return signal if self._output == "signal" else line - signal


class _Bollinger:
    def __init__(self, spec: Bollinger) -> None:
        self._source = spec.source
        self._period = spec.period
        self._k = spec.k
        self._output = spec.output
        self._window: deque[float] = deque(maxlen=spec.period)

    def update(self, candle: Candle) -> float:
        self._window.append(getattr(candle, self._source))
        if len(self._window) < self._period:
            return _NAN
        middle = _mean(self._window)
        if self._output == "middle":
            return middle
        squares = 0.0
        for x in self._window:
            diff = x - middle
            squares += diff * diff
        std = math.sqrt(squares / self._period)
        upper = middle + self._k * std
        lower = middle - self._k * std
        if self._output == "upper":
            return upper
        if self._output == "lower":
            return lower
        return _NAN if middle == 0 else (upper - lower) / middle


class _Stochastic:
    def __init__(self, spec: Stochastic) -> None:
        self._highs: deque[float] = deque(maxlen=spec.k_period)
        self._lows: deque[float] = deque(maxlen=spec.k_period)
        self._k = _SmaLine(spec.k_smooth)
        self._d = _SmaLine(spec.d_period) if spec.output == "d" else None

    def update(self, candle: Candle) -> float:
        self._highs.append(candle.high)
        self._lows.append(candle.low)
        if len(self._highs) < self._highs.maxlen:  # type: ignore[operator]
            return _NAN
        highest, lowest = max(self._highs), min(self._lows)
        raw = 50.0 if highest == lowest else 100.0 * (candle.close - lowest) / (highest - lowest)
        k = self._k.add(raw)
        if self._d is None or math.isnan(k):
            return k
        return self._d.add(k)


class _Adx:
    def __init__(self, spec: Adx) -> None:
        self._output = spec.output
        self._previous: Candle | None = None
        self._atr = _WilderAverage(spec.period)
        self._plus = _WilderAverage(spec.period)
        self._minus = _WilderAverage(spec.period)
        self._adx = _WilderAverage(spec.period)

    def update(self, candle: Candle) -> float:
        previous, self._previous = self._previous, candle
        if previous is None:
            return _NAN  # bar 0 has no movement
        high, low = candle.high, candle.low
        tr = max(high - low, max(abs(high - previous.close), abs(low - previous.close)))
        up = high - previous.high
        down = previous.low - low
        atr = self._atr.add(tr)
        plus = self._plus.add(up if up > down and up > 0 else 0.0)
        minus = self._minus.add(down if down > up and down > 0 else 0.0)
        if math.isnan(atr):
            return _NAN
        plus_di = 0.0 if atr == 0 else 100.0 * plus / atr
        minus_di = 0.0 if atr == 0 else 100.0 * minus / atr
        if self._output == "plus_di":
            return plus_di
        if self._output == "minus_di":
            return minus_di
        total = plus_di + minus_di
        return self._adx.add(0.0 if total == 0 else 100.0 * abs(plus_di - minus_di) / total)


class _Vwap:
    def __init__(self, spec: Vwap) -> None:
        self._spec = spec
        self._session: int | None = None
        self._weighted = 0.0
        self._volume = 0.0

    def update(self, candle: Candle) -> float:
        session = self._spec.session(candle.ts)
        if session != self._session:
            self._session = session
            self._weighted = 0.0
            self._volume = 0.0
        typical = (candle.high + candle.low + candle.close) / 3.0
        self._weighted += typical * candle.volume
        self._volume += candle.volume
        return typical if self._volume == 0 else self._weighted / self._volume


def _custom_updater(spec: CustomIndicator) -> Updater:
    updater = spec.updater()
    if not isinstance(updater, IndicatorUpdater):
        raise TypeError(
            f"custom indicator {spec!r}: updater() returned {updater!r}, "
            "which has no update(candle) method"
        )
    return updater


def make_updater(spec: IndicatorSpec) -> Updater:
    """A fresh running state for ``spec`` (for a custom indicator, ``spec.updater()``)."""
    if isinstance(spec, Highest | Lowest):
        return _Extreme(spec)
    if isinstance(spec, Atr):
        return _Wilder(spec)
    if isinstance(spec, Sma):
        return _Sma(spec)
    if isinstance(spec, Ema):
        return _Ema(spec)
    if isinstance(spec, Rsi):
        return _Rsi(spec)
    if isinstance(spec, Macd):
        return _Macd(spec)
    if isinstance(spec, Bollinger):
        return _Bollinger(spec)
    if isinstance(spec, Stochastic):
        return _Stochastic(spec)
    if isinstance(spec, Adx):
        return _Adx(spec)
    if isinstance(spec, Vwap):
        return _Vwap(spec)
    if isinstance(spec, CustomIndicator):
        return _custom_updater(spec)
    raise TypeError(f"unknown indicator spec {spec!r}")
