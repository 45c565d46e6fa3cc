"""Pivot indicators: S/R levels, market structure, and the ATR percentile.

Each is a garrison-api custom indicator: a frozen attrs spec with a vectorised
``compute`` (replays) and an ``updater`` giving the same values bar by bar
(live). A pivot high at bar ``i`` is a high that no bar of
``i - left .. i + right`` exceeds (ties count, as a centred rolling maximum
does); it is known only at the close of bar ``i + right``, which is where it
is *confirmed*. Prices are positive, so ``0.0`` means "no level".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt
from garrison_api import Atr, Candle, Highest, IndicatorUpdater, Lowest
from garrison_api.indicators import compute

FloatArray = npt.NDArray[np.float64]
Kind = Literal["high", "low"]


def _kind(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    if value not in ("high", "low"):
        raise ValueError(f"{attr.name} must be 'high' or 'low', got {value!r}")


def _positive(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attr.name} must be a whole number >= 1, got {value!r}")


def _confirmations(
    columns: Mapping[str, FloatArray], kind: Kind, left: int, right: int
) -> FloatArray:
    """Per bar t: the value of the pivot at t - right confirmed at t's close, else nan."""
    values = columns[kind]
    window = left + right + 1
    spec = Highest(kind, window) if kind == "high" else Lowest(kind, window)
    extreme = compute(spec, columns)
    out = np.full(values.shape[0], np.nan)
    if values.shape[0] > left + right:
        centre = values[left : values.shape[0] - right]
        hit = centre == extreme[left + right :]
        out[left + right :] = np.where(hit, centre, np.nan)
    return out


class _PivotWindow:
    """The last ``left + right + 1`` values; says when the centre one is a pivot."""

    __slots__ = ("_kind", "_right", "_values", "_width")

    def __init__(self, kind: Kind, left: int, right: int) -> None:
        self._kind = kind
        self._right = right
        self._width = left + right + 1
        self._values: deque[float] = deque(maxlen=self._width)

    def push(self, candle: Candle) -> float | None:
        """Take a bar; the pivot confirmed at its close, or None."""
        values = self._values
        values.append(candle.high if self._kind == "high" else candle.low)
        if len(values) < self._width:
            return None
        centre = values[self._width - 1 - self._right]
        best = max(values) if self._kind == "high" else min(values)
        return centre if centre == best else None


