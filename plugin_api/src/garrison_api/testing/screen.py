"""Checks that a strategy's ``screen`` keeps the promises of ``ScreenedStrategy``.

A replay calls a screened strategy only on the bars its screen flags, so a
screen that wrongly says "nothing here" silently drops signals. The check
looks for that on real data, three ways:

- **sound**: three fresh instances are driven over the candles, each in a
  world where the symbol is always flat, always long or always short; on
  every bar the screen leaves out, none of them may return a signal;
- **causal**: the screen of each prefix of a series (indicators computed on
  the prefix alone) must equal the full screen cut to that length;
- **same decisions**: :func:`run_strategy` with and without the screen must
  give the same signals and trades.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs
import numpy as np

from garrison_api.components import BarMask, Strategy
from garrison_api.testing.columns import screen_of
from garrison_api.testing.compare import same
from garrison_api.testing.context import StubContext
from garrison_api.testing.runner import merge_candles, run_strategy
from garrison_api.types import Candle, Market, Position, Side


@attrs.frozen
class ScreenReport:
    """Result of :func:`check_screen`: how many bars the screen let through, and what failed."""

    bars: int
    flagged: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """A summary fit for an assertion message."""
        head = f"screen flags {self.flagged} of {self.bars} bars"
        if self.ok:
            return f"{head}; sound, causal and same decisions"
        return "\n".join([f"{head}; {len(self.problems)} problem(s):", *self.problems[:20]])


def _by_symbol(ordered: Sequence[Candle]) -> dict[str, list[Candle]]:
    series: dict[str, list[Candle]] = {}
    for candle in ordered:
        series.setdefault(candle.symbol, []).append(candle)
    return series


def _hypothetical(candle: Candle, side: Side | None) -> Position | None:
    if side is None:
        return None
    return Position(
        symbol=candle.symbol,
        side=side,
        qty=1.0,
        entry_price=candle.close,
        entry_ts=candle.ts,
        intent_id="screen-check",
    )


def _soundness(
    make_strategy: Callable[[], Strategy],
    ordered: Sequence[Candle],
    masks: Mapping[str, BarMask],
    markets: Mapping[str, Market] | None,
) -> list[str]:
    problems: list[str] = []
    for side in (None, Side.LONG, Side.SHORT):
        world = "flat" if side is None else f"always {side.value}"
        strategy = make_strategy()
        ctx = StubContext(strategy.indicators, markets=markets)
        index: dict[str, int] = {}
        for candle in ordered:
            i = index.get(candle.symbol, 0)
            index[candle.symbol] = i + 1
            ctx.push(candle)
            ctx.set_position(candle.symbol, _hypothetical(candle, side))
            signals = strategy.on_candle(candle, ctx)
            if signals and not masks[candle.symbol][i]:
                problems.append(
                    f"{world}: {candle.symbol} bar {i} (ts {candle.ts}) is screened out, "
                    f"but on_candle returned {list(signals)!r}"
                )
    return problems


def _causality(
    make_strategy: Callable[[], Strategy],
    series: Mapping[str, Sequence[Candle]],
    masks: Mapping[str, BarMask],
    cutoffs: int,
) -> list[str]:
    problems: list[str] = []
    strategy = make_strategy()
    for symbol, candles in series.items():
        n = len(candles)
        for k in sorted({max(1, (n * j) // (cutoffs + 1)) for j in range(1, cutoffs + 1)}):
            prefix = screen_of(strategy, candles[:k])
            differs = np.flatnonzero(prefix != masks[symbol][:k])
            if differs.size:
                i = int(differs[0])
                problems.append(
                    f"{symbol}: the screen of the first {k} bars differs at bar {i} "
                    f"(ts {candles[i].ts}) from the screen of all {n}: it reads later bars"
                )
    return problems


def check_screen(
    make_strategy: Callable[[], Strategy],
    candles: Iterable[Candle],
    *,
    cutoffs: int = 10,
    markets: Mapping[str, Market] | None = None,
) -> ScreenReport:
    """Check the screen of ``make_strategy()`` on ``candles``; see the module docs.

    ``make_strategy`` must return a fresh strategy each call, and the
    strategy must declare a screen (ValueError otherwise).
    """
    probe = make_strategy()
    ordered = merge_candles(candles, probe.timeframes)
    if not ordered:
        raise ValueError("check_screen needs candles, got none")
    series = _by_symbol(ordered)
    masks = {symbol: screen_of(probe, bars) for symbol, bars in series.items()}
    problems = _soundness(make_strategy, ordered, masks, markets)
    problems += _causality(make_strategy, series, masks, cutoffs)
    plain = run_strategy(make_strategy(), ordered, markets=markets)
    screened = run_strategy(make_strategy(), ordered, markets=markets, screen=True)
    if not same(plain.signals, screened.signals):
        problems.append("run_strategy gives other signals with the screen than without it")
    if not same(plain.trades, screened.trades):
        problems.append("run_strategy gives other trades with the screen than without it")
    return ScreenReport(
        bars=len(ordered),
        flagged=sum(int(mask.sum()) for mask in masks.values()),
        problems=tuple(problems),
    )
