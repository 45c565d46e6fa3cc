"""The simulated broker of replay (and later paper) mode: an exchange in miniature.

Market orders sent at the close of a step fill at the open of their symbol's
next execution bar, moved against the trader by the slippage. A position's
protective stop and take-profit rest "at the exchange" from the bar the
entry filled in: a bar whose low (long) reaches the stop exits there, or at
the open if the bar opened beyond it; a take-profit is a limit order and
fills at its price (or the better open) with the maker fee. When one bar
touches both, the configured rule decides which came first (stop first by
default, the pessimistic choice). Prices are not rounded to the tick: the
reference semantics are exact, and live orders are rounded by the exchange
adapter.

It speaks the execution seam of :mod:`garrison.engine.execution`: it takes
only committed orders and answers with execution reports. An order it
cannot execute is refused with a REJECT report naming why (an entry while
the symbol is held, an exit with nothing left to close); orders the data
ended before filling are canceled with a CANCEL report.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
from garrison_api import ExitReason, Fill, Side

from garrison.engine.execution import (
    CommittedOrder,
    ExecutionReport,
    ReportKind,
    check_committed,
)
from garrison.profile.model import BrokerConfig

# Enum members are descriptors in 3.11: a module constant is a plain global read.
_LONG = Side.LONG
_FILL = ReportKind.FILL
_BRACKET = ReportKind.BRACKET
_REJECT = ReportKind.REJECT
_SIGNAL = ExitReason.SIGNAL


def _report(fields: tuple[object, ...]) -> ExecutionReport:
    # Every field given, in order: tuple.__new__ skips the named tuple's
    # generated __new__ (a Python call per fill).
    return tuple.__new__(ExecutionReport, fields)


@attrs.define
class Resting:
    """The exchange-side view of an open position with its protective orders."""

    side: Side
    qty: float
    stop: float | None
    take_profit: float | None
    intent_id: str


class SimulatedBroker:
    """Fills committed orders against replayed bars. Used from the engine's thread only."""

    def __init__(self, config: BrokerConfig) -> None:
        self._slip = config.slippage_bps / 10_000.0
        self._taker = config.taker_fee
        self._maker = config.maker_fee
        self._stop_first = config.both_touched == "stop_first"
        self._pending: dict[str, list[CommittedOrder]] = {}
        self._resting: dict[str, Resting] = {}
        self._fill_seq = 0
        self._triggers: dict[str, list[float]] = {}

    # -- the execution seam ----------------------------------------------------

    def submit(self, order: CommittedOrder) -> list[ExecutionReport]:
        """Queue a committed market order for the next bar of its symbol (no report yet)."""
        if type(order) is not CommittedOrder:  # check_committed, without a call per order
            check_committed(order)
        symbol = order.intent.symbol
        self._pending.setdefault(symbol, []).append(order)
        self._retrigger(symbol)
        return []

    def poll(self) -> list[ExecutionReport]:
        """Nothing arrives between bars in a simulation."""
        return []

    def open_orders(self) -> list[CommittedOrder]:
        pending = self._pending
        if not pending:  # the usual case when a strategy decides: orders fill at the next open
            return []
        return [order for orders in pending.values() for order in orders]

    def cancel_open(self, ts: int, reason: str) -> list[ExecutionReport]:
        """Cancel every unfilled order (the data ended); one CANCEL report each."""
        reports = [
            ExecutionReport(ReportKind.CANCEL, order.intent.symbol, ts, order, reason=reason)
            for order in self.open_orders()
        ]
        symbols = list(self._pending)
        self._pending.clear()
        for symbol in symbols:
            self._retrigger(symbol)
        return reports

    # -- bars ------------------------------------------------------------------

    def trigger(self, symbol: str) -> list[float]:
        """``[low, high]`` levels of ``symbol``: only a bar reaching one of them needs ``on_bar``.

        The list is updated in place as orders come and go, so the replay loop
        can hold it and skip the call for the many bars where nothing can happen.
        """
        return self._triggers.setdefault(symbol, [-math.inf, math.inf])

    def _retrigger(self, symbol: str) -> None:
        levels = self.trigger(symbol)
        if self._pending.get(symbol):
            levels[0], levels[1] = math.inf, -math.inf  # any bar: the order fills at its open
            return
        r = self._resting.get(symbol)
        if r is None:
            levels[0], levels[1] = -math.inf, math.inf
            return
        stop = r.stop
        target = r.take_profit
        if r.side is _LONG:
            levels[0] = -math.inf if stop is None else stop
            levels[1] = math.inf if target is None else target
        else:
            levels[0] = -math.inf if target is None else target
            levels[1] = math.inf if stop is None else stop

    def resting(self, symbol: str) -> Resting | None:
        """The position the venue holds in ``symbol`` with its brackets, if any."""
        return self._resting.get(symbol)

    def on_bar(
        self, symbol: str, ts: int, open_: float, high: float, low: float
    ) -> list[ExecutionReport]:
        """Everything that executes in ``symbol`` during the bar opening at ``ts``."""
        done: list[ExecutionReport] = []
        queue = self._pending.pop(symbol, None)
        if queue:
            for order in queue:
                done.append(self._market(order, symbol, ts, open_))
        resting = self._resting.get(symbol)
        if resting is not None:
            hit = self._bracket(resting, symbol, ts, open_, high, low)
            if hit is not None:
                done.append(hit)
        if queue or done:
            self._retrigger(symbol)
        return done

    def _fill(
        self,
        order_id: str,
        intent_id: str,
        symbol: str,
        ts: int,
        side: Side,
        reduce_only: bool,
        qty: float,
        price: float,
        fee_rate: float,
        reason: str,
    ) -> Fill:
        self._fill_seq += 1
        fee = abs(qty * price) * fee_rate
        # Positional, in Fill's field order: built for every execution.
        return Fill(order_id, intent_id, ts, symbol, side, reduce_only, qty, price, fee, reason)

    def _market(self, order: CommittedOrder, symbol: str, ts: int, open_: float) -> ExecutionReport:
        intent = order.intent
        buy = intent.is_buy
        price = open_ * (1.0 + self._slip) if buy else open_ * (1.0 - self._slip)
        resting = self._resting.get(symbol)
        if intent.reduce_only:
            if resting is None or resting.side is not intent.side:
                held = "nothing" if resting is None else f"a {resting.side.value} position"
                return ExecutionReport(
                    _REJECT,
                    symbol,
                    ts,
                    order,
                    reason=f"nothing to close: exit of a {intent.side.value} position in "
                    f"{symbol} but the venue holds {held} (a stop or target got there first)",
                )
            del self._resting[symbol]
            fill = self._fill(
                order.order.id,
                intent.id,
                symbol,
                ts,
                intent.side,
                True,
                resting.qty,
                price,
                self._taker,
                "signal",
            )
            return _report((_FILL, symbol, ts, order, fill, _SIGNAL, "", 0.0, None, None))
        if resting is not None:
            return ExecutionReport(
                _REJECT,
                symbol,
                ts,
                order,
                reason=f"one position per symbol: {symbol} already holds a "
                f"{resting.side.value} position of {resting.qty:g}",
            )
        stop, take_profit = intent.stop, intent.take_profit
        signal = order.signal
        if signal is not None and signal.bracket_from_fill and not math.isnan(signal.entry):
            shift = price - signal.entry
            stop = None if stop is None else stop + shift
            take_profit = None if take_profit is None else take_profit + shift
        self._resting[symbol] = Resting(intent.side, intent.qty, stop, take_profit, intent.id)
        fill = self._fill(
            order.order.id,
            intent.id,
            symbol,
            ts,
            intent.side,
            False,
            intent.qty,
            price,
            self._taker,
            "entry",
        )
        return _report((_FILL, symbol, ts, order, fill, None, "", 0.0, stop, take_profit))

    def _bracket(
        self, r: Resting, symbol: str, ts: int, open_: float, high: float, low: float
    ) -> ExecutionReport | None:
        long = r.side is _LONG
        stop_hit = r.stop is not None and (low <= r.stop if long else high >= r.stop)
        tp_hit = r.take_profit is not None and (
            high >= r.take_profit if long else low <= r.take_profit
        )
        if not stop_hit and not tp_hit:
            return None
        if stop_hit and (not tp_hit or self._stop_first):
            assert r.stop is not None
            # A bar that opened beyond the stop fills at the open (a gap), else at the stop.
            level = min(open_, r.stop) if long else max(open_, r.stop)
            price = level * (1.0 - self._slip) if long else level * (1.0 + self._slip)
            reason, fee, tag = ExitReason.STOP, self._taker, "stop"
        else:
            assert r.take_profit is not None
            price = max(open_, r.take_profit) if long else min(open_, r.take_profit)
            reason, fee, tag = ExitReason.TAKE_PROFIT, self._maker, "take_profit"
        del self._resting[symbol]
        order_id = f"{r.intent_id}-{tag}"
        fill = self._fill(order_id, r.intent_id, symbol, ts, r.side, True, r.qty, price, fee, tag)
        return _report((_BRACKET, symbol, ts, None, fill, reason, "", 0.0, None, None))

    # -- restart state ---------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Resting brackets and the fill sequence (pending orders are the commit's to keep)."""
        return {
            "fill_seq": self._fill_seq,
            "resting": {
                symbol: {
                    "side": r.side.value,
                    "qty": r.qty,
                    "stop": r.stop,
                    "take_profit": r.take_profit,
                    "intent_id": r.intent_id,
                }
                for symbol, r in self._resting.items()
            },
        }

    def restore(self, state: dict[str, Any], pending: list[CommittedOrder]) -> None:
        """Put back what :meth:`snapshot` saved, and the orders that were pending then."""
        self._fill_seq = int(state["fill_seq"])
        self._resting = {
            symbol: Resting(
                Side(r["side"]), float(r["qty"]), r["stop"], r["take_profit"], str(r["intent_id"])
            )
            for symbol, r in state["resting"].items()
        }
        self._pending = {}
        for order in pending:
            self._pending.setdefault(order.intent.symbol, []).append(check_committed(order))
        for symbol in set(self._resting) | set(self._pending) | set(self._triggers):
            self._retrigger(symbol)
