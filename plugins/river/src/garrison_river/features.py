"""What the model reads from a signal, and what it learns from an outcome."""

from __future__ import annotations

import math
from collections.abc import Sequence

from garrison_api import Outcome, Signal

#: Features the scorer derives from every signal's prices, whatever the strategy.
DERIVED: tuple[str, ...] = ("side", "risk_pct", "reward_risk")


def derived(signal: Signal) -> dict[str, float]:
    """``side`` (+1 long, -1 short), ``risk_pct`` (entry to stop, % of entry) and
    ``reward_risk`` (take-profit distance over stop distance; 0 without a target)."""
    entry, stop, target = signal.entry, signal.stop, signal.take_profit
    risk = abs(entry - stop) if stop is not None else math.nan
    usable = math.isfinite(entry) and entry > 0 and math.isfinite(risk) and risk > 0
    risk_pct = 100.0 * risk / entry if usable else 0.0
    reward_risk = abs(target - entry) / risk if usable and target is not None else 0.0
    return {"side": float(signal.side.sign), "risk_pct": risk_pct, "reward_risk": reward_risk}


def vector(signal: Signal, names: Sequence[str] | None) -> dict[str, float] | None:
    """The model's input: the chosen features (all when ``names`` is None), then the derived.

    None when the signal lacks one of ``names``. A feature that is not a
    finite number reads as 0.0: a scaler fed NaN would carry it into every
    later prediction.
    """
    features = signal.features
    chosen = sorted(features) if names is None else names
    x: dict[str, float] = {}
    for name in chosen:
        value = features.get(name)
        if value is None:
            return None
        x[name] = float(value) if math.isfinite(value) else 0.0
    for name, value in derived(signal).items():
        x.setdefault(name, value)
    return x


def label(outcome: Outcome) -> bool:
    """What the model predicts: a win (take-profit before stop; for a signal without a
    target, a positive R where it ended)."""
    return outcome.r_multiple > 0
