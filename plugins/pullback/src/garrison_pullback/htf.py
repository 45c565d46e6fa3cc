"""Higher-timeframe support and resistance.

HTF bars come either from the base candles (``HtfBuilder`` folds them into
UTC-aligned buckets: a 4h bar is 00:00–04:00, 04:00–08:00, ...) or from a
second timeframe of the feed. ``htf_levels`` finds the pivot highs and lows
among those bars and answers what a signal must respect: the nearest HTF
resistance above a price and the nearest support below it.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import attrs

from garrison_pullback.pivots import structure_of

#: An HTF bar as the levels need it: (open time ms, high, low, close).
HtfBar = tuple[int, float, float, float]


class HtfBuilder:
    """Folds base candles into HTF bars and keeps the last ``keep`` closed ones.

    A bucket closes with the base bar whose close reaches the bucket's end,
    or, when that bar is missing, at the first bar of a later bucket.
    """

    __slots__ = ("_bars", "_bucket", "_close", "_high", "_low", "_ms")

    def __init__(self, htf_ms: int, keep: int) -> None:
        self._ms = htf_ms
        self._bars: deque[HtfBar] = deque(maxlen=keep)
        self._bucket = -1
        self._high = 0.0
        self._low = 0.0
        self._close = 0.0

    @property
    def bars(self) -> Sequence[HtfBar]:
        """The closed HTF bars, oldest first."""
        return tuple(self._bars)

    def push(self, ts: int, close_ts: int, high: float, low: float, close: float) -> None:
        """Take a base bar opening at ``ts`` and closing at ``close_ts``."""
        bucket = ts // self._ms
        if bucket != self._bucket:
            if self._bucket >= 0:
                self._close_bucket()
            self._bucket, self._high, self._low = bucket, high, low
        else:
            self._high = max(self._high, high)
            self._low = min(self._low, low)
        self._close = close
        if close_ts >= (bucket + 1) * self._ms:
            self._close_bucket()

    def _close_bucket(self) -> None:
        if self._bucket < 0:
            return
        self._bars.append((self._bucket * self._ms, self._high, self._low, self._close))
        self._bucket = -1

    def dump(self) -> dict[str, object]:
        """JSON-friendly state (for the strategy's storage)."""
        return {
            "bars": [list(bar) for bar in self._bars],
            "open": [self._bucket, self._high, self._low, self._close],
        }

    def load(self, data: dict[str, object]) -> None:
        """Restore what ``dump`` gave."""
        bars = data.get("bars", [])
        if not isinstance(bars, list):
            raise ValueError(f"HTF bars must be a list, got {bars!r}")
        self._bars.clear()
        for ts, high, low, close in bars:
            self._bars.append((int(ts), float(high), float(low), float(close)))
        current = data.get("open", [-1, 0.0, 0.0, 0.0])
        if not isinstance(current, list) or len(current) != 4:
            raise ValueError(
                f"the open HTF bar must be [bucket, high, low, close], got {current!r}"
            )
        self._bucket = int(current[0])
        self._high, self._low, self._close = (float(x) for x in current[1:4])


@attrs.frozen
class HtfView:
    """What the HTF says about one price. Levels are ``nan`` where there is none."""

    resistance: float
    support: float
    resistance_strength: float
    support_strength: float
    structure: float
    range_position: float


def _pivots(values: Sequence[float], left: int, right: int, highest: bool) -> list[float]:
    found = []
    for i in range(left, len(values) - right):
        window = values[i - left : i + right + 1]
        best = max(window) if highest else min(window)
        if values[i] == best:
            found.append(values[i])
    return found


def _strength(level: float, pivots: Sequence[float], zone_pct: float) -> float:
    """HTF pivots (highs and lows) within the zone around ``level``, at most 10."""
    if math.isnan(level):
        return 0.0
    lo, hi = level * (1 - zone_pct), level * (1 + zone_pct)
    return float(min(10, sum(1 for p in pivots if lo <= p <= hi)))


def htf_levels(
    bars: Sequence[HtfBar], price: float, left: int, right: int, zone_pct: float
) -> HtfView:
    """Nearest HTF pivot high above ``price`` and pivot low below it, with their strength."""
    highs = _pivots([b[1] for b in bars], left, right, highest=True)
    lows = _pivots([b[2] for b in bars], left, right, highest=False)
    above = [p for p in highs if p > price]
    below = [p for p in lows if p < price]
    resistance = min(above) if above else math.nan
    support = max(below) if below else math.nan
    every = highs + lows
    recent = bars[-20:]
    if recent:
        top = max(b[1] for b in recent)
        bottom = min(b[2] for b in recent)
        position = (price - bottom) / (top - bottom) if top > bottom else 0.5
    else:
        position = 0.5
    return HtfView(
        resistance=resistance,
        support=support,
        resistance_strength=_strength(resistance, every, zone_pct),
        support_strength=_strength(support, every, zone_pct),
        structure=structure_of(highs[-2:], lows[-2:]),
        range_position=position,
    )
