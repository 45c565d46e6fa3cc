"""The 19 rules against the reference table, and each condition at its boundary."""

from __future__ import annotations

from typing import Any

import pytest
from garrison_turtle import REFERENCE_RULES, Regime, RuleKind, TurtleRulesParams
from garrison_turtle.rulebook import levels_of

B, M, T, C = RuleKind.BREAKOUT, RuleKind.MEAN_REVERSION, RuleKind.TREND, RuleKind.COMBO
BULL, BEAR, RANGE = Regime.BULL, Regime.BEAR, Regime.RANGE

# The reference's table (rule-based-bot-binance.md, "Rules Registered (19 total)"),
# transcribed by hand: name, type, bias, regimes.
REFERENCE_TABLE = [
    ("TURTLE_20DAY_BREAKOUT_LONG", B, 0.7, {BULL, RANGE}),
    ("TURTLE_20DAY_BREAKOUT_SHORT", B, -0.7, {BEAR, RANGE}),
    ("TURTLE_55DAY_BREAKOUT_LONG", B, 0.9, {BULL}),
    ("TURTLE_55DAY_BREAKOUT_SHORT", B, -0.9, {BEAR}),
    ("RSI_OVERSOLD_LONG", M, 0.6, {BULL, RANGE}),
    ("RSI_OVERBOUGHT_SHORT", M, -0.6, {BEAR, RANGE}),
    ("RSI_EXTREME_OVERSOLD", M, 0.8, {BULL, RANGE}),
    ("RSI_EXTREME_OVERBOUGHT", M, -0.8, {BEAR, RANGE}),
    ("GOLDEN_CROSS", T, 0.5, {BULL}),
    ("DEATH_CROSS", T, -0.5, {BEAR}),
    ("BB_OVERSOLD", M, 0.6, {BULL, RANGE}),
    ("BB_OVERBOUGHT", M, -0.6, {BEAR, RANGE}),
    ("STOCH_OVERSOLD", M, 0.5, {BULL, RANGE}),
    ("STOCH_OVERBOUGHT", M, -0.5, {BEAR, RANGE}),
    ("STOCH_BULLISH_CROSS", M, 0.4, {BULL, RANGE}),
    ("STRONG_UPTREND", T, 0.7, {BULL}),
    ("STRONG_DOWNTREND", T, -0.7, {BEAR}),
    ("SUPER_BULLISH", C, 0.9, {BULL, RANGE}),
    ("SUPER_BEARISH", C, -0.9, {BEAR, RANGE}),
]


def test_the_19_rules_are_the_reference_table() -> None:
    assert len(REFERENCE_RULES) == 19
    got = [(r.name, r.kind, r.bias, set(r.regimes)) for r in REFERENCE_RULES]
    assert got == REFERENCE_TABLE
    assert all(r.weight == 1.0 for r in REFERENCE_RULES)
    assert len({r.feature for r in REFERENCE_RULES}) == 19


# A neutral bar: no rule fires on it.
NEUTRAL: dict[str, float] = {
    "close": 100.0,
    "high_20": 101.0,
    "low_20": 99.0,
    "high_55": 102.0,
    "low_55": 98.0,
    "rsi": 50.0,
    "stoch_k": 50.0,
    "stoch_d": 50.0,
    "adx": 15.0,
    "ema_fast": 100.0,
    "ema_slow": 100.0,
    "bb_upper": 102.0,
    "bb_middle": 100.0,
    "bb_lower": 98.0,
}

