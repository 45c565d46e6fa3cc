"""Parameters of the ``turtle_rules`` strategy, as a profile's ``[strategies.params]`` gives them.

Every default is the reference's (``rule-based-bot-binance.md``): indicator
periods, the levels inside the 19 rules, the regime detector's thresholds and
confirmations, the activation threshold and the 2.5 ATR stop. ``rules`` tunes
single rules by name: enable or disable them, re-weight them, change their
bias or the regimes they count in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from garrison_turtle.rules import REFERENCE_RULES, REGIMES_BY_LABEL, RULES_BY_NAME, RuleKind

_TIMEFRAME = re.compile(r"^[1-9][0-9]*[smhdw]$")
_KINDS = tuple(kind.value for kind in RuleKind)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _where(inst: object) -> str:
    return "turtle_rules: rules." if isinstance(inst, RuleSetting) else "turtle_rules: "


def _period(inst: object, attr: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{_where(inst)}{attr.name} must be a whole number >= 1, got {value!r}")


def _bars(inst: object, attr: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"{_where(inst)}{attr.name} must be a whole number of bars >= 1, got {value!r}"
        )


def _bars_or_zero(inst: object, attr: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"{_where(inst)}{attr.name} must be a whole number of bars >= 0, got {value!r}"
        )


def _finite(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if not _is_number(value) or not math.isfinite(value):  # type: ignore[arg-type]
        raise ValueError(f"{_where(inst)}{attr.name} must be a finite number, got {value!r}")


def _level(inst: object, attr: attrs.Attribute[float], value: object) -> None:
    """An oscillator or ADX level: 0 to 100."""
    _finite(inst, attr, value)
    if not 0 <= value <= 100:  # type: ignore[operator]
        raise ValueError(f"{_where(inst)}{attr.name} must be from 0 to 100, got {value!r}")


def _positive(inst: object, attr: attrs.Attribute[float], value: object) -> None:
    _finite(inst, attr, value)
    if value <= 0:  # type: ignore[operator]
        raise ValueError(f"{_where(inst)}{attr.name} must be above 0, got {value!r}")


def _positive_or_none(inst: object, attr: attrs.Attribute[float | None], value: object) -> None:
    if value is not None:
        _positive(inst, attr, value)  # type: ignore[arg-type]


def _fraction(inst: object, attr: attrs.Attribute[float], value: object) -> None:
    _finite(inst, attr, value)
    if not 0 <= value <= 1:  # type: ignore[operator]
        raise ValueError(f"{_where(inst)}{attr.name} must be from 0 to 1, got {value!r}")


def _threshold(inst: object, attr: attrs.Attribute[float], value: object) -> None:
    _finite(inst, attr, value)
    if not 0 < value <= 1:  # type: ignore[operator]
        raise ValueError(f"{_where(inst)}{attr.name} must be above 0 and at most 1, got {value!r}")


def _weight(inst: object, attr: attrs.Attribute[float], value: object) -> None:
    _finite(inst, attr, value)
    if value < 0:  # type: ignore[operator]
        raise ValueError(f"{_where(inst)}{attr.name} must be 0 or more, got {value!r}")


def _bias_or_none(inst: object, attr: attrs.Attribute[float | None], value: object) -> None:
    if value is None:
        return
    _finite(inst, attr, value)
    if not -1 <= value <= 1:  # type: ignore[operator]
        raise ValueError(f"{_where(inst)}{attr.name} must be from -1 to 1, got {value!r}")


def _regimes_or_none(
    inst: object, attr: attrs.Attribute[tuple[str, ...] | None], value: object
) -> None:
    if value is None:
        return
    if not isinstance(value, tuple | list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{_where(inst)}{attr.name} must be a list of regime names")
    unknown = [v for v in value if v not in REGIMES_BY_LABEL]
    if unknown:
        raise ValueError(
            f"{_where(inst)}{attr.name}: unknown regime {unknown[0]!r}; "
            f"use {', '.join(REGIMES_BY_LABEL)}"
        )


def _as_tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


@attrs.frozen
class RuleSetting:
    """How a profile changes one rule: ``[strategies.params.rules.RSI_OVERSOLD_LONG]``.

    ``enabled = false`` drops the rule; ``weight`` scales its vote in the
    aggregation (0 counts it out of the bias but not of the vote count);
    ``bias`` replaces its bias score; ``regimes`` replaces the regimes it
    counts in (``"bull"``, ``"bear"``, ``"range"``, ``"unknown"``).
    """

    enabled: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    weight: float = attrs.field(default=1.0, validator=_weight)
    bias: float | None = attrs.field(default=None, validator=_bias_or_none)
    regimes: tuple[str, ...] | None = attrs.field(
        default=None, converter=_as_tuple, validator=_regimes_or_none
    )


def _rules(_inst: object, _attr: attrs.Attribute[object], value: object) -> None:
    if not isinstance(value, Mapping):
        raise ValueError("turtle_rules: rules must be a table of rule names")
    for name, setting in value.items():
        if name not in RULES_BY_NAME:
            raise ValueError(
                f"turtle_rules: rules has no rule named {name!r}; the rules are "
                f"{', '.join(rule.name for rule in REFERENCE_RULES)}"
            )
        if not isinstance(setting, RuleSetting):
            raise ValueError(f"turtle_rules: rules.{name} must be a table, got {setting!r}")


def _kinds(_inst: object, attr: attrs.Attribute[tuple[str, ...]], value: object) -> None:
    if not isinstance(value, tuple | list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"turtle_rules: {attr.name} must be a list of rule kinds")
    unknown = [v for v in value if v not in _KINDS]
    if unknown:
        raise ValueError(
            f"turtle_rules: {attr.name}: unknown rule kind {unknown[0]!r}; use {', '.join(_KINDS)}"
        )


def _timeframe(_inst: object, attr: attrs.Attribute[str | None], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _TIMEFRAME.match(value):
        raise ValueError(
            f"turtle_rules: {attr.name} must be a bar size like '5m', '4h' or '1d', got {value!r}"
        )


def _aggregation(_inst: object, attr: attrs.Attribute[str], value: object) -> None:
    if value not in ("weighted_mean", "clamped_sum"):
        raise ValueError(
            f"turtle_rules: {attr.name} must be 'weighted_mean' or 'clamped_sum', got {value!r}"
        )


def _default_vetoed() -> tuple[str, ...]:
    return (RuleKind.TREND.value, RuleKind.BREAKOUT.value)


@attrs.frozen
class TurtleRulesParams:
    """The 19-rule Turtle / RSI / Bollinger / Stochastic / EMA / ADX rule set (see the README)."""

    # Indicators (reference: 20/55-bar channels, RSI 14, Stochastic 14/3, ADX 14,
    # EMA 20/50, ATR 14, Bollinger 20/2, volume SMA 20).
    breakout_fast: int = attrs.field(default=20, validator=_period)
    breakout_slow: int = attrs.field(default=55, validator=_period)
    rsi_period: int = attrs.field(default=14, validator=_period)
    stoch_k_period: int = attrs.field(default=14, validator=_period)
    stoch_k_smooth: int = attrs.field(default=1, validator=_period)
    stoch_d_period: int = attrs.field(default=3, validator=_period)
    adx_period: int = attrs.field(default=14, validator=_period)
    ema_fast: int = attrs.field(default=20, validator=_period)
    ema_slow: int = attrs.field(default=50, validator=_period)
    atr_period: int = attrs.field(default=14, validator=_period)
    bb_period: int = attrs.field(default=20, validator=_period)
    bb_std: float = attrs.field(default=2.0, validator=_positive)
    volume_period: int = attrs.field(default=20, validator=_period)

    # Levels inside the rules.
    rsi_oversold: float = attrs.field(default=30.0, validator=_level)
    rsi_overbought: float = attrs.field(default=70.0, validator=_level)
    rsi_extreme_oversold: float = attrs.field(default=20.0, validator=_level)
    rsi_extreme_overbought: float = attrs.field(default=80.0, validator=_level)
    trend_adx: float = attrs.field(default=25.0, validator=_level)
    bb_rsi_long: float = attrs.field(default=40.0, validator=_level)
    bb_rsi_short: float = attrs.field(default=60.0, validator=_level)
    stoch_oversold: float = attrs.field(default=20.0, validator=_level)
    stoch_overbought: float = attrs.field(default=80.0, validator=_level)
    strong_trend_rsi: float = attrs.field(default=50.0, validator=_level)
    super_rsi_long: float = attrs.field(default=35.0, validator=_level)
    super_rsi_short: float = attrs.field(default=65.0, validator=_level)
    super_adx: float = attrs.field(default=20.0, validator=_level)

    # Regime detection.
    regime_trend_adx: float = attrs.field(default=25.0, validator=_level)
    regime_trend_bars: int = attrs.field(default=3, validator=_bars)
    regime_range_adx: float = attrs.field(default=20.0, validator=_level)
    regime_range_bars: int = attrs.field(default=5, validator=_bars)
    range_vetoed_kinds: tuple[str, ...] = attrs.field(
        factory=_default_vetoed, converter=_as_tuple, validator=_kinds
    )
    vol_low_pct: float = attrs.field(default=0.5, validator=_positive)
    vol_high_pct: float = attrs.field(default=1.5, validator=_positive)

    # Aggregation and decision.
    aggregation: Literal["weighted_mean", "clamped_sum"] = attrs.field(
        default="weighted_mean", validator=_aggregation
    )
    activation_threshold: float = attrs.field(default=0.7, validator=_threshold)
    min_confidence: float = attrs.field(default=0.0, validator=_fraction)
    rules: Mapping[str, RuleSetting] = attrs.field(factory=dict, validator=_rules)

    # Orders.
    stop_atr: float = attrs.field(default=2.5, validator=_positive)
    take_profit_atr: float | None = attrs.field(default=None, validator=_positive_or_none)
    exit_on_opposite: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    timeframe: str | None = attrs.field(default=None, validator=_timeframe)
    #: At least this many bars before the first decision (more when an indicator needs it).
    min_warmup_bars: int = attrs.field(default=0, validator=_bars_or_zero)

    def __attrs_post_init__(self) -> None:
        pairs = (
            ("breakout_fast", "breakout_slow"),
            ("ema_fast", "ema_slow"),
            ("regime_range_adx", "regime_trend_adx"),
            ("vol_low_pct", "vol_high_pct"),
            ("rsi_extreme_oversold", "rsi_oversold"),
            ("rsi_overbought", "rsi_extreme_overbought"),
        )
        for low, high in pairs:
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"turtle_rules: {low} ({getattr(self, low)!r}) must not be above "
                    f"{high} ({getattr(self, high)!r})"
                )
