"""turtle_rules parameters: reference defaults, validation, structuring as the host does it."""

from __future__ import annotations

from typing import Any

import attrs
import cattrs
import pytest
from garrison_api import Adx, Atr, Bollinger, Ema, Highest, Lowest, Rsi, Sma, Stochastic
from garrison_turtle import (
    REFERENCE_RULES,
    Regime,
    RegimeIndicator,
    RuleSetting,
    TurtleRulesParams,
    TurtleRulesStrategy,
)
from garrison_turtle.rulebook import RuleBook


def structure(table: dict[str, Any]) -> TurtleRulesParams:
    """What the host does with a profile's params table (unknown keys rejected)."""
    return cattrs.Converter(forbid_extra_keys=True).structure(table, TurtleRulesParams)


def test_defaults_are_the_references() -> None:
    p = TurtleRulesParams()
    assert (p.breakout_fast, p.breakout_slow, p.rsi_period, p.adx_period) == (20, 55, 14, 14)
    assert (p.stoch_k_period, p.stoch_k_smooth, p.stoch_d_period) == (14, 1, 3)
    assert (p.ema_fast, p.ema_slow, p.atr_period, p.bb_period, p.bb_std) == (20, 50, 14, 20, 2.0)
    assert p.volume_period == 20
    assert (p.rsi_oversold, p.rsi_overbought) == (30.0, 70.0)
    assert (p.rsi_extreme_oversold, p.rsi_extreme_overbought) == (20.0, 80.0)
    assert (p.trend_adx, p.bb_rsi_long, p.bb_rsi_short) == (25.0, 40.0, 60.0)
    assert (p.stoch_oversold, p.stoch_overbought, p.strong_trend_rsi) == (20.0, 80.0, 50.0)
    assert (p.super_rsi_long, p.super_rsi_short, p.super_adx) == (35.0, 65.0, 20.0)
    assert (p.regime_trend_adx, p.regime_trend_bars) == (25.0, 3)
    assert (p.regime_range_adx, p.regime_range_bars) == (20.0, 5)
    assert p.range_vetoed_kinds == ("trend", "breakout")
    assert (p.vol_low_pct, p.vol_high_pct) == (0.5, 1.5)
    assert (p.aggregation, p.activation_threshold, p.min_confidence) == ("weighted_mean", 0.7, 0.0)
    assert p.rules == {}
    assert p.min_warmup_bars == 0
    assert (p.stop_atr, p.take_profit_atr, p.exit_on_opposite, p.timeframe) == (
        2.5,
        None,
        True,
        None,
    )


def test_declares_its_indicators_and_warmup() -> None:
    strategy = TurtleRulesStrategy()
    assert strategy.indicators == {
        "high_20": Highest("high", 20, offset=1),
        "low_20": Lowest("low", 20, offset=1),
        "high_55": Highest("high", 55, offset=1),
        "low_55": Lowest("low", 55, offset=1),
        "rsi": Rsi(14),
        "stoch_k": Stochastic(14, 1, 3, "k"),
        "stoch_d": Stochastic(14, 1, 3, "d"),
        "adx": Adx(14),
        "ema_fast": Ema("close", 20),
        "ema_slow": Ema("close", 50),
        "atr": Atr(14),
        "bb_upper": Bollinger(20, 2.0, "upper"),
        "bb_middle": Bollinger(20, 2.0, "middle"),
        "bb_lower": Bollinger(20, 2.0, "lower"),
        "volume_sma": Sma("volume", 20),
        "regime": RegimeIndicator(14, 20, 50, 25.0, 3, 20.0, 5),
    }
    assert strategy.warmup == 55
    assert strategy.timeframes == ()
    assert TurtleRulesStrategy(TurtleRulesParams(timeframe="15m")).timeframes == ("15m",)


def test_min_warmup_bars_only_lengthens_the_warmup() -> None:
    assert TurtleRulesStrategy(TurtleRulesParams(min_warmup_bars=300)).warmup == 300
    assert TurtleRulesStrategy(TurtleRulesParams(min_warmup_bars=10)).warmup == 55


def test_params_reach_the_indicators_and_regime() -> None:
    params = structure(
        {
            "breakout_slow": 100,
            "adx_period": 10,
            "regime_trend_adx": 30.0,
            "regime_range_bars": 8,
            "bb_std": 2.5,
        }
    )
    strategy = TurtleRulesStrategy(params)
    assert strategy.indicators["high_55"] == Highest("high", 100, offset=1)
    assert strategy.indicators["bb_lower"] == Bollinger(20, 2.5, "lower")
    assert strategy.regime_spec == RegimeIndicator(10, 20, 50, 30.0, 3, 20.0, 8)
    assert strategy.warmup == 100


