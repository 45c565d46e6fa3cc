"""Checks that a strategy's ``screen`` keeps the promises of ``ScreenedStrategy``.

A replay calls a screened strategy only on the bars its screen flags, so a
screen that wrongly says "nothing here" silently drops signals. The check
looks for that on real data, three ways:

- **sound**: three fresh instances are driven over the candles step by step,
  as :func:`run_strategy` does, each in a world where the symbol is always
  flat, always long or always short; on every warm bar the screen leaves
  out, none of them may return a signal;
- **causal**: the screen of each prefix of a decision series (indicators computed on
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
from garrison_api.testing.runner import run_plan
from garrison_api.testing.steps import SeriesKey, StepPlan, plan_steps
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
    plan: StepPlan,
    masks: Mapping[SeriesKey, BarMask],
    markets: Mapping[str, Market] | None,
) -> list[str]:
    problems: list[str] = []
    for side in (None, Side.LONG, Side.SHORT):
        world = "flat" if side is None else f"always {side.value}"
        strategy = make_strategy()
        warmup = strategy.warmup
        ctx = StubContext.for_strategy(
            strategy, markets=markets, timeframes=plan.decision_timeframes
        )
        for symbol, timeframe in plan.read_series():
            ctx.add_series(symbol, timeframe)
        for step in plan.steps:
            for candle in step.updates:
                ctx.push(candle)
            for candle, i in step.decisions:
                if i < warmup:
                    continue  # never asked before warm-up: the screen promises nothing there
                ctx.set_position(candle.symbol, _hypothetical(candle, side))
                ctx.set_decision_candle(candle)
                signals = strategy.on_candle(candle, ctx)
                if signals and not masks[(candle.symbol, candle.timeframe)][i]:
                    problems.append(
                        f"{world}: {candle.symbol} {candle.timeframe} bar {i} (ts {candle.ts}) "
                        f"is screened out, but on_candle returned {list(signals)!r}"
                    )
    return problems


def _causality(
    make_strategy: Callable[[], Strategy],
    series: Mapping[SeriesKey, Sequence[Candle]],
    masks: Mapping[SeriesKey, BarMask],
    cutoffs: int,
) -> list[str]:
    problems: list[str] = []
    strategy = make_strategy()
    for (symbol, timeframe), candles in series.items():
        n = len(candles)
        for k in sorted({max(1, (n * j) // (cutoffs + 1)) for j in range(1, cutoffs + 1)}):
            prefix = screen_of(strategy, candles[:k])
            differs = np.flatnonzero(prefix != masks[(symbol, timeframe)][:k])
            if differs.size:
                i = int(differs[0])
                problems.append(
                    f"{symbol} {timeframe}: the screen of the first {k} bars differs at bar {i} "
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

    Each decision series (symbol and timeframe the strategy decides on) has
    its own screen. ``make_strategy`` must return a fresh strategy each call,
    and the strategy must declare a screen (ValueError otherwise).
    """
    probe = make_strategy()
    plan = plan_steps(probe, candles)
    decision = {key: plan.series[key] for key in plan.decision_series()}
    if not decision:
        raise ValueError("check_screen needs candles, got none")
    masks = {key: screen_of(probe, bars) for key, bars in decision.items()}
    problems = _soundness(make_strategy, plan, masks, markets)
    problems += _causality(make_strategy, decision, masks, cutoffs)
    plain = run_plan(make_strategy(), plan, markets=markets)
    screened = run_plan(make_strategy(), plan, markets=markets, screen=True)
    if not same(plain.signals, screened.signals):
        problems.append("run_strategy gives other signals with the screen than without it")
    if not same(plain.trades, screened.trades):
        problems.append("run_strategy gives other trades with the screen than without it")
    return ScreenReport(
        bars=sum(len(bars) for bars in decision.values()),
        flagged=sum(int(mask.sum()) for mask in masks.values()),
        problems=tuple(problems),
    )
