"""The 34 named features every pullback signal carries, in a stable order.

22 technical features of the signal bar and its setup, then 12 symbol and
multi-timeframe ones (the reference's "cluster / MTF" group, computed per
symbol: a strategy sees one symbol at a time). Every value is a finite
float; the README defines each one. ``FEATURE_NAMES`` is the contract with
scorers: names are only ever added at the end, never renamed or reordered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from garrison_api import Candle

from garrison_pullback.htf import HtfView

TECHNICAL = (
    "trend_strength",
    "higher_tf_alignment",
    "ema_distance_ratio",
    "volume_ratio",
    "volume_trend",
    "breakout_volume",
    "support_resistance_strength",
    "pullback_depth",
    "confirmation_candle_strength",
    "atr_percentile",
    "risk_reward_ratio",
    "atr_stop_distance",
    "hour_of_day",
    "day_of_week",
    "candle_body_ratio",
    "upper_wick_ratio",
    "lower_wick_ratio",
    "candle_range_atr",
    "volume_ma_ratio",
    "rsi",
    "bb_position",
    "volume_percentile",
)
SYMBOL_AND_MTF = (
    "volatility_pct",
    "volatility_tier",
    "price_tier",
    "market_structure",
    "setup_bars",
    "htf_structure",
    "near_major_resistance",
    "near_major_support",
    "mtf_level_strength",
    "htf_resistance_distance_pct",
    "htf_support_distance_pct",
    "htf_range_position",
)
#: Every feature name, in the order scorers read them.
FEATURE_NAMES: tuple[str, ...] = TECHNICAL + SYMBOL_AND_MTF

#: Bars of history the features read (volume percentile, zone touches).
HISTORY_BARS = 100
TOUCH_BARS = 75
SLOPE_BARS = 20
_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000


def _ratio(a: float, b: float, default: float) -> float:
    return a / b if b > 0.0 and math.isfinite(a) and math.isfinite(b) else default


def _tier(value: float, bounds: Sequence[float]) -> float:
    """1 + how many of ``bounds`` (ascending) ``value`` is at or above."""
    return float(1 + sum(1 for b in bounds if value >= b))


def zone_touches(candles: Sequence[Candle], level: float, zone_pct: float) -> int:
    """Bars among ``candles`` whose range reaches into the zone around ``level``."""
    lo, hi = level * (1 - zone_pct), level * (1 + zone_pct)
    return sum(1 for c in candles if c.low <= hi and c.high >= lo)


def build_features(
    *,
    candle: Candle,
    close_ts: int,
    direction: int,
    history: Sequence[Candle],
    values: Mapping[str, float],
    level: float,
    breakout_extreme: float,
    pullback_extreme: float,
    breakout_volume_ratio: float,
    setup_bars: int,
    confirmations: int,
    entry: float,
    stop: float,
    take_profit: float,
    htf: HtfView,
    zone_pct: float,
    near_pct: float,
) -> dict[str, float]:
    """The 34 features of a signal decided at the close of ``candle`` (the last of ``history``)."""
    o, h, lo, c, v = candle.open, candle.high, candle.low, candle.close, candle.volume
    atr = values["atr"]
    rng = h - lo
    closes = np.array([x.close for x in history[-SLOPE_BARS:]])
    if closes.shape[0] >= 2 and closes.mean() > 0:
        slope = float(np.polyfit(np.arange(closes.shape[0]), closes, 1)[0])
        trend_strength = slope / float(closes.mean()) * 100.0
    else:
        trend_strength = 0.0
    sma20, sma50 = values["sma20"], values["sma50"]
    if sma20 > sma50 and c > sma20:
        alignment = 100.0
    elif sma20 < sma50 and c < sma20:
        alignment = 0.0
    else:
        alignment = 50.0
    vol20, vol5 = values["volume_sma20"], values["volume_sma5"]
    volumes = [x.volume for x in history[-HISTORY_BARS:]]
    bb_upper, bb_lower = values["bb_upper"], values["bb_lower"]
    if direction > 0:
        span = breakout_extreme - level
        depth = (breakout_extreme - pullback_extreme) / span * 100.0 if span > 0 else 50.0
        body_dir = c - o
    else:
        span = level - breakout_extreme
        depth = (pullback_extreme - breakout_extreme) / span * 100.0 if span > 0 else 50.0
        body_dir = o - c
    risk = abs(entry - stop)
    reward = abs(take_profit - entry)
    atr_pct = atr / c * 100.0 if c > 0 else 0.0
    res, sup = htf.resistance, htf.support
    res_dist = (res - c) / c * 100.0 if not math.isnan(res) else -1.0
    sup_dist = (c - sup) / c * 100.0 if not math.isnan(sup) else -1.0
    near_pct_100 = near_pct * 100.0
    if math.isnan(res) and math.isnan(sup):
        strength = 0.0
    elif math.isnan(sup) or (not math.isnan(res) and res_dist <= sup_dist):
        strength = htf.resistance_strength
    else:
        strength = htf.support_strength
    features = {
        "trend_strength": trend_strength,
        "higher_tf_alignment": alignment,
        "ema_distance_ratio": _ratio(c - values["ema"], values["ema"], 0.0) * 100.0,
        "volume_ratio": _ratio(v, vol20, 1.0),
        "volume_trend": _ratio(vol5, vol20, 1.0),
        "breakout_volume": breakout_volume_ratio,
        "support_resistance_strength": float(
            min(5, zone_touches(history[-TOUCH_BARS:], level, zone_pct))
        ),
        "pullback_depth": depth,
        "confirmation_candle_strength": (
            body_dir / rng * 100.0 if confirmations > 0 and body_dir > 0 and rng > 0 else 0.0
        ),
        "atr_percentile": values["atr_percentile"],
        "risk_reward_ratio": _ratio(reward, risk, 0.0),
        "atr_stop_distance": _ratio(risk, atr, 0.0),
        "hour_of_day": float((close_ts % _DAY_MS) // _HOUR_MS),
        # 1970-01-01 was a Thursday: Monday is 0.
        "day_of_week": float((close_ts // _DAY_MS + 3) % 7),
        "candle_body_ratio": _ratio(abs(c - o), rng, 0.0) * 100.0,
        "upper_wick_ratio": _ratio(h - max(o, c), rng, 0.0) * 100.0,
        "lower_wick_ratio": _ratio(min(o, c) - lo, rng, 0.0) * 100.0,
        "candle_range_atr": _ratio(rng, atr, 1.0),
        "volume_ma_ratio": _ratio(v, vol5, 1.0),
        "rsi": values["rsi"],
        "bb_position": _ratio(c - bb_lower, bb_upper - bb_lower, 0.5),
        "volume_percentile": (
            100.0 * sum(1 for x in volumes if x < v) / len(volumes) if volumes else 50.0
        ),
        "volatility_pct": atr_pct,
        "volatility_tier": _tier(atr_pct, (0.25, 0.5, 1.0, 2.0)),
        "price_tier": _tier(c, (0.1, 1.0, 10.0, 1000.0)),
        "market_structure": values["structure"],
        "setup_bars": float(setup_bars),
        "htf_structure": htf.structure,
        "near_major_resistance": 1.0 if 0.0 <= res_dist <= near_pct_100 else 0.0,
        "near_major_support": 1.0 if 0.0 <= sup_dist <= near_pct_100 else 0.0,
        "mtf_level_strength": strength,
        "htf_resistance_distance_pct": res_dist,
        "htf_support_distance_pct": sup_dist,
        "htf_range_position": htf.range_position,
    }
    return {name: _finite(features[name]) for name in FEATURE_NAMES}


def _finite(value: float) -> float:
    value = float(value)
    return value if math.isfinite(value) else 0.0
