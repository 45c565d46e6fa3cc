"""The replay loop: recorded candles through the whole pipeline, as fast as Python allows.

Per candle, in order (DESIGN.md's pipeline):

1. the simulated broker executes what was pending for the symbol at the
   bar's open and its resting stop / take-profit inside the bar;
2. phantoms of the symbol advance;
3. the clock moves to the bar's close, the indicators of each strategy that
   watches the series move to this bar, and each strategy decides;
4. signals go through :class:`~garrison.engine.pipeline.Pipeline`.

When the close time moves on, the intents of the step just finished are
committed to the journal and only then released to the broker, whose next
chance to act on them is the symbol's next bar. This loop is the benchmark's
hot path: everything per candle is a local lookup; anything that allocates
happens per signal or per fill.
"""

from __future__ import annotations

import asyncio
import gc
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple, cast

import attrs
import numpy as np
from garrison_api import BarMask, Candle, Event, Level, Strategy
from garrison_api.indicators import FloatArray, compute

from garrison.engine.broker import SimulatedBroker
from garrison.engine.bus import EventBus
from garrison.engine.clock import SimulatedClock
from garrison.engine.context import HostContext
from garrison.engine.feed import Series, Timeline
from garrison.engine.ledger import Ledger
from garrison.engine.phantoms import PhantomTracker
from garrison.engine.pipeline import InvalidSignalError, Pipeline
from garrison.journal import Journal
from garrison.profile.timeframes import timeframe_ms

#: Candles between two yields to the event loop (notifiers, progress, flushes).
CHUNK = 8192

Progress = Callable[[int], None]


@attrs.define
class StrategyUse:
    """A strategy instance as the engine drives it."""

    name: str
    strategy: Strategy
    ctx: HostContext
    symbols: frozenset[str] = frozenset()


class _Binding(NamedTuple):
    """One strategy watching one series. A tuple: the hot loop unpacks it in one go."""

    on_candle: Callable[[Candle, Any], Sequence[object]]
    ctx: HostContext
    #: Per bar: call on_candle here? False before the warm-up and where the
    #: strategy's screen says it cannot act.
    wake: list[bool]
    name: str
    view: Mapping[str, float]
    #: True when the strategy sees this symbol in several timeframes, so the
    #: context's view for the symbol must be swapped to this series each bar.
    swap_view: bool


@attrs.define
class _SeriesState:
    symbol: str
    timeframe: str
    tf_ms: int
    ts: list[int]
    # Columns read on every bar are Python lists: indexing one is the cheapest
    # read the loop has. Columns read only on some bars are memoryviews of the
    # arrays: each read makes a float, but there is no list of them to build.
    opens: Sequence[float]
    highs: list[float]
    lows: list[float]
    closes: list[float]
    volumes: Sequence[float]
    bindings: list[_Binding]
    #: Per bar: does any binding wake? (the OR of their ``wake`` lists)
    wake: list[bool]
    trigger: list[float]
    phantoms: list[Any]
    #: Index of the bar being processed; -1 before the first.
    pos: int = -1
    #: Push the close into the ledger's marks on every bar? Only where the
    #: symbol has several series; otherwise the ledger reads ``closes[pos]``.
    pushes_mark: bool = True


class SeriesView(Mapping[str, float]):
    """A strategy's indicator values for one series, at the bar the engine is on.

    Reads the precomputed columns at the series' current position, so the
    values are right whenever the strategy looks (its own candle or another
    symbol's) without being copied on every bar. Each column carries one
    extra ``nan`` at its end: position -1, before the series' first bar, reads it.
    """

    __slots__ = ("_columns", "_state")

    def __init__(self, columns: dict[str, Sequence[float]], state: _SeriesState) -> None:
        self._columns = columns
        self._state = state

    def __getitem__(self, key: str) -> float:
        return self._columns[key][self._state.pos]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)

    def __repr__(self) -> str:
        return f"SeriesView({dict(self)!r})"


