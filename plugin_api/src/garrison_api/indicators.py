"""Indicators a strategy can ask the host for, and their reference computation.

A strategy declares what it needs as a mapping of its own names to specs::

    indicators = {"upper": Highest("high", 20, offset=1), "n": Atr(20)}

and reads the current values with ``ctx.indicators(symbol)["upper"]``. Before
an indicator has enough history its value is ``nan``; ``spec.warmup`` is the
index of its first value (the bars of history it needs before it).

Built-in specs: :class:`Highest`, :class:`Lowest`, :class:`Atr`, :class:`Sma`,
:class:`Ema`, and since API 1.1 :class:`Rsi`, :class:`Macd`,
:class:`Bollinger`, :class:`Stochastic`, :class:`Adx` and :class:`Vwap`. An
indicator with several lines is one spec per line (its ``output`` field), so
each name a strategy declares is one column. A plugin can bring its own
indicator: any hashable object with the :class:`CustomIndicator` members
(``garrison_api.testing.check_indicator_parity`` checks its two paths agree).

The host computes specs incrementally on live candles (talipp where its
definition is the one written here, exact own code otherwise) and may compute
them here, vectorised over a whole series, for replays; the two paths are kept
equal within 1e-9 by parity tests on real data. Every function in this module
uses bars up to and including ``t`` only to produce the value at ``t``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Literal, Protocol, runtime_checkable

import attrs
import numpy as np
import numpy.typing as npt

from garrison_api.types import Candle

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


def _at_least(minimum: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    """A validator: a whole number (not a bool) of at least ``minimum``."""

    def check(_inst: object, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{attribute.name} must be a whole number, got {value!r}")
        if value < minimum:
            raise ValueError(f"{attribute.name} must be at least {minimum}, got {value}")

    return check


def _one_of(*choices: str) -> Callable[[object, attrs.Attribute[str], str], None]:
    """A validator: one of ``choices``."""

    def check(_inst: object, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in choices:
            raise ValueError(f"{attribute.name} must be one of {', '.join(choices)}, got {value!r}")

    return check


def _number(value: float) -> float:
    """A float from an int or float (not a bool, not a string): ``k=2`` equals ``k=2.0``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"k must be a number, got {value!r}")
    return float(value)


