"""The replay driver: recorded candles, step by step, through the step processor.

It produces steps from a merged timeline (every candle ordered by close
time; inside a step longer timeframes first, then by symbol) and hands each
to the :class:`~garrison.engine.step.StepProcessor`, the same one every mode
uses: book every execution bar of the step, settle (marks, kill switches,
equity), let the strategies decide, commit and send. The fast paths are the
driver's own and change no decision:

- indicators are computed over whole series up front (vectorised), and a
  strategy's view reads its series' column at the bar the series is on;
- a strategy that declares a screen is called only on the bars it flags;
- a bar inside the venue's trigger levels cannot execute anything, so the
  venue is not asked about it.

Everything per candle is a local lookup; anything that allocates happens
per decision, per signal or per fill.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import gc
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple, cast

import attrs
import numpy as np
from garrison_api import BarMask, Candle, Event, IndicatorSpec, Level, Side, Strategy
from garrison_api.indicators import FloatArray, compute

from garrison.engine.bus import PLUGIN_ERRORS
from garrison.engine.context import CandleHistory, HostContext
from garrison.engine.feed import Series, Timeline
from garrison.engine.pipeline import InvalidSignalError
from garrison.engine.step import StepProcessor
from garrison.profile.timeframes import timeframe_ms

#: Candles between two commits of the journal (each at the end of a step).
CHUNK = 8192

Progress = Callable[[int], None]


@attrs.define
class StrategyUse:
    """A strategy instance as the engine drives it."""

    name: str
    strategy: Strategy
    ctx: HostContext
    symbols: frozenset[str] = frozenset()

    def sees(self, symbol: str) -> bool:
        return not self.symbols or symbol in self.symbols

    def decides_on(self, series: Series) -> bool:
        """Is ``on_candle`` called on this series' bars? (see :meth:`decides`)"""
        return self.decides(series.symbol, series.timeframe)

    def decides(self, symbol: str, timeframe: str) -> bool:
        """Is ``on_candle`` called on the bars of ``symbol`` in ``timeframe``?

        On the strategy's ``timeframes``; when it names none, on every
        timeframe but its context ones (as the test kit's runner does).
        """
        if not self.sees(symbol):
            return False
        timeframes = tuple(self.strategy.timeframes or ())
        if timeframes:
            return timeframe in timeframes
        return timeframe not in self.context()

    def context(self) -> Mapping[str, Mapping[str, IndicatorSpec]]:
        """The strategy's ``context_indicators`` (empty when it declares none)."""
        return getattr(self.strategy, "context_indicators", None) or {}

    def context_specs(self, timeframe: str) -> Mapping[str, IndicatorSpec] | None:
        """The indicators read on ``timeframe`` without deciding there (None: not a context)."""
        specs = self.context().get(timeframe)
        return None if specs is None else dict(specs)

    def reads(self, series: Series) -> bool:
        """Does the strategy read this series (decision or context timeframe)?"""
        return self.reads_series(series.symbol, series.timeframe)

    def reads_series(self, symbol: str, timeframe: str) -> bool:
        """Does the strategy read ``symbol`` in ``timeframe`` (decision or context)?"""
        if self.decides(symbol, timeframe):
            return True
        return self.sees(symbol) and self.context_specs(timeframe) is not None

    def specs_for(self, symbol: str, timeframe: str) -> dict[str, IndicatorSpec]:
        """The indicators the strategy reads on one series: its own where it decides, and
        the context ones of the timeframe."""
        specs = dict(self.strategy.indicators) if self.decides(symbol, timeframe) else {}
        specs.update(self.context_specs(timeframe) or {})
        return specs


def check_context(strategies: Sequence[StrategyUse], have: set[tuple[str, str]]) -> None:
    """Refuse a strategy whose context timeframes the data lacks for a symbol it decides on.

    ``have`` holds every (symbol, timeframe) of the run's data.
    """
    for use in strategies:
        context = use.context()
        declared = set(use.strategy.timeframes or ())
        both = sorted(declared & set(context))
        if both:
            raise ContextError(
                f"strategy {use.name}: timeframe(s) {', '.join(both)} are both decision "
                "timeframes and context_indicators keys; a timeframe is one or the other"
            )
        decided = {symbol for symbol, timeframe in have if use.decides(symbol, timeframe)}
        for symbol in sorted(decided):
            missing = sorted(tf for tf in context if (symbol, tf) not in have)
            if missing:
                raise ContextError(
                    f"strategy {use.name} reads {symbol} in {', '.join(missing)} "
                    f"(context_indicators) but the data has no {symbol} "
                    f"{', '.join(missing)} candles; add those files or narrow the "
                    "strategy's symbols"
                )