@attrs.frozen
class PivotLevel:
    """The latest confirmed pivot ``kind`` whose bar is among the last ``lookback`` bars.

    ``0.0`` when there is none; ``nan`` before bar ``left + right``, the first
    bar that can confirm a pivot.
    """

    kind: Kind = attrs.field(validator=_kind)
    left: int = attrs.field(validator=_positive)
    right: int = attrs.field(validator=_positive)
    lookback: int = attrs.field(validator=_positive)

    @property
    def warmup(self) -> int:
        return self.left + self.right

    def compute(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        confirmed = _confirmations(columns, self.kind, self.left, self.right)
        n = confirmed.shape[0]
        index = np.arange(n)
        hits = np.where(np.isnan(confirmed), -1, index)
        last = np.maximum.accumulate(hits) if n else hits
        # The pivot's own bar is ``right`` bars before its confirmation.
        fresh = (last >= 0) & (last - self.right >= index - self.lookback + 1)
        values = confirmed[np.where(last >= 0, last, 0)] if n else confirmed
        out = np.where(fresh, values, 0.0)
        out[: min(n, self.warmup)] = np.nan
        return out.astype(np.float64)

    def updater(self) -> IndicatorUpdater:
        return _PivotLevelState(self)


class _PivotLevelState:
    __slots__ = ("_bar", "_level", "_level_bar", "_spec", "_window")

    def __init__(self, spec: PivotLevel) -> None:
        self._spec = spec
        self._window = _PivotWindow(spec.kind, spec.left, spec.right)
        self._bar = -1
        self._level = 0.0
        self._level_bar = -1

    def update(self, candle: Candle) -> float:
        self._bar += 1
        pivot = self._window.push(candle)
        if pivot is not None:
            self._level = pivot
            self._level_bar = self._bar - self._spec.right
        if self._bar < self._spec.warmup:
            return float("nan")
        if self._level_bar < 0 or self._level_bar < self._bar - self._spec.lookback + 1:
            return 0.0
        return self._level


def _direction(confirmed: FloatArray) -> FloatArray:
    """Per bar: sign of (latest − previous) confirmed pivot, 0 until there are two."""
    n = confirmed.shape[0]
    where = np.flatnonzero(~np.isnan(confirmed))
    steps = np.zeros(where.shape[0])
    if where.shape[0] > 1:
        values = confirmed[where]
        steps[1:] = np.sign(values[1:] - values[:-1])
    count = np.cumsum(~np.isnan(confirmed)) if n else np.zeros(0, dtype=np.int64)
    out = np.zeros(n)
    seen = count > 0
    out[seen] = steps[count[seen] - 1]
    return out


@attrs.frozen
class MarketStructure:
    """+1 uptrend (higher high and higher low), -1 downtrend (lower high, lower low), else 0.

    Compares the last two confirmed pivot highs and the last two confirmed
    pivot lows; 0 (ranging) until two of each exist. ``nan`` before bar
    ``left + right``.
    """

    left: int = attrs.field(validator=_positive)
    right: int = attrs.field(validator=_positive)

    @property
    def warmup(self) -> int:
        return self.left + self.right

    def compute(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        highs = _direction(_confirmations(columns, "high", self.left, self.right))
        lows = _direction(_confirmations(columns, "low", self.left, self.right))
        out = np.where((highs > 0) & (lows > 0), 1.0, np.where((highs < 0) & (lows < 0), -1.0, 0.0))
        out[: min(out.shape[0], self.warmup)] = np.nan
        return out.astype(np.float64)

    def updater(self) -> IndicatorUpdater:
        return _StructureState(self)


class _StructureState:
    __slots__ = ("_bar", "_high", "_highs", "_low", "_lows", "_warmup")

    def __init__(self, spec: MarketStructure) -> None:
        self._warmup = spec.warmup
        self._highs = _PivotWindow("high", spec.left, spec.right)
        self._lows = _PivotWindow("low", spec.left, spec.right)
        self._high: list[float] = []
        self._low: list[float] = []
        self._bar = -1

    def update(self, candle: Candle) -> float:
        self._bar += 1
        pivot_high = self._highs.push(candle)
        if pivot_high is not None:
            self._high = [*self._high[-1:], pivot_high]
        pivot_low = self._lows.push(candle)
        if pivot_low is not None:
            self._low = [*self._low[-1:], pivot_low]
        if self._bar < self._warmup:
            return float("nan")
        return structure_of(self._high, self._low)


def structure_of(highs: list[float], lows: list[float]) -> float:
    """+1, -1 or 0 from the last two pivot highs and lows (oldest first)."""
    if len(highs) < 2 or len(lows) < 2:
        return 0.0
    if highs[-1] > highs[-2] and lows[-1] > lows[-2]:
        return 1.0
    if highs[-1] < highs[-2] and lows[-1] < lows[-2]:
        return -1.0
    return 0.0


@attrs.frozen
class AtrPercentile:
    """Percent of the last ``window`` ATR values (this bar's included) below this bar's ATR.

    ATR is garrison-api's Wilder ``Atr(period)``; fewer values are used while
    fewer than ``window`` exist. ``nan`` before bar ``period``.
    """

    period: int = attrs.field(validator=_positive)
    window: int = attrs.field(validator=_positive)

    @property
    def warmup(self) -> int:
        return self.period

    def compute(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        atr = compute(Atr(self.period), columns)
        n = atr.shape[0]
        out = np.full(n, np.nan)
        start = self.period
        if n <= start:
            return out
        valid = atr[start:]
        full = self.window
        head = min(full - 1, valid.shape[0])
        for i in range(head):
            seen = valid[: i + 1]
            out[start + i] = 100.0 * float(np.count_nonzero(seen < valid[i])) / (i + 1)
        if valid.shape[0] >= full:
            windows = np.lib.stride_tricks.sliding_window_view(valid, full)
            below = np.count_nonzero(windows < valid[full - 1 :, None], axis=1)
            out[start + full - 1 :] = 100.0 * below / full
        return out

    def updater(self) -> IndicatorUpdater:
        return _AtrPercentileState(self)


class _AtrPercentileState:
    """Wilder ATR bar by bar, computed as garrison-api's vectorised Atr does it."""

    __slots__ = ("_atr", "_first", "_history", "_keep", "_period", "_prev_close")

    def __init__(self, spec: AtrPercentile) -> None:
        self._period = spec.period
        self._keep = float(spec.period - 1)
        self._prev_close: float | None = None
        self._first: list[float] = []
        self._atr: float | None = None
        self._history: deque[float] = deque(maxlen=spec.window)

    def update(self, candle: Candle) -> float:
        prev, self._prev_close = self._prev_close, candle.close
        if prev is None:
            return float("nan")
        h, lo = candle.high, candle.low
        tr = max(h - lo, max(abs(h - prev), abs(lo - prev)))
        if self._atr is None:
            self._first.append(tr)
            if len(self._first) < self._period:
                return float("nan")
            self._atr = float(np.mean(np.array(self._first)))
        else:
            self._atr = (self._keep * self._atr + tr) / float(self._period)
        atr = self._atr
        self._history.append(atr)
        below = sum(1 for value in self._history if value < atr)
        return 100.0 * below / len(self._history)
