"""Stop and take-profit of a confirmed setup.

Stop (long; a short mirrors it): the lowest of three candidates, each less a
buffer of ``sl_buf_atr`` ATR — the previous pivot low, the breakout level and
the pullback's low. The buffer widens by ``high_vol_widen`` (30 %) when the
ATR percentile is above ``high_vol_percentile`` (75) and by
``extreme_vol_widen`` (50 %) above ``extreme_vol_percentile`` (90). A stop
closer than ``min_stop_pct`` of the entry is moved out to that distance.

Take-profit: ``rr`` times the risk *after* the round trip's costs:
``tp = entry + rr·(entry − stop) + entry·round_trip_cost``, so a trade that
reaches it earns ``rr`` R net of fees and slippage (2.5 R net is about
2.67 R gross with a 1 % stop and 0.165 % of costs).
"""

from __future__ import annotations

import attrs

from garrison_pullback.params import PullbackParams


@attrs.frozen
class Bracket:
    """A signal's stop and take-profit, and how the stop was chosen."""

    stop: float
    take_profit: float
    buffer: float
    widen: float
    anchor: str


def volatility_widening(atr_percentile: float, params: PullbackParams) -> float:
    """How much wider than ``sl_buf_atr`` the buffer is at this ATR percentile (0.0, 0.3, 0.5)."""
    if atr_percentile > params.extreme_vol_percentile:
        return params.extreme_vol_widen
    if atr_percentile > params.high_vol_percentile:
        return params.high_vol_widen
    return 0.0


def bracket(
    direction: int,
    entry: float,
    previous_pivot: float,
    level: float,
    pullback_extreme: float,
    atr: float,
    atr_percentile: float,
    params: PullbackParams,
) -> Bracket | None:
    """Stop and take-profit for a long (``direction`` 1) or short (-1); None if no sane stop."""
    widen = volatility_widening(atr_percentile, params)
    buffer = params.sl_buf_atr * (1.0 + widen) * atr
    candidates = [("breakout_level", level), ("pullback_extreme", pullback_extreme)]
    if previous_pivot > 0.0:
        candidates.insert(0, ("previous_pivot", previous_pivot))
    least = entry * params.min_stop_pct
    if direction > 0:
        anchor, price = min(candidates, key=lambda c: c[1])
        stop = price - buffer
        if entry - stop < least:
            stop, anchor = entry - least, "min_stop_pct"
        risk = entry - stop
        take_profit = entry + params.rr * risk + entry * params.round_trip_cost
    else:
        anchor, price = max(candidates, key=lambda c: c[1])
        stop = price + buffer
        if stop - entry < least:
            stop, anchor = entry + least, "min_stop_pct"
        risk = stop - entry
        take_profit = entry - params.rr * risk - entry * params.round_trip_cost
    if not (stop > 0.0 and take_profit > 0.0 and risk > 0.0):
        return None
    return Bracket(stop=stop, take_profit=take_profit, buffer=buffer, widen=widen, anchor=anchor)
