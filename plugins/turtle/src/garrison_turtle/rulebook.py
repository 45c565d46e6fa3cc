"""The rule set a profile configured, and how its rules add up to a decision.

For a bar in regime *r*, a rule **counts** when it is enabled, *r* is one of
its regimes, and it is not vetoed (in a range, the kinds of
``range_vetoed_kinds`` are: trend and breakout by default). It is **active**
when it counts and fires. The bias is the weighted average of the active
rules' bias scores (``aggregation = "weighted_mean"``, the default) or, as
the reference's rule engine does it, their weighted sum clamped to [−1, 1]
(``"clamped_sum"``). Confidence is the consensus ratio: the larger of the
active rules pointing long and those pointing short, over both. The bar
proposes a long when bias ≥ ``activation_threshold`` (a short when
bias ≤ −threshold) and confidence ≥ ``min_confidence``, both within
:data:`TIE` (the scores are decimals; binary sums of them are not exact).

:meth:`RuleBook.decide` does this for one bar; :meth:`RuleBook.propose_mask`
for a whole series, with the same arithmetic in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np
import numpy.typing as npt

from garrison_turtle.rules import (
    REFERENCE_RULES,
    REGIMES_BY_LABEL,
    Levels,
    Regime,
    Rule,
    RuleKind,
    Values,
)
from garrison_turtle.rules_params import TurtleRulesParams

#: A bias or confidence this close to its threshold counts as reaching it: the scores are
#: decimals, and (0.7 + 0.9 + 0.5 + 0.7) / 4, which is 0.7, must not be lost to binary rounding.
TIE = 1e-9
#: The screen's thresholds are looser still, so float noise can only flag more bars.
_SCREEN_SLACK = 2 * TIE


@attrs.frozen
class Decision:
    """What the rules say about one bar."""

    regime: Regime
    bias: float
    confidence: float
    long_votes: int
    short_votes: int
    fired: tuple[Rule, ...]  # active rules, in table order
    side: int  # +1 propose long, -1 propose short, 0 neutral


def levels_of(params: TurtleRulesParams) -> Levels:
    """The rule levels of ``params``."""
    return Levels(
        rsi_oversold=params.rsi_oversold,
        rsi_overbought=params.rsi_overbought,
        rsi_extreme_oversold=params.rsi_extreme_oversold,
        rsi_extreme_overbought=params.rsi_extreme_overbought,
        trend_adx=params.trend_adx,
        bb_rsi_long=params.bb_rsi_long,
        bb_rsi_short=params.bb_rsi_short,
        stoch_oversold=params.stoch_oversold,
        stoch_overbought=params.stoch_overbought,
        strong_trend_rsi=params.strong_trend_rsi,
        super_rsi_long=params.super_rsi_long,
        super_rsi_short=params.super_rsi_short,
        super_adx=params.super_adx,
    )


def configured_rules(params: TurtleRulesParams) -> tuple[Rule, ...]:
    """The reference rules with the profile's ``rules`` settings applied, disabled ones left out."""
    rules: list[Rule] = []
    for rule in REFERENCE_RULES:
        setting = params.rules.get(rule.name)
        if setting is None:
            rules.append(rule)
            continue
        if not setting.enabled:
            continue
        regimes = rule.regimes
        if setting.regimes is not None:
            regimes = frozenset(REGIMES_BY_LABEL[label] for label in setting.regimes)
        bias = rule.bias if setting.bias is None else float(setting.bias)
        rules.append(attrs.evolve(rule, bias=bias, regimes=regimes, weight=float(setting.weight)))
    return tuple(rules)


class RuleBook:
    """The configured rules, grouped by the regime they count in."""

    def __init__(self, params: TurtleRulesParams) -> None:
        self.rules = configured_rules(params)
        self.levels = levels_of(params)
        vetoed = {RuleKind(kind) for kind in params.range_vetoed_kinds}
        self._counting: dict[Regime, tuple[Rule, ...]] = {
            regime: tuple(
                rule
                for rule in self.rules
                if regime in rule.regimes and not (regime is Regime.RANGE and rule.kind in vetoed)
            )
            for regime in Regime
        }
        self._mean = params.aggregation == "weighted_mean"
        self._threshold = float(params.activation_threshold)
        self._min_confidence = float(params.min_confidence)

    def counting(self, regime: Regime) -> tuple[Rule, ...]:
        """The rules that count in ``regime`` (enabled, allowed there, not vetoed)."""
        return self._counting[regime]

    def decide(self, regime: Regime, values: Values) -> Decision:
        """Evaluate the rules that count in ``regime`` on one bar's ``values``."""
        levels = self.levels
        fired = tuple(rule for rule in self._counting[regime] if rule.condition(values, levels))
        weighted = 0.0
        weights = 0.0
        long_votes = short_votes = 0
        for rule in fired:
            weighted += rule.weight * rule.bias
            weights += rule.weight
            if rule.bias > 0:
                long_votes += 1
            elif rule.bias < 0:
                short_votes += 1
        bias = self._bias(weighted, weights)
        votes = long_votes + short_votes
        confidence = max(long_votes, short_votes) / votes if votes else 0.0
        side = 0
        if votes and confidence >= self._min_confidence - TIE:
            if bias > 0 and bias >= self._threshold - TIE:
                side = 1
            elif bias < 0 and bias <= -self._threshold + TIE:
                side = -1
        return Decision(regime, bias, confidence, long_votes, short_votes, fired, side)

    def _bias(self, weighted: float, weights: float) -> float:
        if self._mean:
            return weighted / weights if weights > 0 else 0.0
        return min(1.0, max(-1.0, weighted))

    def propose_mask(
        self, regimes: npt.NDArray[np.float64], columns: Mapping[str, npt.NDArray[np.float64]]
    ) -> npt.NDArray[np.bool_]:
        """Per bar: whether the rules may propose a side there (a superset of :meth:`decide`'s).

        The same sums as :meth:`decide`, in the same order, one regime at a
        time; the thresholds are loosened by a hair so float noise can only
        flag more bars.
        """
        n = regimes.shape[0]
        weighted = np.zeros(n)
        weights = np.zeros(n)
        long_votes = np.zeros(n)
        short_votes = np.zeros(n)
        for regime in Regime:
            in_regime = regimes == float(regime)
            if not in_regime.any():
                continue
            for rule in self._counting[regime]:
                fired = np.asarray(rule.condition(columns, self.levels), dtype=np.bool_)
                active = (fired & in_regime).astype(np.float64)
                weighted += active * (rule.weight * rule.bias)
                weights += active * rule.weight
                if rule.bias > 0:
                    long_votes += active
                elif rule.bias < 0:
                    short_votes += active
        votes = long_votes + short_votes
        with np.errstate(divide="ignore", invalid="ignore"):
            if self._mean:
                bias = np.where(weights > 0, weighted / weights, 0.0)
            else:
                bias = np.clip(weighted, -1.0, 1.0)
            confidence = np.where(votes > 0, np.maximum(long_votes, short_votes) / votes, 0.0)
        threshold = self._threshold - _SCREEN_SLACK
        mask: npt.NDArray[np.bool_] = (
            (votes > 0)
            & (confidence >= self._min_confidence - _SCREEN_SLACK)
            & (np.abs(bias) >= threshold)
        )
        return mask
