"""The execution gate's rules: the execution-level hard gates and the pro-rules fallback.

Each function returns the names of the rules a signal fails (empty: it
passes), so a phantom-only signal can say exactly why it was not traded.
"""

from __future__ import annotations

from garrison_api import Side

from garrison_scalp.params import ProRules, ScalpParams
from garrison_scalp.setups import Bar


def hard_gate_failures(bar: Bar, p: ScalpParams) -> tuple[str, ...]:
    """The execution-level thresholds every traded signal meets, on either path."""
    failed: list[str] = []
    if not bar.volume_ratio >= p.exec_min_volume_ratio:
        failed.append("exec_volume")
    if not bar.bb_width >= p.exec_min_bb_width:
        failed.append("exec_bb_width")
    return tuple(failed)


def pro_rule_failures(bar: Bar, side: Side, rules: ProRules) -> tuple[str, ...]:
    """The pro rules (all must pass) that ``bar`` fails for a trade on ``side``."""
    failed: list[str] = []
    long = side is Side.LONG
    if rules.require_mtf and bar.trend != (1 if long else -1):
        failed.append("mtf")
    low, high = (
        (rules.rsi_long_min, rules.rsi_long_max)
        if long
        else (rules.rsi_short_min, rules.rsi_short_max)
    )
    if not low <= bar.rsi <= high:
        failed.append("rsi")
    hist = bar.macd_hist
    pointing = hist > 0 if long else hist < 0
    if not (pointing and abs(hist) >= rules.macd_min_hist):
        failed.append("macd")
    if not bar.vwap_dist_atr <= rules.max_vwap_dist_atr:
        failed.append("vwap_dist")
    if not rules.fib_min <= bar.fib(side) <= rules.fib_max:
        failed.append("fib")
    if not bar.volume_ratio >= rules.min_volume_ratio:
        failed.append("volume")
    if not (
        bar.wick_delta(side) >= rules.min_wick_delta and bar.wick(side) >= rules.min_wick_ratio
    ):
        failed.append("wick")
    if not bar.atr_pct >= rules.min_atr_pct:
        failed.append("atr_pct")
    if not bar.bb_width >= rules.min_bb_width:
        failed.append("bb_width")
    return tuple(failed)