def _floats(column: FloatArray) -> Sequence[float]:
    """``column`` as a sequence of Python floats, without building a list of them."""
    # The array's buffer as a 1-d memoryview of float64 ("d"): a Python float per index.
    view: memoryview = np.ascontiguousarray(column, dtype=np.float64).data
    return cast(Sequence[float], view)


def _with_nan_tail(column: FloatArray) -> Sequence[float]:
    # Strategies read indicators on a fraction of the bars: a memoryview costs
    # nothing up front, where a list would make a float for every bar.
    return _floats(np.append(column, math.nan))


def _indicator_columns(strategy: Strategy, series: Series) -> dict[str, FloatArray]:
    return {name: compute(spec, series.columns) for name, spec in dict(strategy.indicators).items()}


def _watches(use: StrategyUse, series: Series) -> bool:
    if use.symbols and series.symbol not in use.symbols:
        return False
    timeframes = tuple(use.strategy.timeframes or ())
    return not timeframes or series.timeframe in timeframes


class ScreenError(ValueError):
    """A strategy's screen raised or returned something unusable."""


def screen_mask(strategy: Strategy, columns: dict[str, FloatArray], bars: int) -> BarMask | None:
    """The strategy's screen over whole columns; None when it declares none.

    Raises ScreenError (naming what was wrong) when the screen fails or its
    answer is not one boolean flag per bar.
    """
    screen = getattr(strategy, "screen", None)
    if screen is None:
        return None
    try:
        raw = screen(MappingProxyType(columns))
    except Exception as exc:
        raise ScreenError(f"screen raised {type(exc).__name__}: {exc}") from exc
    mask = np.asarray(raw)
    if mask.dtype != np.bool_ or mask.shape != (bars,):
        raise ScreenError(
            f"screen returned {mask.dtype} array of shape {mask.shape}; "
            f"expected one bool per bar, shape ({bars},)"
        )
    return mask


@attrs.frozen
class ReplayStats:
    candles: int
    steps: int
    signals: int
    vetoed_intents: int
    commits: int
    #: on_candle calls made, and how many there would have been without screens.
    strategy_calls: int = 0
    strategy_calls_unscreened: int = 0


