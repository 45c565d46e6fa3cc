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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import attrs
from garrison_api import Candle, Event, Level, Strategy
from garrison_api.indicators import compute

from garrison.engine.broker import SimulatedBroker
from garrison.engine.bus import EventBus
from garrison.engine.clock import SimulatedClock
from garrison.engine.context import HostContext, live_view
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
    update: Callable[[Iterable[tuple[str, float]]], None]
    names: tuple[str, ...]
    rows: list[tuple[float, ...]]
    warmup: int
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
    bars: list[tuple[float, float, float, float, float]]
    bindings: list[_Binding]
    trigger: list[float]
    phantoms: list[Any]


def _indicator_rows(
    strategy: Strategy, series: Series
) -> tuple[tuple[str, ...], list[tuple[float, ...]]]:
    specs = dict(strategy.indicators)
    names = tuple(specs)
    if not names:
        return names, []
    columns = series.columns
    arrays = [compute(specs[name], columns) for name in names]
    return names, list(zip(*(a.tolist() for a in arrays), strict=True))


def _watches(use: StrategyUse, series: Series) -> bool:
    if use.symbols and series.symbol not in use.symbols:
        return False
    timeframes = tuple(use.strategy.timeframes or ())
    return not timeframes or series.timeframe in timeframes


@attrs.frozen
class ReplayStats:
    candles: int
    steps: int
    signals: int
    vetoed_intents: int
    commits: int


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
        self._commits = 0
        self._steps = 0
        self.last_ts = 0

    def _prepare(self) -> list[_SeriesState]:
        per_ctx_symbol: dict[tuple[int, str], int] = {}
        for s in self._series:
            for use in self._strategies:
                if _watches(use, s):
                    key = (id(use.ctx), s.symbol)
                    per_ctx_symbol[key] = per_ctx_symbol.get(key, 0) + 1
        states = []
        for s in self._series:
            bindings = []
            for use in self._strategies:
                if not _watches(use, s):
                    continue
                names, rows = _indicator_rows(use.strategy, s)
                live = dict.fromkeys(names, float("nan"))
                view = live_view(live)
                swap = per_ctx_symbol[(id(use.ctx), s.symbol)] > 1
                if not swap:
                    use.ctx.views[s.symbol] = view
                bindings.append(
                    _Binding(
                        use.strategy.on_candle,
                        use.ctx,
                        live.update,
                        names,
                        rows,
                        int(use.strategy.warmup or 0),
                        use.name,
                        view,
                        swap,
                    )
                )
            bars = list(
                zip(
                    s.open.tolist(),
                    s.high.tolist(),
                    s.low.tolist(),
                    s.close.tolist(),
                    s.volume.tolist(),
                    strict=True,
                )
            )
            states.append(
                _SeriesState(
                    s.symbol,
                    s.timeframe,
                    timeframe_ms(s.timeframe),
                    s.ts.tolist(),
                    bars,
                    bindings,
                    self._broker.trigger(s.symbol),
                    self._phantoms.open_list(s.symbol),
                )
            )
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

    async def run(self) -> ReplayStats:
        self._states = states = self._prepare()
        sidx = self._timeline.series_index.tolist()
        ridx = self._timeline.row_index.tolist()
        n = len(sidx)

        on_bar = self._broker.on_bar
        phantoms_on_bar = self._phantoms.on_bar
        pipeline = self._pipeline
        on_executions = pipeline.on_executions
        on_phantoms = pipeline.on_phantoms
        on_signals = pipeline.on_signals
        marks = self._ledger.marks
        positions = self._ledger.positions
        clock = self._clock
        interval = self._equity_interval
        next_equity = 0
        step_close = -1
        progress = self._progress
        new_candle = Candle

        k = 0
        while k < n:
            stop_at = min(n, k + CHUNK)
            for j in range(k, stop_at):
                st = states[sidx[j]]
                i = ridx[j]
                ts = st.ts[i]
                close_ts = ts + st.tf_ms
                if close_ts != step_close:
                    if pipeline.staged:
                        self._commit_step()
                    step_close = close_ts
                    self._steps += 1
                    clock.advance_to(close_ts)
                    if close_ts >= next_equity:
                        self._record_equity(close_ts)
                        next_equity = close_ts - close_ts % interval + interval
                symbol = st.symbol
                o, h, lo, c, v = st.bars[i]
                # The broker keeps [low, high] trigger levels per symbol: a bar
                # inside them cannot fill or stop anything, so it is not called.
                trigger = st.trigger
                if lo <= trigger[0] or h >= trigger[1]:
                    done = on_bar(symbol, ts, o, h, lo)
                    if done:
                        on_executions(done)
                if symbol in positions:
                    marks[symbol] = c
                if st.phantoms:
                    resolved = phantoms_on_bar(symbol, ts, o, h, lo, c)
                    if resolved:
                        on_phantoms(resolved)
                bindings = st.bindings
                if not bindings:
                    continue
                candle = new_candle(symbol, st.timeframe, ts, o, h, lo, c, v)
                for on_candle, ctx, update, names, rows, warmup, name, view, swap in bindings:
                    if i < warmup:
                        continue
                    if rows:
                        # Row lengths were checked against names when prepared.
                        update(zip(names, rows[i]))  # noqa: B905
                    if swap:
                        ctx.views[symbol] = view
                    try:
                        signals = on_candle(candle, ctx)
                    except Exception as exc:
                        self._strategy_failed_named(name, exc, close_ts)
                        continue
                    if signals:
                        try:
                            on_signals(name, signals, symbol, close_ts, c, ctx)
                        except InvalidSignalError as exc:
                            self._strategy_failed_named(name, exc, close_ts)
            k = stop_at
            self.last_ts = step_close
            self._journal.flush()
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
