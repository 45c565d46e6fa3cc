"""The scalper's own indicators: the higher-timeframe trend and the opening range.

Both are ``garrison_api.CustomIndicator`` values: a vectorised ``compute`` for
replays and an ``updater()`` that gives the same numbers bar by bar live.

:class:`BucketEma` reads the 15-minute trend off the decision series itself
(closes of the bars that end a 15-minute bucket), so the strategy needs no
second candle feed and runs on 1-minute or 3-minute data alike; its values
equal an EMA over the closed 15-minute candles' closes, as of the last closed
one. :class:`OpeningRange` is the high or low of the first minutes of each
VWAP session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import attrs
import numpy as np
import numpy.typing as npt
from garrison_api import Candle, IndicatorUpdater

from garrison_scalp.params import timeframe_ms

FloatArray = npt.NDArray[np.float64]

_NAN = float("nan")


def _bar_ms_of(ts: FloatArray) -> int | None:
    """The series' bar length: the shortest step between two bars (None with fewer than 2)."""
    if ts.shape[0] < 2:
        return None
    return int(np.diff(ts).min())


@attrs.frozen
class BucketEma:
    """EMA(``period``) of the closes of the closed ``bucket_ms`` candles built from a finer series.

    A bar ends a bucket when its close time (open + bar length) is a multiple
    of ``bucket_ms`` (UTC epoch ms); its close is that bucket's close. The
    EMA is seeded with the mean of the first ``period`` bucket closes, then
    ``α·close + (1 − α)·ema`` with ``α = 2/(period + 1)``, and holds its value
    between bucket closes. The bar length comes from the candles' timeframe
    (incremental) or the shortest step between bars (vectorised).

    Values before bar ``warmup`` are ``nan`` on every series, so the first
    value sits at a fixed bar whatever the series' start and bar length (down
    to ``min_bar_ms``): by then ``period`` buckets have closed in any case.
    """

    bucket_ms: int
    period: int
    min_bar_ms: int = 60_000

    def __attrs_post_init__(self) -> None:
        if self.period < 2:
            raise ValueError(f"BucketEma period must be at least 2, got {self.period}")
        if self.min_bar_ms < 1 or self.bucket_ms < self.min_bar_ms:
            raise ValueError(
                f"BucketEma needs 1 <= min_bar_ms <= bucket_ms, got {self.min_bar_ms} "
                f"and {self.bucket_ms}"
            )

    @property
    def warmup(self) -> int:
        """Bars of the finest series (``min_bar_ms``) that ``period`` whole buckets span, less 1."""
        per_bucket = -(-self.bucket_ms // self.min_bar_ms)
        return per_bucket * self.period - 1

    def compute(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        ts = columns["ts"]
        close = columns["close"]
        n = close.shape[0]
        out = np.full(n, np.nan)
        bar_ms = _bar_ms_of(ts)
        if bar_ms is None or n <= self.warmup:
            return out
        ends = (ts.astype(np.int64) + bar_ms) % self.bucket_ms == 0
        state = _EmaState(self.period)
        values: list[float] = []
        append = values.append
        for is_end, price in zip(ends.tolist(), close.tolist(), strict=True):
            append(state.push(price) if is_end else state.value)
        out[:] = values
        out[: self.warmup] = np.nan
        return out

    def updater(self) -> IndicatorUpdater:
        return _BucketEmaUpdater(self)


class _EmaState:
    """An EMA seeded with the mean of its first ``period`` inputs (as ``garrison_api.Ema``)."""

    def __init__(self, period: int) -> None:
        self._period = period
        self._alpha = 2.0 / (period + 1)
        self._rest = 1.0 - self._alpha
        self._seed: list[float] = []
        self.value = _NAN

    def push(self, x: float) -> float:
        if len(self._seed) < self._period:
            self._seed.append(x)
            if len(self._seed) == self._period:
                self.value = float(np.mean(np.array(self._seed)))
            return self.value
        self.value = self._alpha * x + self._rest * self.value
        return self.value


class _BucketEmaUpdater:
    def __init__(self, spec: BucketEma) -> None:
        self._spec = spec
        self._state = _EmaState(spec.period)
        self._bars = 0
        self._bar_ms: dict[str, int] = {}

    def update(self, candle: Candle) -> float:
        bar_ms = self._bar_ms.get(candle.timeframe)
        if bar_ms is None:
            bar_ms = self._bar_ms.setdefault(candle.timeframe, timeframe_ms(candle.timeframe))
        if (candle.ts + bar_ms) % self._spec.bucket_ms == 0:
            value = self._state.push(candle.close)
        else:
            value = self._state.value
        self._bars += 1
        return value if self._bars > self._spec.warmup else _NAN


@attrs.frozen
class OpeningRange:
    """High (or low) of the first ``range_ms`` of each session, once that stretch is over.

    Sessions are those of ``garrison_api.Vwap``: they start at
    ``offset_ms + k·session_ms`` and a bar belongs to the session its open
    time falls in. The range holds the bars opening in
    ``[start, start + range_ms)``; from the first bar opening at or after
    ``start + range_ms`` to the session's end the value is their highest high
    (``output="high"``) or lowest low (``"low"``). Elsewhere (while the range
    forms, or in a session whose first bar the series lacks) it is ``nan``,
    so the value has gaps by design and ``warmup`` is 0.
    """

    session_ms: int
    offset_ms: int
    range_ms: int
    output: Literal["high", "low"] = "high"

    def __attrs_post_init__(self) -> None:
        if not 0 < self.range_ms < self.session_ms:
            raise ValueError(
                f"OpeningRange needs 0 < range_ms < session_ms, got {self.range_ms} "
                f"and {self.session_ms}"
            )
        if not 0 <= self.offset_ms < self.session_ms:
            raise ValueError(
                f"OpeningRange offset_ms must be in [0, session_ms), got {self.offset_ms}"
            )
        if self.output not in ("high", "low"):
            raise ValueError(f"OpeningRange output must be 'high' or 'low', got {self.output!r}")

    @property
    def warmup(self) -> int:
        return 0

    def compute(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        ts = columns["ts"].astype(np.int64).tolist()
        prices = columns[self.output].tolist()
        state = _RangeState(self)
        out = [state.push(t, p) for t, p in zip(ts, prices, strict=True)]
        return np.array(out, dtype=np.float64)

    def updater(self) -> IndicatorUpdater:
        return _OpeningRangeUpdater(self)


class _RangeState:
    """The running opening range; a session counts only when its first bar is seen."""

    def __init__(self, spec: OpeningRange) -> None:
        self._spec = spec
        self._high = spec.output == "high"
        self._session: int | None = None
        self._whole = False
        self._extreme = _NAN

    def push(self, ts: int, price: float) -> float:
        spec = self._spec
        session, into = divmod(ts - spec.offset_ms, spec.session_ms)
        if session != self._session:
            # A session joined after its first bar has no whole range.
            self._session = session
            self._whole = into == 0
            self._extreme = _NAN
        if into < spec.range_ms:
            extreme = self._extreme
            if extreme != extreme or (price > extreme if self._high else price < extreme):
                self._extreme = price
            return _NAN
        return self._extreme if self._whole else _NAN


class _OpeningRangeUpdater:
    def __init__(self, spec: OpeningRange) -> None:
        self._state = _RangeState(spec)
        self._source = spec.output

    def update(self, candle: Candle) -> float:
        price = candle.high if self._source == "high" else candle.low
        return self._state.push(candle.ts, price)