class ReplayEngine:
    """Drives one replay. Build it, then ``await run()`` once."""

    def __init__(
        self,
        *,
        series: Sequence[Series],
        timeline: Timeline,
        strategies: Sequence[StrategyUse],
        pipeline: Pipeline,
        broker: SimulatedBroker,
        ledger: Ledger,
        phantoms: PhantomTracker,
        journal: Journal,
        bus: EventBus,
        clock: SimulatedClock,
        equity_interval_ms: int,
        commit_each_step: bool = False,
        use_screens: bool = True,
        progress: Progress | None = None,
    ) -> None:
        self._series = list(series)
        self._timeline = timeline
        self._strategies = list(strategies)
        self._pipeline = pipeline
        self._broker = broker
        self._ledger = ledger
        self._phantoms = phantoms
        self._journal = journal
        self._bus = bus
        self._clock = clock
        self._equity_interval = max(1, equity_interval_ms)
        self._progress = progress
        self._commit_each_step = commit_each_step
        self._use_screens = use_screens
        self._calls_unscreened = 0
        self._commits = 0
        self._steps = 0
        self.last_ts = 0

    def _wake(self, use: StrategyUse, series: Series, columns: dict[str, FloatArray]) -> BarMask:
        """Where to call ``use``'s on_candle in ``series``: after warm-up, where it screens in."""
        n = len(series)
        wake = np.ones(n, dtype=np.bool_)
        wake[: max(0, int(use.strategy.warmup or 0))] = False
        if not self._use_screens:
            return wake
        try:
            mask = screen_mask(use.strategy, {**series.columns, **columns}, n)
        except ScreenError as exc:
            # Unscreened is always right, only slower: say so and carry on.
            self._bus.emit(
                Event(
                    ts=int(series.ts[0]) if n else 0,
                    kind="strategy.screen_ignored",
                    level=Level.WARNING,
                    source=use.name,
                    message=f"{use.name}: {exc}; calling it on every {series.symbol} "
                    f"{series.timeframe} bar instead",
                )
            )
            return wake
        return wake if mask is None else wake & mask

    def _prepare(self) -> list[_SeriesState]:
        per_ctx_symbol: dict[tuple[int, str], int] = {}
        for s in self._series:
            for use in self._strategies:
                if _watches(use, s):
                    key = (id(use.ctx), s.symbol)
                    per_ctx_symbol[key] = per_ctx_symbol.get(key, 0) + 1
        states = []
        for s in self._series:
            state = _SeriesState(
                s.symbol,
                s.timeframe,
                timeframe_ms(s.timeframe),
                s.ts.tolist(),
                _floats(s.open),
                s.high.tolist(),
                s.low.tolist(),
                s.close.tolist(),
                _floats(s.volume),
                [],
                [],
                self._broker.trigger(s.symbol),
                self._phantoms.open_list(s.symbol),
            )
            any_wake = np.zeros(len(s), dtype=np.bool_)
            for use in self._strategies:
                if not _watches(use, s):
                    continue
                columns = _indicator_columns(use.strategy, s)
                wake = self._wake(use, s, columns)
                any_wake |= wake
                view = SeriesView({name: _with_nan_tail(a) for name, a in columns.items()}, state)
                swap = per_ctx_symbol[(id(use.ctx), s.symbol)] > 1
                if not swap:
                    use.ctx.views[s.symbol] = view
                state.bindings.append(
                    _Binding(use.strategy.on_candle, use.ctx, wake.tolist(), use.name, view, swap)
                )
                self._calls_unscreened += max(0, len(s) - int(use.strategy.warmup or 0))
            state.wake = any_wake.tolist()
            states.append(state)
        # A symbol replayed in one series is marked at that series' close, read
        # by the ledger when it values the account. With several series, the
        # latest close could be any of theirs: those push it on every bar.
        series_per_symbol = Counter(state.symbol for state in states)
        for state in states:
            if series_per_symbol[state.symbol] == 1:
                state.pushes_mark = False
                self._ledger.mark_sources[state.symbol] = state
        return states

    def _commit_step(self) -> None:
        # Intents are always journaled before the broker gets them. With
        # commit_each_step they are also durable by then (a commit per step with
        # intents); otherwise the chunk's single commit carries each intent
        # together with the fills it led to, never a fill without its intent.
        if self._commit_each_step:
            self._journal.flush()
            self._commits += 1
        self._pipeline.release()

    def _record_equity(self, ts: int) -> None:
        ledger = self._ledger
        equity = ledger.mark(ts)
        self._journal.record_equity(ts, ledger.balance, equity, len(ledger.positions))

    def _strategy_failed_named(self, name: str, exc: BaseException, ts: int) -> None:
        if self._bus.guard.failed(name, "on_candle", exc, ts):
            # Quarantined: stop calling it on every series.
            for state in self._states:
                state.bindings = [b for b in state.bindings if b.name != name]
                flags = zip(*(b.wake for b in state.bindings), strict=True)
                state.wake = (
                    [any(bar) for bar in flags] if state.bindings else [False] * len(state.ts)
                )

    async def run(self) -> ReplayStats:
        if not self._commit_each_step:
            self._journal.start_background_writer()  # starts while the series are prepared
        self._states = self._prepare()
        # The prepared series (hundreds of thousands of tuples and floats) live
        # for the whole run; frozen, the cyclic collector stops walking them on
        # every collection. unfreeze() hands them back when the run ends.
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(100_000, 50, 1000)
        try:
            return await self._run()
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            # Views point at their series' state and states hold the views:
            # break the cycles so the columns go now, not at some later full collection.
            for state in self._states:
                state.bindings = []

    async def _run(self) -> ReplayStats:
        states = self._states
        timeline = self._timeline
        sidx = timeline.series_index.tolist()
        ridx = timeline.row_index.tolist()
        # Where the close time moves on, worked out for all candles at once:
        # the loop then reads a candle's open time only where it uses it.
        starts = timeline.step_starts().tolist()
        n = len(sidx)

        on_bar = self._broker.on_bar
        phantoms_on_bar = self._phantoms.on_bar
        pipeline = self._pipeline
        on_executions = pipeline.on_executions
        on_phantoms = pipeline.on_phantoms
        on_signals = pipeline.on_signals
        staged = pipeline.staged
        # Where a symbol has several series, its mark follows its last close,
        # held or not: storing it costs less than asking whether the symbol is
        # held. The ledger values only positions, and sets the mark itself
        # when one opens.
        marks = self._ledger.marks
        clock = self._clock
        interval = self._equity_interval
        next_equity = 0
        step_close = -1
        progress = self._progress
        new_candle = Candle
        calls = 0

        k = 0
        while k < n:
            stop_at = min(n, k + CHUNK)
            for si, i, starts_step in zip(
                sidx[k:stop_at], ridx[k:stop_at], starts[k:stop_at], strict=True
            ):
                st = states[si]
                if starts_step:
                    if staged:
                        self._commit_step()
                    step_close = st.ts[i] + st.tf_ms
                    self._steps += 1
                    clock.advance_to(step_close)
                    if step_close >= next_equity:
                        self._record_equity(step_close)
                        next_equity = step_close - step_close % interval + interval
                h = st.highs[i]
                lo = st.lows[i]
                # The broker keeps [low, high] trigger levels per symbol: a bar
                # inside them cannot fill or stop anything, so it is not called.
                trigger = st.trigger
                if lo <= trigger[0] or h >= trigger[1]:
                    done = on_bar(st.symbol, st.ts[i], st.opens[i], h, lo)
                    if done:
                        on_executions(done)
                if st.pushes_mark:
                    marks[st.symbol] = st.closes[i]
                if st.phantoms:
                    resolved = phantoms_on_bar(
                        st.symbol, st.ts[i], st.opens[i], h, lo, st.closes[i]
                    )
                    if resolved:
                        on_phantoms(resolved)
                st.pos = i
                if not st.wake[i]:
                    continue
                symbol = st.symbol
                c = st.closes[i]
                candle = new_candle(
                    symbol, st.timeframe, st.ts[i], st.opens[i], h, lo, c, st.volumes[i]
                )
                for on_candle, ctx, wake, name, view, swap in st.bindings:
                    if not wake[i]:
                        continue
                    if swap:
                        ctx.views[symbol] = view
                    calls += 1
                    try:
                        signals = on_candle(candle, ctx)
                    except Exception as exc:
                        self._strategy_failed_named(name, exc, step_close)
                        continue
                    if signals:
                        try:
                            on_signals(name, signals, symbol, step_close, c, ctx)
                        except InvalidSignalError as exc:
                            self._strategy_failed_named(name, exc, step_close)
            k = stop_at
            self.last_ts = step_close
            # Committed by the journal's writer process while the next chunk runs.
            self._journal.flush(background=not self._commit_each_step)
            self._commits += 1
            if progress is not None:
                progress(k)
            if self._bus.pending:
                await self._bus.drain()
            else:
                await asyncio.sleep(0)
        if pipeline.staged:
            self._commit_step()
        if step_close > 0:
            self._record_equity(step_close)
        self._journal.flush()
        return ReplayStats(
            candles=n,
            steps=self._steps,
            signals=pipeline.signal_count,
            vetoed_intents=pipeline.veto_count,
            commits=self._commits,
            strategy_calls=calls,
            strategy_calls_unscreened=self._calls_unscreened,
        )

    def cancel_leftovers(self, ts: int) -> int:
        """Cancel orders the data ended before filling; open positions stay open (not trades)."""
        dropped = self._broker.cancel_pending()
        for pending in dropped:
            self._bus.emit(
                Event(
                    ts=ts,
                    kind="order.canceled",
                    level=Level.INFO,
                    source="host",
                    message=f"order {pending.order.id} for {pending.intent.symbol} canceled: "
                    "the data ended before it could fill",
                )
            )
        return len(dropped)
