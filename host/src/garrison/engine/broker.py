"""The simulated broker of replay (and later paper) mode: an exchange in miniature.

Market orders sent at the close of a bar fill at the next bar's open, moved
against the trader by the slippage. A position's protective stop and
take-profit rest "at the exchange" from the bar the entry filled in: a bar
whose low (long) reaches the stop exits there, or at the open if the bar
opened beyond it; a take-profit is a limit order and fills at its price (or
the better open) with the maker fee. When one bar touches both, the
configured rule decides which came first (stop first by default, the
pessimistic choice). Prices are not rounded to the tick: the reference
semantics are exact, and live orders are rounded by the exchange adapter.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import attrs
from garrison_api import ExitReason, Fill, Order, OrderIntent, Side, Signal

from garrison.profile.model import BrokerConfig

# Enum members are descriptors in 3.11: a module constant is a plain global read.
_LONG = Side.LONG


@attrs.define
class PendingOrder:
    """A market order waiting for its symbol's next bar."""

    intent: OrderIntent
    order: Order
    signal: Signal | None


@attrs.define
class _Resting:
    """The exchange-side view of an open position with its protective orders."""

    side: Side
    qty: float
    stop: float | None
    take_profit: float | None
    intent_id: str


class Execution(NamedTuple):
    """What happened at the exchange during a bar.

    ``reason`` is None for an entry; for an exit it says why the position
    closed. ``pending`` is the order that filled (None for stops and targets).
    ``stop``/``take_profit`` are the brackets now resting (for an entry).

    A named tuple, immutable like a frozen attrs class but built without a
    ``object.__setattr__`` per field: there is one per fill, and it lives
    only until the pipeline has booked it.
    """

    fill: Fill
    reason: ExitReason | None
    pending: PendingOrder | None
    stop: float | None = None
    take_profit: float | None = None


class SimulatedBroker:
    """Fills orders against replayed bars. Used from the engine's thread only."""

    def __init__(self, config: BrokerConfig) -> None:
        self._slip = config.slippage_bps / 10_000.0
        self._taker = config.taker_fee
        self._maker = config.maker_fee
        self._stop_first = config.both_touched == "stop_first"
        self._pending: dict[str, list[PendingOrder]] = {}
        self._resting: dict[str, _Resting] = {}
        self._fill_seq = 0
        self._triggers: dict[str, list[float]] = {}
        #: Symbols with a pending order or an open position.
        self.active: set[str] = set()

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

    def submit(self, pending: PendingOrder) -> None:
        """Queue a market order for the next bar of its symbol."""
        symbol = pending.intent.symbol
        self._pending.setdefault(symbol, []).append(pending)
        self.active.add(symbol)
        self._retrigger(symbol)

    def pending_orders(self) -> list[PendingOrder]:
        return [p for orders in self._pending.values() for p in orders]

    def cancel_pending(self) -> list[PendingOrder]:
        """Drop every unfilled order (end of data); returns them for the journal."""
        dropped = self.pending_orders()
        symbols = list(self._pending)
        self._pending.clear()
        self.active = set(self._resting)
        for symbol in symbols:
            self._retrigger(symbol)
        return dropped

    def _fill(
        self,
        pending: PendingOrder | None,
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
        order_id = pending.order.id if pending is not None else f"{intent_id}-{reason}"
        fee = abs(qty * price) * fee_rate
        # Positional, in Fill's field order: built for every execution.
        return Fill(order_id, intent_id, ts, symbol, side, reduce_only, qty, price, fee, reason)

    def on_bar(
        self, symbol: str, ts: int, open_: float, high: float, low: float
    ) -> list[Execution]:
        """Everything that executes in ``symbol`` during the bar opening at ``ts``."""
        done: list[Execution] = []
        queue = self._pending.pop(symbol, None)
        if queue:
            for pending in queue:
                executed = self._market(pending, symbol, ts, open_)
                if executed is not None:
                    done.append(executed)
        resting = self._resting.get(symbol)
        if resting is not None:
            hit = self._bracket(resting, symbol, ts, open_, high, low)
            if hit is not None:
                done.append(hit)
        if symbol not in self._resting:
            self.active.discard(symbol)
        if queue or done:
            self._retrigger(symbol)
        return done

    def _market(
        self, pending: PendingOrder, symbol: str, ts: int, open_: float
    ) -> Execution | None:
        intent = pending.intent
        buy = intent.is_buy
        price = open_ * (1.0 + self._slip) if buy else open_ * (1.0 - self._slip)
        resting = self._resting.get(symbol)
        if intent.reduce_only:
            if resting is None or resting.side is not intent.side:
                return None  # nothing left to close (a stop got there first)
            del self._resting[symbol]
            fill = self._fill(
                pending,
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
            return Execution(fill, ExitReason.SIGNAL, pending)
        if resting is not None:
            return None  # one position per symbol at the exchange too
        stop, take_profit = intent.stop, intent.take_profit
        signal = pending.signal
        if signal is not None and signal.bracket_from_fill and not math.isnan(signal.entry):
            shift = price - signal.entry
            stop = None if stop is None else stop + shift
            take_profit = None if take_profit is None else take_profit + shift
        self._resting[symbol] = _Resting(intent.side, intent.qty, stop, take_profit, intent.id)
        fill = self._fill(
            pending,
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
        return Execution(fill, None, pending, stop, take_profit)

    def _bracket(
        self, r: _Resting, symbol: str, ts: int, open_: float, high: float, low: float
    ) -> Execution | None:
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
        fill = self._fill(None, r.intent_id, symbol, ts, r.side, True, r.qty, price, fee, tag)
        return Execution(fill, reason, None)