def unbindable_reason(use: StrategyUse, keys: Sequence[tuple[str, str]]) -> str:
    """Why ``use`` cannot be bound to a run whose series are ``keys`` ("" when it can)."""
    try:
        check_context([use], set(keys))
    except ContextError as exc:
        return str(exc)
    if not any(use.decides(symbol, timeframe) for symbol, timeframe in keys):
        series = ", ".join(f"{symbol} {timeframe}" for symbol, timeframe in sorted(keys))
        declared = ", ".join(use.strategy.timeframes or ()) or "any timeframe"
        return (
            f"strategy {use.name} decides on {declared} and would decide on none of this "
            f"run's series ({series}); a running host cannot load other data"
        )
    return ""


class ViewBinder:
    """Hands each strategy's context the views of the series it reads (both drivers).

    Every (symbol, timeframe) the strategy reads gets its view in
    ``tf_views`` and its history in ``history``. ``indicators(symbol)``
    without a timeframe reads ``views``: the symbol's decision series when the
    strategy decides on exactly one, or the one series it reads when it
    decides on none; with several decision series it reads the candle's.
    """

    def __init__(self, uses: Sequence[StrategyUse], keys: Sequence[tuple[str, str]]) -> None:
        self._deciding = Counter((id(u), s) for s, tf in keys for u in uses if u.decides(s, tf))
        self._reading = Counter((id(u), s) for s, tf in keys for u in uses if u.reads_series(s, tf))

    def bind(
        self,
        use: StrategyUse,
        symbol: str,
        timeframe: str,
        view: Mapping[str, float],
        history: CandleHistory,
    ) -> bool:
        """Give ``use`` the series' view and history; True when it decides on the series."""
        ctx = use.ctx
        ctx.tf_views[(symbol, timeframe)] = view
        ctx.history[(symbol, timeframe)] = history
        key = (id(use), symbol)
        decides = use.decides(symbol, timeframe)
        if decides:
            if self._deciding[key] == 1:
                ctx.views[symbol] = view
        elif self._reading[key] == 1 and self._deciding[key] == 0:
            ctx.views[symbol] = view
        return decides


def release_views(uses: Sequence[StrategyUse]) -> None:
    """Take the series' views back from the contexts at the end of a run.

    Views point at their series' state and contexts hold the views: breaking
    the cycles lets the columns go now, not at some later full collection.
    """
    for use in uses:
        use.ctx.views.clear()
        use.ctx.tf_views.clear()
        use.ctx.history.clear()


def run_stats(proc: StepProcessor, candles: int, calls: int, calls_unscreened: int) -> ReplayStats:
    """The figures of a driver's run: its own counts, and the pipeline's."""
    pipeline = proc.pipeline
    return ReplayStats(
        candles=candles,
        steps=proc.steps,
        signals=pipeline.signal_count,
        vetoed_intents=pipeline.veto_count,
        commits=getattr(proc.policy, "commits", 0),
        strategy_calls=calls,
        strategy_calls_unscreened=calls_unscreened,
        rejected_orders=pipeline.rejected_count,
    )


class _Binding(NamedTuple):
    """One strategy deciding on one series. A tuple: the loop unpacks it in one go."""

    on_candle: Callable[[Candle, Any], Sequence[object]]
    ctx: HostContext
    #: Per bar: call on_candle here? False before the warm-up and where the
    #: strategy's screen says it cannot act.
    wake: list[bool]
    name: str


@attrs.define(eq=False)
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
    #: Is this the symbol's execution series (its finest timeframe)?
    executes: bool
    trigger: list[float]
    phantoms: list[Any]
    #: Index of the last closed bar; -1 before the first.
    pos: int = -1
    #: Signed quantity held in the symbol (execution series only; 0.0 when
    #: flat) and its entry price: what the driver's equity estimate reads.
    held: float = 0.0
    basis: float = 0.0
    #: Every binding of the series with its wake flags, the ones left out of
    #: :attr:`bindings` (quarantined, disabled) included: what
    #: :meth:`ReplayEngine.refresh` rebuilds ``bindings`` and ``wake`` from.
    every: list[tuple[_Binding, BarMask]] = attrs.Factory(list)

    def recent(self, n: int) -> list[Candle]:
        """The last ``n`` closed candles of the series, oldest first (``ctx.candles``)."""
        end = self.pos + 1
        return [
            Candle(
                self.symbol,
                self.timeframe,
                self.ts[i],
                self.opens[i],
                self.highs[i],
                self.lows[i],
                self.closes[i],
                self.volumes[i],
            )
            for i in range(max(0, end - n), end)
        ]


