"""Fixed-risk sizing: lose a set share of equity (or a set USD amount) when the stop is hit."""

from __future__ import annotations

import math
from typing import ClassVar

import attrs
from garrison_api import AccountState, Market, Score, Signal

from garrison_sizers.quantity import fit_to_market, risk_quantity


def _optional_positive(_inst: object, attr: attrs.Attribute[float | None], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"fixed_risk: {attr.name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"fixed_risk: {attr.name} must be a positive number, got {value!r}")


def _risk_pct(inst: object, attr: attrs.Attribute[float | None], value: object) -> None:
    _optional_positive(inst, attr, value)
    if value is not None and value > 100:  # type: ignore[operator]
        raise ValueError(f"fixed_risk: risk_pct is a percent of equity (0-100], got {value!r}")


def _fee_rate(_inst: object, attr: attrs.Attribute[float], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"fixed_risk: {attr.name} must be a number, got {value!r}")
    if not 0 <= value < 1:
        raise ValueError(
            f"fixed_risk: {attr.name} is a fraction per side (0.00055 = 0.055 %), got {value!r}"
        )


def _default_risk_pct(params: FixedRiskParams) -> float | None:
    # 1 % of equity unless the profile chose a fixed USD amount instead.
    return 1.0 if params.risk_usd is None else None


@attrs.frozen
class FixedRiskParams:
    """How much to risk per trade, and the costs and caps to respect.

    Set exactly one of ``risk_pct`` (percent of equity; 1.0 by default) and
    ``risk_usd`` (a fixed amount; setting it switches ``risk_pct`` off).
    ``fee_rate`` is the taker fee per side as a fraction; ``max_notional``
    caps a position's value in USDT.
    """

    # risk_usd comes first so that risk_pct's default can depend on it.
    risk_usd: float | None = attrs.field(default=None, validator=_optional_positive)
    risk_pct: float | None = attrs.field(
        default=attrs.Factory(_default_risk_pct, takes_self=True), validator=_risk_pct
    )
    fee_rate: float = attrs.field(default=0.00055, validator=_fee_rate)
    max_notional: float | None = attrs.field(default=None, validator=_optional_positive)

    def __attrs_post_init__(self) -> None:
        if (self.risk_pct is None) == (self.risk_usd is None):
            raise ValueError(
                "fixed_risk: set exactly one of risk_pct and risk_usd, got "
                f"risk_pct={self.risk_pct!r}, risk_usd={self.risk_usd!r}"
            )


class FixedRiskSizer:
    """Size so that a stop-out loses the chosen risk, fees of both sides included.

    Per unit, a stop-out costs the stop distance plus the taker fee on the
    entry and on the exit at the stop: ``|entry − stop| + fee_rate·(entry + stop)``.
    The quantity is the risk over that, in contracts, capped by
    ``max_notional`` and the market's maximum, rounded down to the lot step;
    None when there is no stop, no equity, or the result is below the
    exchange's minimum quantity or notional.
    """

    Params: ClassVar[type[FixedRiskParams]] = FixedRiskParams

    def __init__(self, params: FixedRiskParams | None = None) -> None:
        self.params = params if params is not None else FixedRiskParams()
        pct = self.params.risk_pct
        self._risk_fraction = None if pct is None else pct / 100
        self._risk_usd = self.params.risk_usd or 0.0

    def size(
        self, signal: Signal, score: Score | None, account: AccountState, market: Market
    ) -> float | None:
        """Quantity in contracts for ``signal`` on ``market``, or None for "do not trade"."""
        entry, stop = signal.entry, signal.stop
        if stop is None or not (math.isfinite(entry) and math.isfinite(stop)):
            return None
        distance = abs(entry - stop)
        equity = account.equity
        if distance <= 0 or not equity > 0:
            return None
        params = self.params
        fraction = self._risk_fraction
        risk = equity * fraction if fraction is not None else self._risk_usd
        qty = risk_quantity(risk, entry, stop, params.fee_rate, market)
        return fit_to_market(qty, entry, market, params.max_notional)
