"""Incremental indicators: each :mod:`garrison_api.indicators` spec, updated candle by candle.

The vectorised reference in :func:`garrison_api.indicators.compute` is the
definition; this module produces the same numbers bar by bar (parity tests on
real data keep them within 1e-9). Per spec kind:

- ``Sma`` and ``Ema``: talipp's ``SMA``/``EMA`` — same definitions (EMA seeded
  with the SMA of the first ``period`` values, alpha = 2/(period+1)).
- ``Atr``: talipp's ``ATR`` with an adapted feed. talipp takes TR at bar 0 as
  high−low and emits its first value one bar early; our spec has no TR at bar 0
  and seeds with mean(TR[1..period]). So bar 0 is only remembered, and bar 1 is
  fed as a "true-range bar" (high = max(high, prev close), low = min(low, prev
  close)) whose high−low IS TR[1]; from bar 2 on talipp sees the real candles.
  Its Wilder recurrence is then ours, operation for operation.
- ``Highest``/``Lowest`` (talipp has no offset-aware rolling extreme): a small
  exact class — a delay line of ``offset`` values feeding a monotonic deque of
  the last ``period`` values.

Memory per symbol is bounded: talipp keeps whole histories, so each talipp
indicator is purged back to ``period + 1`` inputs (enough for its recurrences)
once it holds twice that.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

from garrison_api.indicators import Atr, Ema, Highest, IndicatorSpec, Lowest, Sma
from garrison_api.types import Candle
from talipp.indicators import ATR, EMA, SMA
from talipp.ohlcv import OHLCV

_NAN = float("nan")
# Purge talipp histories in batches: purging copies lists, so doing it every bar would be O(n).
_MIN_PURGE_BATCH = 64


class _Calculator(Protocol):
    """One spec's incremental state."""

    def update(self, candle: Candle) -> float:
        """Take the next candle; return the value at that candle (nan until warm)."""

    def retained(self) -> int:
        """Number of past values held, for memory accounting."""


def _source_value(candle: Candle, source: str) -> float:
    return float(getattr(candle, source))


class _BoundedTalipp:
    """A talipp indicator trimmed to its last ``keep`` inputs."""

    def __init__(self, indicator: Any, keep: int) -> None:
        self._indicator = indicator
        # More than ``period`` inputs must survive a purge: talipp's seeding checks
        # look at input length and would re-seed if it fell back to ``period``.
        self._keep = keep
        self._purge_at = keep + max(keep, _MIN_PURGE_BATCH)

    def add(self, value: Any) -> float:
        indicator = self._indicator
        indicator.add(value)
        held = len(indicator.input_values)
        if held >= self._purge_at:
            indicator.purge_oldest(held - self._keep)
        out = indicator.output_values[-1]
        return _NAN if out is None else float(out)

    def retained(self) -> int:
        return len(self._indicator.input_values)


class _SmaCalc:
    """``Sma`` through talipp's SMA (same definition)."""

    def __init__(self, spec: Sma) -> None:
        self._source = spec.source
        self._talipp = _BoundedTalipp(SMA(spec.period), keep=spec.period + 1)

    def update(self, candle: Candle) -> float:
        return self._talipp.add(_source_value(candle, self._source))

    def retained(self) -> int:
        return self._talipp.retained()


class _EmaCalc:
    """``Ema`` through talipp's EMA (same seeding and smoothing)."""

    def __init__(self, spec: Ema) -> None:
        self._source = spec.source
        self._talipp = _BoundedTalipp(EMA(spec.period), keep=spec.period + 1)

    def update(self, candle: Candle) -> float:
        return self._talipp.add(_source_value(candle, self._source))

    def retained(self) -> int:
        return self._talipp.retained()


class _AtrCalc:
    """``Atr`` through talipp's ATR, fed so its TR and seed match our definition (module doc)."""

    def __init__(self, spec: Atr) -> None:
        self._talipp = _BoundedTalipp(ATR(spec.period), keep=spec.period + 1)
        self._prev_close: float | None = None
        self._fed_any = False

    def update(self, candle: Candle) -> float:
        if self._prev_close is None:
            # Bar 0 has no true range; only its close is needed, for bar 1.
            self._prev_close = candle.close
            return _NAN
        if self._fed_any:
            bar = OHLCV(candle.open, candle.high, candle.low, candle.close, candle.volume)
        else:
            prev = self._prev_close
            # talipp's TR for its first input is high−low; widen the bar to the previous
            # close so that high−low equals the true range.
            bar = OHLCV(
                candle.open,
                max(candle.high, prev),
                min(candle.low, prev),
                candle.close,
                candle.volume,
            )
            self._fed_any = True
        self._prev_close = candle.close
        return self._talipp.add(bar)

    def retained(self) -> int:
        return self._talipp.retained() + 1


