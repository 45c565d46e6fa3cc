"""Look-ahead detection: a strategy must decide the same way without the future."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from garrison_api.components import Strategy
from garrison_api.testing.compare import same
from garrison_api.testing.runner import RunResult, run_plan
from garrison_api.testing.steps import StepPlan, plan_steps
from garrison_api.testing.timeframes import timeframe_ms
from garrison_api.types import Candle, Market, Signal, Trade


@attrs.frozen
class LookaheadMismatch:
    """The first difference between the full run and the run cut at ``cutoff_ts``.

    ``what`` is ``"signal"`` or ``"trade"``; ``index`` is its position among
    those up to the cutoff; ``full``/``prefix`` are the two runs' items there
    (None where one run has fewer). ``by_close`` says whether ``cutoff_ts``
    is a close time (several timeframes) or the open ``ts`` of the last bar
    kept (one timeframe).
    """

    cutoff_ts: int
    what: str
    index: int
    full: Signal | Trade | None
    prefix: Signal | Trade | None
    by_close: bool = False

    def describe(self) -> str:
        """One readable paragraph about the difference."""
        cut = f"close time {self.cutoff_ts}" if self.by_close else f"ts {self.cutoff_ts}"
        return (
            f"cut at {cut}: {self.what} #{self.index} differs\n"
            f"  with all the data: {self.full!r}\n"
            f"  with data up to the cut: {self.prefix!r}"
        )


@attrs.frozen
class LookaheadReport:
    """Result of :func:`check_lookahead`: the cutoffs tried and what differed.

    With one timeframe, ``cutoffs`` are the open ``ts`` of the last bar each
    prefix kept; with several (``by_close``), the close times they were cut at.
    """

    cutoffs: tuple[int, ...]
    mismatches: tuple[LookaheadMismatch, ...]
    by_close: bool = False

    @property
    def ok(self) -> bool:
        """True when every prefix run agreed with the full run."""
        return not self.mismatches

    def describe(self) -> str:
        """A summary fit for an assertion message."""
        if self.ok:
            return f"no look-ahead found at {len(self.cutoffs)} cutoffs"
        lines = [f"look-ahead: {len(self.mismatches)} of {len(self.cutoffs)} cutoffs differ"]
        lines.extend(m.describe() for m in self.mismatches)
        return "\n".join(lines)


def _cutoff_times(timestamps: Sequence[int], count: int) -> tuple[int, ...]:
    """``count`` timestamps spread evenly over ``timestamps``, excluding the last one."""
    last = len(timestamps) - 1
    picks = sorted({timestamps[(i * last) // (count + 1)] for i in range(1, count + 1)})
    return tuple(ts for ts in picks if ts != timestamps[last])


def _first_difference(
    cutoff_ts: int,
    what: str,
    full: Sequence[Signal] | Sequence[Trade],
    prefix: Sequence[Signal] | Sequence[Trade],
    by_close: bool,
) -> LookaheadMismatch | None:
    for index in range(max(len(full), len(prefix))):
        a = full[index] if index < len(full) else None
        b = prefix[index] if index < len(prefix) else None
        if not same(a, b):
            return LookaheadMismatch(cutoff_ts, what, index, a, b, by_close)
    return None


class _Cut:
    """Where a cut falls for candles, signals and trades: by open ts, or by close time."""

    def __init__(self, plan: StepPlan, by_close: bool) -> None:
        self.by_close = by_close
        self.bar_ms = {c.timeframe: timeframe_ms(c.timeframe) for c in plan.candles()}
        self.execution_ms = {s: timeframe_ms(tf) for s, tf in plan.execution.items()}

    def candle_time(self, candle: Candle) -> int:
        return candle.ts + self.bar_ms[candle.timeframe] if self.by_close else candle.ts

    def signals(self, result: RunResult, cut: int) -> list[Signal]:
        """Signals that say they were decided by ``cut``: their own ``ts`` is what is judged,
        so a strategy that back-dates what it learnt later is caught."""
        if not self.by_close:
            return [s for s in result.signals if s.ts <= cut]
        return [
            s
            for s, candle in zip(result.signals, result.decided_on, strict=True)
            if s.ts + self.bar_ms[candle.timeframe] <= cut
        ]

    def trades(self, result: RunResult, cut: int) -> list[Trade]:
        """Trades whose exit bar (of the symbol's execution series) ended by ``cut``."""
        if not self.by_close:
            return [t for t in result.trades if t.exit_ts <= cut]
        return [t for t in result.trades if t.exit_ts + self.execution_ms[t.symbol] <= cut]


def check_lookahead(
    make_strategy: Callable[[], Strategy],
    candles: Iterable[Candle],
    *,
    cutoffs: int = 20,
    markets: Mapping[str, Market] | None = None,
) -> LookaheadReport:
    """Check that ``make_strategy()`` decides the same with and without later data.

    Runs :func:`run_strategy` on all ``candles`` and again on each prefix that
    ends at one of ``cutoffs`` instants spread evenly over the data. With one
    timeframe, a prefix keeps every candle with ``ts`` at or before the cut;
    with several, it is cut by *close* time: it keeps the candles that have
    closed by the cut (``ts`` + timeframe <= cut), so a 4h bar still open at
    the cut is left out. Signals decided by the cut (judged by their own
    ``ts`` plus the timeframe they were decided on), and trades that exited
    by it, must be the same in both runs; a strategy that peeks ahead (or
    back-dates what it learns later) produces a difference. ``make_strategy``
    must return a fresh strategy each call.
    """
    if isinstance(cutoffs, bool) or not isinstance(cutoffs, int) or cutoffs < 1:
        raise ValueError(f"cutoffs must be a positive int, got {cutoffs!r}")
    probe = make_strategy()
    plan = plan_steps(probe, candles)
    kept = plan.candles()
    if not kept:
        raise ValueError("check_lookahead needs candles, got none")
    cut_rule = _Cut(plan, by_close=len({c.timeframe for c in kept}) > 1)
    full = run_plan(probe, plan, markets=markets)
    times = sorted({cut_rule.candle_time(c) for c in kept})
    cuts = _cutoff_times(times, cutoffs)
    mismatches: list[LookaheadMismatch] = []
    for cut in cuts:
        prefix_plan = plan_steps(
            probe, [c for c in kept if cut_rule.candle_time(c) <= cut], like=plan
        )
        prefix = run_plan(make_strategy(), prefix_plan, markets=markets)
        by_close = cut_rule.by_close
        mismatch = _first_difference(
            cut, "signal", cut_rule.signals(full, cut), cut_rule.signals(prefix, cut), by_close
        ) or _first_difference(cut, "trade", cut_rule.trades(full, cut), prefix.trades, by_close)
        if mismatch is not None:
            mismatches.append(mismatch)
    return LookaheadReport(cutoffs=cuts, mismatches=tuple(mismatches), by_close=cut_rule.by_close)
