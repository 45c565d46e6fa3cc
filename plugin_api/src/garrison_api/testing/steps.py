"""How the kit cuts candles into steps, as the host does: every bar that closes at one instant.

A step holds the bars of every symbol and timeframe that close at one
instant (close = open ``ts`` + timeframe); steps come in close-time order.
Per symbol, the *execution series* is its finest timeframe among the candles
given: only its bars fill orders and trigger stops. The strategy decides on
the bars of its decision timeframes (``strategy.timeframes``; when empty,
every timeframe of the candles that is not a context timeframe), longer
timeframes first, then symbols in sorted order; it reads those series and its
``context_indicators`` timeframes. Candles of any other timeframe are
ignored, except a symbol's execution series.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import pairwise

import attrs

from garrison_api.components import Strategy
from garrison_api.indicators import IndicatorSpec
from garrison_api.testing.timeframes import timeframe_ms
from garrison_api.types import Candle

#: A series: (symbol, timeframe).
SeriesKey = tuple[str, str]


@attrs.frozen
class Step:
    """The bars closing at ``close_ts``, grouped by what the step does with them.

    ``execution``: execution bars, by symbol (booked first); ``updates``: bars
    of the series the strategy reads (fed to its context); ``decisions``: bars
    of decision timeframes with their index in their series, in decision
    order (longer timeframe first, then symbol).
    """

    close_ts: int
    execution: tuple[Candle, ...]
    updates: tuple[Candle, ...]
    decisions: tuple[tuple[Candle, int], ...]


@attrs.frozen
class StepPlan:
    """A whole run cut into steps, with the series it reads and executes on."""

    #: Timeframes the strategy decides on, longest first.
    decision_timeframes: tuple[str, ...]
    #: Timeframes the strategy reads without deciding on (its ``context_indicators``).
    context_timeframes: tuple[str, ...]
    #: Each symbol's execution timeframe.
    execution: Mapping[str, str]
    #: Every kept series (read by the strategy, or a symbol's execution series), in time order.
    series: Mapping[SeriesKey, tuple[Candle, ...]]
    steps: tuple[Step, ...]

    def decision_series(self) -> list[SeriesKey]:
        """The series the strategy decides on, sorted."""
        return sorted(k for k in self.series if k[1] in self.decision_timeframes)

    def read_series(self) -> list[SeriesKey]:
        """The series the strategy may read (decision and context), sorted."""
        read = (*self.decision_timeframes, *self.context_timeframes)
        return sorted(k for k in self.series if k[1] in read)

    def candles(self) -> list[Candle]:
        """Every kept candle, series by series."""
        return [c for bars in self.series.values() for c in bars]


def context_indicators(strategy: Strategy) -> dict[str, Mapping[str, IndicatorSpec]]:
    """The strategy's optional ``context_indicators`` (timeframe -> specs), checked; {} if none."""
    declared = getattr(strategy, "context_indicators", None)
    if declared is None:
        return {}
    name = type(strategy).__qualname__
    if not isinstance(declared, Mapping):
        raise TypeError(f"{name}.context_indicators must be a Mapping, got {declared!r}")
    checked: dict[str, Mapping[str, IndicatorSpec]] = {}
    for timeframe, specs in declared.items():
        try:
            timeframe_ms(timeframe)
        except ValueError as exc:
            raise ValueError(f"{name}.context_indicators: {exc}") from None
        if not isinstance(specs, Mapping):
            raise TypeError(
                f"{name}.context_indicators[{timeframe!r}] must be a Mapping of names to "
                f"indicator specs ({{}} for candles only), got {specs!r}"
            )
        checked[timeframe] = specs
    return checked


def _timeframes_ms(timeframes: Iterable[str]) -> dict[str, int]:
    return {tf: timeframe_ms(tf) for tf in timeframes}


def _decision_timeframes(
    strategy: Strategy, present: Mapping[str, int], context: Mapping[str, object], strict: bool
) -> tuple[str, ...]:
    declared = tuple(strategy.timeframes)
    for timeframe in declared:
        timeframe_ms(timeframe)
        if timeframe in context:
            raise ValueError(
                f"{type(strategy).__qualname__}: {timeframe} is both a decision timeframe "
                "(timeframes) and a context one (context_indicators); pick one"
            )
    chosen = declared or tuple(tf for tf in present if tf not in context)
    if strict and present and not any(tf in present for tf in chosen):
        found = sorted(present, key=present.__getitem__)
        if declared:
            raise ValueError(
                f"the strategy wants timeframes {list(declared)} but the candles are {found}"
            )
        raise ValueError(
            f"the candles' timeframes {found} are all context timeframes of the strategy; "
            "give it candles of a timeframe to decide on"
        )
    return tuple(sorted(chosen, key=lambda tf: (-timeframe_ms(tf), tf)))