def test_rules_table_enables_disables_reweights_and_rescopes() -> None:
    params = structure(
        {
            "rules": {
                "STOCH_BULLISH_CROSS": {"enabled": False},
                "GOLDEN_CROSS": {"weight": 2.0, "bias": 0.6, "regimes": ["bull", "range"]},
            }
        }
    )
    assert params.rules["GOLDEN_CROSS"] == RuleSetting(
        enabled=True, weight=2.0, bias=0.6, regimes=("bull", "range")
    )
    book = RuleBook(params)
    names = [rule.name for rule in book.rules]
    assert "STOCH_BULLISH_CROSS" not in names
    assert len(names) == 18
    golden = next(rule for rule in book.rules if rule.name == "GOLDEN_CROSS")
    assert (golden.weight, golden.bias, golden.regimes) == (
        2.0,
        0.6,
        frozenset({Regime.BULL, Regime.RANGE}),
    )
    # GOLDEN_CROSS is a trend rule: the range veto still leaves it out in a range
    assert golden not in book.counting(Regime.RANGE)
    assert golden in book.counting(Regime.BULL)


def test_counting_rules_per_regime_follow_the_table_and_the_veto() -> None:
    book = RuleBook(TurtleRulesParams())
    in_range = {rule.name for rule in book.counting(Regime.RANGE)}
    assert in_range == {
        "RSI_OVERSOLD_LONG",
        "RSI_OVERBOUGHT_SHORT",
        "RSI_EXTREME_OVERSOLD",
        "RSI_EXTREME_OVERBOUGHT",
        "BB_OVERSOLD",
        "BB_OVERBOUGHT",
        "STOCH_OVERSOLD",
        "STOCH_OVERBOUGHT",
        "STOCH_BULLISH_CROSS",
        "SUPER_BULLISH",
        "SUPER_BEARISH",
    }
    bull = {rule.name for rule in book.counting(Regime.BULL)}
    assert bull == {r.name for r in REFERENCE_RULES if Regime.BULL in r.regimes}
    assert len(bull) == 10
    assert book.counting(Regime.UNKNOWN) == ()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"breakout_fast": 0}, "breakout_fast must be a whole number >= 1, got 0"),
        ({"rsi_period": 2.5}, "rsi_period must be a whole number >= 1, got 2.5"),
        ({"regime_trend_bars": 0}, "regime_trend_bars must be a whole number of bars >= 1"),
        ({"rsi_oversold": 120.0}, "rsi_oversold must be from 0 to 100, got 120.0"),
        ({"trend_adx": float("nan")}, "trend_adx must be a finite number, got nan"),
        ({"activation_threshold": 0.0}, "activation_threshold must be above 0 and at most 1"),
        ({"activation_threshold": 1.5}, "activation_threshold must be above 0 and at most 1"),
        ({"min_confidence": 2.0}, "min_confidence must be from 0 to 1, got 2.0"),
        ({"stop_atr": 0.0}, "stop_atr must be above 0, got 0.0"),
        ({"min_warmup_bars": -1}, "min_warmup_bars must be a whole number of bars >= 0"),
        ({"take_profit_atr": -1.0}, "take_profit_atr must be above 0, got -1.0"),
        ({"aggregation": "mean"}, "aggregation must be 'weighted_mean' or 'clamped_sum'"),
        ({"range_vetoed_kinds": ["trendy"]}, "range_vetoed_kinds: unknown rule kind 'trendy'"),
        ({"timeframe": "5 minutes"}, "timeframe must be a bar size like '5m'"),
        ({"breakout_fast": 60}, "breakout_fast (60) must not be above breakout_slow (55)"),
        ({"ema_fast": 60}, "ema_fast (60) must not be above ema_slow (50)"),
        ({"regime_range_adx": 30.0}, "regime_range_adx (30.0) must not be above regime_trend_adx"),
        ({"vol_low_pct": 2.0}, "vol_low_pct (2.0) must not be above vol_high_pct (1.5)"),
        ({"rsi_extreme_oversold": 35.0}, "rsi_extreme_oversold (35.0) must not be above"),
        ({"rules": {"RSI_OVERSOLD": RuleSetting()}}, "rules has no rule named 'RSI_OVERSOLD'"),
    ],
)
def test_bad_values_are_refused_with_the_key_named(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="turtle_rules: ") as caught:
        TurtleRulesParams(**table)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"weight": -1.0}, "rules.weight must be 0 or more, got -1.0"),
        ({"bias": 1.5}, "rules.bias must be from -1 to 1, got 1.5"),
        ({"regimes": ["sideways"]}, "rules.regimes: unknown regime 'sideways'"),
    ],
)
def test_bad_rule_settings_are_refused(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="turtle_rules: rules") as caught:
        RuleSetting(**table)
    assert message in str(caught.value)


def test_unknown_keys_are_refused_by_the_hosts_structuring() -> None:
    with pytest.raises(cattrs.errors.ClassValidationError):
        structure({"activation": 0.5})
    with pytest.raises(cattrs.errors.ClassValidationError):
        structure({"rules": {"GOLDEN_CROSS": {"wieght": 2.0}}})


def test_structuring_reports_an_unknown_rule_name() -> None:
    with pytest.raises(cattrs.errors.ClassValidationError) as caught:
        structure({"rules": {"GOLDEN": {"enabled": False}}})
    assert "rules has no rule named 'GOLDEN'" in repr(caught.value.exceptions)


def test_params_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        TurtleRulesParams().stop_atr = 3.0  # type: ignore[misc]
