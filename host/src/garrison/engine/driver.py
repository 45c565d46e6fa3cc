"""The step driver: any market feed, bar by bar, through the step processor.

This is the path paper and live trading take: a :class:`MarketFeed` yields
steps; each series' indicators are updated candle by candle by an
:class:`IndicatorProvider` (incremental by default); every strategy is
called on every bar of the timeframes it decides on once its warm-up has
passed; the :class:`StepProcessor` books, settles, lets the strategies decide
and commits, exactly as it does for the replay driver
(:mod:`garrison.engine.replay`). That driver adds fast paths (vectorised
indicators, screens, bars that cannot execute skipped, settling only when an
equity estimate says it could matter); run over the same candles, both
drivers must trade identically, and the tests hold them to it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from garrison_api import Candle, IndicatorSpec

from garrison.engine.market import IndicatorProvider, MarketFeed, Step
from garrison.engine.replay import (
    CHUNK,
    Progress,
    ReplayStats,
    ResumeError,
    StrategyUse,
    ViewBinder,
    check_context,
    release_views,
    run_stats,
    unbindable_reason,
)
from garrison.engine.step import StepProcessor
from garrison.indicators.incremental import IncrementalIndicators
from garrison.profile.timeframes import timeframe_ms

ProviderFactory = Callable[[Mapping[str, IndicatorSpec]], IndicatorProvider]


class CandleRing:
    """The last closed candles of one series (``ctx.candles``), at most ``size``."""

    __slots__ = ("_candles",)

    def __init__(self, size: int) -> None:
        self._candles: deque[Candle] = deque(maxlen=max(1, size))

    def append(self, candle: Candle) -> None:
        self._candles.append(candle)

    def recent(self, n: int) -> list[Candle]:
        held = self._candles
        return list(held)[-n:] if n < len(held) else list(held)

    def grow(self, size: int) -> None:
        """Hold up to ``size`` candles from now on (never fewer than now)."""
        held = self._candles
        if held.maxlen is not None and size > held.maxlen:
            self._candles = deque(held, maxlen=size)

    def __len__(self) -> int:
        return len(self._candles)


class _Feeding:
    """What one series updates when its next candle closes, and who decides on it."""

    __slots__ = ("bars", "deciders", "executes", "provider_of", "providers", "ring")

    def __init__(self, executes: bool, ring: CandleRing) -> None:
        self.executes = executes
        self.ring = ring
        self.providers: list[IndicatorProvider] = []
        #: The provider of each strategy use reading the series (to swap one out).
        self.provider_of: dict[str, IndicatorProvider] = {}
        #: (name, on_candle, ctx, warm-up) of each strategy deciding on the series;
        #: it is called once the series has taken more than warm-up bars.
        self.deciders: list[tuple[str, Callable[..., Any], Any, int]] = []
        #: Bars taken so far, history included (the warm-up rule counts them).
        self.bars = 0

    def take(self, candle: Candle) -> None:
        self.ring.append(candle)
        for provider in self.providers:
            provider.update(candle)
        self.bars += 1


def _ring_size(use: StrategyUse) -> int:
    """Candles a series keeps for ``use``: its history, and one more than its warm-up.

    A strategy is called once it has seen more than ``warmup`` bars. One
    swapped in during a step (its candle already taken) is fed the ring; with
    ``warmup`` + 1 candles there it decides on that very step, as the one it
    replaced would have (with only ``warmup`` it would wait a bar).
    """
    return max(use.ctx.history_limit, int(use.strategy.warmup or 0) + 1)


class StepDriver:
    """Drives one run from ``feed``. Build it, then ``await run()`` once.

    ``before_step(step)`` is awaited at the start of every step, before
    its bars are booked: a live venue books there what the exchange did
    since the last step (fills, stops and take-profits that triggered).
    ``restarts``: the feed starts from the market's present (paper and
    live), so a run may carry on from a checkpoint of an earlier process:
    its account, positions and unsent orders, not its place in the data.
    """

    def __init__(
        self,
        *,
        feed: MarketFeed,
        strategies: Sequence[StrategyUse],
        processor: StepProcessor,
        indicators: ProviderFactory = IncrementalIndicators,
        chunk: int = CHUNK,
        progress: Progress | None = None,
        before_step: Callable[[Step], Awaitable[None]] | None = None,
        restarts: bool = False,
    ) -> None:
        self._feed = feed
        self._before_step = before_step
        self._restarts = restarts
        self._strategies = list(strategies)
        self._proc = processor
        self._indicators = indicators
        self._chunk = max(1, chunk)
        self._progress = progress
        self._series: dict[tuple[str, str], _Feeding] = {}
        self.last_ts = 0

    def driver_state(self) -> dict[str, Any]:
        """The driver's part of a checkpoint."""
        return {"kind": "steps", "step_close": self._proc.step_close}

    def _prepare(self) -> None:
        keys = list(self._feed.series())
        check_context(self._strategies, set(keys))
        finest: dict[str, int] = {}
        for symbol, timeframe in keys:
            tf = timeframe_ms(timeframe)
            finest[symbol] = min(finest.get(symbol, tf), tf)
        uses = self._strategies
        binder = ViewBinder(uses, keys)
        proc = self._proc
        for symbol, timeframe in keys:
            readers = [u for u in uses if u.reads_series(symbol, timeframe)]
            size = max([_ring_size(u) for u in readers] or [1])
            executes = timeframe_ms(timeframe) == finest[symbol]
            feeding = _Feeding(executes, CandleRing(size))
            if executes:
                proc.phantoms.bar_ms[symbol] = timeframe_ms(timeframe)
            for use in readers:
                provider = self._indicators(use.specs_for(symbol, timeframe))
                feeding.providers.append(provider)
                feeding.provider_of[use.name] = provider
                if binder.bind(use, symbol, timeframe, provider.values, feeding.ring):
                    feeding.deciders.append(
                        (use.name, use.strategy.on_candle, use.ctx, int(use.strategy.warmup or 0))
                    )
            self._series[(symbol, timeframe)] = feeding
            for candle in self._feed.history(symbol, timeframe):
                feeding.take(candle)

    # -- operator changes (control channel) ------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Nothing to rebuild: every step reads the disabled and quarantined sets afresh."""

    def unbindable(self, use: StrategyUse) -> str:
        """Why ``use`` cannot be swapped into this run ("" when it can)."""
        return unbindable_reason(use, list(self._series or self._feed.series()))

    def rebind(self, use: StrategyUse) -> None:
        """Put ``use`` in the place of the strategy use of the same name, from the next step.

        Its indicators are fed the candles each series still holds (its ring:
        ``ctx.candles``, grown from now on to the new strategy's warm-up), and
        it is called once it has seen its warm-up in bars, those included: a
        strategy needing more history than the ring holds waits for new bars.
        Indicators over a window (highest, simple average) are then exact;
        ones that remember all history (EMA, Wilder's ATR) start from the
        ring's candles, so their first values may differ a little from a
        strategy that ran from the start (the replay driver has no such gap).
        """
        order = [u.name for u in self._strategies]
        if use.name not in order:
            raise ValueError(f"no strategy use named {use.name!r} in this run")
        old = self._strategies[order.index(use.name)]
        self._strategies[order.index(use.name)] = use
        release_views([old])
        keys = list(self._series)
        binder = ViewBinder([use], keys)
        rank = {name: k for k, name in enumerate(order)}
        warmup = int(use.strategy.warmup or 0)
        for (symbol, timeframe), feeding in self._series.items():
            feeding.deciders = [d for d in feeding.deciders if d[0] != use.name]
            gone = feeding.provider_of.pop(use.name, None)
            if gone is not None:
                feeding.providers = [p for p in feeding.providers if p is not gone]
            if not use.reads_series(symbol, timeframe):
                continue
            feeding.ring.grow(_ring_size(use))
            provider = self._indicators(use.specs_for(symbol, timeframe))
            seen = feeding.ring.recent(len(feeding.ring))
            for candle in seen:
                provider.update(candle)
            feeding.providers.append(provider)
            feeding.provider_of[use.name] = provider
            if binder.bind(use, symbol, timeframe, provider.values, feeding.ring):
                # Called once it has seen `warmup` bars: the ring's, then new ones.
                threshold = feeding.bars - len(seen) + warmup
                feeding.deciders.append((use.name, use.strategy.on_candle, use.ctx, threshold))
                feeding.deciders.sort(key=lambda d: rank[d[0]])

    async def run(self, resume: Mapping[str, Any] | None = None) -> ReplayStats:
        """Run every step the feed yields."""
        if resume is not None and not self._restarts:
            raise ResumeError("the step driver starts runs; resuming one is the replay driver's")
        proc = self._proc
        proc.policy.start()
        self._prepare()
        if resume is not None:
            # A live feed starts from now: the account carries on from the
            # checkpoint, the market from the exchange's latest candles.
            proc.restore(dict(resume))
        by_key = self._series
        quarantined = proc.bus.guard.quarantined
        disabled = proc.disabled
        bus = proc.bus
        candles = calls = 0
        next_chunk = self._chunk
        try:
            async for step in self._feed.steps():
                proc.begin(step.close_ms)
                if self._before_step is not None:
                    await self._before_step(step)
                deciding: list[tuple[_Feeding, Candle]] = []
                late = len(step.late)
                for k, candle in enumerate((*step.late, *step.bars)):
                    feeding = by_key[(candle.symbol, candle.timeframe)]
                    feeding.take(candle)
                    if feeding.executes:
                        proc.book_bar(
                            candle.symbol,
                            candle.ts,
                            candle.open,
                            candle.high,
                            candle.low,
                            candle.close,
                        )
                    # Late candles are history by now: nobody decides on them.
                    if k >= late and feeding.deciders:
                        deciding.append((feeding, candle))
                proc.settle()
                if proc.inbox:
                    proc.serve_inbox()
                if proc.controls:
                    proc.apply_controls()
                for feeding, candle in deciding:
                    for name, on_candle, ctx, warmup in feeding.deciders:
                        if feeding.bars <= warmup or name in quarantined or name in disabled:
                            continue
                        ctx.current_tf = candle.timeframe
                        calls += 1
                        proc.decide(name, on_candle, ctx, candle)
                proc.end()
                candles += len(step.bars)
                if candles >= next_chunk:
                    next_chunk = candles + self._chunk
                    proc.end_chunk()
                    if self._progress is not None:
                        self._progress(candles)
                    if bus.pending:
                        await bus.drain()
                    else:
                        await asyncio.sleep(0)
            if proc.step_close >= 0:
                proc.end_chunk()
            proc.record_last_equity()
        finally:
            release_views(self._strategies)
        self.last_ts = max(self.last_ts, proc.step_close)
        return run_stats(proc, candles, calls, calls)
