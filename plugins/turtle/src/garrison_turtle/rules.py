"""The 19 rules of the reference rule set, as data: name, kind, bias, regimes, condition.

A rule *fires* when its condition holds on the bar's indicator values. Each
condition is written once, with ``<``, ``>`` and ``&`` only, so the same
function evaluates one bar (Python floats, as ``ctx.indicators`` gives them)
and a whole series (numpy columns, for the screen): a ``nan`` value compares
False either way, so a rule never fires on an indicator that is not warm.

Names, kinds, biases, regimes and conditions are the reference's
(``rule-based-bot-binance.md``, the table of ``trading_rules.py``); the levels
inside the conditions are :class:`Levels`, fed from the strategy's params.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any

import attrs


class Regime(enum.IntEnum):
    """Market regime. The integer is the code the regime indicator emits (as a float)."""

    UNKNOWN = 0
    BULL = 1
    BEAR = 2
    RANGE = 3

    @property
    def label(self) -> str:
        """The lower-case name profiles use (``"bull"``, ``"range"``, ...)."""
        return self.name.lower()


class VolatilityRegime(enum.IntEnum):
    """Volatility regime by ATR as a percentage of the close."""

    LOW = 0
    NORMAL = 1
    HIGH = 2


class RuleKind(enum.StrEnum):
    """What a rule trades on; in a range, the kinds in ``range_vetoed_kinds`` are vetoed."""

    TREND = "trend"
    MEAN_REVERSION = "mean_reversion"
    BREAKOUT = "breakout"
    COMBO = "combo"


#: Regime names a profile may use, by name.
REGIMES_BY_LABEL: Mapping[str, Regime] = {regime.label: regime for regime in Regime}


@attrs.frozen
class Levels:
    """The thresholds inside the rule conditions (reference defaults in the params)."""

    rsi_oversold: float
    rsi_overbought: float
    rsi_extreme_oversold: float
    rsi_extreme_overbought: float
    trend_adx: float
    bb_rsi_long: float
    bb_rsi_short: float
    stoch_oversold: float
    stoch_overbought: float
    strong_trend_rsi: float
    super_rsi_long: float
    super_rsi_short: float
    super_adx: float


#: The bar's values a condition reads: a float per name, or a column per name.
Values = Mapping[str, Any]
Condition = Callable[[Values, Levels], Any]


def _rising(v: Values) -> Any:
    return v["ema_fast"] > v["ema_slow"]


def _falling(v: Values) -> Any:
    return v["ema_fast"] < v["ema_slow"]


def _breakout_20_long(v: Values, _lv: Levels) -> Any:
    return v["close"] > v["high_20"]


def _breakout_20_short(v: Values, _lv: Levels) -> Any:
    return v["close"] < v["low_20"]


def _breakout_55_long(v: Values, _lv: Levels) -> Any:
    return v["close"] > v["high_55"]


def _breakout_55_short(v: Values, _lv: Levels) -> Any:
    return v["close"] < v["low_55"]


def _rsi_oversold(v: Values, lv: Levels) -> Any:
    return v["rsi"] < lv.rsi_oversold


def _rsi_overbought(v: Values, lv: Levels) -> Any:
    return v["rsi"] > lv.rsi_overbought


def _rsi_extreme_oversold(v: Values, lv: Levels) -> Any:
    return v["rsi"] < lv.rsi_extreme_oversold


def _rsi_extreme_overbought(v: Values, lv: Levels) -> Any:
    return v["rsi"] > lv.rsi_extreme_overbought


def _golden_cross(v: Values, lv: Levels) -> Any:
    return _rising(v) & (v["adx"] > lv.trend_adx)


def _death_cross(v: Values, lv: Levels) -> Any:
    return _falling(v) & (v["adx"] > lv.trend_adx)


def _bb_oversold(v: Values, lv: Levels) -> Any:
    return (v["close"] < v["bb_lower"]) & (v["rsi"] < lv.bb_rsi_long)


def _bb_overbought(v: Values, lv: Levels) -> Any:
    return (v["close"] > v["bb_upper"]) & (v["rsi"] > lv.bb_rsi_short)


def _stoch_oversold(v: Values, lv: Levels) -> Any:
    return (v["stoch_k"] < lv.stoch_oversold) & (v["stoch_d"] < lv.stoch_oversold)


def _stoch_overbought(v: Values, lv: Levels) -> Any:
    return (v["stoch_k"] > lv.stoch_overbought) & (v["stoch_d"] > lv.stoch_overbought)


def _stoch_bullish_cross(v: Values, lv: Levels) -> Any:
    return (v["stoch_k"] > v["stoch_d"]) & (v["stoch_k"] < lv.stoch_overbought)


def _strong_uptrend(v: Values, lv: Levels) -> Any:
    return (v["adx"] > lv.trend_adx) & _rising(v) & (v["rsi"] > lv.strong_trend_rsi)


def _strong_downtrend(v: Values, lv: Levels) -> Any:
    return (v["adx"] > lv.trend_adx) & _falling(v) & (v["rsi"] < lv.strong_trend_rsi)


def _super_bullish(v: Values, lv: Levels) -> Any:
    return (
        (v["rsi"] < lv.super_rsi_long)
        & _rising(v)
        & (v["close"] < v["bb_middle"])
        & (v["adx"] > lv.super_adx)
    )


def _super_bearish(v: Values, lv: Levels) -> Any:
    return (
        (v["rsi"] > lv.super_rsi_short)
        & _falling(v)
        & (v["close"] > v["bb_middle"])
        & (v["adx"] > lv.super_adx)
    )


@attrs.frozen
class Rule:
    """One rule: fires on ``condition``; counts in ``regimes`` with ``bias`` times ``weight``.

    ``bias`` is from −1 (strong short) to +1 (strong long); ``trigger`` says the
    condition in words (the reference table's column).
    """

    name: str
    kind: RuleKind
    bias: float
    regimes: frozenset[Regime]
    trigger: str
    condition: Condition = attrs.field(eq=False, repr=False)
    weight: float = 1.0

    @property
    def feature(self) -> str:
        """The name of the signal feature that says whether the rule fired (1.0) or not (0.0)."""
        return f"rule_{self.name.lower()}"


_BULL_RANGE = frozenset({Regime.BULL, Regime.RANGE})
_BEAR_RANGE = frozenset({Regime.BEAR, Regime.RANGE})
_BULL = frozenset({Regime.BULL})
_BEAR = frozenset({Regime.BEAR})
_TREND, _MEAN, _BREAK, _COMBO = (
    RuleKind.TREND,
    RuleKind.MEAN_REVERSION,
    RuleKind.BREAKOUT,
    RuleKind.COMBO,
)

#: The reference's 19 rules, in its order (the order biases are summed in).
REFERENCE_RULES: tuple[Rule, ...] = (
    Rule(
        "TURTLE_20DAY_BREAKOUT_LONG", _BREAK, 0.7, _BULL_RANGE, "close > high_20", _breakout_20_long
    ),
    Rule(
        "TURTLE_20DAY_BREAKOUT_SHORT",
        _BREAK,
        -0.7,
        _BEAR_RANGE,
        "close < low_20",
        _breakout_20_short,
    ),
    Rule("TURTLE_55DAY_BREAKOUT_LONG", _BREAK, 0.9, _BULL, "close > high_55", _breakout_55_long),
    Rule("TURTLE_55DAY_BREAKOUT_SHORT", _BREAK, -0.9, _BEAR, "close < low_55", _breakout_55_short),
    Rule("RSI_OVERSOLD_LONG", _MEAN, 0.6, _BULL_RANGE, "RSI < 30", _rsi_oversold),
    Rule("RSI_OVERBOUGHT_SHORT", _MEAN, -0.6, _BEAR_RANGE, "RSI > 70", _rsi_overbought),
    Rule("RSI_EXTREME_OVERSOLD", _MEAN, 0.8, _BULL_RANGE, "RSI < 20", _rsi_extreme_oversold),
    Rule("RSI_EXTREME_OVERBOUGHT", _MEAN, -0.8, _BEAR_RANGE, "RSI > 80", _rsi_extreme_overbought),
    Rule("GOLDEN_CROSS", _TREND, 0.5, _BULL, "EMA20 > EMA50, ADX > 25", _golden_cross),
    Rule("DEATH_CROSS", _TREND, -0.5, _BEAR, "EMA20 < EMA50, ADX > 25", _death_cross),
    Rule("BB_OVERSOLD", _MEAN, 0.6, _BULL_RANGE, "close < BB lower, RSI < 40", _bb_oversold),
    Rule("BB_OVERBOUGHT", _MEAN, -0.6, _BEAR_RANGE, "close > BB upper, RSI > 60", _bb_overbought),
    Rule("STOCH_OVERSOLD", _MEAN, 0.5, _BULL_RANGE, "Stoch K, D < 20", _stoch_oversold),
    Rule("STOCH_OVERBOUGHT", _MEAN, -0.5, _BEAR_RANGE, "Stoch K, D > 80", _stoch_overbought),
    Rule("STOCH_BULLISH_CROSS", _MEAN, 0.4, _BULL_RANGE, "K > D, K < 80", _stoch_bullish_cross),
    Rule(
        "STRONG_UPTREND", _TREND, 0.7, _BULL, "ADX > 25, EMA20 > EMA50, RSI > 50", _strong_uptrend
    ),
    Rule(
        "STRONG_DOWNTREND",
        _TREND,
        -0.7,
        _BEAR,
        "ADX > 25, EMA20 < EMA50, RSI < 50",
        _strong_downtrend,
    ),
    Rule(
        "SUPER_BULLISH",
        _COMBO,
        0.9,
        _BULL_RANGE,
        "RSI < 35, EMA20 > EMA50, close < BB middle, ADX > 20",
        _super_bullish,
    ),
    Rule(
        "SUPER_BEARISH",
        _COMBO,
        -0.9,
        _BEAR_RANGE,
        "RSI > 65, EMA20 < EMA50, close > BB middle, ADX > 20",
        _super_bearish,
    ),
)

#: The rules by name.
RULES_BY_NAME: Mapping[str, Rule] = {rule.name: rule for rule in REFERENCE_RULES}