# For each rule: changes to the neutral bar that make it fire, and for each a change
# just across its boundary that makes it not fire.
FIRES: dict[str, tuple[dict[str, float], list[dict[str, float]]]] = {
    "TURTLE_20DAY_BREAKOUT_LONG": ({"close": 101.01}, [{"close": 101.0}]),
    "TURTLE_20DAY_BREAKOUT_SHORT": ({"close": 98.99}, [{"close": 99.0}]),
    "TURTLE_55DAY_BREAKOUT_LONG": ({"close": 102.01}, [{"close": 102.0}]),
    "TURTLE_55DAY_BREAKOUT_SHORT": ({"close": 97.99}, [{"close": 98.0}]),
    "RSI_OVERSOLD_LONG": ({"rsi": 29.99}, [{"rsi": 30.0}]),
    "RSI_OVERBOUGHT_SHORT": ({"rsi": 70.01}, [{"rsi": 70.0}]),
    "RSI_EXTREME_OVERSOLD": ({"rsi": 19.99}, [{"rsi": 20.0}]),
    "RSI_EXTREME_OVERBOUGHT": ({"rsi": 80.01}, [{"rsi": 80.0}]),
    "GOLDEN_CROSS": (
        {"ema_fast": 100.1, "adx": 25.01},
        [{"ema_fast": 100.0, "adx": 25.01}, {"ema_fast": 100.1, "adx": 25.0}],
    ),
    "DEATH_CROSS": (
        {"ema_fast": 99.9, "adx": 25.01},
        [{"ema_fast": 100.0, "adx": 25.01}, {"ema_fast": 99.9, "adx": 25.0}],
    ),
    "BB_OVERSOLD": (
        {"close": 97.99, "low_20": 97.0, "low_55": 97.0, "rsi": 39.99},
        [
            {"close": 98.0, "low_20": 97.0, "low_55": 97.0, "rsi": 39.99},
            {"close": 97.99, "low_20": 97.0, "low_55": 97.0, "rsi": 40.0},
        ],
    ),
    "BB_OVERBOUGHT": (
        {"close": 102.01, "high_20": 103.0, "high_55": 103.0, "rsi": 60.01},
        [
            {"close": 102.0, "high_20": 103.0, "high_55": 103.0, "rsi": 60.01},
            {"close": 102.01, "high_20": 103.0, "high_55": 103.0, "rsi": 60.0},
        ],
    ),
    "STOCH_OVERSOLD": (
        {"stoch_k": 19.99, "stoch_d": 19.99},
        [{"stoch_k": 20.0, "stoch_d": 19.99}, {"stoch_k": 19.99, "stoch_d": 20.0}],
    ),
    "STOCH_OVERBOUGHT": (
        {"stoch_k": 80.01, "stoch_d": 80.01},
        [{"stoch_k": 80.0, "stoch_d": 80.01}, {"stoch_k": 80.01, "stoch_d": 80.0}],
    ),
    "STOCH_BULLISH_CROSS": (
        {"stoch_k": 79.99, "stoch_d": 79.98},
        [{"stoch_k": 80.0, "stoch_d": 79.98}, {"stoch_k": 79.99, "stoch_d": 79.99}],
    ),
    "STRONG_UPTREND": (
        {"adx": 25.01, "ema_fast": 100.1, "rsi": 50.01},
        [
            {"adx": 25.0, "ema_fast": 100.1, "rsi": 50.01},
            {"adx": 25.01, "ema_fast": 100.0, "rsi": 50.01},
            {"adx": 25.01, "ema_fast": 100.1, "rsi": 50.0},
        ],
    ),
    "STRONG_DOWNTREND": (
        {"adx": 25.01, "ema_fast": 99.9, "rsi": 49.99},
        [
            {"adx": 25.0, "ema_fast": 99.9, "rsi": 49.99},
            {"adx": 25.01, "ema_fast": 100.0, "rsi": 49.99},
            {"adx": 25.01, "ema_fast": 99.9, "rsi": 50.0},
        ],
    ),
    "SUPER_BULLISH": (
        {"rsi": 34.99, "ema_fast": 100.1, "close": 99.99, "adx": 20.01},
        [
            {"rsi": 35.0, "ema_fast": 100.1, "close": 99.99, "adx": 20.01},
            {"rsi": 34.99, "ema_fast": 100.0, "close": 99.99, "adx": 20.01},
            {"rsi": 34.99, "ema_fast": 100.1, "close": 100.0, "adx": 20.01},
            {"rsi": 34.99, "ema_fast": 100.1, "close": 99.99, "adx": 20.0},
        ],
    ),
    "SUPER_BEARISH": (
        {"rsi": 65.01, "ema_fast": 99.9, "close": 100.01, "adx": 20.01},
        [
            {"rsi": 65.0, "ema_fast": 99.9, "close": 100.01, "adx": 20.01},
            {"rsi": 65.01, "ema_fast": 100.0, "close": 100.01, "adx": 20.01},
            {"rsi": 65.01, "ema_fast": 99.9, "close": 100.0, "adx": 20.01},
            {"rsi": 65.01, "ema_fast": 99.9, "close": 100.01, "adx": 20.0},
        ],
    ),
}

LEVELS = levels_of(TurtleRulesParams())


def fired(values: dict[str, Any]) -> set[str]:
    return {r.name for r in REFERENCE_RULES if r.condition(values, LEVELS)}


def test_no_rule_fires_on_the_neutral_bar() -> None:
    assert fired(NEUTRAL) == set()


def test_every_rule_has_a_boundary_case() -> None:
    assert set(FIRES) == {r.name for r in REFERENCE_RULES}


@pytest.mark.parametrize("name", list(FIRES))
def test_each_condition_fires_inside_and_not_on_its_boundary(name: str) -> None:
    firing, boundaries = FIRES[name]
    assert name in fired({**NEUTRAL, **firing})
    for boundary in boundaries:
        assert name not in fired({**NEUTRAL, **boundary}), boundary


def test_a_value_that_is_not_warm_fires_nothing() -> None:
    nan = float("nan")
    for name, (firing, _) in FIRES.items():
        for key in firing:
            if name.startswith("BB_") and key.endswith(("_20", "_55")):
                continue  # set only to keep the breakout rules quiet
            assert name not in fired({**NEUTRAL, **firing, key: nan}), (name, key)


def test_levels_come_from_the_params() -> None:
    levels = levels_of(TurtleRulesParams(rsi_oversold=40.0, trend_adx=30.0))
    bar = {**NEUTRAL, "rsi": 35.0}
    assert any(r.name == "RSI_OVERSOLD_LONG" and r.condition(bar, levels) for r in REFERENCE_RULES)
    golden = next(r for r in REFERENCE_RULES if r.name == "GOLDEN_CROSS")
    assert not golden.condition({**NEUTRAL, "ema_fast": 100.1, "adx": 28.0}, levels)