def plan_steps(
    strategy: Strategy,
    candles: Iterable[Candle],
    *,
    like: StepPlan | None = None,
) -> StepPlan:
    """Cut ``candles`` into the steps a run of ``strategy`` goes through (see the module docs).

    Refuses values that are not Candles, two candles of one series at one
    ``ts``, and a symbol the strategy decides on that lacks one of its
    context timeframes. ``like`` reuses another plan's decision timeframes and
    execution series (a prefix of the same data; those checks are skipped).
    """
    every = list(candles)
    for candle in every:
        if not isinstance(candle, Candle):
            raise TypeError(f"candles must be garrison_api.Candle values, got {candle!r}")
    try:
        ms = _timeframes_ms({c.timeframe for c in every})
    except ValueError as exc:
        raise ValueError(f"candles: {exc}") from None
    context = context_indicators(strategy)
    ms.update(_timeframes_ms(context))
    present = {c.timeframe: ms[c.timeframe] for c in every}
    if like is None:
        decision = _decision_timeframes(strategy, present, context, strict=True)
        execution: dict[str, str] = {}
        for candle in every:
            finest = execution.get(candle.symbol)
            if finest is None or ms[candle.timeframe] < ms[finest]:
                execution[candle.symbol] = candle.timeframe
    else:
        decision = like.decision_timeframes
        execution = dict(like.execution)
    ms.update(_timeframes_ms(decision))
    read = set(decision) | set(context)

    grouped: dict[SeriesKey, list[Candle]] = {}
    for candle in every:
        if candle.timeframe in read or execution.get(candle.symbol) == candle.timeframe:
            grouped.setdefault((candle.symbol, candle.timeframe), []).append(candle)
    series: dict[SeriesKey, tuple[Candle, ...]] = {}
    for key in sorted(grouped):
        ordered = sorted(grouped[key], key=lambda c: c.ts)
        for earlier, later in pairwise(ordered):
            if earlier.ts == later.ts:
                raise ValueError(f"{key[0]}: two candles at ts {later.ts} ({key[1]})")
        series[key] = tuple(ordered)

    if like is None:
        deciding = sorted({symbol for symbol, tf in series if tf in decision})
        for symbol in deciding:
            for timeframe in context:
                if (symbol, timeframe) not in series:
                    raise ValueError(
                        f"{symbol}: the strategy reads {timeframe} (context_indicators) but no "
                        f"{symbol} {timeframe} candles were given"
                    )

    buckets: dict[int, tuple[list[Candle], list[Candle], list[tuple[Candle, int]]]] = {}
    for (symbol, timeframe), bars in series.items():
        length = ms[timeframe]
        executes = execution.get(symbol) == timeframe
        reads = timeframe in read
        decides = timeframe in decision
        for index, candle in enumerate(bars):
            close = candle.ts + length
            bucket = buckets.get(close)
            if bucket is None:
                bucket = buckets[close] = ([], [], [])
            if executes:
                bucket[0].append(candle)
            if reads:
                bucket[1].append(candle)
            if decides:
                bucket[2].append((candle, index))
    # Series were walked in (symbol, timeframe) order and each symbol has one
    # execution series, so each bucket's bars are already by symbol; only
    # several decision timeframes need the longer-first sort.
    order = {tf: rank for rank, tf in enumerate(decision)}

    def decision_order(item: tuple[Candle, int]) -> tuple[int, str]:
        return order[item[0].timeframe], item[0].symbol

    several = len(decision) > 1
    steps = tuple(
        Step(
            close_ts=close,
            execution=tuple(bucket[0]),
            updates=tuple(bucket[1]),
            decisions=tuple(sorted(bucket[2], key=decision_order) if several else bucket[2]),
        )
        for close, bucket in sorted(buckets.items())
    )
    return StepPlan(
        decision_timeframes=decision,
        context_timeframes=tuple(context),
        execution=execution,
        series=series,
        steps=steps,
    )
