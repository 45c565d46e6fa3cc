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
- ``Rsi``: talipp's ``RSI``. It seeds with the mean of the first ``period − 1``
  changes and applies one Wilder step with the ``period``-th, which is the mean
  of the first ``period`` changes (the classic seed) in other arithmetic; its
  formula is ours. It says 100 where both averages are 0; our definition says
  50 there, so that case is read off its averages. ``period = 1`` (which
  talipp divides by zero on) is a small exact class.
- ``Macd``: talipp's ``MACD`` with EMA averages — the same lines, seeds and
  starts (the signal EMA starts with the first macd value).
- ``Bollinger``: talipp's ``BB`` (SMA middle, population standard deviation
  over the same window, middle ± k·std); ``width`` is (upper − lower) / middle
  from its bands, ``nan`` where the middle is 0.
- ``Stochastic``: talipp's ``Stoch`` says 100 where the window has no range
  (ours: 50), so raw %K is exact code here (monotonic deques for the highest
  high and lowest low) smoothed by talipp ``SMA`` lines for %K and %D.
- ``Adx``: talipp's ``ADX`` runs its DIs on talipp's ATR, seeded one bar early
  with bar 0's high − low, and keeps the previous DI where ATR is 0; so this
  is exact own code (Wilder averages of TR, +DM, −DM and DX as the spec says).
- ``Vwap``: talipp's ``VWAP`` (running sums of typical price × volume and of
  volume, in bar order: our sums to the bit), a fresh one at each session
  start; where the session's volume is still 0 the bar's typical price.
- A ``CustomIndicator``: its own ``updater()``.

