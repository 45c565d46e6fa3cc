"""Quantities that fit the market: risk over the fee-aware loss per unit, caps, the lot grid."""

from __future__ import annotations

import functools
import math
from decimal import Decimal

from garrison_api import Market

# Absorbs float noise such as 0.3 / 0.1 = 2.9999999999999996 before flooring to the lot.
_LOT_TOLERANCE = 1e-9


@functools.lru_cache(maxsize=1024)
def _decimals(step: float) -> int:
    """Decimal places of a lot step as the exchange writes it: 0.001 -> 3, 1 -> 0, 1e-05 -> 5."""
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@functools.lru_cache(maxsize=1024)
def _lot_grid(step: float) -> tuple[int, int]:
    """``step`` as a whole number over a power of ten: 0.001 -> (1, 1000), 0.25 -> (25, 100)."""
    scale = 10 ** _decimals(step)
    return round(step * scale), scale


def floor_to_step(qty: float, step: float) -> float:
    """``qty`` rounded down to a whole number of ``step`` (tolerant of float noise).

    The result is the float nearest to ``steps × step`` written in decimals
    (3 × 0.1 gives 0.3, not 0.30000000000000004): the count of steps times the
    step's digits, an exact integer, divided once by the power of ten. This is
    what ``round(steps * step, decimals)`` gives, without its decimal
    conversion.
    """
    steps = math.floor(qty / step + _LOT_TOLERANCE)
    units, scale = _lot_grid(step)
    return steps * units / scale


def risk_quantity(risk: float, entry: float, stop: float, fee_rate: float, market: Market) -> float:
    """Contracts whose stop-out loses ``risk``, the taker fee of both sides included.

    Per unit a stop-out costs ``|entry − stop| + fee_rate·(entry + stop)``.
    """
    loss_per_unit = abs(entry - stop) + fee_rate * (entry + stop)
    return risk / loss_per_unit / market.contract_size


def fit_to_market(
    qty: float,
    entry: float,
    market: Market,
    max_notional: float | None = None,
    min_notional: float = 0.0,
) -> float | None:
    """``qty`` capped by ``max_notional`` and the market's maximum, floored to the lot step.

    None when the result is below the market's minimum quantity or notional,
    or below ``min_notional`` (a sizer's own minimum position value).
    """
    contract = market.contract_size
    if max_notional is not None:
        qty = min(qty, max_notional / (entry * contract))
    if market.max_qty is not None:
        qty = min(qty, market.max_qty)
    if not market.lot_step > 0:
        raise ValueError(
            f"market {market.symbol}: lot_step must be positive, got {market.lot_step!r}"
        )
    if not math.isfinite(qty):
        return None
    qty = floor_to_step(qty, market.lot_step)
    value = qty * entry * contract
    if qty <= 0 or qty < market.min_qty or value < market.min_notional or value < min_notional:
        return None
    return qty