def _bar_range(
    execution: Mapping[str, _SeriesState], symbol: str, since_ts: int
) -> tuple[float, float] | None:
    """Highest high and lowest low of ``symbol``'s execution bars from ``since_ts`` up to,
    not including, its current bar (``PhantomTracker.history``)."""
    st = execution.get(symbol)
    if st is None:
        return None
    start = bisect.bisect_left(st.ts, since_ts)
    end = st.pos
    if end <= start:
        return None
    return max(st.highs[start:end]), min(st.lows[start:end])


class SeriesView(Mapping[str, float]):
    """A strategy's indicator values for one series, at the series' last closed bar.

    Reads the precomputed columns at the series' current position, so the
    values are right whenever the strategy looks (its own candle or another
    series') without being copied on every bar. Each column carries one
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
    #: Orders the venue refused (see the ``order.rejected`` events).
    rejected_orders: int = 0


class ContextError(ValueError):
    """A strategy reads a timeframe the replay's data does not have."""


class ResumeError(ValueError):
    """A checkpoint that does not belong to this replay's data."""


class ReplayEngine:
    """Drives one replay. Build it, then ``await run()`` once.

    ``first_rows[i]`` is where series ``i``'s replay window starts; the bars
    before it are warm-up history (indicators, ``ctx.candles``), not steps.
    """

    def __init__(
        self,
        *,
        series: Sequence[Series],
        timeline: Timeline,
        strategies: Sequence[StrategyUse],
        processor: StepProcessor,
        first_rows: Sequence[int] | None = None,
        use_screens: bool = True,
        progress: Progress | None = None,
    ) -> None:
        self._series = list(series)
        self._timeline = timeline
        self._strategies = list(strategies)
        self._proc = processor
        self._first_rows = list(first_rows) if first_rows is not None else [0] * len(series)
        self._progress = progress
        self._use_screens = use_screens
        self._calls_unscreened = 0
        self._calls = 0
        self._states: list[_SeriesState] = []
        #: Execution series of the symbols held, and the sum of their signed
        #: quantities times entry prices (see _hold).
        self._holding: list[_SeriesState] = []
        self._cost = 0.0

        # Index in the timeline where each step starts, for checkpoints and chunks.
        self._step_starts = np.flatnonzero(timeline.step_starts())
        self._step_index: list[int] = self._step_starts.tolist()
        self.last_ts = 0

    # -- preparing the series ---------------------------------------------------

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
            self._proc.bus.emit(
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
        finest: dict[str, int] = {}
        for s in self._series:
            tf = timeframe_ms(s.timeframe)
            finest[s.symbol] = min(finest.get(s.symbol, tf), tf)
        proc = self._proc
        keys = [(s.symbol, s.timeframe) for s in self._series]
        check_context(self._strategies, set(keys))
        binder = ViewBinder(self._strategies, keys)
        cache: dict[tuple[int, IndicatorSpec], FloatArray] = {}
        execution: dict[str, _SeriesState] = {}
        # A closed trade's excursions: one range lookup over bars held here,
        # instead of the step driver's update on every bar.
        proc.phantoms.history = functools.partial(_bar_range, execution)
        states = []
        for index, s in enumerate(self._series):
            executes = timeframe_ms(s.timeframe) == finest[s.symbol]
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
                executes,
                proc.venue.trigger(s.symbol) if executes else [-math.inf, math.inf],
                proc.phantoms.open_list(s.symbol) if executes else [],
                self._first_rows[index] - 1,
            )
            if executes:
                proc.phantoms.bar_ms[s.symbol] = state.tf_ms
                execution[s.symbol] = state
                # The execution series marks the symbol: the ledger reads its close.
                proc.ledger.mark_sources[s.symbol] = state
            any_wake = np.zeros(len(s), dtype=np.bool_)
            for use in self._strategies:
                if not use.reads(s):
                    continue
                specs = use.specs_for(s.symbol, s.timeframe)
                columns: dict[str, FloatArray] = {}
                for name, spec in specs.items():
                    key = (index, spec)
                    if key not in cache:
                        cache[key] = compute(spec, s.columns)
                    columns[name] = cache[key]
                view = SeriesView({name: _with_nan_tail(a) for name, a in columns.items()}, state)
                if binder.bind(use, s.symbol, s.timeframe, view, state):
                    wake = self._wake(use, s, columns)
                    any_wake |= wake
                    binding = _Binding(use.strategy.on_candle, use.ctx, wake.tolist(), use.name)
                    state.bindings.append(binding)
                    state.every.append((binding, wake))
                    window = len(s) - self._first_rows[index]
                    warm = max(0, int(use.strategy.warmup or 0) - self._first_rows[index])
                    self._calls_unscreened += max(0, window - warm)
            state.wake = any_wake.tolist()
            states.append(state)
        return states

    def _drop_quarantined(self) -> None:
        quarantined = self._proc.bus.guard.quarantined
        for state in self._states:
            if any(b.name in quarantined for b in state.bindings):
                self.refresh()
                return

    # -- operator changes (control channel) ------------------------------------------

    def refresh(self, *, force: bool = False) -> None:
        """Call from the next step on only the strategies neither quarantined nor disabled.

        Rebuilds each series' bindings and wake flags from all of its
        bindings (:attr:`_SeriesState.every`), so a strategy enabled again
        is called again on exactly the bars it would have been.
        """
        proc = self._proc
        left_out = proc.bus.guard.quarantined | proc.disabled
        for state in self._states:
            kept = [(b, w) for b, w in state.every if b.name not in left_out]
            if not force and [b for b, _ in kept] == state.bindings:
                continue
            state.bindings = [b for b, _ in kept]
            if kept:
                state.wake = np.logical_or.reduce([w for _, w in kept]).tolist()
            else:
                state.wake = [False] * len(state.ts)

    def unbindable(self, use: StrategyUse) -> str:
        """Why ``use`` cannot be swapped into this replay ("" when it can)."""
        return unbindable_reason(use, [(s.symbol, s.timeframe) for s in self._series])

    def rebind(self, use: StrategyUse) -> None:
        """Put ``use`` in the place of the strategy use of the same name, from the next step.

        Its indicators are computed over the whole of each series it reads,
        as every strategy's are when the replay starts (a view reads only the
        bar the series is on, so nothing ahead is seen); it is called where it
        would have been called from the start (its warm-up and screen).
        """
        old = next((u for u in self._strategies if u.name == use.name), None)
        if old is None:
            raise ValueError(f"no strategy use named {use.name!r} in this run")
        order = [u.name for u in self._strategies]
        self._strategies[order.index(use.name)] = use
        release_views([old])
        keys = [(s.symbol, s.timeframe) for s in self._series]
        binder = ViewBinder([use], keys)
        rank = {name: k for k, name in enumerate(order)}
        for s, state in zip(self._series, self._states, strict=True):
            state.every = [(b, w) for b, w in state.every if b.name != use.name]
            if not use.reads(s):
                continue
            columns = {
                name: compute(spec, s.columns)
                for name, spec in use.specs_for(s.symbol, s.timeframe).items()
            }
            view = SeriesView({name: _with_nan_tail(a) for name, a in columns.items()}, state)
            if binder.bind(use, s.symbol, s.timeframe, view, state):
                wake = self._wake(use, s, columns)
                binding = _Binding(use.strategy.on_candle, use.ctx, wake.tolist(), use.name)
                state.every.append((binding, wake))
                # Strategies decide in the profile's order, the new one in its place.
                state.every.sort(key=lambda bw: rank[bw[0].name])
        self.refresh(force=True)

    def _hold(self, st: _SeriesState) -> None:
        """After fills in ``st``'s symbol: what the driver's equity estimate counts there.

        At the end of each step the driver estimates equity as the balance
        plus, over the held symbols (:attr:`_holding`), signed quantity times
        close, less :attr:`_cost` (signed quantity times entry price, summed
        here once per fill rather than once per step); most steps then tell
        from it that settling would change nothing (``StepProcessor.settle``,
        whose margins absorb the estimate's rounding).
        """
        pos = self._proc.ledger.positions.get(st.symbol)
        holding = self._holding
        if pos is None:
            st.held = st.basis = 0.0
            if st in holding:
                holding.remove(st)
        else:
            st.held = pos.qty if pos.side is Side.LONG else -pos.qty
            st.basis = pos.entry_price
            if st not in holding:
                holding.append(st)
        cost = 0.0
        for held in holding:
            cost += held.held * held.basis
        self._cost = cost

    # -- restart ------------------------------------------------------------------

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint of this replay must match to be resumed by it."""
        close = self._timeline.close_ms
        return {
            "candles": len(self._timeline),
            "first_close": int(close[0]) if len(close) else 0,
            "last_close": int(close[-1]) if len(close) else 0,
            "series": sorted(
                [s.symbol, s.timeframe, len(s) - first]
                for s, first in zip(self._series, self._first_rows, strict=True)
            ),
        }

    def driver_state(self) -> dict[str, Any]:
        """The driver's part of a checkpoint: where in the timeline the next step starts."""
        steps = self._proc.steps
        index = self._step_index[steps] if steps < len(self._step_index) else len(self._timeline)
        return {"kind": "replay", "next_index": index, "fingerprint": self.fingerprint()}

    def _resume_at(self, state: Mapping[str, Any]) -> int:
        driver = state.get("driver") or {}
        if driver.get("kind") != "replay":
            raise ResumeError("the checkpoint was not written by a replay")
        if driver.get("fingerprint") != self.fingerprint():
            raise ResumeError(
                "the checkpoint belongs to other data (candles, dates or series differ from "
                "this replay's); resume with the same --data, --from and --to"
            )
        index = int(driver["next_index"])
        self._proc.restore(dict(state))
        # Every series stands on its last bar replayed before the checkpoint.
        done_series = self._timeline.series_index[:index]
        for i, st in enumerate(self._states):
            st.pos = self._first_rows[i] + int(np.count_nonzero(done_series == i)) - 1
            if st.executes:
                self._hold(st)
        self._drop_quarantined()
        return index

    # -- the run --------------------------------------------------------------------

    async def run(self, resume: Mapping[str, Any] | None = None) -> ReplayStats:
        """Replay the timeline (from ``resume``'s checkpoint when given)."""
        self._proc.policy.start()
        self._states = self._prepare()
        if self._proc.disabled:
            self.refresh()
        start = 0 if resume is None else self._resume_at(resume)
        # The prepared series (hundreds of thousands of tuples and floats) live
        # for the whole run; frozen, the cyclic collector stops walking them on
        # every collection. unfreeze() hands them back when the run ends.
        # A young generation larger than a chunk's journal rows lets most of
        # them (and the items they were encoded from) be freed by reference
        # counting before a collection ever walks them.
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(300_000, 50, 1000)
        try:
            return await self._run(start)
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            self._proc.ledger.detach_sources()
            for state in self._states:
                state.bindings = []
            self._states = []
            release_views(self._strategies)

    def _marks(self, start: int) -> tuple[list[int], list[int]]:
        """Per candle from ``start``: 0 (same step), 1 (a step starts), 2 (a step starts and
        the journal commits before it, about every CHUNK candles); and where those commits are.
        """
        n = len(self._timeline)
        marks = np.asarray(self._timeline.step_starts()[start:], dtype=np.int64)
        bounds: list[int] = []
        at = start
        while at < n:
            k = int(np.searchsorted(self._step_starts, at + CHUNK, "left"))
            at = self._step_index[k] if k < len(self._step_index) else n
            if at < n:
                marks[at - start] = 2
            bounds.append(at)
        return marks.tolist(), bounds

    async def _run(self, start: int) -> ReplayStats:
        timeline = self._timeline
        n = len(timeline)
        # One pass over the candles; a sentinel at the end (mark 2) finishes the
        # last step and commits the last chunk through the same code as the others.
        marks, bounds = self._marks(start)
        sidx = [*timeline.series_index[start:].tolist(), 0]
        ridx = [*timeline.row_index[start:].tolist(), 0]
        marks.append(2)
        states = self._states

        proc = self._proc
        pipeline = proc.pipeline
        on_bar = proc.venue.on_bar
        on_reports = pipeline.on_reports
        on_signals = pipeline.on_signals
        phantoms_on_bar = proc.phantoms.on_bar
        on_phantoms = pipeline.on_phantoms
        staged = pipeline.staged
        held_calls = pipeline.held
        controls = proc.controls
        inbox = proc.inbox
        ledger = proc.ledger
        clock = proc.clock
        settle = proc.settle
        end = proc.end
        strategy_failed = proc.strategy_failed
        watchdog = pipeline.watchdog
        guard = proc.bus.guard
        outcome_failing = pipeline.outcome_failing
        quarantined = guard.quarantined
        known_quarantined = len(quarantined)
        hold = self._hold
        new_candle = Candle
        deferred: list[_SeriesState] = []
        progress = self._progress
        bus = proc.bus
        calls = 0
        chunk = 0
        # The bounds inside which a step needs no settling (StepProcessor.settle).
        if proc.step_close >= 0:
            settle()
        low, high, due, low_held, high_held = proc.bounds
        holding = self._holding
        cost = self._cost
        open_step = False

        for si, i, mark in zip(sidx, ridx, marks, strict=True):
            st = states[si]
            if mark:
                if open_step:
                    # The step before is booked. 3: settle, unless the estimated
                    # equity stays inside the last settle's bounds.
                    equity = ledger.balance - cost
                    for held in holding:
                        equity += held.held * held.closes[held.pos]
                    if proc.step_close >= due or not low < equity < high:
                        settle()
                        low, high, due, low_held, high_held = proc.bounds
                    if inbox:
                        # Control requests (queries, actions) are served
                        # between steps, where the state is whole.
                        proc.serve_inbox()
                    if controls:
                        # An operator's request (control channel): a halt or a
                        # pause changes what the kill switches may add, and a
                        # flatten stages exits, so the bounds are taken afresh.
                        proc.apply_controls()
                        settle()
                        low, high, due, low_held, high_held = proc.bounds
                    # 4: decide. StepProcessor.decide, inlined: one call per
                    # decision less, and the same steps in the same order.
                    if deferred:
                        step_close = proc.step_close
                        for dst in deferred:
                            j = dst.pos
                            candle = new_candle(
                                dst.symbol,
                                dst.timeframe,
                                dst.ts[j],
                                dst.opens[j],
                                dst.highs[j],
                                dst.lows[j],
                                dst.closes[j],
                                dst.volumes[j],
                            )
                            tf = dst.timeframe
                            for on_candle, ctx, wake, name in dst.bindings:
                                if not wake[j]:
                                    continue
                                ctx.current_tf = tf
                                calls += 1
                                watchdog.seq += 1
                                watchdog.active = name
                                try:
                                    signals = on_candle(candle, ctx)
                                except PLUGIN_ERRORS as exc:
                                    watchdog.active = None
                                    strategy_failed(name, exc)
                                    continue
                                watchdog.active = None
                                if watchdog.overrun is not None and proc.void_overrun(name):
                                    continue
                                if signals:
                                    try:
                                        on_signals(
                                            name, signals, dst.symbol, step_close, candle.close, ctx
                                        )
                                    except InvalidSignalError as exc:
                                        strategy_failed(name, exc)
                                        continue
                                if guard.failures and name not in outcome_failing:
                                    guard.succeeded(name)
                        deferred.clear()
                        if len(quarantined) != known_quarantined:
                            known_quarantined = len(quarantined)
                            self._drop_quarantined()
                    # 5: held signals handled, commit and send.
                    if staged or held_calls:
                        end()
                if mark == 2:
                    self.last_ts = proc.step_close
                    if open_step:
                        proc.end_chunk()
                    self._calls = calls
                    if progress is not None:
                        progress(bounds[chunk])
                    chunk += 1
                    if bus.pending:
                        await bus.drain()
                    else:
                        await asyncio.sleep(0)
                    if chunk == len(bounds):
                        break  # the sentinel
                # proc.begin(close), without a call per step: the timeline is in
                # close order, so the check it makes cannot fail here.
                close = st.ts[i] + st.tf_ms
                clock._now = close
                proc.step_close = close
                proc.steps += 1
                open_step = True
            st.pos = i
            if st.executes:
                h = st.highs[i]
                lo = st.lows[i]
                # The venue keeps [low, high] trigger levels per symbol: a bar
                # inside them cannot fill or stop anything, so it is not asked.
                trigger = st.trigger
                if lo <= trigger[0] or h >= trigger[1]:
                    reports = on_bar(st.symbol, st.ts[i], st.opens[i], h, lo)
                    if reports:
                        on_reports(reports)
                        hold(st)
                        cost = self._cost
                        # From now on the equity is an estimate: keep the margins.
                        low = low_held
                        high = high_held
                if st.phantoms:
                    resolved = phantoms_on_bar(
                        st.symbol, st.ts[i], st.opens[i], h, lo, st.closes[i]
                    )
                    if resolved:
                        on_phantoms(resolved)
            if st.wake[i]:
                deferred.append(st)
        proc.record_last_equity()
        self.last_ts = max(self.last_ts, proc.step_close)
        return run_stats(proc, n, self._calls, self._calls_unscreened)
