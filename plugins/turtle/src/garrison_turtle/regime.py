"""Market regime as an indicator: bull / bear trend, range or unknown, per bar.

The reference's detector, bar by bar: a **bull** trend once ADX has been above
``trend_adx`` and the fast EMA above the slow one on each of the last
``trend_bars`` bars; a **bear** trend likewise with the fast EMA below; a
**range** once ADX has been below ``range_adx`` on each of the last
``range_bars`` bars. When none of these is confirmed the regime stays what it
was: it is **unknown** until the first confirmation. A bar whose ADX or EMAs
are not warm confirms nothing.

The regime remembers the past, so it is an indicator rather than state kept by
the strategy: the host computes it over a whole series in a replay
(:meth:`RegimeIndicator.compute`) and bar by bar live
(:meth:`RegimeIndicator.updater`), both from the same candles, and
``check_indicator_parity`` holds the two to the bit. Its value is the
:class:`~garrison_turtle.rules.Regime` code as a float.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np
import numpy.typing as npt
from garrison_api import Adx, Candle, Ema, IndicatorUpdater
from garrison_api.indicators import FloatArray, compute

from garrison_turtle.rules import Regime, VolatilityRegime

_NAN = float("nan")


@attrs.frozen
class RegimeIndicator:
    """The regime code (:class:`Regime`) per bar, from ADX and two EMAs of the close."""

    adx_period: int = 14
    ema_fast: int = 20
    ema_slow: int = 50
    trend_adx: float = 25.0
    trend_bars: int = 3
    range_adx: float = 20.0
    range_bars: int = 5

    @property
    def warmup(self) -> int:
        """Index of the first value: ADX's first bar (the regime is unknown there at least)."""
        return 2 * self.adx_period - 1

    def compute(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        """The regime code of every bar (``nan`` before :attr:`warmup`)."""
        adx = compute(Adx(self.adx_period), columns)
        fast = compute(Ema("close", self.ema_fast), columns)
        slow = compute(Ema("close", self.ema_slow), columns)
        # What _RegimeMachine does bar by bar, over the whole series at once: the bars
        # that confirm a regime, then each bar takes the last confirmation up to it.
        strong = _run_lengths(adx > self.trend_adx) >= self.trend_bars
        bull = strong & (_run_lengths(fast > slow) >= self.trend_bars)
        bear = strong & (_run_lengths(fast < slow) >= self.trend_bars) & ~bull
        ranging = (_run_lengths(adx < self.range_adx) >= self.range_bars) & ~bull & ~bear
        confirmed = np.select(
            [bull, bear, ranging],
            [float(Regime.BULL), float(Regime.BEAR), float(Regime.RANGE)],
            default=np.nan,
        )
        n = confirmed.shape[0]
        last = np.maximum.accumulate(np.where(np.isnan(confirmed), -1, np.arange(n)))
        out = np.where(last >= 0, confirmed[np.maximum(last, 0)], float(Regime.UNKNOWN))
        out[: self.warmup] = np.nan
        return out.astype(np.float64)

    def updater(self) -> IndicatorUpdater:
        """A fresh bar-by-bar state giving the same codes as :meth:`compute`."""
        return _RegimeUpdater(self)


def _run_lengths(flags: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Per bar, how many bars in a row up to and including it have the flag set."""
    n = flags.shape[0]
    index = np.arange(n)
    last_unset = np.maximum.accumulate(np.where(flags, -1, index))
    return index - last_unset


class _RegimeMachine:
    """Runs of the confirming conditions, and the regime they last confirmed."""

    def __init__(self, spec: RegimeIndicator) -> None:
        self._spec = spec
        self._strong = 0  # bars in a row with ADX above trend_adx
        self._weak = 0  # bars in a row with ADX below range_adx
        self._up = 0  # bars in a row with the fast EMA above the slow one
        self._down = 0  # ... below
        self._regime = float(Regime.UNKNOWN)

    def step(self, adx: float, fast: float, slow: float) -> float:
        spec = self._spec
        self._strong = self._strong + 1 if adx > spec.trend_adx else 0
        self._weak = self._weak + 1 if adx < spec.range_adx else 0
        self._up = self._up + 1 if fast > slow else 0
        self._down = self._down + 1 if fast < slow else 0
        if self._strong >= spec.trend_bars and self._up >= spec.trend_bars:
            self._regime = float(Regime.BULL)
        elif self._strong >= spec.trend_bars and self._down >= spec.trend_bars:
            self._regime = float(Regime.BEAR)
        elif self._weak >= spec.range_bars:
            self._regime = float(Regime.RANGE)
        return self._regime


class _Wilder:
    """A Wilder average from its first value on, as ``garrison_api.indicators`` computes it."""

    def __init__(self, period: int) -> None:
        self._period = period
        self._seed: list[float] = []
        self._keep = float(period - 1)
        self._divisor = float(period)
        self.value = _NAN

    def update(self, x: float) -> float:
        if len(self._seed) < self._period:
            self._seed.append(x)
            if len(self._seed) == self._period:
                self.value = float(np.mean(np.array(self._seed, dtype=np.float64)))
            return self.value
        self.value = (self._keep * self.value + x) / self._divisor
        return self.value


class _Ema:
    """An EMA seeded with the mean of its first ``period`` values, as ``Ema`` computes it."""

    def __init__(self, period: int) -> None:
        self._period = period
        self._seed: list[float] = []
        self._alpha = 2.0 / (period + 1)
        self._rest = 1.0 - self._alpha
        self.value = _NAN

    def update(self, x: float) -> float:
        if len(self._seed) < self._period:
            self._seed.append(x)
            if len(self._seed) == self._period:
                self.value = float(np.mean(np.array(self._seed, dtype=np.float64)))
            return self.value
        self.value = self._alpha * x + self._rest * self.value
        return self.value


class _Adx:
    """ADX bar by bar with the arithmetic of ``garrison_api.indicators.Adx``."""

    def __init__(self, period: int) -> None:
        self._tr = _Wilder(period)
        self._plus = _Wilder(period)
        self._minus = _Wilder(period)
        self._dx = _Wilder(period)
        self._previous: Candle | None = None

    def update(self, candle: Candle) -> float:
        previous, self._previous = self._previous, candle
        if previous is None:
            return _NAN
        up = candle.high - previous.high
        down = previous.low - candle.low
        plus_dm = up if up > down and up > 0 else 0.0
        minus_dm = down if down > up and down > 0 else 0.0
        h, lo, c = candle.high, candle.low, previous.close
        tr = max(h - lo, max(abs(h - c), abs(lo - c)))
        atr = self._tr.update(tr)
        plus = self._plus.update(plus_dm)
        minus = self._minus.update(minus_dm)
        if atr != atr:  # nan: not warm
            return _NAN
        plus_di = 0.0 if atr == 0 else 100.0 * plus / atr
        minus_di = 0.0 if atr == 0 else 100.0 * minus / atr
        total = plus_di + minus_di
        dx = 0.0 if total == 0 else 100.0 * abs(plus_di - minus_di) / total
        return self._dx.update(dx)


class _RegimeUpdater:
    def __init__(self, spec: RegimeIndicator) -> None:
        self._warmup = spec.warmup
        self._bars = 0
        self._adx = _Adx(spec.adx_period)
        self._fast = _Ema(spec.ema_fast)
        self._slow = _Ema(spec.ema_slow)
        self._machine = _RegimeMachine(spec)

    def update(self, candle: Candle) -> float:
        adx = self._adx.update(candle)
        code = self._machine.step(
            adx, self._fast.update(candle.close), self._slow.update(candle.close)
        )
        self._bars += 1
        return code if self._bars > self._warmup else _NAN


def volatility_regime(atr_pct: float, low_pct: float, high_pct: float) -> VolatilityRegime:
    """LOW below ``low_pct`` % ATR of the close, HIGH above ``high_pct`` %, else NORMAL."""
    if atr_pct > high_pct:
        return VolatilityRegime.HIGH
    if atr_pct < low_pct:
        return VolatilityRegime.LOW
    return VolatilityRegime.NORMAL
