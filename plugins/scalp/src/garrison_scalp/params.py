"""Parameters of the scalp strategy, as a profile's ``[strategies.params]`` table gives them.

Every threshold of the reference scalper is a field here, with the reference's
default. Ratios are fractions (``0.0045`` is 0.45 %); distances are in ATRs.
Where the reference names no value (lookbacks, stop buffer, combo sample
floor), the default is ours and the README says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import attrs

_TIMEFRAME = re.compile(r"^([1-9][0-9]*)([mhd])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def timeframe_ms(timeframe: str) -> int:
    """Length of a bar size such as ``"3m"`` in milliseconds (ValueError otherwise)."""
    match = _TIMEFRAME.match(timeframe) if isinstance(timeframe, str) else None
    if match is None:
        raise ValueError(
            f"scalp: a bar size like '1m', '3m' or '15m' is expected, got {timeframe!r}"
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def _number(where: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"scalp: {where} must be a finite number, got {value!r}")
    return float(value)


def _check(predicate: Callable[[float], bool], wanted: str) -> Callable[[Any, Any, Any], None]:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None:
            return
        number = _number(attribute.name, value)
        if not predicate(number):
            raise ValueError(f"scalp: {attribute.name} must be {wanted}, got {value!r}")

    return check


_POSITIVE = _check(lambda v: v > 0, "above 0")
_NON_NEGATIVE = _check(lambda v: v >= 0, "0 or more")
_FRACTION = _check(lambda v: 0 <= v <= 1, "from 0 to 1")
_RSI = _check(lambda v: 0 <= v <= 100, "from 0 to 100")


def _whole(minimum: int) -> Callable[[Any, Any, Any], None]:
    def check(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(
                f"scalp: {attribute.name} must be a whole number >= {minimum}, got {value!r}"
            )

    return check


def _bar_size(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    try:
        timeframe_ms(value)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValueError(f"scalp: {attribute.name}: {exc}") from None


def _bar_sizes(_inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, tuple | list):
        raise ValueError(f"scalp: {attribute.name} must be a list of bar sizes, got {value!r}")
    for item in value:
        _bar_size(_inst, attribute, item)


def _to_tuple(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


@attrs.frozen
class ProRules:
    """The pro-rules fallback gate: every rule must pass (reference defaults).

    RSI bands per side, the MACD histogram's sign and magnitude (in price
    units, as the reference gives it), VWAP distance in ATRs, the Fibonacci
    retracement zone of the last swing, the volume ratio, the wick rules, the
    ATR as a fraction of the close and the Bollinger width (fraction of the
    middle band). ``require_mtf`` asks the 15-minute trend to agree.
    """

    require_mtf: bool = True
    rsi_long_min: float = attrs.field(default=40.0, validator=_RSI)
    rsi_long_max: float = attrs.field(default=60.0, validator=_RSI)
    rsi_short_min: float = attrs.field(default=35.0, validator=_RSI)
    rsi_short_max: float = attrs.field(default=55.0, validator=_RSI)
    macd_min_hist: float = attrs.field(default=0.0003, validator=_NON_NEGATIVE)
    max_vwap_dist_atr: float = attrs.field(default=1.3, validator=_POSITIVE)
    fib_min: float = attrs.field(default=0.236, validator=_FRACTION)
    fib_max: float = attrs.field(default=0.618, validator=_FRACTION)
    min_volume_ratio: float = attrs.field(default=1.5, validator=_NON_NEGATIVE)
    min_wick_delta: float = attrs.field(default=0.10, validator=_FRACTION)
    min_wick_ratio: float = attrs.field(default=0.25, validator=_FRACTION)
    min_atr_pct: float = attrs.field(default=0.0005, validator=_NON_NEGATIVE)
    min_bb_width: float = attrs.field(default=0.010, validator=_NON_NEGATIVE)

    def __attrs_post_init__(self) -> None:
        for low, high in (
            ("rsi_long_min", "rsi_long_max"),
            ("rsi_short_min", "rsi_short_max"),
            ("fib_min", "fib_max"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"scalp: pro_rules.{low} ({getattr(self, low)}) is above "
                    f"pro_rules.{high} ({getattr(self, high)})"
                )

    def with_override(self, override: ProRulesOverride) -> ProRules:
        """These rules with every field the override sets replaced."""
        changes = {
            field.name: getattr(override, field.name)
            for field in attrs.fields(ProRulesOverride)
            if getattr(override, field.name) is not None
        }
        return attrs.evolve(self, **changes) if changes else self


@attrs.frozen
class ProRulesOverride:
    """One symbol's pro rules: each field set here replaces the profile's ``pro_rules`` one."""

    require_mtf: bool | None = None
    rsi_long_min: float | None = attrs.field(default=None, validator=_RSI)
    rsi_long_max: float | None = attrs.field(default=None, validator=_RSI)
    rsi_short_min: float | None = attrs.field(default=None, validator=_RSI)
    rsi_short_max: float | None = attrs.field(default=None, validator=_RSI)
    macd_min_hist: float | None = attrs.field(default=None, validator=_NON_NEGATIVE)
    max_vwap_dist_atr: float | None = attrs.field(default=None, validator=_POSITIVE)
    fib_min: float | None = attrs.field(default=None, validator=_FRACTION)
    fib_max: float | None = attrs.field(default=None, validator=_FRACTION)
    min_volume_ratio: float | None = attrs.field(default=None, validator=_NON_NEGATIVE)
    min_wick_delta: float | None = attrs.field(default=None, validator=_FRACTION)
    min_wick_ratio: float | None = attrs.field(default=None, validator=_FRACTION)
    min_atr_pct: float | None = attrs.field(default=None, validator=_NON_NEGATIVE)
    min_bb_width: float | None = attrs.field(default=None, validator=_NON_NEGATIVE)


@attrs.frozen
class ScalpParams:
    """Every knob of the scalper; see the plugin README for each one's meaning."""

    # Series.
    timeframes: tuple[str, ...] = attrs.field(
        default=("3m",), converter=_to_tuple, validator=_bar_sizes
    )
    trend_timeframe: str = attrs.field(default="15m", validator=_bar_size)
    # Indicators.
    rsi_period: int = attrs.field(default=14, validator=_whole(2))
    macd_fast: int = attrs.field(default=12, validator=_whole(1))
    macd_slow: int = attrs.field(default=26, validator=_whole(2))
    macd_signal: int = attrs.field(default=9, validator=_whole(1))
    bb_period: int = attrs.field(default=20, validator=_whole(2))
    bb_k: float = attrs.field(default=2.0, validator=_POSITIVE)
    atr_period: int = attrs.field(default=14, validator=_whole(1))
    volume_period: int = attrs.field(default=20, validator=_whole(1))
    ema_fast: int = attrs.field(default=8, validator=_whole(1))
    ema_slow: int = attrs.field(default=21, validator=_whole(2))
    trend_ema_fast: int = attrs.field(default=8, validator=_whole(2))
    trend_ema_slow: int = attrs.field(default=21, validator=_whole(2))
    fib_lookback: int = attrs.field(default=50, validator=_whole(2))
    vwap_session_hours: int = attrs.field(default=24, validator=_whole(1))
    vwap_session_offset_minutes: int = attrs.field(default=0, validator=_whole(0))
    orb_minutes: int = attrs.field(default=30, validator=_whole(1))
    # Signal-level gates (a signal exists only when all pass).
    max_vwap_dist_atr: float = attrs.field(default=1.5, validator=_POSITIVE)
    min_volume_ratio: float = attrs.field(default=0.8, validator=_NON_NEGATIVE)
    min_bb_width: float = attrs.field(default=0.0045, validator=_NON_NEGATIVE)
    min_wick_delta: float = attrs.field(default=0.10, validator=_FRACTION)
    min_wick_ratio: float = attrs.field(default=0.25, validator=_FRACTION)
    min_body_ratio: float = attrs.field(default=0.30, validator=_FRACTION)
    min_atr_pct: float = attrs.field(default=0.0005, validator=_NON_NEGATIVE)
    require_ema_alignment: bool = True
    enable_vwap_pullback: bool = True
    enable_orb: bool = True
    # Execution-level hard gates (an executed signal must pass them on either path).
    exec_min_volume_ratio: float = attrs.field(default=1.5, validator=_NON_NEGATIVE)
    exec_min_bb_width: float = attrs.field(default=0.0060, validator=_NON_NEGATIVE)
    # Stop and target.
    rr: float = attrs.field(default=2.1, validator=_POSITIVE)
    stop_buffer_atr: float = attrs.field(default=0.2, validator=_NON_NEGATIVE)
    min_risk_atr: float = attrs.field(default=0.5, validator=_NON_NEGATIVE)
    # Adaptive combos.
    combos_enabled: bool = True
    combo_window_days: float = attrs.field(default=30.0, validator=_POSITIVE)
    combo_enable_wr_lb: float = attrs.field(default=0.45, validator=_FRACTION)
    combo_disable_wr_lb: float = attrs.field(default=0.40, validator=_FRACTION)
    combo_min_samples: int = attrs.field(default=20, validator=_whole(1))
    wilson_z: float = attrs.field(default=1.96, validator=_POSITIVE)
    # Pro-rules fallback and its per-symbol overrides.
    pro_rules_enabled: bool = True
    pro_rules: ProRules = ProRules()
    pro_rules_by_symbol: dict[str, ProRulesOverride] = attrs.field(factory=dict)
    # Phantoms: how long a signal's phantom may run (None: the host's default).
    phantom_horizon_bars: int | None = None

    def __attrs_post_init__(self) -> None:
        if not self.timeframes:
            raise ValueError("scalp: timeframes must name at least one bar size, got []")
        trend = timeframe_ms(self.trend_timeframe)
        for timeframe in self.timeframes:
            if timeframe_ms(timeframe) > trend:
                raise ValueError(
                    f"scalp: timeframes has {timeframe!r}, longer than trend_timeframe "
                    f"{self.trend_timeframe!r}; the trend is built from the decision bars"
                )
        for fast, slow in (("macd_fast", "macd_slow"), ("ema_fast", "ema_slow")):
            if getattr(self, fast) >= getattr(self, slow):
                raise ValueError(
                    f"scalp: {fast} ({getattr(self, fast)}) must be shorter than "
                    f"{slow} ({getattr(self, slow)})"
                )
        if self.trend_ema_fast >= self.trend_ema_slow:
            raise ValueError(
                f"scalp: trend_ema_fast ({self.trend_ema_fast}) must be shorter than "
                f"trend_ema_slow ({self.trend_ema_slow})"
            )
        if self.combo_disable_wr_lb > self.combo_enable_wr_lb:
            raise ValueError(
                f"scalp: combo_disable_wr_lb ({self.combo_disable_wr_lb}) must not be above "
                f"combo_enable_wr_lb ({self.combo_enable_wr_lb}): that is the hysteresis band"
            )
        session_ms = self.vwap_session_hours * 3_600_000
        if self.vwap_session_offset_minutes * 60_000 >= session_ms:
            raise ValueError(
                f"scalp: vwap_session_offset_minutes ({self.vwap_session_offset_minutes}) "
                f"must be shorter than the session ({self.vwap_session_hours} h)"
            )
        if self.orb_minutes * 60_000 >= session_ms:
            raise ValueError(
                f"scalp: orb_minutes ({self.orb_minutes}) must be shorter than the session "
                f"({self.vwap_session_hours} h)"
            )
        if self.phantom_horizon_bars is not None:
            _whole(1)(
                self, attrs.fields(ScalpParams).phantom_horizon_bars, self.phantom_horizon_bars
            )
        for symbol, override in self.pro_rules_by_symbol.items():
            if not isinstance(symbol, str) or not symbol:
                raise ValueError(f"scalp: pro_rules_by_symbol key must be a symbol, got {symbol!r}")
            try:
                self.pro_rules.with_override(override)
            except ValueError as exc:
                raise ValueError(f"scalp: pro_rules_by_symbol.{symbol}: {exc}") from None

    def rules_for(self, symbol: str) -> ProRules:
        """The pro rules that apply to ``symbol`` (its override over the profile's)."""
        override = self.pro_rules_by_symbol.get(symbol)
        return self.pro_rules if override is None else self.pro_rules.with_override(override)
