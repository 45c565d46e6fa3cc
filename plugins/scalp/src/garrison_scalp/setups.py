"""Signal detection: the bar's features, the two setups and the signal-level gates.

One closed bar and its indicator values become :class:`Bar` (plain floats);
:func:`detect` finds a VWAP pullback (bounce, reject, revert) or an
opening-range-breakout continuation and applies the signal-level gates
(volume ratio, Bollinger width, dominant wick, body, EMA alignment, ATR %).
:func:`screen_mask` is the same test over whole columns, for replays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs
import numpy as np
import numpy.typing as npt
from garrison_api import Candle, Side

from garrison_scalp.params import ScalpParams

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Setup kinds, as the ``setup`` feature codes them.
VWAP_PULLBACK = "vwap"
ORB = "orb"
SETUP_CODES = {VWAP_PULLBACK: 0.0, ORB: 1.0}
#: Patterns, as the ``pattern`` feature codes them.
PATTERN_CODES = {"bounce": 0.0, "reject": 1.0, "revert": 2.0, "breakout": 3.0}


@attrs.frozen(slots=True)
class Bar:
    """What the gates read about one closed bar; ratios are fractions of the bar's range."""

    close: float
    open: float
    high: float
    low: float
    rsi: float
    macd_hist: float
    bb_width: float
    atr: float
    vwap: float
    volume_ratio: float
    ema_fast: float
    ema_slow: float
    swing_high: float
    swing_low: float
    or_high: float
    or_low: float
    prev_close: float
    trend: int  # +1 when the 15m fast EMA is above the slow one, -1 below, 0 unknown
    upper_wick: float
    lower_wick: float
    body: float  # signed: positive for a bullish bar

    @property
    def atr_pct(self) -> float:
        return self.atr / self.close

    @property
    def vwap_dist_atr(self) -> float:
        return abs(self.close - self.vwap) / self.atr

    def fib(self, side: Side) -> float:
        """How far the close has retraced the last swing, from its extreme on ``side``'s side.

        Long: from the swing high down (0 at the high, 1 at the low); short:
        from the swing low up. ``nan`` when the swing has no range.
        """
        span = self.swing_high - self.swing_low
        if not span > 0:
            return math.nan
        if side is Side.LONG:
            return (self.swing_high - self.close) / span
        return (self.close - self.swing_low) / span

    def wick_delta(self, side: Side) -> float:
        """Dominant-wick margin: lower minus upper wick for a long, the reverse for a short."""
        if side is Side.LONG:
            return self.lower_wick - self.upper_wick
        return self.upper_wick - self.lower_wick

    def wick(self, side: Side) -> float:
        """The wick on ``side``'s side: the lower one for a long (buyers pushed back up)."""
        return self.lower_wick if side is Side.LONG else self.upper_wick


def read_bar(candle: Candle, values: Mapping[str, float]) -> Bar | None:
    """The bar's features, or None when an indicator the setups need is not warm yet."""
    high, low, open_, close = candle.high, candle.low, candle.open, candle.close
    atr = values["atr"]
    vol_sma = values["vol_sma"]
    if not (atr > 0 and vol_sma > 0 and close > 0):  # also False for nan
        return None
    span = high - low
    if span > 0:
        upper = (high - max(open_, close)) / span
        lower = (min(open_, close) - low) / span
        body = (close - open_) / span
    else:
        upper = lower = body = 0.0
    fast, slow = values["trend_fast"], values["trend_slow"]
    trend = 1 if fast > slow else -1 if fast < slow else 0
    return Bar(
        close=close,
        open=open_,
        high=high,
        low=low,
        rsi=values["rsi"],
        macd_hist=values["macd_hist"],
        bb_width=values["bb_width"],
        atr=atr,
        vwap=values["vwap"],
        volume_ratio=candle.volume / vol_sma,
        ema_fast=values["ema_fast"],
        ema_slow=values["ema_slow"],
        swing_high=values["swing_high"],
        swing_low=values["swing_low"],
        or_high=values["or_high"],
        or_low=values["or_low"],
        prev_close=values["prev_close"],
        trend=trend,
        upper_wick=upper,
        lower_wick=lower,
        body=body,
    )


@attrs.frozen(slots=True)
class Setup:
    """A detected setup: its side, kind (``vwap`` or ``orb``) and pattern."""

    side: Side
    kind: str
    pattern: str


def _side_of(bar: Bar) -> Side | None:
    # The body must point the way of the trade, so the bar's colour picks the side.
    if bar.body > 0:
        return Side.LONG
    if bar.body < 0:
        return Side.SHORT
    return None