def _positive_number(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{attribute.name} must be a finite number above 0, got {value!r}")


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
        """Index of the first value: bar period+offset−1."""
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
        """Index of the first value: bar ``period`` (TR starts at bar 1)."""
        return self.period


@attrs.frozen
class Sma:
    """Simple moving average of ``source`` over ``period`` bars."""

    source: Source = attrs.field(validator=_source)
    period: int = attrs.field(validator=_positive)

    @property
    def warmup(self) -> int:
        """Index of the first value: bar period−1."""
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
        """Index of the first value: bar period−1 (the seed)."""
        return self.period - 1


#: Lines of :class:`Macd`.
MacdOutput = Literal["macd", "signal", "hist"]
#: Lines of :class:`Bollinger`.
BollingerOutput = Literal["upper", "middle", "lower", "width"]
#: Lines of :class:`Stochastic`.
StochasticOutput = Literal["k", "d"]
#: Lines of :class:`Adx`.
AdxOutput = Literal["adx", "plus_di", "minus_di"]


@attrs.frozen
class Rsi:
    """Relative strength index, Wilder's classic definition (API 1.1).

    From bar 1, change[t] = x[t] − x[t−1] (x = ``source``); gain = change where
    positive, else 0; loss = −change where negative, else 0. Both are Wilder
    averages seeded with their simple mean: avg[period] = mean(of bars
    1..period), then avg[t] = ((period−1)·avg[t−1] + value[t]) / period.
    RSI = 100 − 100 / (1 + avg_gain / avg_loss); it is 100 where avg_loss is 0
    and avg_gain is not, and 50 where both are 0 (no movement at all).
    First value at bar ``period``.
    """

    period: int = attrs.field(default=14, validator=_at_least(1))
    source: Source = attrs.field(default="close", validator=_source)

    @property
    def warmup(self) -> int:
        """Index of the first value: bar ``period``."""
        return self.period


@attrs.frozen
class Macd:
    """Moving average convergence/divergence, one line per spec (API 1.1).

    ``macd`` = EMA(fast) − EMA(slow) of ``source``, each EMA exactly as
    :class:`Ema` (seeded with the mean of its first ``period`` values), so the
    line starts at bar slow−1. ``signal`` = an EMA(signal) of the macd line,
    seeded with the mean of its first ``signal`` values (bars slow−1 ..
    slow+signal−2), so it starts at bar slow+signal−2. ``hist`` = macd − signal,
    from the same bar. ``fast`` must be shorter than ``slow``.
    """

    fast: int = attrs.field(default=12, validator=_at_least(1))
    slow: int = attrs.field(default=26, validator=_at_least(1))
    signal: int = attrs.field(default=9, validator=_at_least(1))
    output: MacdOutput = attrs.field(default="macd", validator=_one_of("macd", "signal", "hist"))
    source: Source = attrs.field(default="close", validator=_source)

    def __attrs_post_init__(self) -> None:
        if self.fast >= self.slow:
            raise ValueError(f"fast must be less than slow, got fast={self.fast} slow={self.slow}")

    @property
    def warmup(self) -> int:
        """Index of the first value: slow−1 for ``macd``, slow+signal−2 for the other lines."""
        if self.output == "macd":
            return self.slow - 1
        return self.slow + self.signal - 2


@attrs.frozen
class Bollinger:
    """Bollinger bands over ``period`` bars of ``source``, one line per spec (API 1.1).

    ``middle`` = the simple mean of the window (as :class:`Sma`); std = the
    population standard deviation of the same window (ddof = 0, two-pass:
    sqrt(sum((x − middle)²) / period)); ``upper`` = middle + k·std, ``lower`` =
    middle − k·std, ``width`` = (upper − lower) / middle (``nan`` where middle is
    0, e.g. a window of zero volume). First value at bar period−1.
    """

    period: int = attrs.field(default=20, validator=_at_least(1))
    k: float = attrs.field(default=2.0, converter=_number, validator=_positive_number)
    output: BollingerOutput = attrs.field(
        default="upper", validator=_one_of("upper", "middle", "lower", "width")
    )
    source: Source = attrs.field(default="close", validator=_source)

    @property
    def warmup(self) -> int:
        """Index of the first value: bar period−1."""
        return self.period - 1


@attrs.frozen
class Stochastic:
    """Stochastic oscillator (slow form), one line per spec (API 1.1).

    Raw %K[t] = 100·(close − LL) / (HH − LL) with HH, LL the highest high and
    lowest low of the ``k_period`` bars ending at t; where HH = LL (a window with
    no range) raw %K is 50, the middle of the scale. ``k`` = the simple mean of
    the last ``k_smooth`` raw values (``k_smooth=1``: the fast stochastic);
    ``d`` = the simple mean of the last ``d_period`` values of ``k``. First ``k``
    at bar k_period+k_smooth−2, first ``d`` d_period−1 bars later.
    """

    k_period: int = attrs.field(default=14, validator=_at_least(1))
    k_smooth: int = attrs.field(default=3, validator=_at_least(1))
    d_period: int = attrs.field(default=3, validator=_at_least(1))
    output: StochasticOutput = attrs.field(default="k", validator=_one_of("k", "d"))

    @property
    def warmup(self) -> int:
        """Index of the first value (see the class docstring)."""
        first_k = self.k_period + self.k_smooth - 2
        return first_k if self.output == "k" else first_k + self.d_period - 1


@attrs.frozen
class Adx:
    """Average directional index and its directional indicators, Wilder's definition (API 1.1).

    From bar 1: up = high − high[t−1], down = low[t−1] − low; +DM = up where
    up > down and up > 0, else 0; −DM = down where down > up and down > 0,
    else 0; TR as in :class:`Atr`. TR, +DM and −DM are each Wilder-averaged
    like :class:`Atr`: mean of bars 1..period at bar ``period``, then
    avg[t] = ((period−1)·avg[t−1] + value[t]) / period. ``plus_di`` =
    100·avg(+DM) / ATR and ``minus_di`` = 100·avg(−DM) / ATR (both 0 where ATR
    is 0), from bar ``period``. DX = 100·|+DI − −DI| / (+DI + −DI) (0 where
    the sum is 0); ``adx`` = the Wilder average of DX seeded with the mean of
    DX over bars period..2·period−1, so it starts at bar 2·period−1.
    """

    period: int = attrs.field(default=14, validator=_at_least(1))
    output: AdxOutput = attrs.field(default="adx", validator=_one_of("adx", "plus_di", "minus_di"))

    @property
    def warmup(self) -> int:
        """Index of the first value: period for the DIs, 2·period−1 for ``adx``."""
        return 2 * self.period - 1 if self.output == "adx" else self.period


@attrs.frozen
class Vwap:
    """Session-anchored volume-weighted average price of the typical price (API 1.1).

    Typical price tp = (high + low + close) / 3. Sessions start at
    ``offset_ms + k·session_ms`` (UTC epoch milliseconds); a bar belongs to the
    session its OPEN time falls in. VWAP[t] = sum(tp·volume) / sum(volume)
    over the bars of t's session up to and including t, summed in bar order
    from 0 at each session start. Where the session's volume so far is 0, the
    value is the bar's own typical price. Defined from bar 0; needs the
    ``ts`` column (bar open time, UTC ms, as float64).
    """

    session_ms: int = attrs.field(default=86_400_000, validator=_at_least(1))
    offset_ms: int = attrs.field(default=0, validator=_at_least(0))

    def __attrs_post_init__(self) -> None:
        if self.offset_ms >= self.session_ms:
            raise ValueError(
                f"offset_ms must be less than session_ms, got offset_ms={self.offset_ms} "
                f"session_ms={self.session_ms}"
            )

    @property
    def warmup(self) -> int:
        """Index of the first value: 0 (every bar has one)."""
        return 0

    def session(self, ts: int) -> int:
        """The number of the session a bar opening at ``ts`` (UTC ms) belongs to."""
        return (ts - self.offset_ms) // self.session_ms


@runtime_checkable
class IndicatorUpdater(Protocol):
    """One indicator's running state, fed one closed candle at a time."""

    def update(self, candle: Candle) -> float:
        """Take the next closed candle; return the value at it (``nan`` until warm)."""
        ...


@runtime_checkable
class CustomIndicator(Protocol):
    """An indicator a plugin brings itself (API 1.1).

    Write it as a frozen attrs class (specs are hashed: equal specs share one
    computation) with:

    - ``warmup``: the index of its first non-``nan`` value;
    - ``compute(columns)``: the definition, vectorised over a whole series;
      ``columns`` holds ``ts`` (bar open time, UTC ms, float64), ``open``,
      ``high``, ``low``, ``close`` and ``volume``; it returns a float64 array
      as long as the columns, the value at t using bars up to t only;
    - ``updater()``: a fresh :class:`IndicatorUpdater` that yields the same
      values bar by bar (within 1e-9).

    Replays may use ``compute``, live runs use ``updater``;
    ``garrison_api.testing.check_indicator_parity`` checks that the two agree
    and that ``compute`` does not look ahead.
    """

    @property
    def warmup(self) -> int:
        """Index of the first non-``nan`` value."""
        ...

    def compute(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        """The values over whole columns (one per bar, ``nan`` until warm)."""
        ...

    def updater(self) -> IndicatorUpdater:
        """A fresh incremental state for this indicator."""
        ...


#: The specs built into the host, in the order ``compute`` tries them.
BUILTIN_SPECS = (Highest, Lowest, Atr, Sma, Ema, Rsi, Macd, Bollinger, Stochastic, Adx, Vwap)

#: Anything a strategy can declare as an indicator.
IndicatorSpec = (
    Highest
    | Lowest
    | Atr
    | Sma
    | Ema
    | Rsi
    | Macd
    | Bollinger
    | Stochastic
    | Adx
    | Vwap
    | CustomIndicator
)


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


def _wilder(values: FloatArray, period: int, start: int = 1) -> FloatArray:
    """Wilder average of ``values`` from bar ``start`` (the bars before it are ``nan``).

    avg[start+period−1] = mean(values[start .. start+period−1]), then
    avg[t] = ((period−1)·avg[t−1] + values[t]) / period.
    """
    out = np.full(values.shape[0], np.nan)
    first = start + period - 1
    if values.shape[0] <= first:
        return out
    # The recurrence is sequential; a Python loop over floats is exact and
    # keeps parity with the incremental path bit for bit.
    value = float(np.mean(values[start : first + 1]))
    # Floats, not ints: float-by-float arithmetic has the interpreter's fast
    # path, mixed int and float does not (the loop runs 40 % faster), and an
    # int this small converts to float exactly, so the results are the same.
    keep = float(period - 1)
    divisor = float(period)
    smoothed = [value]
    append = smoothed.append
    for x in values[first + 1 :].tolist():
        value = (keep * value + x) / divisor
        append(value)
    out[first:] = smoothed
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


def _after(
    values: FloatArray, start: int, smooth: Callable[[FloatArray], FloatArray]
) -> FloatArray:
    """``smooth`` applied to ``values[start:]`` (a line that begins at bar ``start``), in place."""
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] > start:
        out[start:] = smooth(values[start:])
    return out


def _rsi(values: FloatArray, period: int) -> FloatArray:
    n = values.shape[0]
    gain = np.full(n, np.nan)
    loss = np.full(n, np.nan)
    if n > 1:
        change = values[1:] - values[:-1]
        gain[1:] = np.where(change > 0, change, 0.0)
        loss[1:] = np.where(change < 0, -change, 0.0)
    avg_gain = _wilder(gain, period)
    avg_loss = _wilder(loss, period)
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    flat = np.where(avg_gain > 0, 100.0, 50.0)
    return np.where(avg_loss == 0, flat, rsi)


def _macd(values: FloatArray, spec: Macd) -> FloatArray:
    line = _ema(values, spec.fast) - _ema(values, spec.slow)
    if spec.output == "macd":
        return line
    signal = _after(line, spec.slow - 1, lambda v: _ema(v, spec.signal))
    return signal if spec.output == "signal" else line - signal


def _bollinger(values: FloatArray, spec: Bollinger) -> FloatArray:
    period = spec.period
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] < period:
        return out
    windows = _rolling_window(values, period)
    middle = windows.mean(axis=1)
    if spec.output == "middle":
        out[period - 1 :] = middle
        return out
    # Two-pass population variance, summed over the window oldest first:
    # exact to the bit with a running loop over the window's values.
    squares = np.zeros(middle.shape[0])
    for j in range(period):
        diff = windows[:, j] - middle
        squares += diff * diff
    std = np.sqrt(squares / period)
    upper = middle + spec.k * std
    lower = middle - spec.k * std
    if spec.output == "upper":
        line = upper
    elif spec.output == "lower":
        line = lower
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            line = np.where(middle == 0, np.nan, (upper - lower) / middle)
    out[period - 1 :] = line
    return out


