"""Classic Turtle breakouts (System 1 and System 2) as a Garrison strategy.

At the close of bar t, with channels over the bars *before* t and N the Wilder
ATR: when flat, a close above the entry-period high goes long (below the low:
short) with a protective stop ``stop_n``·N from the fill; when long, a close
below the exit-period low asks to exit (short: above the high). The host
fills market orders at the next open and keeps the stop resting from the
entry bar on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
from garrison_api import (
    Atr,
    BarMask,
    Candle,
    Columns,
    Highest,
    IndicatorSpec,
    Lowest,
    Side,
    Signal,
    SignalKind,
    StrategyContext,
)

from garrison_turtle.params import TurtleParams

# Returned whenever there is nothing to say: on_candle allocates nothing then.
_NOTHING: tuple[Signal, ...] = ()


class TurtleStrategy:
    """Turtle System 1 / System 2 breakout entries, channel exits and N-based stops."""

    Params: ClassVar[type[TurtleParams]] = TurtleParams

    def __init__(self, params: TurtleParams | None = None) -> None:
        self.params = params if params is not None else TurtleParams()
        entry, exit_, tag = self.params.entry, self.params.exit, f"s{self.params.system}"
        self.indicators: Mapping[str, IndicatorSpec] = {
            "entry_high": Highest("high", entry, offset=1),
            "entry_low": Lowest("low", entry, offset=1),
            "exit_high": Highest("high", exit_, offset=1),
            "exit_low": Lowest("low", exit_, offset=1),
            "n": Atr(self.params.atr_period),
        }
        self.warmup: int = max(spec.warmup for spec in self.indicators.values())
        timeframe = self.params.timeframe
        self.timeframes: tuple[str, ...] = () if timeframe is None else (timeframe,)
        self._stop_n = float(self.params.stop_n)
        self._long_reason = f"turtle {tag} breakout above {entry}-bar high"
        self._short_reason = f"turtle {tag} breakout below {entry}-bar low"
        self._long_exit_reason = f"turtle {tag} exit: close below {exit_}-bar low"
        self._short_exit_reason = f"turtle {tag} exit: close above {exit_}-bar high"

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        """Entry when flat and the close breaks the entry channel; exit on the exit channel."""
        symbol = candle.symbol
        values = ctx.indicators(symbol)
        n = values["n"]
        if n != n:  # nan: N not warm yet
            return _NOTHING
        close = candle.close
        position = ctx.position(symbol)
        if position is None:
            upper = values["entry_high"]
            if close > upper:
                lower = values["entry_low"]
                return (self._entry(candle, Side.LONG, close - self._stop_n * n, n, upper, lower),)
            lower = values["entry_low"]
            if close < lower:
                return (self._entry(candle, Side.SHORT, close + self._stop_n * n, n, upper, lower),)
            return _NOTHING
        if position.side is Side.LONG:
            if close < values["exit_low"]:
                return (self._exit(candle, Side.LONG, self._long_exit_reason),)
        elif close > values["exit_high"]:
            return (self._exit(candle, Side.SHORT, self._short_exit_reason),)
        return _NOTHING

    def screen(self, columns: Columns) -> BarMask:
        """Bars where on_candle may signal: the close outside either channel, N warm.

        Flat, a signal needs the close beyond the entry channel; in a
        position, beyond the exit channel; the union covers every state.
        """
        close = columns["close"]
        outside = (
            (close > columns["entry_high"])
            | (close < columns["entry_low"])
            | (close > columns["exit_high"])
            | (close < columns["exit_low"])
        )
        mask: BarMask = outside & np.isfinite(columns["n"])
        return mask

    def _entry(
        self, candle: Candle, side: Side, stop: float, n: float, upper: float, lower: float
    ) -> Signal:
        return Signal(
            symbol=candle.symbol,
            ts=candle.ts,
            side=side,
            kind=SignalKind.ENTRY,
            entry=candle.close,
            stop=stop,
            reason=self._long_reason if side is Side.LONG else self._short_reason,
            features={"n": n, "upper": upper, "lower": lower, "close": candle.close},
            bracket_from_fill=True,
        )

    def _exit(self, candle: Candle, side: Side, reason: str) -> Signal:
        return Signal(
            symbol=candle.symbol,
            ts=candle.ts,
            side=side,
            kind=SignalKind.EXIT,
            entry=candle.close,
            reason=reason,
        )