Memory per symbol is bounded: talipp keeps whole histories, so each talipp
indicator is purged back to a few more inputs than its recurrences need
(``period + 1``; ``period + 2`` for RSI, ``slow + signal + 1`` for MACD) once
it holds twice that; the own classes hold at most their windows.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
from garrison_api.indicators import (
    BUILTIN_SPECS,
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
from talipp.indicators import ATR, BB, EMA, MACD, RSI, SMA, VWAP
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
        """Feed ``value``; the indicator's new float output (``nan`` while it has none)."""
        out = self.add_raw(value)
        return _NAN if out is None else float(out)

    def add_raw(self, value: Any) -> Any:
        """Feed ``value``; the new output as talipp gives it (None while it has none)."""
        indicator = self._indicator
        indicator.add(value)
        held = len(indicator.input_values)
        if held >= self._purge_at:
            indicator.purge_oldest(held - self._keep)
        return indicator.output_values[-1]

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


class _RsiCalc:
    """``Rsi`` through talipp's RSI (module doc), 50 where both averages are 0."""

    def __init__(self, spec: Rsi) -> None:
        self._source = spec.source
        self._rsi = RSI(spec.period)
        # talipp seeds when it holds exactly period + 1 inputs: keep more than that.
        self._talipp = _BoundedTalipp(self._rsi, keep=spec.period + 2)

    def update(self, candle: Candle) -> float:
        value = self._talipp.add(_source_value(candle, self._source))
        if value == 100.0 and self._rsi.avg_gain[-1] == 0 and self._rsi.avg_loss[-1] == 0:
            return 50.0
        return value

    def retained(self) -> int:
        return self._talipp.retained()


class _RsiOneCalc:
    """``Rsi(1)``: each bar's change alone decides (100 up, 0 down, 50 flat)."""

    def __init__(self, spec: Rsi) -> None:
        self._source = spec.source
        self._previous: float | None = None

    def update(self, candle: Candle) -> float:
        value = _source_value(candle, self._source)
        previous, self._previous = self._previous, value
        if previous is None:
            return _NAN
        change = value - previous
        return 100.0 if change > 0 else 0.0 if change < 0 else 50.0

    def retained(self) -> int:
        return 1


class _MacdCalc:
    """``Macd`` through talipp's MACD (EMA lines, same seeds and starts)."""

    def __init__(self, spec: Macd) -> None:
        self._source = spec.source
        self._field = {"macd": "macd", "signal": "signal", "hist": "histogram"}[spec.output]
        # After a purge the slow EMA must keep more than ``slow`` inputs and the
        # signal EMA more than ``signal`` (or they would seed again).
        self._talipp = _BoundedTalipp(
            MACD(spec.fast, spec.slow, spec.signal), keep=spec.slow + spec.signal + 1
        )

    def update(self, candle: Candle) -> float:
        out = self._talipp.add_raw(_source_value(candle, self._source))
        value = None if out is None else getattr(out, self._field)
        return _NAN if value is None else float(value)

    def retained(self) -> int:
        return self._talipp.retained()


class _BollingerCalc:
    """``Bollinger`` through talipp's BB; width from its bands."""

    def __init__(self, spec: Bollinger) -> None:
        self._source = spec.source
        self._output = spec.output
        self._talipp = _BoundedTalipp(BB(spec.period, spec.k), keep=spec.period + 1)

    def update(self, candle: Candle) -> float:
        bands = self._talipp.add_raw(_source_value(candle, self._source))
        if bands is None:
            return _NAN
        if self._output == "upper":
            return float(bands.ub)
        if self._output == "middle":
            return float(bands.cb)
        if self._output == "lower":
            return float(bands.lb)
        middle = float(bands.cb)
        return _NAN if middle == 0 else (float(bands.ub) - float(bands.lb)) / middle

    def retained(self) -> int:
        return self._talipp.retained()


class _StochasticCalc:
    """``Stochastic``: exact raw %K (50 where HH = LL), talipp SMA lines for %K and %D."""

    def __init__(self, spec: Stochastic) -> None:
        self._highest = _ExtremeCalc(Highest("high", spec.k_period))
        self._lowest = _ExtremeCalc(Lowest("low", spec.k_period))
        self._k = _BoundedTalipp(SMA(spec.k_smooth), keep=spec.k_smooth + 1)
        self._d = (
            _BoundedTalipp(SMA(spec.d_period), keep=spec.d_period + 1)
            if spec.output == "d"
            else None
        )

    def update(self, candle: Candle) -> float:
        highest = self._highest.update(candle)
        lowest = self._lowest.update(candle)
        if math.isnan(highest):
            return _NAN
        spread = highest - lowest
        raw = 50.0 if spread == 0 else 100.0 * (candle.close - lowest) / spread
        k = self._k.add(raw)
        if self._d is None or math.isnan(k):
            return k
        return self._d.add(k)

    def retained(self) -> int:
        held = self._highest.retained() + self._lowest.retained() + self._k.retained()
        return held + (0 if self._d is None else self._d.retained())


class _WilderLine:
    """Wilder average of a stream: mean of its first ``period`` values, then the recurrence."""

    def __init__(self, period: int) -> None:
        self._period = period
        self._keep = float(period - 1)
        self._divisor = float(period)
        self._seed: list[float] | None = []
        self._value = _NAN

    def add(self, x: float) -> float:
        seed = self._seed
        if seed is not None:
            seed.append(x)
            if len(seed) == self._period:
                self._value = float(np.mean(np.array(seed)))
                self._seed = None  # not needed again: frees the seed values
            return self._value
        self._value = (self._keep * self._value + x) / self._divisor
        return self._value

    def retained(self) -> int:
        return 1 if self._seed is None else len(self._seed)


class _AdxCalc:
    """``Adx``: Wilder averages of TR, +DM, −DM, then of DX, exactly as the spec defines them."""

    def __init__(self, spec: Adx) -> None:
        self._output = spec.output
        self._previous: Candle | None = None
        self._atr = _WilderLine(spec.period)
        self._plus = _WilderLine(spec.period)
        self._minus = _WilderLine(spec.period)
        self._adx = _WilderLine(spec.period)

    def update(self, candle: Candle) -> float:
        previous, self._previous = self._previous, candle
        if previous is None:
            return _NAN  # bar 0 has no true range and no movement
        high, low, close = candle.high, candle.low, previous.close
        true_range = max(high - low, max(abs(high - close), abs(low - close)))
        up = high - previous.high
        down = previous.low - low
        atr = self._atr.add(true_range)
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

    def retained(self) -> int:
        lines = (self._atr, self._plus, self._minus, self._adx)
        return 1 + sum(line.retained() for line in lines)


class _VwapCalc:
    """``Vwap`` through talipp's VWAP, restarted at each session start."""

    def __init__(self, spec: Vwap) -> None:
        self._spec = spec
        self._session: int | None = None
        self._vwap = VWAP()
        self._talipp = _BoundedTalipp(self._vwap, keep=2)

    def update(self, candle: Candle) -> float:
        session = self._spec.session(candle.ts)
        if session != self._session:
            self._session = session
            self._vwap = VWAP()
            self._talipp = _BoundedTalipp(self._vwap, keep=2)
        value = self._talipp.add(
            OHLCV(candle.open, candle.high, candle.low, candle.close, candle.volume)
        )
        if self._vwap.sum_vol[-1] == 0:
            return (candle.high + candle.low + candle.close) / 3.0
        return value

    def retained(self) -> int:
        return self._talipp.retained()


class _CustomCalc:
    """A plugin's own indicator: its ``updater()`` (whose memory is its own business)."""

    def __init__(self, spec: CustomIndicator) -> None:
        updater = spec.updater()
        if not isinstance(updater, IndicatorUpdater):
            raise TypeError(
                f"custom indicator {spec!r}: updater() returned {updater!r}, "
                "which has no update(candle) method"
            )
        self._updater = updater

    def update(self, candle: Candle) -> float:
        return float(self._updater.update(candle))

    def retained(self) -> int:
        return 0


def _calculator(spec: IndicatorSpec) -> _Calculator:
    if isinstance(spec, Highest | Lowest):
        return _ExtremeCalc(spec)
    if isinstance(spec, Atr):
        return _AtrCalc(spec)
    if isinstance(spec, Sma):
        return _SmaCalc(spec)
    if isinstance(spec, Ema):
        return _EmaCalc(spec)
    if isinstance(spec, Rsi):
        return _RsiCalc(spec) if spec.period > 1 else _RsiOneCalc(spec)
    if isinstance(spec, Macd):
        return _MacdCalc(spec)
    if isinstance(spec, Bollinger):
        return _BollingerCalc(spec)
    if isinstance(spec, Stochastic):
        return _StochasticCalc(spec)
    if isinstance(spec, Adx):
        return _AdxCalc(spec)
    if isinstance(spec, Vwap):
        return _VwapCalc(spec)
    if isinstance(spec, CustomIndicator):
        return _CustomCalc(spec)
    raise TypeError(f"unknown indicator spec {spec!r}")


def _check_spec(name: object, spec: object) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"indicator name must be a non-empty string, got {name!r}")
    if isinstance(spec, BUILTIN_SPECS):
        return
    if not isinstance(spec, CustomIndicator):
        raise TypeError(
            f"indicator {name!r}: expected a garrison_api.indicators spec "
            f"({', '.join(t.__name__ for t in BUILTIN_SPECS)}) or a CustomIndicator "
            f"(warmup, compute(columns), updater()), got {spec!r}"
        )
    try:
        hash(spec)
    except TypeError:
        raise TypeError(
            f"indicator {name!r}: custom indicator {spec!r} is not hashable; "
            "make it a frozen attrs class"
        ) from None


class IncrementalIndicators:
    """Live indicator values for ONE symbol and timeframe, updated candle by candle.

    ``specs`` maps a strategy's names to specs; names that share an equal spec
    share one computation. After each :meth:`update`, :attr:`values` holds the
    value of every name at that candle (``nan`` until the spec is warm).
    """

    def __init__(self, specs: Mapping[str, IndicatorSpec]) -> None:
        self._names_by_spec: dict[IndicatorSpec, list[str]] = {}
        for name, spec in specs.items():
            _check_spec(name, spec)
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
        """Number of past values held across all built-in indicators (bounded).

        For memory accounting; a custom indicator's own state is not counted.
        """
        return sum(calc.retained() for calc in self._calculators.values())
