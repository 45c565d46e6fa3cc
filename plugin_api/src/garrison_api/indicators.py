"""Indicators a strategy can ask the host for, and their reference computation.

A strategy declares what it needs as a mapping of its own names to specs::

    indicators = {"upper": Highest("high", 20, offset=1), "n": Atr(20)}

and reads the current values with ``ctx.indicators(symbol)["upper"]``. Before
an indicator has enough history its value is ``nan``.

The host computes specs incrementally on live candles (talipp) and may compute
them here, vectorised over a whole series, for replays; the two paths are kept
equal within 1e-9 by parity tests on real data. Every function in this module
uses bars up to and including ``t`` only to produce the value at ``t``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Candle fields an indicator can read.
Source = Literal["open", "high", "low", "close", "volume"]

_SOURCES = ("open", "high", "low", "close", "volume")


def _positive(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"{attribute.name} must be at least 1, got {value}")


def _non_negative(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be 0 or more, got {value}")


def _source(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in _SOURCES:
        raise ValueError(f"{attribute.name} must be one of {', '.join(_SOURCES)}, got {value!r}")


@attrs.frozen
class Highest:
    """Highest ``source`` over ``period`` bars ending ``offset`` bars before the current one.

    ``Highest("high", 20, offset=1)`` is Turtle's 20-bar breakout level: the
    high of the 20 bars *before* t, so bar t itself can break it.
    """

    source: Source = attrs.field(validator=_source)
    period: int = attrs.field(validator=_positive)
    offset: int = attrs.field(default=0, validator=_non_negative)

    @property
    def warmup(self) -> int:
        """Bars of history needed before the first value (index of the first non-nan)."""
        return self.period + self.offset - 1


@attrs.frozen
class Lowest:
    """Lowest ``source`` over ``period`` bars ending ``offset`` bars before the current one."""

    source: Source = attrs.field(validator=_source)
    period: int = attrs.field(validator=_positive)
    offset: int = attrs.field(default=0, validator=_non_negative)

    @property
    def warmup(self) -> int:
        return self.period + self.offset - 1


@attrs.frozen
class Atr:
    """Average true range with Wilder smoothing, as the original Turtle rules define N.

    TR[t] = max(high−low, |high−close[t−1]|, |low−close[t−1]|) exists from bar 1;
    ATR[period] = mean(TR[1..period]); then ATR[t] = ((period−1)·ATR[t−1] + TR[t]) / period.
    """

    period: int = attrs.field(validator=_positive)

    @property
    def warmup(self) -> int:
        return self.period


@attrs.frozen
class Sma:
    """Simple moving average of ``source`` over ``period`` bars."""

    source: Source = attrs.field(validator=_source)
    period: int = attrs.field(validator=_positive)

    @property
    def warmup(self) -> int:
        return self.period - 1


@attrs.frozen
class Ema:
    """Exponential moving average with alpha = 2/(period+1).

    Seeded with the simple average of the first ``period`` bars.
    """

    source: Source = attrs.field(validator=_source)
    period: int = attrs.field(validator=_positive)

    @property
    def warmup(self) -> int:
        return self.period - 1


IndicatorSpec = Highest | Lowest | Atr | Sma | Ema


def _rolling_window(values: FloatArray, period: int) -> FloatArray:
    return np.lib.stride_tricks.sliding_window_view(values, period)


def _shifted(result: FloatArray, offset: int) -> FloatArray:
    if offset == 0:
        return result
    out = np.full_like(result, np.nan)
    out[offset:] = result[:-offset]
    return out


def _rolling_extreme(values: FloatArray, period: int, highest: bool) -> FloatArray:
    """Max (or min) of each window of ``period`` values, in O(n) (van Herk / Gil-Werman).

    Split the series into blocks of ``period``; a window spans the tail of one
    block and the head of the next, so its extreme is the larger of a
    suffix-extreme and a prefix-extreme. Exact: only comparisons, no arithmetic.
    """
    n = values.shape[0]
    ufunc = np.maximum if highest else np.minimum
    fill = -np.inf if highest else np.inf
    blocks = -(-n // period)
    padded = np.full(blocks * period, fill)
    padded[:n] = values
    grid = padded.reshape(blocks, period)
    prefix = ufunc.accumulate(grid, axis=1).ravel()
    suffix = ufunc.accumulate(grid[:, ::-1], axis=1)[:, ::-1].ravel()
    return ufunc(suffix[: n - period + 1], prefix[period - 1 : n])


def _extreme(values: FloatArray, period: int, offset: int, highest: bool) -> FloatArray:
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] >= period:
        out[period - 1 :] = _rolling_extreme(values, period, highest)
    return _shifted(out, offset)


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """True range per bar; ``nan`` at bar 0, which has no previous close."""
    tr = np.full(high.shape[0], np.nan)
    if high.shape[0] > 1:
        prev = close[:-1]
        h, lo = high[1:], low[1:]
        tr[1:] = np.maximum(h - lo, np.maximum(np.abs(h - prev), np.abs(lo - prev)))
    return tr


def _wilder(tr: FloatArray, period: int) -> FloatArray:
    out = np.full(tr.shape[0], np.nan)
    if tr.shape[0] <= period:
        return out
    # The recurrence is sequential; a Python loop over floats is exact and
    # keeps parity with the incremental path bit for bit.
    value = float(np.mean(tr[1 : period + 1]))
    # Floats, not ints: float-by-float arithmetic has the interpreter's fast
    # path, mixed int and float does not (the loop runs 40 % faster), and an
    # int this small converts to float exactly, so the results are the same.
    keep = float(period - 1)
    divisor = float(period)
    smoothed = [value]
    append = smoothed.append
    for x in tr[period + 1 :].tolist():
        value = (keep * value + x) / divisor
        append(value)
    out[period:] = smoothed
    return out


def _sma(values: FloatArray, period: int) -> FloatArray:
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] >= period:
        out[period - 1 :] = _rolling_window(values, period).mean(axis=1)
    return out


def _ema(values: FloatArray, period: int) -> FloatArray:
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] < period:
        return out
    alpha = 2.0 / (period + 1)
    rest = 1.0 - alpha  # the same float on every bar: computed once
    value = float(np.mean(values[:period]))
    smoothed = [value]
    append = smoothed.append
    for x in values[period:].tolist():
        value = alpha * x + rest * value
        append(value)
    out[period - 1 :] = smoothed
    return out


def compute(spec: IndicatorSpec, series: Mapping[str, FloatArray]) -> FloatArray:
    """Compute ``spec`` over whole columns (``open``, ``high``, ``low``, ``close``, ``volume``).

    Returns an array as long as the input, ``nan`` where there is not yet enough history.
    """
    if isinstance(spec, Highest):
        return _extreme(series[spec.source], spec.period, spec.offset, highest=True)
    if isinstance(spec, Lowest):
        return _extreme(series[spec.source], spec.period, spec.offset, highest=False)
    if isinstance(spec, Atr):
        return _wilder(true_range(series["high"], series["low"], series["close"]), spec.period)
    if isinstance(spec, Sma):
        return _sma(series[spec.source], spec.period)
    if isinstance(spec, Ema):
        return _ema(series[spec.source], spec.period)
    raise TypeError(f"unknown indicator spec {spec!r}")