def _passes_signal_gates(bar: Bar, side: Side, p: ScalpParams) -> bool:
    if abs(bar.body) < p.min_body_ratio:
        return False
    if bar.wick_delta(side) < p.min_wick_delta or bar.wick(side) < p.min_wick_ratio:
        return False
    if not bar.volume_ratio >= p.min_volume_ratio:
        return False
    if not bar.bb_width >= p.min_bb_width:
        return False
    if not bar.atr_pct >= p.min_atr_pct:
        return False
    if p.require_ema_alignment:
        aligned = bar.ema_fast > bar.ema_slow if side is Side.LONG else bar.ema_fast < bar.ema_slow
        if not aligned:
            return False
    return True


def _vwap_pattern(bar: Bar, side: Side, p: ScalpParams) -> str | None:
    if not bar.vwap_dist_atr <= p.max_vwap_dist_atr:
        return None
    vwap, close = bar.vwap, bar.close
    if side is Side.LONG:
        if bar.low <= vwap < close:
            return "bounce"  # pulled back to VWAP from above and held
        if close < vwap:
            return "revert"  # below VWAP, turning back up towards it
        return None
    if bar.high >= vwap > close:
        return "reject"  # rallied into VWAP from below and was refused
    if close > vwap:
        return "revert"
    return None


def _orb_breakout(bar: Bar, side: Side) -> bool:
    # The first close beyond the session's opening range (the previous close was inside).
    if side is Side.LONG:
        return bar.prev_close <= bar.or_high < bar.close
    return bar.prev_close >= bar.or_low > bar.close


def detect(bar: Bar, p: ScalpParams) -> Setup | None:
    """The setup on this bar, if one passes every signal-level gate (VWAP pullback first)."""
    side = _side_of(bar)
    if side is None or not _passes_signal_gates(bar, side, p):
        return None
    if p.enable_vwap_pullback:
        pattern = _vwap_pattern(bar, side, p)
        if pattern is not None:
            return Setup(side, VWAP_PULLBACK, pattern)
    if p.enable_orb and _orb_breakout(bar, side):
        return Setup(side, ORB, "breakout")
    return None


def stop_for(bar: Bar, side: Side, p: ScalpParams) -> float:
    """Beyond the signal bar's extreme by ``stop_buffer_atr``, at least ``min_risk_atr`` away."""
    if side is Side.LONG:
        stop = bar.low - p.stop_buffer_atr * bar.atr
        return min(stop, bar.close - p.min_risk_atr * bar.atr)
    stop = bar.high + p.stop_buffer_atr * bar.atr
    return max(stop, bar.close + p.min_risk_atr * bar.atr)


def screen_mask(columns: Mapping[str, FloatArray], p: ScalpParams) -> BoolArray:
    """Per bar, whether :func:`detect` can find a setup: the same tests over whole columns.

    Independent of the position (a signal in a held symbol is still emitted,
    phantom-only), so sound in every state.
    """
    high, low, open_, close = columns["high"], columns["low"], columns["open"], columns["close"]
    atr, vol_sma, vwap = columns["atr"], columns["vol_sma"], columns["vwap"]
    with np.errstate(divide="ignore", invalid="ignore"):
        span = high - low
        has_span = span > 0
        safe = np.where(has_span, span, 1.0)
        upper = np.where(has_span, (high - np.maximum(open_, close)) / safe, 0.0)
        lower = np.where(has_span, (np.minimum(open_, close) - low) / safe, 0.0)
        body = np.where(has_span, (close - open_) / safe, 0.0)
        ready = (atr > 0) & (vol_sma > 0) & (close > 0)
        common = (
            ready
            & (np.abs(body) >= p.min_body_ratio)
            & (columns["volume"] / vol_sma >= p.min_volume_ratio)
            & (columns["bb_width"] >= p.min_bb_width)
            & (atr / close >= p.min_atr_pct)
        )
        long_ok = common & (body > 0) & (lower - upper >= p.min_wick_delta)
        long_ok &= lower >= p.min_wick_ratio
        short_ok = common & (body < 0) & (upper - lower >= p.min_wick_delta)
        short_ok &= upper >= p.min_wick_ratio
        if p.require_ema_alignment:
            long_ok &= columns["ema_fast"] > columns["ema_slow"]
            short_ok &= columns["ema_fast"] < columns["ema_slow"]
        near = np.abs(close - vwap) / atr <= p.max_vwap_dist_atr
        long_setup = np.zeros(close.shape[0], dtype=bool)
        short_setup = np.zeros(close.shape[0], dtype=bool)
        if p.enable_vwap_pullback:
            long_setup |= near & (((low <= vwap) & (vwap < close)) | (close < vwap))
            short_setup |= near & (((high >= vwap) & (vwap > close)) | (close > vwap))
        if p.enable_orb:
            prev, or_high, or_low = columns["prev_close"], columns["or_high"], columns["or_low"]
            long_setup |= (prev <= or_high) & (or_high < close)
            short_setup |= (prev >= or_low) & (or_low > close)
    mask: BoolArray = (long_ok & long_setup) | (short_ok & short_setup)
    return mask
