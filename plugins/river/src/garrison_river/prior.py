"""The rule-based prior: what the scorer answers before it has learned enough.

The rule, documented so an operator can reason about day-one scores:

1. **Base rate from the bracket.** A price that moves as a driftless random
   walk reaches a target ``reward`` away before a stop ``risk`` away with
   probability ``risk / (risk + reward)`` (the gambler's ruin). That is the
   break-even win rate of the bracket: a 2.5 R target starts at 1 / 3.5 =
   0.286, a 1 R target at 0.5. A signal without a take-profit starts at
   ``prior_without_target`` (0.5 by default).
2. **Feature adjustments.** ``prior_weights`` adds ``weight × feature`` to the
   base rate's log-odds for each named feature the signal carries (derived
   features included), so a strategy's own knowledge ("a stronger trend
   wins more often") can shape the prior without any data.

The result is clipped to [0.01, 0.99].
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from garrison_api import Signal

from garrison_river.features import derived

_LOW, _HIGH = 0.01, 0.99


def base_rate(signal: Signal, without_target: float) -> float:
    """The bracket's break-even win probability (``without_target`` with no take-profit)."""
    reward_risk = derived(signal)["reward_risk"]
    if reward_risk <= 0:
        return without_target
    return 1.0 / (1.0 + reward_risk)


def prior(signal: Signal, weights: Mapping[str, float], without_target: float) -> float:
    """The prior probability of a win for ``signal`` (see the module's rule)."""
    p = min(max(base_rate(signal, without_target), _LOW), _HIGH)
    if weights:
        values = {**derived(signal), **signal.features}
        logit = math.log(p / (1.0 - p))
        for name, weight in weights.items():
            value = values.get(name)
            if value is not None and math.isfinite(value):
                logit += weight * value
        p = 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0)))
    return min(max(p, _LOW), _HIGH)
