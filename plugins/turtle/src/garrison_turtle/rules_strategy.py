"""The 19-rule Turtle / RSI / Bollinger / Stochastic / EMA / ADX rule set as a Garrison strategy.

At the close of bar t, from bars up to t: the regime indicator says the
market's regime, the rules that count in it are evaluated on the bar's
indicator values, and their biases add up to a decision (see
:mod:`garrison_turtle.rulebook`). Flat, a proposal is an entry at the next
open with a stop ``stop_atr``·ATR from the fill (and a take-profit
``take_profit_atr``·ATR from it when set); in a position, a proposal of the
other side asks to exit at the next open (``exit_on_opposite``). One
position per symbol, no pyramiding.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import ClassVar

import numpy as np
from garrison_api import (
    Adx,
    Atr,
    BarMask,
    Bollinger,
    Candle,
    Columns,
    Ema,
    Highest,
    IndicatorSpec,
    Lowest,
    Rsi,
    Side,
    Signal,
    SignalKind,
    Sma,
    Stochastic,
    StrategyContext,
)

from garrison_turtle.regime import RegimeIndicator, volatility_regime
from garrison_turtle.rulebook import Decision, RuleBook
from garrison_turtle.rules import REFERENCE_RULES, Regime
from garrison_turtle.rules_params import TurtleRulesParams

_NOTHING: tuple[Signal, ...] = ()

#: Indicator values a signal carries as features, under the names the rules read them.
INDICATOR_FEATURES: tuple[str, ...] = (
    "close",
    "high_20",
    "low_20",
    "high_55",
    "low_55",
    "rsi",
    "stoch_k",
    "stoch_d",
    "adx",
    "ema_fast",
    "ema_slow",
    "atr",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "volume_sma",
)

#: Every feature of every signal, in a fixed order: the indicator values, ``atr_pct``,
#: the regime (code and one flag per regime), the volatility regime (0 low, 1 normal,
#: 2 high), the aggregation, and one 0/1 flag per rule of the reference table.
FEATURE_NAMES: tuple[str, ...] = (
    *INDICATOR_FEATURES,
    "atr_pct",
    "regime",
    "regime_bull",
    "regime_bear",
    "regime_range",
    "regime_unknown",
    "vol_regime",
    "bias",
    "confidence",
    "long_votes",
    "short_votes",
    "active_rules",
    *(rule.feature for rule in REFERENCE_RULES),
)


class TurtleRulesStrategy:
    """Regime-aware rule voting: entries on a strong enough bias, stop at ``stop_atr``·ATR."""

    Params: ClassVar[type[TurtleRulesParams]] = TurtleRulesParams

    def __init__(self, params: TurtleRulesParams | None = None) -> None:
        p = self.params = params if params is not None else TurtleRulesParams()
        self.regime_spec = RegimeIndicator(
            adx_period=p.adx_period,
            ema_fast=p.ema_fast,
            ema_slow=p.ema_slow,
            trend_adx=p.regime_trend_adx,
            trend_bars=p.regime_trend_bars,
            range_adx=p.regime_range_adx,
            range_bars=p.regime_range_bars,
        )
        self.indicators: Mapping[str, IndicatorSpec] = {
            "high_20": Highest("high", p.breakout_fast, offset=1),
            "low_20": Lowest("low", p.breakout_fast, offset=1),
            "high_55": Highest("high", p.breakout_slow, offset=1),
            "low_55": Lowest("low", p.breakout_slow, offset=1),
            "rsi": Rsi(p.rsi_period),
            "stoch_k": Stochastic(p.stoch_k_period, p.stoch_k_smooth, p.stoch_d_period, "k"),
            "stoch_d": Stochastic(p.stoch_k_period, p.stoch_k_smooth, p.stoch_d_period, "d"),
            "adx": Adx(p.adx_period),
            "ema_fast": Ema("close", p.ema_fast),
            "ema_slow": Ema("close", p.ema_slow),
            "atr": Atr(p.atr_period),
            "bb_upper": Bollinger(p.bb_period, p.bb_std, "upper"),
            "bb_middle": Bollinger(p.bb_period, p.bb_std, "middle"),
            "bb_lower": Bollinger(p.bb_period, p.bb_std, "lower"),
            "volume_sma": Sma("volume", p.volume_period),
            "regime": self.regime_spec,
        }
        needed = max(spec.warmup for spec in self.indicators.values())
        self.warmup: int = max(needed, p.min_warmup_bars)
        self.timeframes: tuple[str, ...] = () if p.timeframe is None else (p.timeframe,)
        self.book = RuleBook(p)
        self._stop_atr = float(p.stop_atr)
        self._take_profit_atr = None if p.take_profit_atr is None else float(p.take_profit_atr)
        self._exit_on_opposite = p.exit_on_opposite

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        """Entry when flat and the rules propose a side; exit when they propose the other one."""
        values = ctx.indicators(candle.symbol)
        code = values["regime"]
        atr = values["atr"]
        if code != code or atr != atr:  # nan: not warm
            return _NOTHING
        regime = Regime(int(code))
        if not self.book.counting(regime):
            return _NOTHING
        decision = self.book.decide(regime, _Bar(values, candle.close))
        if decision.side == 0:
            return _NOTHING
        side = Side.LONG if decision.side > 0 else Side.SHORT
        position = ctx.position(candle.symbol)
        if position is None:
            entry = self._entry(candle, side, float(atr), values, decision)
            return _NOTHING if entry is None else (entry,)
        if self._exit_on_opposite and position.side is not side:
            return (self._exit(candle, position.side, float(atr), values, decision),)
        return _NOTHING

    def screen(self, columns: Columns) -> BarMask:
        """Bars where the rules propose a side with ATR warm: the only bars that can signal.

        Flat, only a proposal enters; in a position, only a proposal of the
        other side exits. The regime comes from its own column, so skipping
        bars loses nothing.
        """
        regimes = columns["regime"]
        mask = self.book.propose_mask(regimes, columns)
        flagged: BarMask = mask & np.isfinite(columns["atr"]) & np.isfinite(regimes)
        return flagged

    def _entry(
        self, candle: Candle, side: Side, atr: float, values: Mapping[str, float], d: Decision
    ) -> Signal | None:
        """The entry signal, or None when its stop or take-profit would not be a price above 0.

        That takes an ATR of 40 % of the close (at 2.5 ATR): no signal rather than an
        order the host must refuse.
        """
        close = candle.close
        sign = 1.0 if side is Side.LONG else -1.0
        stop = close - sign * self._stop_atr * atr
        take_profit = None
        if self._take_profit_atr is not None:
            take_profit = close + sign * self._take_profit_atr * atr
        if stop <= 0 or (take_profit is not None and take_profit <= 0):
            return None
        return Signal(
            symbol=candle.symbol,
            ts=candle.ts,
            side=side,
            kind=SignalKind.ENTRY,
            entry=close,
            stop=stop,
            take_profit=take_profit,
            reason=_reason(f"turtle rules {side.value}", d),
            features=self._features(close, atr, values, d),
            bracket_from_fill=True,
        )

    def _exit(
        self, candle: Candle, side: Side, atr: float, values: Mapping[str, float], d: Decision
    ) -> Signal:
        return Signal(
            symbol=candle.symbol,
            ts=candle.ts,
            side=side,
            kind=SignalKind.EXIT,
            entry=candle.close,
            reason=_reason(f"turtle rules exit {side.value}", d),
            features=self._features(candle.close, atr, values, d),
        )

    def _features(
        self, close: float, atr: float, values: Mapping[str, float], d: Decision
    ) -> dict[str, float]:
        p = self.params
        features = {name: float(values[name]) for name in INDICATOR_FEATURES if name != "close"}
        features["close"] = float(close)
        atr_pct = atr / close * 100.0
        features["atr_pct"] = atr_pct
        features["regime"] = float(d.regime)
        for regime in Regime:
            features[f"regime_{regime.label}"] = 1.0 if d.regime is regime else 0.0
        features["vol_regime"] = float(volatility_regime(atr_pct, p.vol_low_pct, p.vol_high_pct))
        features["bias"] = d.bias
        features["confidence"] = d.confidence
        features["long_votes"] = float(d.long_votes)
        features["short_votes"] = float(d.short_votes)
        features["active_rules"] = float(len(d.fired))
        fired = {rule.name for rule in d.fired}
        for rule in REFERENCE_RULES:
            features[rule.feature] = 1.0 if rule.name in fired else 0.0
        return {name: features[name] for name in FEATURE_NAMES}


def _reason(head: str, d: Decision) -> str:
    names = ", ".join(rule.name for rule in d.fired)
    return f"{head}: bias {d.bias:+.3f}, confidence {d.confidence:.2f}, {d.regime.label} ({names})"


class _Bar(Mapping[str, float]):
    """One bar's indicator values with ``close`` added: what the rule conditions read."""

    __slots__ = ("_close", "_values")

    def __init__(self, values: Mapping[str, float], close: float) -> None:
        self._values = values
        self._close = close

    def __getitem__(self, key: str) -> float:
        if key == "close":
            return self._close
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        yield "close"
        yield from self._values

    def __len__(self) -> int:
        return len(self._values) + 1
