"""Look-ahead detection: a strategy must decide the same way without the future."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from garrison_api.components import Strategy
from garrison_api.testing.compare import same
from garrison_api.testing.runner import merge_candles, run_strategy
from garrison_api.types import Candle, Market, Signal, Trade


@attrs.frozen
class LookaheadMismatch:
    """The first difference between the full run and the run cut at ``cutoff_ts``.

    ``what`` is ``"signal"`` or ``"trade"``; ``index`` is its position among
    those up to the cutoff; ``full``/``prefix`` are the two runs' items there
    (None where one run has fewer).
    """

    cutoff_ts: int
    what: str
    index: int
    full: Signal | Trade | None
    prefix: Signal | Trade | None

    def describe(self) -> str:
        """One readable paragraph about the difference."""
        return (
            f"cut at ts {self.cutoff_ts}: {self.what} #{self.index} differs\n"
            f"  with all the data: {self.full!r}\n"
            f"  with data up to the cut: {self.prefix!r}"
        )


@attrs.frozen
class LookaheadReport:
    """Result of :func:`check_lookahead`: the cutoffs tried and what differed."""

    cutoffs: tuple[int, ...]
    mismatches: tuple[LookaheadMismatch, ...]

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
) -> LookaheadMismatch | None:
    for index in range(max(len(full), len(prefix))):
        a = full[index] if index < len(full) else None
        b = prefix[index] if index < len(prefix) else None
        if not same(a, b):
            return LookaheadMismatch(cutoff_ts, what, index, a, b)
    return None


def check_lookahead(
    make_strategy: Callable[[], Strategy],
    candles: Iterable[Candle],
    *,
    cutoffs: int = 20,
    markets: Mapping[str, Market] | None = None,
) -> LookaheadReport:
    """Check that ``make_strategy()`` decides the same with and without later data.

    Runs :func:`run_strategy` on all ``candles`` and again on each prefix that
    ends at one of ``cutoffs`` timestamps spread evenly over the data (a
    prefix keeps every candle with ``ts`` at or before the cut). Signals
    stamped up to the cut, and trades that exited by it, must be the same in
    both runs; a strategy that peeks ahead (or back-dates what it learns
    later) produces a difference. ``make_strategy`` must return a fresh
    strategy each call.
    """
    if isinstance(cutoffs, bool) or not isinstance(cutoffs, int) or cutoffs < 1:
        raise ValueError(f"cutoffs must be a positive int, got {cutoffs!r}")
    probe = make_strategy()
    ordered = merge_candles(candles, probe.timeframes)
    if not ordered:
        raise ValueError("check_lookahead needs candles, got none")
    timestamps = sorted({c.ts for c in ordered})
    full = run_strategy(probe, ordered, markets=markets)
    cuts = _cutoff_times(timestamps, cutoffs)
    mismatches: list[LookaheadMismatch] = []
    for cut in cuts:
        prefix = run_strategy(make_strategy(), [c for c in ordered if c.ts <= cut], markets=markets)
        mismatch = _first_difference(
            cut,
            "signal",
            [s for s in full.signals if s.ts <= cut],
            [s for s in prefix.signals if s.ts <= cut],
        ) or _first_difference(
            cut, "trade", [t for t in full.trades if t.exit_ts <= cut], prefix.trades
        )
        if mismatch is not None:
            mismatches.append(mismatch)
    return LookaheadReport(cutoffs=cuts, mismatches=tuple(mismatches))
