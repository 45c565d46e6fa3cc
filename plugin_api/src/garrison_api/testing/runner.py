"""A small, plain pipeline runner: one strategy, quantity 1, no fees, no slippage.

It is the reference the host's replay engine is compared against, so it is
written to be obviously right rather than fast. It follows the host's steps
(see :mod:`garrison_api.testing.steps`): a step is every bar that closes at
one instant, across symbols and timeframes, and steps go in close-time
order. Per symbol, the finest timeframe given is the *execution series*;
coarser series only give context. Within a step:

1. every execution bar of the step is booked, for all symbols: an order
   decided earlier fills at the bar's open (an entry opens the position; its
   stop and take-profit are re-anchored on the fill when the signal says
   ``bracket_from_fill``); then the position's stop and take-profit rest
   intrabar from the entry bar on: when the bar touches one, the position
   exits at that level, or at the bar's open if the bar opened beyond it;
   when a bar touches both, the stop wins;
2. the bars of the series the strategy reads update its context (a 4h bar
   closing at this instant is already in ``ctx.indicators(symbol, "4h")``);
3. the strategy decides on every bar of the step in a decision timeframe,
   longer timeframes first, then symbols in sorted order, each only once
   ``strategy.warmup`` earlier bars of that series have closed. An entry
   while a position is open (or an entry already waits) is refused and
   recorded as a veto; an exit closes the position. Either order fills at
   the symbol's next execution bar's open, whatever timeframe decided it.
   A signal with ``execute=False`` is recorded and never ordered.

A position still open when the data ends is not a trade. The runner follows
no phantoms and so calls no ``on_outcome``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from garrison_api.components import BarMask, Strategy
from garrison_api.testing.columns import screen_of
from garrison_api.testing.context import StubContext
from garrison_api.testing.services import StubServices
from garrison_api.testing.steps import SeriesKey, Step, StepPlan, plan_steps
from garrison_api.types import (
    Candle,
    Event,
    ExitReason,
    Fill,
    Market,
    Position,
    Side,
    Signal,
    SignalKind,
    Trade,
)

#: Quantity of every position the runner opens.
QTY = 1.0


@attrs.frozen
class VetoedSignal:
    """A signal the runner refused, and why (``"position open"``, ``"no position"``...)."""

    signal: Signal
    reason: str


@attrs.frozen
class RunResult:
    """What a run produced, each in the order it happened."""

    signals: tuple[Signal, ...]
    fills: tuple[Fill, ...]
    trades: tuple[Trade, ...]
    vetoes: tuple[VetoedSignal, ...]
    events: tuple[Event, ...] = ()
    #: Positions still open when the data ended (not trades).
    open_positions: tuple[Position, ...] = ()
    #: The candle each signal was decided on, one per signal, in the same order.
    decided_on: tuple[Candle, ...] = ()
    #: The signals with ``execute=False``: among ``signals``, never ordered, not vetoes.
    phantom_only: tuple[Signal, ...] = ()


@attrs.frozen
class _Pending:
    """An order decided at a bar's close, to fill at the symbol's next open."""

    signal: Signal
    intent_id: str


@attrs.frozen
class _Open:
    position: Position
    initial_risk: float | None


def merge_candles(candles: Iterable[Candle], timeframes: Sequence[str] = ()) -> list[Candle]:
    """Candles of one or more symbols, one timeframe each, ordered by ``ts`` then ``symbol``.

    The single-series order of garrison-api 1.0 (:func:`run_strategy` cuts
    candles into steps instead; see :func:`garrison_api.testing.steps.plan_steps`).
    Keeps only ``timeframes`` when given. Refuses a symbol with two candles at
    one ``ts`` or with candles of more than one timeframe (fills are simulated
    on one bar series per symbol).
    """
    every = list(candles)
    for candle in every:
        if not isinstance(candle, Candle):
            raise TypeError(f"candles must be garrison_api.Candle values, got {candle!r}")
    kept = [c for c in every if c.timeframe in timeframes] if timeframes else every
    if every and not kept:
        found = sorted({c.timeframe for c in every})
        raise ValueError(
            f"the strategy wants timeframes {list(timeframes)} but the candles are {found}"
        )
    frames: dict[str, str] = {}
    seen: set[tuple[str, int]] = set()
    for candle in kept:
        first = frames.setdefault(candle.symbol, candle.timeframe)
        if first != candle.timeframe:
            raise ValueError(
                f"{candle.symbol}: candles of two timeframes ({first}, {candle.timeframe}); "
                "give the runner one timeframe per symbol"
            )
        key = (candle.symbol, candle.ts)
        if key in seen:
            raise ValueError(f"{candle.symbol}: two candles at ts {candle.ts}")
        seen.add(key)
    return sorted(kept, key=lambda c: (c.ts, c.symbol))


def _check_output(candle: Candle, output: object) -> Sequence[Signal]:
    where = f"on_candle({candle.symbol} {candle.timeframe} @ {candle.ts})"
    if not isinstance(output, Sequence) or isinstance(output, str | bytes):
        raise TypeError(f"{where} must return a Sequence of Signal, got {output!r}")
    for item in output:
        if not isinstance(item, Signal):
            raise TypeError(f"{where} returned {item!r}, which is not a garrison_api.Signal")
        if not isinstance(item.side, Side) or not isinstance(item.kind, SignalKind):
            raise TypeError(f"{where} returned {item!r} with a side or kind that is not the enum")
    return output


def _brackets(signal: Signal, fill_price: float) -> tuple[float | None, float | None]:
    """Stop and take-profit of a position opened at ``fill_price`` by ``signal``."""
    if not signal.bracket_from_fill:
        return signal.stop, signal.take_profit
    if signal.entry != signal.entry:  # nan: no reference to keep a distance from
        raise ValueError(f"{signal!r} asks for bracket_from_fill but has no entry price")
    stop = None if signal.stop is None else fill_price + (signal.stop - signal.entry)
    take = None if signal.take_profit is None else fill_price + (signal.take_profit - signal.entry)
    return stop, take


def _bracket_exit(candle: Candle, position: Position) -> tuple[float, ExitReason] | None:
    """Where ``candle`` takes ``position`` out through its stop or take-profit, if it does."""
    stop, take = position.stop, position.take_profit
    if position.side is Side.LONG:
        if stop is not None and candle.low <= stop:
            return (candle.open if candle.open <= stop else stop), ExitReason.STOP
        if take is not None and candle.high >= take:
            return (candle.open if candle.open >= take else take), ExitReason.TAKE_PROFIT
    else:
        if stop is not None and candle.high >= stop:
            return (candle.open if candle.open >= stop else stop), ExitReason.STOP
        if take is not None and candle.low <= take:
            return (candle.open if candle.open <= take else take), ExitReason.TAKE_PROFIT
    return None


class _Runner:
    def __init__(
        self,
        strategy: Strategy,
        plan: StepPlan,
        markets: Mapping[str, Market] | None,
        masks: Mapping[SeriesKey, BarMask] | None = None,
    ) -> None:
        warmup = strategy.warmup
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            name = type(strategy).__qualname__
            raise ValueError(f"{name}.warmup must be an int of 0 or more, got {warmup!r}")
        self.strategy = strategy
        self.warmup = warmup
        self.masks = masks
        self.ctx = StubContext.for_strategy(
            strategy, markets=markets, timeframes=plan.decision_timeframes
        )
        for symbol, timeframe in plan.read_series():
            self.ctx.add_series(symbol, timeframe)
        self.signals: list[Signal] = []
        self.decided_on: list[Candle] = []
        self.phantom_only: list[Signal] = []
        self.fills: list[Fill] = []
        self.trades: list[Trade] = []
        self.vetoes: list[VetoedSignal] = []
        self.open: dict[str, _Open] = {}
        self.entries: dict[str, _Pending] = {}
        self.exits: dict[str, _Pending] = {}
        self.sequence = 0

    def run(self, steps: Sequence[Step]) -> None:
        ctx, masks, warmup = self.ctx, self.masks, self.warmup
        on_candle = self.strategy.on_candle
        for step in steps:
            for bar in step.execution:
                self.book(bar)
            for bar in step.updates:
                ctx.push(bar)
            for bar, index in step.decisions:
                if index < warmup:
                    continue  # the warm-up rule: ``warmup`` earlier bars of the series closed
                if masks is not None and not masks[(bar.symbol, bar.timeframe)][index]:
                    continue  # screened out: the strategy is not asked
                ctx.set_decision_candle(bar)
                for signal in _check_output(bar, on_candle(bar, ctx)):
                    self.signals.append(signal)
                    self.decided_on.append(bar)
                    if signal.execute:
                        self._route(signal)
                    else:
                        self.phantom_only.append(signal)

    def book(self, candle: Candle) -> None:
        """What an execution bar does: pending orders fill at its open, then brackets rest."""
        symbol = candle.symbol
        exit_order = self.exits.pop(symbol, None)
        if exit_order is not None:
            self._close(candle, candle.open, ExitReason.SIGNAL)
        entry_order = self.entries.pop(symbol, None)
        if entry_order is not None:
            self._open(candle, entry_order)
        held = self.open.get(symbol)
        if held is not None:
            hit = _bracket_exit(candle, held.position)
            if hit is not None:
                self._close(candle, *hit)

    def _route(self, signal: Signal) -> None:
        symbol = signal.symbol
        if signal.kind is SignalKind.ENTRY:
            if symbol in self.open:
                self._veto(signal, "position open")
            elif symbol in self.entries:
                self._veto(signal, "entry pending")
            else:
                self.sequence += 1
                self.entries[symbol] = _Pending(signal, f"{symbol}-{self.sequence}")
            return
        held = self.open.get(symbol)
        if held is None:
            self._veto(signal, "no position")
        elif held.position.side is not signal.side:
            self._veto(signal, f"position is {held.position.side.value}")
        elif symbol in self.exits:
            self._veto(signal, "exit pending")
        else:
            self.exits[symbol] = _Pending(signal, held.position.intent_id)

    def _veto(self, signal: Signal, reason: str) -> None:
        self.vetoes.append(VetoedSignal(signal, reason))

    def _open(self, candle: Candle, order: _Pending) -> None:
        signal, price = order.signal, candle.open
        stop, take = _brackets(signal, price)
        position = Position(
            symbol=candle.symbol,
            side=signal.side,
            qty=QTY,
            entry_price=price,
            entry_ts=candle.ts,
            stop=stop,
            take_profit=take,
            intent_id=order.intent_id,
        )
        risk = None if stop is None else abs(price - stop) * QTY
        self.open[candle.symbol] = _Open(position, risk if risk else None)
        self.ctx.set_position(candle.symbol, position)
        self.fills.append(
            Fill(
                order_id=f"{order.intent_id}-entry",
                intent_id=order.intent_id,
                ts=candle.ts,
                symbol=candle.symbol,
                side=signal.side,
                reduce_only=False,
                qty=QTY,
                price=price,
                reason="entry",
            )
        )

    def _close(self, candle: Candle, price: float, reason: ExitReason) -> None:
        held = self.open.pop(candle.symbol)
        self.ctx.set_position(candle.symbol, None)
        position = held.position
        pnl = position.side.sign * (price - position.entry_price) * position.qty
        self.fills.append(
            Fill(
                order_id=f"{position.intent_id}-exit",
                intent_id=position.intent_id,
                ts=candle.ts,
                symbol=candle.symbol,
                side=position.side,
                reduce_only=True,
                qty=position.qty,
                price=price,
                reason=reason.value,
            )
        )
        self.trades.append(
            Trade(
                id=position.intent_id,
                symbol=candle.symbol,
                side=position.side,
                qty=position.qty,
                entry_ts=position.entry_ts,
                entry_price=position.entry_price,
                exit_ts=candle.ts,
                exit_price=price,
                exit_reason=reason,
                pnl=pnl,
                r_multiple=None if held.initial_risk is None else pnl / held.initial_risk,
            )
        )

    def result(self, events: Sequence[Event]) -> RunResult:
        return RunResult(
            signals=tuple(self.signals),
            fills=tuple(self.fills),
            trades=tuple(self.trades),
            vetoes=tuple(self.vetoes),
            events=tuple(events),
            open_positions=tuple(held.position for held in self.open.values()),
            decided_on=tuple(self.decided_on),
            phantom_only=tuple(self.phantom_only),
        )


def run_plan(
    strategy: Strategy,
    plan: StepPlan,
    *,
    markets: Mapping[str, Market] | None = None,
    screen: bool = False,
) -> RunResult:
    """Run ``strategy`` through the steps of ``plan`` (see :func:`run_strategy`)."""
    masks: dict[SeriesKey, BarMask] | None = None
    if screen:
        masks = {key: screen_of(strategy, plan.series[key]) for key in plan.decision_series()}
    runner = _Runner(strategy, plan, markets, masks)
    services = StubServices(
        type(strategy).__name__,
        clock=runner.ctx.clock,
        storage=runner.ctx.storage,
        events=runner.ctx.events,
    )
    start = getattr(strategy, "start", None)
    if callable(start):
        start(services)
    try:
        runner.run(plan.steps)
    finally:
        stop = getattr(strategy, "stop", None)
        if callable(stop):
            stop()
    return runner.result(runner.ctx.events)


def run_strategy(
    strategy: Strategy,
    candles: Iterable[Candle],
    *,
    markets: Mapping[str, Market] | None = None,
    screen: bool = False,
) -> RunResult:
    """Run ``strategy`` over ``candles`` (symbols and timeframes mixed) and simulate its trades.

    The candles are cut into steps and handled as the module docs say: each
    symbol's finest timeframe executes, the strategy decides on its
    ``timeframes`` (all when empty) and reads its ``context_indicators``
    timeframes, other candles are ignored. Every position has quantity 1 and
    pays no fees or slippage. ``markets`` gives ``ctx.market`` its answers
    (default: permissive rules). With ``screen``, ``on_candle`` is called only
    on the bars the strategy's screen flags (computed over each decision
    series first), as a replay host does; the strategy must declare one.
    A strategy's optional ``start(services)`` is called before the first
    step (with :class:`StubServices` in mode ``replay`` sharing the context's
    clock, storage and events) and ``stop()`` after the last, also on error.
    """
    return run_plan(strategy, plan_steps(strategy, candles), markets=markets, screen=screen)
