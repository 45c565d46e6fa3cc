"""Turtle N-unit sizing: a move of N (the ATR) against the position loses a set share of equity."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
from garrison_api import AccountState, Market, Score, Signal

from garrison_sizers.quantity import fit_to_market


def _positive(_inst: object, attr: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"turtle_n: {attr.name} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"turtle_n: {attr.name} must be a positive number, got {value!r}")


def _optional_positive(inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _positive(inst, attr, value)


def _percent(inst: object, attr: attrs.Attribute[float], value: object) -> None:
    _positive(inst, attr, value)
    if value > 100:  # type: ignore[operator]
        raise ValueError(f"turtle_n: {attr.name} is a percent of equity (0-100], got {value!r}")


def _min_value(_inst: object, attr: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"turtle_n: {attr.name} must be a number >= 0, got {value!r}")


def _feature(_inst: object, attr: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"turtle_n: {attr.name} must name a signal feature, got {value!r}")


@attrs.frozen
class TurtleNParams:
    """The Turtle unit: ``risk_pct`` of equity per ``n_multiple`` × N of adverse move.

    Defaults from the reference rule-based bot (1 % of equity, positions of 5
    to 1000 USDT); ``n_multiple = 1`` is the classic Turtle unit (1 % per N),
    2 sizes to a 2N stop as the reference bot does. N is read from the
    signal's ``n_feature`` (Garrison's Turtle strategy gives ``n``).
    """

    risk_pct: float = attrs.field(default=1.0, validator=_percent)
    n_multiple: float = attrs.field(default=1.0, validator=_positive)
    n_feature: str = attrs.field(default="n", validator=_feature)
    min_value: float = attrs.field(default=5.0, validator=_min_value)
    max_value: float | None = attrs.field(default=1000.0, validator=_optional_positive)


class TurtleNSizer:
    """``qty = equity · risk_pct / 100 / (n_multiple · N)``, within the value bounds.

    Then capped by ``max_value`` (USDT) and the market's maximum, rounded
    down to the lot step; None ("do not trade") when the signal has no
    positive finite N, equity is not positive, or the position would be
    worth less than ``min_value`` or the exchange's minimums. The score is
    not used.
    """

    Params: ClassVar[type[TurtleNParams]] = TurtleNParams

    def __init__(self, params: TurtleNParams | None = None) -> None:
        self.params = params if params is not None else TurtleNParams()
        self._fraction = self.params.risk_pct / 100

    def size(
        self, signal: Signal, score: Score | None, account: AccountState, market: Market
    ) -> float | None:
        """Quantity in contracts for ``signal`` on ``market``, or None for "do not trade"."""
        params = self.params
        n = signal.features.get(params.n_feature)
        entry = signal.entry
        equity = account.equity
        if n is None or not (math.isfinite(n) and n > 0) or not math.isfinite(entry):
            return None
        if not equity > 0 or not entry > 0:
            return None
        qty = equity * self._fraction / (params.n_multiple * n) / market.contract_size
        return fit_to_market(qty, entry, market, params.max_value, params.min_value)
