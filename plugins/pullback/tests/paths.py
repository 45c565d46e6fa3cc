"""Hand-built price paths for the state-machine tests.

A quiet filler (a triangle wave of ±0.2 around 100 on 15-minute bars, which
never closes beyond a pivot zone), then scenario bars written out one by
one as (open, high, low, close). ``mirror`` turns a long path into its short
twin (prices reflected around 100).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from garrison_api import Atr, Candle
from garrison_api.indicators import compute

BAR_MS = 900_000
TIMEFRAME = "15m"
SYMBOL = "TESTUSDT"
FILLER_BARS = 120
_WAVE = (-1.0, -0.5, 0.0, 0.5, 1.0, 0.5, 0.0, -0.5)

Ohlc = tuple[float, float, float, float]


def filler(count: int = FILLER_BARS, spike_at: int | None = None) -> list[Ohlc]:
    """``count`` quiet bars ending on a trough; ``spike_at`` puts a 103 high on that bar."""
    bars: list[Ohlc] = []
    previous = 100.0 + 0.2 * _WAVE[(1 - count) % len(_WAVE)]
    for i in range(count):
        close = 100.0 + 0.2 * _WAVE[(i + 1 - count) % len(_WAVE)]
        high = max(previous, close) + 0.05
        low = min(previous, close) - 0.05
        if i == spike_at:
            high = 103.0
        bars.append((previous, high, low, close))
        previous = close
    return bars


def candles(bars: Sequence[Ohlc], symbol: str = SYMBOL) -> list[Candle]:
    """Candles from (open, high, low, close) rows, 15 minutes apart from ts 0, volume 1..."""
    return [
        Candle(symbol, TIMEFRAME, i * BAR_MS, o, h, lo, c, 1.0 + (i % 7))
        for i, (o, h, lo, c) in enumerate(bars)
    ]


def mirror(bars: Sequence[Ohlc]) -> list[Ohlc]:
    """The same path upside down around 100: highs become lows, a rise a fall."""
    return [(200.0 - o, 200.0 - lo, 200.0 - h, 200.0 - c) for (o, h, lo, c) in bars]


def atr_and_percentile(
    path: Sequence[Candle], at: int, period: int = 14, window: int = 100
) -> tuple[float, float]:
    """Wilder ATR at bar ``at`` (garrison-api's own Atr) and its percentile, computed plainly."""
    columns = {
        name: np.array([float(getattr(c, name)) for c in path])
        for name in ("open", "high", "low", "close", "volume")
    }
    atr = compute(Atr(period), columns)
    history = [v for v in atr[max(period, at - window + 1) : at + 1]]
    below = sum(1 for v in history if v < atr[at])
    return float(atr[at]), 100.0 * below / len(history)


# The long scenario after the filler (indices are offsets from its end).
# Every close stays within the filler's resistance zone (100.25 * 1.003) until the 101
# pivot high is confirmed at s3; from then on 101 is the level.
RISE_TO_RESISTANCE: list[Ohlc] = [
    (99.8, 100.45, 99.75, 100.4),
    (100.4, 101.0, 100.35, 100.5),  # s1: pivot high 101, confirmed at s3
    (100.5, 100.6, 100.4, 100.45),
    (100.45, 100.55, 100.4, 100.5),
    (100.5, 100.7, 100.45, 100.6),
]
BREAKOUT: Ohlc = (100.6, 101.6, 100.55, 101.5)  # s5: closes above 101 * 1.003
RUN_UP: Ohlc = (101.5, 102.0, 101.4, 101.9)  # s6: low stays above the zone
PULLBACK: Ohlc = (101.9, 101.95, 101.2, 101.4)  # s7: low into the zone, close above 101
CONFIRM_1: Ohlc = (101.4, 101.75, 101.3, 101.7)  # s8: bullish
CONFIRM_2: Ohlc = (101.7, 102.15, 101.65, 102.1)  # s9: bullish, the signal bar
CLOSE_BELOW: Ohlc = (101.4, 101.5, 100.8, 100.9)  # closes back under the level

LONG_SIGNAL_PATH = [*RISE_TO_RESISTANCE, BREAKOUT, RUN_UP, PULLBACK, CONFIRM_1, CONFIRM_2]

# Regime change: after the pullback a wick makes a lower low (99.0) and a lower high (101.9)
# follows, both confirmed while every close stays above the level and no candle is bullish.
REGIME_CHANGE_PATH = [
    *RISE_TO_RESISTANCE,
    BREAKOUT,
    RUN_UP,
    (101.9, 101.85, 101.2, 101.4),  # s7: pullback into the zone
    (101.4, 101.5, 99.0, 101.3),  # s8: a wick to 99.0, close above 101
    (101.5, 101.9, 101.3, 101.4),  # s9: the lower high
    (101.4, 101.5, 101.2, 101.3),  # s10: confirms the 99.0 pivot low
    (101.3, 101.4, 101.1, 101.2),  # s11: confirms the 101.9 pivot high: downtrend
]
