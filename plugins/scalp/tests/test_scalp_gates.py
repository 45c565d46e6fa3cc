"""Each gate on its own: the signal-level gates, the execution-level hard gates, the pro rules.

A hand-made bar passes everything for a long; each test changes one value so
that exactly the gate under test fails (or passes at its threshold).
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
from garrison_api import Side
from garrison_scalp import ProRules, ProRulesOverride, ScalpParams
from garrison_scalp.gates import hard_gate_failures, pro_rule_failures
from garrison_scalp.setups import ORB, VWAP_PULLBACK, Bar, detect, stop_for

NAN = math.nan

# close 100, open 99.5, high 100.2, low 99.0: body 0.417, upper wick 0.167, lower wick 0.417.
LONG = Bar(
    close=100.0,
    open=99.5,
    high=100.2,
    low=99.0,
    rsi=50.0,
    macd_hist=0.01,
    bb_width=0.012,
    atr=0.5,
    vwap=99.6,
    volume_ratio=2.0,
    ema_fast=99.8,
    ema_slow=99.5,
    swing_high=101.0,
    swing_low=98.0,
    or_high=NAN,
    or_low=NAN,
    prev_close=99.5,
    trend=1,
    upper_wick=0.2 / 1.2,
    lower_wick=0.5 / 1.2,
    body=0.5 / 1.2,
)


def mirror(bar: Bar) -> Bar:
    """The same bar reflected around 100: a short that passes everything."""

    def flip(x: float) -> float:
        return 200.0 - x

    return attrs.evolve(
        bar,
        close=flip(bar.close),
        open=flip(bar.open),
        high=flip(bar.low),
        low=flip(bar.high),
        macd_hist=-bar.macd_hist,
        rsi=45.0,
        vwap=flip(bar.vwap),
        ema_fast=flip(bar.ema_fast),
        ema_slow=flip(bar.ema_slow),
        swing_high=flip(bar.swing_low),
        swing_low=flip(bar.swing_high),
        or_high=flip(bar.or_low),
        or_low=flip(bar.or_high),
        prev_close=flip(bar.prev_close),
        trend=-bar.trend,
        upper_wick=bar.lower_wick,
        lower_wick=bar.upper_wick,
        body=-bar.body,
    )


SHORT = mirror(LONG)
P = ScalpParams()
RULES = ProRules()


def test_the_baseline_bars_pass_every_gate() -> None:
    assert detect(LONG, P) is not None
    assert detect(LONG, P).side is Side.LONG  # type: ignore[union-attr]
    assert detect(SHORT, P).side is Side.SHORT  # type: ignore[union-attr]
    for bar, side in ((LONG, Side.LONG), (SHORT, Side.SHORT)):
        assert hard_gate_failures(bar, P) == ()
        assert pro_rule_failures(bar, side, RULES) == ()


# -- signal-level gates --------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"volume_ratio": 0.79}, "volume ratio below 0.8"),
        ({"bb_width": 0.0044}, "Bollinger width below 0.45 %"),
        ({"atr": 0.04, "vwap": 99.99}, "ATR below 0.05 % of the close"),
        ({"body": 0.29}, "body below 0.30 of the range"),
        ({"body": -0.5}, "body against the trade (and so the side flips, wick fails)"),
        ({"lower_wick": 0.24, "upper_wick": 0.1}, "dominant wick below 0.25 of the range"),
        ({"lower_wick": 0.30, "upper_wick": 0.21}, "wick delta below 0.10"),
        ({"ema_fast": 99.4}, "EMA 8 below EMA 21 for a long"),
        ({"vwap": 99.2, "atr": 0.5, "low": 99.3}, "no VWAP pattern: the low never reached VWAP"),
        ({"vwap": 99.2, "atr": 0.2, "low": 99.0}, "VWAP distance above 1.5 ATR"),
    ],
)
def test_each_signal_level_gate_refuses_on_its_own(change: dict[str, Any], why: str) -> None:
    assert detect(attrs.evolve(LONG, **change), P) is None, why


def test_signal_level_gates_pass_at_their_thresholds() -> None:
    at = attrs.evolve(
        LONG, volume_ratio=0.8, bb_width=0.0045, body=0.30, lower_wick=0.4, upper_wick=0.3
    )
    assert detect(at, P) is not None


def test_the_ema_gate_can_be_switched_off() -> None:
    bar = attrs.evolve(LONG, ema_fast=99.4)
    assert detect(bar, attrs.evolve(P, require_ema_alignment=False)) is not None


def test_vwap_patterns() -> None:
    assert detect(LONG, P).pattern == "bounce"  # type: ignore[union-attr]
    revert = attrs.evolve(LONG, vwap=100.3)  # below VWAP, turning up
    assert detect(revert, P).pattern == "revert"  # type: ignore[union-attr]
    assert detect(SHORT, P).pattern == "reject"  # type: ignore[union-attr]
    assert detect(mirror(revert), P).pattern == "revert"  # type: ignore[union-attr]
    assert detect(LONG, P).kind == VWAP_PULLBACK  # type: ignore[union-attr]


def test_orb_breakout_is_the_first_close_beyond_the_range() -> None:
    # Far from VWAP, so only the opening-range setup can fire.
    away = attrs.evolve(LONG, vwap=90.0, or_high=99.8, or_low=98.5, prev_close=99.7)
    setup = detect(away, P)
    assert setup is not None
    assert (setup.kind, setup.pattern) == (ORB, "breakout")
    assert detect(attrs.evolve(away, prev_close=99.9), P) is None  # already above
    assert detect(attrs.evolve(away, or_high=NAN), P) is None  # no range this session
    assert detect(attrs.evolve(away, or_high=100.0), P) is None  # close not beyond it
    assert detect(attrs.evolve(away, or_high=99.8), attrs.evolve(P, enable_orb=False)) is None
    assert detect(mirror(away), P).kind == ORB  # type: ignore[union-attr]


def test_stop_from_the_setup_and_minimum_risk() -> None:
    assert stop_for(LONG, Side.LONG, P) == pytest.approx(99.0 - 0.2 * 0.5)
    assert stop_for(SHORT, Side.SHORT, P) == pytest.approx(101.0 + 0.2 * 0.5)
    tight = attrs.evolve(LONG, low=99.95)
    assert stop_for(tight, Side.LONG, P) == pytest.approx(100.0 - 0.5 * 0.5)


# -- execution-level hard gates ------------------------------------------------


def test_hard_gates_keep_their_own_thresholds() -> None:
    # 1.2 passes the signal-level 0.8 but not the execution-level 1.5.
    assert detect(attrs.evolve(LONG, volume_ratio=1.2), P) is not None
    assert hard_gate_failures(attrs.evolve(LONG, volume_ratio=1.2), P) == ("exec_volume",)
    assert hard_gate_failures(attrs.evolve(LONG, volume_ratio=1.5), P) == ()
    assert hard_gate_failures(attrs.evolve(LONG, bb_width=0.0055), P) == ("exec_bb_width",)
    assert hard_gate_failures(attrs.evolve(LONG, bb_width=0.006), P) == ()


# -- pro rules -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "change", "rule"),
    [
        (Side.LONG, {"trend": -1}, "mtf"),
        (Side.LONG, {"trend": 0}, "mtf"),
        (Side.LONG, {"rsi": 39.9}, "rsi"),
        (Side.LONG, {"rsi": 60.1}, "rsi"),
        (Side.SHORT, {"rsi": 34.9}, "rsi"),
        (Side.SHORT, {"rsi": 55.1}, "rsi"),
        (Side.LONG, {"macd_hist": -0.01}, "macd"),
        (Side.LONG, {"macd_hist": 0.0002}, "macd"),
        (Side.SHORT, {"macd_hist": 0.01}, "macd"),
        (Side.LONG, {"vwap": 99.3}, "vwap_dist"),
        (Side.LONG, {"swing_high": 100.2}, "fib"),
        (Side.LONG, {"swing_low": 99.5}, "fib"),
        (Side.LONG, {"volume_ratio": 1.49}, "volume"),
        (Side.LONG, {"lower_wick": 0.24, "upper_wick": 0.1}, "wick"),
        (Side.LONG, {"lower_wick": 0.3, "upper_wick": 0.25}, "wick"),
        (Side.LONG, {"atr": 0.04, "vwap": 99.99}, "atr_pct"),
        (Side.LONG, {"bb_width": 0.0099}, "bb_width"),
    ],
)
def test_each_pro_rule_fails_on_its_own(side: Side, change: dict[str, Any], rule: str) -> None:
    base = LONG if side is Side.LONG else SHORT
    assert pro_rule_failures(attrs.evolve(base, **change), side, RULES) == (rule,)


def test_pro_rules_pass_at_their_edges() -> None:
    edge = attrs.evolve(LONG, rsi=40.0, macd_hist=0.0003, volume_ratio=1.5, bb_width=0.010)
    assert pro_rule_failures(edge, Side.LONG, RULES) == ()
    assert pro_rule_failures(attrs.evolve(SHORT, rsi=55.0), Side.SHORT, RULES) == ()


def test_mtf_rule_can_be_switched_off() -> None:
    rules = attrs.evolve(RULES, require_mtf=False)
    assert pro_rule_failures(attrs.evolve(LONG, trend=-1), Side.LONG, rules) == ()


def test_per_symbol_overrides_replace_only_what_they_set() -> None:
    params = ScalpParams(
        pro_rules_by_symbol={"ETHUSDT": ProRulesOverride(min_volume_ratio=1.2, min_bb_width=0.005)}
    )
    eth = params.rules_for("ETHUSDT")
    assert (eth.min_volume_ratio, eth.min_bb_width) == (1.2, 0.005)
    assert eth.rsi_long_min == 40.0
    assert params.rules_for("BTCUSDT") == ProRules()
    bar = attrs.evolve(LONG, volume_ratio=1.3, bb_width=0.007)
    assert pro_rule_failures(bar, Side.LONG, eth) == ()
    assert pro_rule_failures(bar, Side.LONG, params.rules_for("BTCUSDT")) == ("volume", "bb_width")
