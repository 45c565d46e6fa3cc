"""Parameters of the pullback strategy, as a profile's ``[strategies.params]`` table gives them.

Defaults are the reference bot's (``pullback-ml-bot-bybit*.md``); where the
reference names a setting without a number, the value comes from the same
bot's published settings (pivot 2/2 bars, ATR 14, EMA 200, the 0.165 % cost
of a round trip) and says so in the plugin README.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Literal

import attrs

_TIMEFRAME = re.compile(r"^[1-9][0-9]*[mhdw]$")
#: An attrs validator.
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]

_UNITS_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def timeframe_ms(timeframe: str) -> int:
    """Milliseconds of a bar size such as ``"15m"`` or ``"4h"``."""
    return int(timeframe[:-1]) * _UNITS_MS[timeframe[-1]]


def _fail(attr: attrs.Attribute[Any], expected: str, value: object) -> ValueError:
    return ValueError(f"pullback: {attr.name} must be {expected}, got {value!r}")


def _bars(minimum: int) -> Validator:
    def check(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise _fail(attr, f"a whole number of bars >= {minimum}", value)

    return check


def _number(low: float, high: float = math.inf, *, low_open: bool = False) -> Validator:
    def check(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(attr, "a number", value)
        ok = math.isfinite(value) and (value > low if low_open else value >= low) and value <= high
        if not ok:
            bound = f"> {low}" if low_open else f">= {low}"
            upper = "" if high == math.inf else f" and <= {high}"
            raise _fail(attr, f"a number {bound}{upper}", value)

    return check


def _timeframe(optional: bool) -> Validator:
    def check(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str) or not _TIMEFRAME.match(value):
            raise _fail(attr, "a bar size like '15m', '4h' or '1d'", value)

    return check


def _choice(*allowed: str) -> Validator:
    def check(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
        if value not in allowed:
            raise _fail(attr, "one of " + ", ".join(repr(a) for a in allowed), value)

    return check


def _bool(_inst: object, attr: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise _fail(attr, "true or false", value)


@attrs.frozen
class PullbackParams:
    """Every setting of the pullback strategy; see the plugin README for each one."""

    #: The one bar size to decide on; None: every timeframe the feed has that is not context.
    timeframe: str | None = attrs.field(default=None, validator=_timeframe(True))
    #: Pivot bars on the left and on the right of a pivot high or low.
    left: int = attrs.field(default=2, validator=_bars(1))
    right: int = attrs.field(default=2, validator=_bars(1))
    #: S/R: the latest pivot among the last ``sr_lookback`` bars is the level.
    sr_lookback: int = attrs.field(default=30, validator=_bars(1))
    #: Zone half-width around a level, as a fraction of it (0.3 %).
    zone_pct: float = attrs.field(default=0.003, validator=_number(0.0, 0.5, low_open=True))
    #: Candles closing in the trend direction that confirm a pullback.
    confirmation_candles: int = attrs.field(default=2, validator=_bars(1))
    #: Market structure (HH/HL up, LH/LL down) must not be against a setup.
    structure_filter: bool = attrs.field(default=True, validator=_bool)
    #: Bars searched back for the previous pivot used by the stop.
    pivot_lookback: int = attrs.field(default=50, validator=_bars(1))
    #: ATR length (Wilder) for stop buffers and features.
    atr_period: int = attrs.field(default=14, validator=_bars(1))
    #: Stop buffer in ATR before volatility widening.
    sl_buf_atr: float = attrs.field(default=1.0, validator=_number(0.0))
    #: ATR values the volatility percentile is taken over.
    atr_percentile_window: int = attrs.field(default=100, validator=_bars(2))
    #: ATR percentile above which the buffer widens by ``high_vol_widen``.
    high_vol_percentile: float = attrs.field(default=75.0, validator=_number(0.0, 100.0))
    high_vol_widen: float = attrs.field(default=0.3, validator=_number(0.0))
    #: ATR percentile above which the buffer widens by ``extreme_vol_widen`` instead.
    extreme_vol_percentile: float = attrs.field(default=90.0, validator=_number(0.0, 100.0))
    extreme_vol_widen: float = attrs.field(default=0.5, validator=_number(0.0))
    #: Smallest stop distance, as a fraction of the entry (1 %).
    min_stop_pct: float = attrs.field(default=0.01, validator=_number(0.0, 0.5))
    #: Reward to risk, net of the round trip's costs.
    rr: float = attrs.field(default=2.5, validator=_number(0.0, low_open=True))
    #: Costs of a round trip as fractions of the price: entry fee, exit fee, slippage.
    entry_fee_rate: float = attrs.field(default=0.0006, validator=_number(0.0, 0.1))
    exit_fee_rate: float = attrs.field(default=0.00055, validator=_number(0.0, 0.1))
    slippage_rate: float = attrs.field(default=0.0005, validator=_number(0.0, 0.1))
    #: Optional EMA trend filter: longs above the EMA, shorts below it.
    use_ema: bool = attrs.field(default=False, validator=_bool)
    ema_len: int = attrs.field(default=200, validator=_bars(1))
    #: Higher-timeframe S/R: bar size, and where its bars come from.
    htf_timeframe: str = attrs.field(default="4h", validator=_timeframe(False))
    htf_source: Literal["base", "feed"] = attrs.field(
        default="base", validator=_choice("base", "feed")
    )
    #: HTF bars the levels are found in.
    htf_bars: int = attrs.field(default=50, validator=_bars(3))
    #: A signal must have at least this many R of room before the opposing HTF level (0: off).
    htf_min_room_r: float = attrs.field(default=1.0, validator=_number(0.0))
    #: An HTF level this close to the entry (fraction of price) counts as "near" (features).
    htf_near_pct: float = attrs.field(default=0.01, validator=_number(0.0))
    #: When setup state is written to storage: "change" (each change), "stop" (at the end),
    #: "auto" (each change in paper and live, at the end in replay).
    persist: Literal["auto", "change", "stop"] = attrs.field(
        default="auto", validator=_choice("auto", "change", "stop")
    )

    def __attrs_post_init__(self) -> None:
        if self.extreme_vol_percentile < self.high_vol_percentile:
            raise ValueError(
                "pullback: extreme_vol_percentile must be >= high_vol_percentile, got "
                f"{self.extreme_vol_percentile!r} < {self.high_vol_percentile!r}"
            )
        if self.timeframe is not None and self.timeframe == self.htf_timeframe:
            raise ValueError(
                f"pullback: htf_timeframe must differ from timeframe, both are {self.timeframe!r}"
            )

    @property
    def round_trip_cost(self) -> float:
        """Entry fee, exit fee and slippage of one round trip, as a fraction of the price."""
        return self.entry_fee_rate + self.exit_fee_rate + self.slippage_rate
