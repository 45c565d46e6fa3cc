"""What happens to a signal: phantom, scorer, sizer, intent, risk chain, journal, broker.

This is the part of the pipeline that runs per *signal*, not per candle: it
may allocate and look things up freely. Intents are journaled as soon as
they exist but handed to the broker only by :meth:`Pipeline.release`, which
the engine calls after the journal has committed them (the broker can never
act on an intent that a crash would erase).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from garrison_api import (
    AccountState,
    Clock,
    Event,
    ExitReason,
    Level,
    Market,
    Order,
    OrderIntent,
    OrderType,
    Outcome,
    Score,
    Scorer,
    Signal,
    SignalKind,
    Sizer,
    StrategyContext,
    Trade,
    Veto,
)

from garrison.engine.broker import Execution, PendingOrder, SimulatedBroker
from garrison.engine.bus import EventBus
from garrison.engine.ledger import Ledger
from garrison.engine.phantoms import PhantomTracker
from garrison.journal import Journal
from garrison.risk.chain import RiskChain

# Enum members are descriptors in 3.11: module constants are plain global reads.
_ENTRY = SignalKind.ENTRY
_MARKET = OrderType.MARKET
_INFO = Level.INFO


class InvalidSignalError(ValueError):
    """A strategy returned something that is not a usable signal."""


# A tuple: isinstance checks one faster than a union of the same types.
_NUMBER = (float, int)


def _price_problem(name: str, value: object) -> str | None:
    if not isinstance(value, _NUMBER):  # numpy's float32 and int64 are neither
        return f"{name} {value!r} is a {type(value).__name__}, not a float"
    if not (value > 0 and value != math.inf):  # also false for NaN
        return f"{name} {value!r} is not a positive number"
    return None


def check_signal(signal: object, symbol: str) -> Signal:
    """The signal, if it is one the host can act on; InvalidSignalError says why not."""
    if not isinstance(signal, Signal):
        raise InvalidSignalError(f"returned {type(signal).__name__}, not a Signal")
    if signal.symbol != symbol:
        raise InvalidSignalError(f"signal for {signal.symbol!r} from a {symbol!r} candle")
    if signal.kind is _ENTRY:
        problem = _price_problem("entry price", signal.entry)
        if problem is None and signal.stop is not None:
            problem = _price_problem("stop", signal.stop)
        if problem is None and signal.take_profit is not None:
            problem = _price_problem("take_profit", signal.take_profit)
        if problem is not None:
            raise InvalidSignalError(problem)
    return signal


def _entries_last(pending: PendingOrder) -> bool:
    return not pending.intent.reduce_only


class Pipeline:
    """Per-signal stages of one run. Used from the engine's thread only."""

    def __init__(
        self,
        *,
        run_id: str,
        journal: Journal,
        bus: EventBus,
        ledger: Ledger,
        broker: SimulatedBroker,
        phantoms: PhantomTracker,
        markets: Mapping[str, Market],
        sizer: tuple[str, Sizer],
        chain: RiskChain,
        clock: Clock,
        scorer: tuple[str, Scorer, str, float] | None = None,
    ) -> None:
        self._run_id = run_id
        self._clock = clock
        self._journal = journal
        self._bus = bus
        self._ledger = ledger
        self._broker = broker
        self._phantoms = phantoms
        self._markets = markets
        self._sizer_name, self._sizer = sizer
        self._chain = chain
        self._scorer = scorer
        self._signal_seq = 0
        self._intent_seq = 0
        self._staged: list[PendingOrder] = []
        self._open_signals: dict[str, Signal] = {}
        self.trades: list[Trade] = []
        self.signal_count = 0
        self.veto_count = 0

    # -- signals -------------------------------------------------------------

    def on_signals(
        self,
        strategy: str,
        signals: Sequence[object],
        symbol: str,
        ts: int,
        close: float,
        ctx: StrategyContext,
    ) -> None:
        """Handle what a strategy returned for a candle of ``symbol`` closing at ``ts``.

        ``close`` is that candle's close, the price an exit signal without one
        is taken to mean.

        Raises InvalidSignalError (after handling the valid ones) so the caller can
        count it against the strategy.
        """
        if not isinstance(signals, list | tuple):
            raise InvalidSignalError(
                f"returned {type(signals).__name__}; on_candle must return a sequence of signals"
            )
        problem: InvalidSignalError | None = None
        for raw in signals:
            try:
                signal = check_signal(raw, symbol)
            except InvalidSignalError as exc:
                problem = exc
                continue
            self._signal_seq += 1
            signal_id = str(self._signal_seq)
            self.signal_count += 1
            self._journal.record_signal(signal_id, strategy, signal)
            if signal.kind is _ENTRY:
                self._entry(strategy, signal_id, signal, ts, ctx)
            else:
                self._exit(strategy, signal_id, signal, ts, close)
        if problem is not None:
            raise problem

    def _score(
        self, signal_id: str, signal: Signal, ctx: StrategyContext, ts: int
    ) -> tuple[Score | None, bool]:
        if self._scorer is None:
            return None, True
        name, scorer, mode, threshold = self._scorer
        if name in self._bus.guard.quarantined:
            return None, mode == "shadow"
        try:
            score = scorer.score(signal, ctx)
            value = float(score.value)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"score {value!r} is outside [0, 1]")
        except Exception as exc:
            self._bus.guard.failed(name, "score", exc, ts)
            # Without a score a gate cannot say yes; shadow mode never gated anything.
            return None, mode == "shadow"
        passed = value >= threshold
        self._journal.record_score(signal_id, name, score, mode, passed)
        return score, passed or mode == "shadow"

    def _entry(
        self, strategy: str, signal_id: str, signal: Signal, ts: int, ctx: StrategyContext
    ) -> None:
        self._phantoms.open(signal_id, strategy, signal)
        score, go = self._score(signal_id, signal, ctx, ts)
        if not go:
            return
        market = self._markets.get(signal.symbol)
        if market is None:
            self._bus.emit(
                Event(
                    ts=ts,
                    kind="signal.dropped",
                    level=Level.WARNING,
                    source=strategy,
                    message=f"no market rules for {signal.symbol}; signal {signal_id} dropped",
                )
            )
            return
        account = self._ledger.snapshot(ts)
        vetoes: list[Veto] = []
        qty: float | None = None
        if self._sizer_name in self._bus.guard.quarantined:
            vetoes.append(Veto("sizer", f"sizer {self._sizer_name} is quarantined"))
        else:
            try:
                qty = self._sizer.size(signal, score, account, market)
                if qty is not None:
                    if not math.isfinite(qty) or qty < 0:
                        raise ValueError(f"quantity {qty!r} is not a non-negative number")
                    qty = float(qty)  # a numpy scalar would reach the journal as one
            except Exception as exc:
                self._bus.guard.failed(self._sizer_name, "size", exc, ts)
                qty = None
            if not qty:
                vetoes.append(
                    Veto(
                        "sizer",
                        f"{self._sizer_name} gave no quantity (too small for the "
                        "exchange minimums, no stop, or no equity)",
                    )
                )
        intent = self._intent(strategy, signal_id, signal, ts, market, qty or 0.0, False, None)
        self._judge(intent, account, vetoes, signal)

    def _exit(self, strategy: str, signal_id: str, signal: Signal, ts: int, close: float) -> None:
        price = signal.entry if math.isfinite(signal.entry) else close
        resolved = self._phantoms.exit_signal(signal.symbol, strategy, signal.side, price, ts)
        self.on_phantoms(resolved)
        pos = self._ledger.positions.get(signal.symbol)
        if pos is None or pos.side is not signal.side or pos.strategy != strategy:
            return  # nothing of this strategy's to close: the signal is journaled, no more
        market = self._markets[signal.symbol]
        intent = self._intent(strategy, signal_id, signal, ts, market, pos.qty, True, price)
        self._judge(intent, self._ledger.snapshot(ts), [], signal)

    def _intent(
        self,
        strategy: str,
        signal_id: str,
        signal: Signal,
        ts: int,
        market: Market,
        qty: float,
        reduce_only: bool,
        price: float | None,
    ) -> OrderIntent:
        self._intent_seq += 1
        # Positional, in OrderIntent's field order: built for every signal.
        if reduce_only:
            stop = take_profit = None
        else:
            stop, take_profit = signal.stop, signal.take_profit
        return OrderIntent(
            str(self._intent_seq),
            ts,
            signal.symbol,
            signal.side,
            qty,
            signal.entry if price is None else price,
            market,
            reduce_only,
            stop,
            take_profit,
            _MARKET,
            strategy,
            signal_id,
        )

    def _judge(
        self, intent: OrderIntent, account: AccountState, vetoes: list[Veto], signal: Signal
    ) -> None:
        vetoes.extend(self._chain.evaluate(intent, account))
        approved = not vetoes
        self._journal.record_intent(intent, approved)
        for veto in vetoes:
            self._journal.record_veto(intent.id, veto)
        if approved:
            intent_id = intent.id
            order = Order(  # positional, in Order's field order
                intent_id,
                intent_id,
                f"g{self._run_id}-{intent_id}"[:36],
                intent.ts,
                intent.symbol,
                intent.side,
                intent.reduce_only,
                intent.qty,
                intent.order_type,
            )
            self._staged.append(PendingOrder(intent, order, signal))
            return
        self.veto_count += 1
        halts = [v for v in vetoes if v.halt]
        for veto in halts:
            if self._ledger.halt(veto.halt_until):
                until = "until resumed" if veto.halt_until is None else f"until {veto.halt_until}"
                self._bus.emit(
                    Event(
                        ts=intent.ts,
                        kind="risk.halted",
                        level=Level.CRITICAL,
                        message=f"trading halted by {veto.stage} {until}: {veto.reason}",
                        data={"stage": veto.stage, "reason": veto.reason, "until": veto.halt_until},
                    )
                )

    # -- broker side ---------------------------------------------------------

    @property
    def staged(self) -> list[PendingOrder]:
        """Approved orders waiting for the step's commit: one list, only ever cleared."""
        return self._staged

    def release(self) -> None:
        """Hand committed intents to the broker (call only after the journal committed)."""
        # Exits before entries, so a symbol can be closed and reopened in one step.
        staged = self._staged
        if len(staged) > 1:
            staged.sort(key=_entries_last)  # stable: exits, then entries, each in order
        for pending in staged:
            self._journal.record_order(pending.order)
            self._broker.submit(pending)
        self._staged.clear()

    def on_executions(self, executions: Sequence[Execution]) -> None:
        """Book what the broker executed during a bar."""
        ledger = self._ledger
        journal = self._journal
        emit = self._bus.emit_fields
        for ex in executions:
            fill = ex.fill
            journal.record_fill(fill)
            if ex.reason is None:
                pending = ex.pending
                assert pending is not None
                intent = pending.intent
                signal_id = intent.signal_id
                pos = ledger.open_position(
                    fill,
                    stop=ex.stop,
                    take_profit=ex.take_profit,
                    strategy=intent.strategy,
                    signal_id=signal_id,
                )
                symbol = pos.symbol
                if signal_id is not None:
                    self._phantoms.drop(symbol, signal_id)
                if pending.signal is not None:
                    self._open_signals[symbol] = pending.signal
                journal.record_position(fill.ts, "open", pos)
                side = pos.side._value_
                emit(
                    fill.ts,
                    "position.opened",
                    f"{side} {pos.qty:g} {symbol} at {fill.price:g}",
                    _INFO,
                    pos.strategy,
                    {
                        "symbol": symbol,
                        "side": side,
                        "qty": pos.qty,
                        "price": fill.price,
                        "stop": pos.stop,
                    },
                )
                continue
            closing = ledger.positions.get(fill.symbol)
            if closing is None:
                continue
            trade, _signal_id = ledger.close_position(fill, ex.reason)
            self.trades.append(trade)
            journal.record_position(fill.ts, "close", closing)
            journal.record_trade(trade)
            # Equity is stamped with the clock (the bar's close), like the periodic
            # points, so the curve stays in time order; the fill keeps the bar's open.
            journal.record_equity(
                self._clock.now_ms(), ledger.balance, ledger.equity(), len(ledger.positions)
            )
            side = trade.side._value_
            reason = trade.exit_reason._value_
            emit(
                fill.ts,
                "trade.closed",
                f"{side} {trade.symbol} closed by {reason}: pnl {trade.pnl:+.2f}",
                _INFO,
                trade.strategy,
                {
                    "symbol": trade.symbol,
                    "side": side,
                    "pnl": trade.pnl,
                    "r": trade.r_multiple,
                    "reason": reason,
                },
            )
            self._learn_trade(trade, self._open_signals.pop(fill.symbol, None))

    def _learn_trade(self, trade: Trade, signal: Signal | None) -> None:
        if self._scorer is None or signal is None or trade.r_multiple is None:
            return
        outcome = Outcome(
            signal=signal,
            strategy=trade.strategy,
            r_multiple=trade.r_multiple,
            exit_reason=trade.exit_reason,
            closed_ts=trade.exit_ts,
            phantom=False,
        )
        self.learn(outcome)

    def on_phantoms(self, resolved: Sequence[tuple[str, Outcome]]) -> None:
        """Journal resolved phantoms and let the scorer learn from them."""
        for signal_id, outcome in resolved:
            self._journal.record_phantom(signal_id, outcome.strategy, outcome)
            self.learn(outcome)

    def learn(self, outcome: Outcome) -> None:
        if self._scorer is None:
            return
        name, scorer = self._scorer[0], self._scorer[1]
        if name in self._bus.guard.quarantined:
            return
        try:
            scorer.learn(outcome)
        except Exception as exc:
            self._bus.guard.failed(name, "learn", exc, outcome.closed_ts)


__all__ = ["ExitReason", "InvalidSignalError", "Pipeline", "check_signal"]