class _ExtremeCalc:
    """``Highest``/``Lowest``: exact rolling max/min over ``period`` values, ``offset`` bars back.

    Values first wait ``offset`` bars in a delay line, then enter a monotonic
    deque of (index, value) pairs whose front is the window's extreme; each
    value is pushed and popped once, so an update is O(1) amortised.
    """

    def __init__(self, spec: Highest | Lowest) -> None:
        self._source = spec.source
        self._period = spec.period
        self._offset = spec.offset
        self._highest = isinstance(spec, Highest)
        self._delay: deque[float] = deque()
        self._window: deque[tuple[int, float]] = deque()
        self._entered = 0  # values that have left the delay line so far

    def update(self, candle: Candle) -> float:
        self._delay.append(_source_value(candle, self._source))
        if len(self._delay) <= self._offset:
            return _NAN
        value = self._delay.popleft()
        index = self._entered
        self._entered += 1
        window = self._window
        if self._highest:
            while window and window[-1][1] <= value:
                window.pop()
        else:
            while window and window[-1][1] >= value:
                window.pop()
        window.append((index, value))
        if window[0][0] <= index - self._period:
            window.popleft()
        if self._entered < self._period:
            return _NAN
        return window[0][1]

    def retained(self) -> int:
        return len(self._delay) + len(self._window)


def _calculator(spec: IndicatorSpec) -> _Calculator:
    if isinstance(spec, Highest | Lowest):
        return _ExtremeCalc(spec)
    if isinstance(spec, Atr):
        return _AtrCalc(spec)
    if isinstance(spec, Sma):
        return _SmaCalc(spec)
    if isinstance(spec, Ema):
        return _EmaCalc(spec)
    raise TypeError(f"unknown indicator spec {spec!r}")


_SPEC_TYPES = (Highest, Lowest, Atr, Sma, Ema)


class IncrementalIndicators:
    """Live indicator values for ONE symbol and timeframe, updated candle by candle.

    ``specs`` maps a strategy's names to specs; names that share an equal spec
    share one computation. After each :meth:`update`, :attr:`values` holds the
    value of every name at that candle (``nan`` until the spec is warm).
    """

    def __init__(self, specs: Mapping[str, IndicatorSpec]) -> None:
        self._names_by_spec: dict[IndicatorSpec, list[str]] = {}
        for name, spec in specs.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"indicator name must be a non-empty string, got {name!r}")
            if not isinstance(spec, _SPEC_TYPES):
                raise TypeError(
                    f"indicator {name!r}: expected a garrison_api.indicators spec "
                    f"(Highest, Lowest, Atr, Sma, Ema), got {spec!r}"
                )
            self._names_by_spec.setdefault(spec, []).append(name)
        self._calculators = {spec: _calculator(spec) for spec in self._names_by_spec}
        self._values: dict[str, float] = dict.fromkeys(specs, _NAN)
        self._view: Mapping[str, float] = MappingProxyType(self._values)
        self._last: Candle | None = None

    @property
    def values(self) -> Mapping[str, float]:
        """Read-only live view of the current values: it changes as :meth:`update` runs."""
        return self._view

    @property
    def last_ts(self) -> int | None:
        """Open time of the last candle taken, or None before the first."""
        return None if self._last is None else self._last.ts

    def update(self, candle: Candle) -> None:
        """Take the next closed candle of this series.

        Raises ``ValueError`` for a candle of another symbol or timeframe, or one
        not strictly after the previous candle (a repeat would corrupt the state).
        """
        last = self._last
        if last is not None:
            if candle.symbol != last.symbol or candle.timeframe != last.timeframe:
                raise ValueError(
                    f"candle {candle.symbol} {candle.timeframe} at ts={candle.ts} fed to the "
                    f"indicators of {last.symbol} {last.timeframe}"
                )
            if candle.ts <= last.ts:
                raise ValueError(
                    f"candle {candle.symbol} {candle.timeframe} ts={candle.ts} is not after the "
                    f"previous candle ts={last.ts}"
                )
        self._last = candle
        values = self._values
        for spec, calc in self._calculators.items():
            value = calc.update(candle)
            for name in self._names_by_spec[spec]:
                values[name] = value

    def is_warm(self) -> bool:
        """True once every indicator has a value (none is nan)."""
        return not any(math.isnan(v) for v in self._values.values())

    def retained(self) -> int:
        """Number of past values held across all indicators (bounded; for memory accounting)."""
        return sum(calc.retained() for calc in self._calculators.values())
