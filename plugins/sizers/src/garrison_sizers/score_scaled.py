"""Score-scaled risk: the better the score, the larger the share of equity risked."""

from __future__ import annotations

import math
from typing import ClassVar

import attrs
from garrison_api import AccountState, Market, Score, Signal

from garrison_sizers.quantity import fit_to_market, risk_quantity


def _number(attr: attrs.Attribute[float], value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"score_scaled: {attr.name} must be a finite number, got {value!r}")
    return float(value)


def _risk_pct(_inst: object, attr: attrs.Attribute[float], value: object) -> None:
    v = _number(attr, value)
    if not 0 < v <= 100:
        raise ValueError(f"score_scaled: {attr.name} is a percent of equity (0-100], got {v!r}")


def _score(_inst: object, attr: attrs.Attribute[float], value: object) -> None:
    v = _number(attr, value)
    if not 0 <= v <= 1:
        raise ValueError(f"score_scaled: {attr.name} is a score in [0, 1], got {v!r}")


def _fee_rate(_inst: object, attr: attrs.Attribute[float], value: object) -> None:
    if not 0 <= _number(attr, value) < 1:
        raise ValueError(f"score_scaled: {attr.name} is a fraction per side, got {value!r}")


def _optional_positive(_inst: object, attr: attrs.Attribute[float | None], value: object) -> None:
    if value is not None and not _number(attr, value) > 0:  # type: ignore[arg-type]
        raise ValueError(f"score_scaled: {attr.name} must be a positive number, got {value!r}")


@attrs.frozen
class ScoreScaledParams:
    """Risk ``min_risk_pct`` at or below ``min_score``, ``max_risk_pct`` at or above
    ``max_score``, linear in between.

    Defaults from the reference scalp bot's dynamic risk (scores 70 → 85 of
    100 map to 2 % → 4 % of equity; Garrison's scores are 0.70 → 0.85).
    Sizing is fee-aware like ``fixed_risk``. A signal without a score (no
    scorer, or a shadow scorer only) gets ``min_risk_pct``.
    """

    min_risk_pct: float = attrs.field(default=2.0, validator=_risk_pct)
    max_risk_pct: float = attrs.field(default=4.0, validator=_risk_pct)
    min_score: float = attrs.field(default=0.70, validator=_score)
    max_score: float = attrs.field(default=0.85, validator=_score)
    fee_rate: float = attrs.field(default=0.00055, validator=_fee_rate)
    max_notional: float | None = attrs.field(default=None, validator=_optional_positive)

    def __attrs_post_init__(self) -> None:
        if not self.min_score < self.max_score:
            raise ValueError(
                f"score_scaled: min_score ({self.min_score!r}) must be below max_score "
                f"({self.max_score!r})"
            )
        if self.min_risk_pct > self.max_risk_pct:
            raise ValueError(
                f"score_scaled: min_risk_pct ({self.min_risk_pct!r}) must not exceed "
                f"max_risk_pct ({self.max_risk_pct!r})"
            )


class ScoreScaledSizer:
    """Fee-aware fixed-risk sizing at a risk interpolated from the signal's score."""

    Params: ClassVar[type[ScoreScaledParams]] = ScoreScaledParams

    def __init__(self, params: ScoreScaledParams | None = None) -> None:
        self.params = params if params is not None else ScoreScaledParams()

    def risk_pct(self, score: Score | None) -> float:
        """The percent of equity risked for ``score``."""
        p = self.params
        if score is None or not math.isfinite(score.value):
            return p.min_risk_pct
        t = (score.value - p.min_score) / (p.max_score - p.min_score)
        t = min(max(t, 0.0), 1.0)
        return p.min_risk_pct + t * (p.max_risk_pct - p.min_risk_pct)

    def size(
        self, signal: Signal, score: Score | None, account: AccountState, market: Market
    ) -> float | None:
        """Quantity in contracts for ``signal`` on ``market``, or None for "do not trade"."""
        entry, stop = signal.entry, signal.stop
        if stop is None or not (math.isfinite(entry) and math.isfinite(stop)):
            return None
        equity = account.equity
        if abs(entry - stop) <= 0 or not equity > 0:
            return None
        risk = equity * self.risk_pct(score) / 100
        qty = risk_quantity(risk, entry, stop, self.params.fee_rate, market)
        return fit_to_market(qty, entry, market, self.params.max_notional)
