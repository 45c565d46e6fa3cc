"""A small, plain pipeline runner: one strategy, quantity 1, no fees, no slippage.

It is the reference the host's replay engine is compared against, so it is
written to be obviously right rather than fast. Per symbol, for each closed bar:

1. an order decided at the previous bar's close fills at this bar's open
   (an entry opens the position; its stop and take-profit are re-anchored on
   the fill when the signal says ``bracket_from_fill``);
2. the open position's stop and take-profit rest from the entry bar on: when
   the bar touches one, the position exits at that level, or at the bar's
   open if the bar opened beyond it; when a bar touches both, the stop wins;
3. the strategy decides at the bar's close: an entry while a position is open
   (or an entry already waits) is refused and recorded as a veto; an exit
   closes the position at the next bar's open.

A position still open when the data ends is not a trade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs

from garrison_api.components import BarMask, Strategy
from garrison_api.testing.columns import screen_of
from garrison_api.testing.context import StubContext
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
    """Candles of one or more symbols in pipeline order: by ``ts``, then by ``symbol``.

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
        markets: Mapping[str, Market] | None,
        masks: Mapping[str, BarMask] | None = None,
    ) -> None:
        self.strategy = strategy
        self.masks = masks
        self.bar_index: dict[str, int] = {}
        self.ctx = StubContext(strategy.indicators, markets=markets)
        self.signals: list[Signal] = []
        self.fills: list[Fill] = []
        self.trades: list[Trade] = []
        self.vetoes: list[VetoedSignal] = []
        self.open: dict[str, _Open] = {}
        self.entries: dict[str, _Pending] = {}
        self.exits: dict[str, _Pending] = {}
        self.sequence = 0

    def step(self, candle: Candle) -> None:
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
        self.ctx.push(candle)
        if self.masks is not None:
            i = self.bar_index.get(symbol, 0)
            self.bar_index[symbol] = i + 1
            if not self.masks[symbol][i]:
                return  # screened out: the strategy is not asked
        output = _check_output(candle, self.strategy.on_candle(candle, self.ctx))
        for signal in output:
            self.signals.append(signal)
            self._route(signal)

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

    def result(self) -> RunResult:
        return RunResult(
            signals=tuple(self.signals),
            fills=tuple(self.fills),
            trades=tuple(self.trades),
            vetoes=tuple(self.vetoes),
            events=tuple(self.ctx.events),
            open_positions=tuple(held.position for held in self.open.values()),
        )


def run_strategy(
    strategy: Strategy,
    candles: Iterable[Candle],
    *,
    markets: Mapping[str, Market] | None = None,
    screen: bool = False,
) -> RunResult:
    """Run ``strategy`` over ``candles`` (one or more symbols) and simulate its trades.

    Candles are merged by ``ts`` then ``symbol``; when the strategy declares
    ``timeframes`` only those are fed. Every position has quantity 1 and pays
    no fees or slippage; see the module docs for the exact fill rules.
    ``markets`` gives ``ctx.market`` its answers (default: permissive rules).
    With ``screen``, ``on_candle`` is called only on the bars the strategy's
    screen flags (computed over each symbol's whole series first), as a
    replay host does; the strategy must declare one.
    """
    ordered = merge_candles(candles, strategy.timeframes)
    masks: dict[str, BarMask] | None = None
    if screen:
        per_symbol: dict[str, list[Candle]] = {}
        for candle in ordered:
            per_symbol.setdefault(candle.symbol, []).append(candle)
        masks = {symbol: screen_of(strategy, bars) for symbol, bars in per_symbol.items()}
    runner = _Runner(strategy, markets, masks)
    for candle in ordered:
        runner.step(candle)
    return runner.result()