def _stochastic(series: Mapping[str, FloatArray], spec: Stochastic) -> FloatArray:
    highest = _extreme(series["high"], spec.k_period, 0, highest=True)
    lowest = _extreme(series["low"], spec.k_period, 0, highest=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = 100.0 * (series["close"] - lowest) / (highest - lowest)
    raw = np.where(highest == lowest, 50.0, raw)
    k = _after(raw, spec.k_period - 1, lambda v: _sma(v, spec.k_smooth))
    if spec.output == "k":
        return k
    return _after(k, spec.k_period + spec.k_smooth - 2, lambda v: _sma(v, spec.d_period))


def _adx(series: Mapping[str, FloatArray], spec: Adx) -> FloatArray:
    high, low = series["high"], series["low"]
    n = high.shape[0]
    plus_dm = np.full(n, np.nan)
    minus_dm = np.full(n, np.nan)
    if n > 1:
        up = high[1:] - high[:-1]
        down = low[:-1] - low[1:]
        plus_dm[1:] = np.where((up > down) & (up > 0), up, 0.0)
        minus_dm[1:] = np.where((down > up) & (down > 0), down, 0.0)
    atr = _wilder(true_range(high, low, series["close"]), spec.period)
    with np.errstate(divide="ignore", invalid="ignore"):
        plus_di = np.where(atr == 0, 0.0, 100.0 * _wilder(plus_dm, spec.period) / atr)
        minus_di = np.where(atr == 0, 0.0, 100.0 * _wilder(minus_dm, spec.period) / atr)
        if spec.output == "plus_di":
            return plus_di
        if spec.output == "minus_di":
            return minus_di
        total = plus_di + minus_di
        dx = np.where(total == 0, 0.0, 100.0 * np.abs(plus_di - minus_di) / total)
    return _wilder(dx, spec.period, start=spec.period)


def _vwap(series: Mapping[str, FloatArray], spec: Vwap) -> FloatArray:
    if "ts" not in series:
        raise KeyError(
            f"{spec!r} needs the 'ts' column (bar open time, UTC ms, as float64); "
            f"the columns given are {sorted(series)}"
        )
    # Timestamps in ms are far below 2**53, so they round-trip through float64 exactly.
    sessions = (series["ts"].astype(np.int64) - spec.offset_ms) // spec.session_ms
    typical = (series["high"] + series["low"] + series["close"]) / 3.0
    volume = series["volume"]
    weighted = typical * volume
    starts = np.flatnonzero(sessions[1:] != sessions[:-1]) + 1
    summed_pv = _session_sums(weighted, starts)
    summed_v = _session_sums(volume, starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(summed_v == 0, typical, summed_pv / summed_v)


def _session_sums(values: FloatArray, starts: npt.NDArray[np.intp]) -> FloatArray:
    """Running sums of ``values`` that restart from 0 at each index in ``starts``.

    Added in bar order from each session's first bar, as a running sum does, so
    the incremental path agrees to the bit (a cumsum minus its value at the
    session start would not).
    """
    n = values.shape[0]
    if starts.shape[0] * 16 > n:
        # Many short sessions: one pass in Python beats a numpy call per session.
        out: list[float] = []
        append = out.append
        restart = set(starts.tolist())
        total = 0.0
        for i, x in enumerate(values.tolist()):
            total = x if i in restart else total + x
            append(total)
        return np.array(out, dtype=np.float64)
    summed = np.empty(n)
    bounds = [0, *starts.tolist(), n]
    for a, b in itertools.pairwise(bounds):
        np.cumsum(values[a:b], out=summed[a:b])
    return summed


def _custom(spec: CustomIndicator, series: Mapping[str, FloatArray]) -> FloatArray:
    n = _length(series)
    values = spec.compute(series)
    if not isinstance(values, np.ndarray):
        raise TypeError(
            f"custom indicator {spec!r}: compute returned {type(values).__name__}; "
            f"expected a float64 numpy array of shape ({n},)"
        )
    if values.dtype != np.float64 or values.shape != (n,):
        raise ValueError(
            f"custom indicator {spec!r}: compute returned {values.dtype} of shape "
            f"{values.shape}; expected float64 of shape ({n},)"
        )
    return values


def _length(series: Mapping[str, FloatArray]) -> int:
    column = series["close"] if "close" in series else next(iter(series.values()), None)
    return 0 if column is None else int(column.shape[0])


def compute(spec: IndicatorSpec, series: Mapping[str, FloatArray]) -> FloatArray:
    """Compute ``spec`` over whole columns (``ts``, ``open``, ``high``, ``low``, ``close``, ...).

    Returns an array as long as the input, ``nan`` where there is not yet enough
    history. ``ts`` (bar open time, UTC ms, as float64) is read by :class:`Vwap`
    only; the others read ``open``, ``high``, ``low``, ``close`` and ``volume``.
    A :class:`CustomIndicator` computes itself; its result is checked to be a
    float64 array of the right length (``TypeError``/``ValueError`` naming the
    spec otherwise).
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
    if isinstance(spec, Rsi):
        return _rsi(series[spec.source], spec.period)
    if isinstance(spec, Macd):
        return _macd(series[spec.source], spec)
    if isinstance(spec, Bollinger):
        return _bollinger(series[spec.source], spec)
    if isinstance(spec, Stochastic):
        return _stochastic(series, spec)
    if isinstance(spec, Adx):
        return _adx(series, spec)
    if isinstance(spec, Vwap):
        return _vwap(series, spec)
    if isinstance(spec, CustomIndicator):
        return _custom(spec, series)
    raise TypeError(f"unknown indicator spec {spec!r}")
