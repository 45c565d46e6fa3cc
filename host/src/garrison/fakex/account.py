"""The fake exchange's trading account: orders, fills, one-way positions, USDT wallet.

It fills by the same rules as the replay broker (garrison.engine.broker), so a
live run against the fake trades exactly like a replay of the same candles:

- a market order fills at once at the open of the bar in progress (the tape's
  price), taker fee;
- a stop rests from the moment it is placed and is judged at each bar close on
  that bar's high/low (long stop hit when low <= trigger, short when high >=
  trigger); it fills at the trigger, or at the bar's open when the bar opened
  beyond it; taker fee;
- a take-profit fills at its price (or the better open), maker fee;
- a bar touching both: stop first (or take-profit first, configurable);
- closing a position cancels its other reduce-only conditionals.

Venue dialects translate requests into :meth:`FakeAccount.place_order` and
friends and render :class:`FakeError` codes as their venue's errors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import attrs
from garrison_api import Market

from garrison.fakex.faults import Faults
from garrison.fakex.tape import Bar, MarketTape

#: FakeError codes (each dialect maps them to its venue's error code and message).
ERROR_CODES = frozenset(
    {
        "duplicate_client_id",
        "insufficient_margin",
        "reduce_only_rejected",
        "invalid_qty",
        "invalid_price",
        "unknown_symbol",
        "order_not_found",
        "stop_rejected",
        "would_trigger_immediately",
        "rate_limited",
        "invalid_leverage",
    }
)
KINDS = ("market", "limit", "stop_market", "take_profit_market")
CONDITIONAL = ("stop_market", "take_profit_market")
OPEN_STATUSES = frozenset({"new", "partially_filled", "untriggered", "triggered"})
_REL_TOL = 1e-9


class FakeError(Exception):
    """A request the venue refuses; ``code`` is one of :data:`ERROR_CODES`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@attrs.frozen
class Fees:
    """Fee rates of the account."""

    taker: float = 0.00055
    maker: float = 0.0002


@attrs.define
class FakeOrder:
    """An order as the venue keeps it (times are market time, ms)."""

    id: str
    client_id: str | None
    symbol: str
    side: str  # "buy" | "sell"
    kind: str  # one of KINDS
    qty: float
    price: float | None = None
    trigger_price: float | None = None
    reduce_only: bool = False
    #: "new" | "partially_filled" | "filled" | "canceled" | "rejected" | "untriggered" | "triggered"
    status: str = "new"
    filled_qty: float = 0.0
    avg_price: float | None = None
    fee: float = 0.0
    created_ms: int = 0
    updated_ms: int = 0
    #: The entry an attached stop-loss / take-profit belongs to.
    parent_id: str | None = None
    stop_kind: str | None = None  # "stop_loss" | "take_profit" | None
    reject_reason: str = ""
    #: Close the whole position when triggered (qty follows the position).
    close_position: bool = False
    cancel_reason: str = ""
    realized_pnl: float = 0.0
    #: Stop-loss / take-profit the entry asked for (set on the position when it fills).
    attached_stop: float | None = None
    attached_take_profit: float | None = None
    #: Bar opens left to fill (partial-fill fault): the rest fills at the next open.
    pending_qty: float = 0.0

    @property
    def is_open(self) -> bool:
        """Still working at the venue (conditionals not triggered yet included)."""
        return self.status in OPEN_STATUSES

    @property
    def is_conditional(self) -> bool:
        return self.kind in CONDITIONAL

    @property
    def rising(self) -> bool:
        """A conditional that triggers when the price rises to its trigger."""
        # buy stops and sell take-profits wait for a rise; the others for a fall
        return (self.kind == "stop_market") == (self.side == "buy")


@attrs.define
class FakeFill:
    """One execution."""

    id: str
    order_id: str
    client_id: str | None
    symbol: str
    side: str
    qty: float
    price: float
    fee: float
    fee_rate: float
    maker: bool
    ts_ms: int
    realized_pnl: float
    #: Part of ``qty`` that reduced a position.
    closed_qty: float
    order_kind: str
    stop_kind: str | None
    reduce_only: bool


@attrs.define
class FakePosition:
    """A one-way position (a snapshot: marks are taken when it is asked for)."""

    symbol: str
    side: str  # "long" | "short"
    size: float
    entry_price: float
    leverage: float
    margin_mode: str  # "cross" | "isolated"
    mark_price: float
    unrealised_pnl: float
    stop_loss: float | None
    take_profit: float | None
    updated_ms: int
    created_ms: int = 0
    realised_pnl: float = 0.0
    initial_margin: float = 0.0


@attrs.define
class _Holding:
    direction: int  # +1 long, -1 short
    size: float
    entry: float
    created_ms: int
    updated_ms: int
    realised: float = 0.0


def _on_grid(value: float, step: float) -> bool:
    if step <= 0:
        return True
    units = value / step
    return abs(units - round(units)) <= _REL_TOL * max(1.0, abs(units))


def _round_to_step(value: float, step: float) -> float:
    if step <= 0:
        return value
    # Decimal places of the step keep 0.1 * 3 from printing as 0.30000000000000004.
    places = max(0, -math.floor(math.log10(step)) + 1) if step < 1 else 0
    return round(round(value / step) * step, places + 8)


class FakeAccount:
    """One USDT account with one-way positions, trading on ``tape``'s prices."""

    def __init__(
        self,
        tape: MarketTape,
        *,
        balance: float = 10_000.0,
        fees: Fees | None = None,
        faults: Faults | None = None,
        take_profit_first: bool = False,
        default_leverage: float = 10.0,
    ) -> None:
        self.tape = tape
        self.fees = fees or Fees()
        self.faults = faults or Faults()
        self.take_profit_first = take_profit_first
        self.default_leverage = default_leverage
        self.default_margin_mode = "cross"
        self._wallet = float(balance)
        #: The wallet the account started with (realised P&L is measured from it).
        self.starting_balance = float(balance)
        self._orders: dict[str, FakeOrder] = {}
        self._by_client: dict[str, FakeOrder] = {}
        self._fills: list[FakeFill] = []
        self._holdings: dict[str, _Holding] = {}
        self._leverage: dict[str, float] = {}
        self._margin_mode: dict[str, str] = {}
        #: Orders that can still do something at a bar close, by symbol.
        self._working: dict[str, list[FakeOrder]] = {}
        self._order_seq = 0
        self._fill_seq = 0
        #: Client ids sent again after the venue had booked them (each refusal, in order):
        #: what a client that resends an order it believes lost would leave here.
        self.refused_duplicates: list[str] = []

    # -- reading ------------------------------------------------------------------------

    def leverage(self, symbol: str) -> float:
        market = self.tape.instrument(symbol)
        default = self.default_leverage
        if market.max_leverage is not None:
            default = min(default, market.max_leverage)
        return self._leverage.get(symbol, default)

    def margin_mode(self, symbol: str) -> str:
        return self._margin_mode.get(symbol, self.default_margin_mode)

    def balance(self) -> tuple[float, float, float]:
        """(wallet, available, unrealised) in USDT.

        Available is the margin balance (wallet + unrealised) less the initial
        margin of open positions, never below zero.
        """
        unrealised = 0.0
        used = 0.0
        for symbol, h in self._holdings.items():
            mark = self.tape.price(symbol)
            unrealised += (mark - h.entry) * h.size * h.direction
            used += h.size * h.entry / self.leverage(symbol)
        available = max(0.0, self._wallet + unrealised - used)
        return self._wallet, available, unrealised

    def initial_margin(self) -> float:
        """Initial margin held by open positions."""
        return sum(h.size * h.entry / self.leverage(s) for s, h in self._holdings.items())

    def positions(self) -> list[FakePosition]:
        """Open positions, by symbol."""
        return [self._position(symbol) for symbol in sorted(self._holdings)]

    def position(self, symbol: str) -> FakePosition | None:
        """The open position in ``symbol``, if any."""
        return self._position(symbol) if symbol in self._holdings else None

    def _position(self, symbol: str) -> FakePosition:
        h = self._holdings[symbol]
        mark = self.tape.price(symbol)
        stop_loss, take_profit = self._position_brackets(symbol)
        leverage = self.leverage(symbol)
        return FakePosition(
            symbol=symbol,
            side="long" if h.direction > 0 else "short",
            size=h.size,
            entry_price=h.entry,
            leverage=leverage,
            margin_mode=self.margin_mode(symbol),
            mark_price=mark,
            unrealised_pnl=(mark - h.entry) * h.size * h.direction,
            stop_loss=stop_loss,
            take_profit=take_profit,
            updated_ms=h.updated_ms,
            created_ms=h.created_ms,
            realised_pnl=h.realised,
            initial_margin=h.size * h.entry / leverage,
        )

    def _position_brackets(self, symbol: str) -> tuple[float | None, float | None]:
        stop_loss = take_profit = None
        for order in self._working.get(symbol, ()):
            if order.close_position and order.is_open and order.stop_kind is not None:
                if order.stop_kind == "stop_loss":
                    stop_loss = order.trigger_price
                else:
                    take_profit = order.trigger_price
        return stop_loss, take_profit

    def get_order(
        self,
        symbol: str | None = None,
        order_id: str | None = None,
        client_id: str | None = None,
    ) -> FakeOrder:
        """The order with ``order_id`` or ``client_id`` (in ``symbol`` when given)."""
        order = None
        if order_id is not None:
            order = self._orders.get(order_id)
        elif client_id is not None:
            order = self._by_client.get(client_id)
        if order is None or (symbol is not None and order.symbol != symbol):
            wanted = order_id if order_id is not None else client_id
            raise FakeError("order_not_found", f"order {wanted!r} does not exist")
        if client_id is not None and order.client_id != client_id:
            raise FakeError("order_not_found", f"order {client_id!r} does not exist")
        return order

    def open_orders(self, symbol: str | None = None) -> list[FakeOrder]:
        """Working orders (untriggered conditionals included), newest first."""
        return [o for o in self.orders(symbol) if o.is_open]

    def orders(self, symbol: str | None = None) -> list[FakeOrder]:
        """Every order ever booked, newest first."""
        found = reversed(self._orders.values())
        return [o for o in found if symbol is None or o.symbol == symbol]

    def fills(self, symbol: str | None = None, since_ms: int | None = None) -> list[FakeFill]:
        """Executions, oldest first."""
        return [
            f
            for f in self._fills
            if (symbol is None or f.symbol == symbol) and (since_ms is None or f.ts_ms >= since_ms)
        ]

    # -- settings ------------------------------------------------------------------------

    def set_leverage(self, symbol: str, x: float) -> None:
        market = self._market(symbol)
        top = market.max_leverage if market.max_leverage is not None else 100.0
        if not 1.0 <= x <= top:
            raise FakeError("invalid_leverage", f"leverage {x:g} outside [1, {top:g}] for {symbol}")
        self._leverage[symbol] = float(x)

    def set_margin_mode(self, symbol: str | None, mode: str) -> None:
        """Margin mode of ``symbol``, or of the whole account (every symbol) when None."""
        if mode not in ("cross", "isolated"):
            raise ValueError(f"margin mode must be 'cross' or 'isolated', not {mode!r}")
        if symbol is None:
            self.default_margin_mode = mode
            self._margin_mode.clear()
            return
        self._market(symbol)
        self._margin_mode[symbol] = mode

    def set_trading_stop(
        self,
        symbol: str,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        *,
        now_ms: int | None = None,
    ) -> None:
        """Set (or with 0 remove) the position's whole-size stop-loss / take-profit."""
        h = self._holdings.get(symbol)
        if h is None:
            raise FakeError("reduce_only_rejected", f"no position in {symbol} to protect")
        now = self.tape.now_ms() if now_ms is None else now_ms
        market = self._market(symbol)
        side = "sell" if h.direction > 0 else "buy"
        for kind, level in (("stop_loss", stop_loss), ("take_profit", take_profit)):
            if level is None:
                continue
            for order in list(self._working.get(symbol, ())):
                if order.stop_kind == kind and order.close_position and order.is_open:
                    self._cancel(order, now, "replaced")
            if level == 0:
                continue
            self._check_price(market, level, "trigger price")
            order_kind = "stop_market" if kind == "stop_loss" else "take_profit_market"
            probe = FakeOrder("", None, symbol, side, order_kind, 0.0, trigger_price=level)
            self._check_trigger(probe, self.tape.price(symbol))
            self._bracket(symbol, side, order_kind, kind, level, None, now)

    # -- orders ----------------------------------------------------------------------------

    def _market(self, symbol: str) -> Market:
        if not self.tape.has(symbol):
            raise FakeError("unknown_symbol", f"{symbol} is not traded here")
        return self.tape.instrument(symbol)

    def _next_order_id(self) -> str:
        self._order_seq += 1
        return str(1_000_000_000 + self._order_seq)

    def _check_price(self, market: Market, value: float, what: str) -> None:
        if not (value > 0 and math.isfinite(value)):
            raise FakeError("invalid_price", f"{what} {value!r} must be a positive number")
        if not _on_grid(value, market.tick_size):
            raise FakeError(
                "invalid_price",
                f"{what} {value!r} is not a multiple of the tick size {market.tick_size:g}",
            )

    def _check_trigger(self, order: FakeOrder, current: float) -> None:
        trigger = order.trigger_price
        assert trigger is not None
        if order.rising and trigger <= current:
            raise FakeError(
                "would_trigger_immediately",
                f"expect Rising, but trigger_price[{trigger:g}] <= current[{current:g}]",
            )
        if not order.rising and trigger >= current:
            raise FakeError(
                "would_trigger_immediately",
                f"expect Falling, but trigger_price[{trigger:g}] >= current[{current:g}]",
            )

    def place_order(
        self,
        *,
        symbol: str,
        side: str,
        kind: str,
        qty: float,
        price: float | None = None,
        trigger_price: float | None = None,
        reduce_only: bool = False,
        close_position: bool = False,
        client_id: str | None = None,
        attached_stop: float | None = None,
        attached_take_profit: float | None = None,
        now_ms: int,
    ) -> FakeOrder:
        """Book an order (a market one fills at once); FakeError when the venue refuses it."""
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        market = self._market(symbol)
        if client_id is not None and client_id in self._by_client:
            self.refused_duplicates.append(client_id)
            raise FakeError("duplicate_client_id", f"client order id {client_id!r} is duplicate")
        conditional = kind in CONDITIONAL
        if not (close_position and conditional):
            self._check_qty(market, qty)
        if kind == "limit":
            if price is None:
                raise FakeError("invalid_price", "a limit order needs a price")
            self._check_price(market, price, "price")
        current = self.tape.price(symbol)
        order = FakeOrder(
            id="",
            client_id=client_id,
            symbol=symbol,
            side=side,
            kind=kind,
            qty=0.0 if close_position and conditional else float(qty),
            price=price,
            trigger_price=trigger_price,
            reduce_only=reduce_only or close_position,
            close_position=close_position,
            created_ms=now_ms,
            updated_ms=now_ms,
            attached_stop=attached_stop,
            attached_take_profit=attached_take_profit,
        )
        if conditional:
            if trigger_price is None:
                raise FakeError("invalid_price", f"a {kind} order needs a trigger price")
            self._check_price(market, trigger_price, "trigger price")
            self._check_trigger(order, current)
        for level, name, below in (
            (attached_stop, "stop-loss", side == "buy"),
            (attached_take_profit, "take-profit", side == "sell"),
        ):
            if level is None:
                continue
            self._check_price(market, level, name)
            if (level >= current) if below else (level <= current):
                where = "lower" if below else "higher"
                position = "Buy" if side == "buy" else "Sell"
                raise FakeError(
                    "would_trigger_immediately",
                    f"{name} {level:g} set for a {position} position should be {where} than "
                    f"the base price {current:g}",
                )
        if not order.reduce_only:
            value = qty * (price if kind == "limit" and price else current)
            if not conditional and value < market.min_notional:
                raise FakeError(
                    "invalid_qty",
                    f"order value {value:.4f} is below the minimum {market.min_notional:g}",
                )
            if self.faults.take("insufficient_margin"):
                raise FakeError("insufficient_margin", "ab not enough for new order")
        if kind == "market":
            held = self._holdings.get(symbol)
            direction = 1 if side == "buy" else -1
            if reduce_only and (held is None or held.direction == direction):
                raise FakeError(
                    "reduce_only_rejected",
                    f"reduce-only {side} but {symbol} holds "
                    + ("nothing" if held is None else "a position on the same side"),
                )
            if not reduce_only:
                self._check_margin(symbol, direction, qty, current)
        if conditional and kind == "stop_market" and self.faults.take("reject_stops"):
            raise FakeError("stop_rejected", "the stop order was rejected by the venue")
        order.id = self._next_order_id()
        self._orders[order.id] = order
        if client_id is not None:
            self._by_client[client_id] = order
        if conditional:
            order.status = "untriggered"
            self._working.setdefault(symbol, []).append(order)
        elif kind == "limit":
            self._book_limit(order, current, now_ms)
        else:
            self._execute_market(order, current, now_ms)
        return order

    def _check_qty(self, market: Market, qty: float) -> None:
        if not (qty > 0 and math.isfinite(qty)):
            raise FakeError("invalid_qty", f"quantity {qty!r} must be a positive number")
        if not _on_grid(qty, market.lot_step):
            raise FakeError(
                "invalid_qty",
                f"quantity {qty!r} is not a multiple of the lot step {market.lot_step:g}",
            )
        if qty < market.min_qty * (1 - _REL_TOL):
            raise FakeError(
                "invalid_qty", f"quantity {qty!r} is below the minimum {market.min_qty:g}"
            )
        if market.max_qty is not None and qty > market.max_qty * (1 + _REL_TOL):
            raise FakeError(
                "invalid_qty", f"quantity {qty!r} is above the maximum {market.max_qty:g}"
            )

    def _check_margin(self, symbol: str, direction: int, qty: float, price: float) -> None:
        held = self._holdings.get(symbol)
        opening = qty
        if held is not None and held.direction != direction:
            opening = max(0.0, qty - held.size)
        if opening <= 0:
            return
        notional = opening * price
        need = notional / self.leverage(symbol) + notional * self.fees.taker
        available = self.balance()[1]
        if need > available:
            raise FakeError(
                "insufficient_margin",
                f"ab not enough for new order: needs {need:.4f} USDT, available {available:.4f}",
            )

    def cancel_order(
        self,
        symbol: str | None = None,
        order_id: str | None = None,
        client_id: str | None = None,
        *,
        now_ms: int | None = None,
    ) -> FakeOrder:
        """Cancel a working order; FakeError order_not_found when it is unknown or done."""
        order = self.get_order(symbol, order_id, client_id)
        if not order.is_open:
            raise FakeError(
                "order_not_found", f"order {order.id} is {order.status}: too late to cancel"
            )
        self._cancel(order, self.tape.now_ms() if now_ms is None else now_ms, "user")
        return order

    def cancel_all(
        self, symbol: str | None = None, *, now_ms: int | None = None
    ) -> list[FakeOrder]:
        """Cancel every working order (of ``symbol``); the canceled orders."""
        now = self.tape.now_ms() if now_ms is None else now_ms
        canceled = self.open_orders(symbol)
        for order in canceled:
            self._cancel(order, now, "user")
        return canceled

    def _cancel(self, order: FakeOrder, now_ms: int, reason: str) -> None:
        order.status = "canceled"
        order.cancel_reason = reason
        order.updated_ms = now_ms
        order.pending_qty = 0.0
        working = self._working.get(order.symbol)
        if working is not None and order in working:
            working.remove(order)

    # -- execution -----------------------------------------------------------------------

    def _book_limit(self, order: FakeOrder, current: float, now_ms: int) -> None:
        assert order.price is not None
        marketable = current <= order.price if order.side == "buy" else current >= order.price
        if marketable:
            self._execute_market(order, current, now_ms)
            return
        order.status = "new"
        self._working.setdefault(order.symbol, []).append(order)

    def _execute_market(self, order: FakeOrder, price: float, now_ms: int) -> None:
        qty = order.qty
        if order.reduce_only:
            held = self._holdings.get(order.symbol)
            qty = 0.0 if held is None else min(qty, held.size)
        if qty > 0 and order.kind == "market" and self.faults.take("partial_fills"):
            step = self.tape.instrument(order.symbol).lot_step
            first = _round_to_step(qty / 2, step)
            if 0 < first < qty:
                order.pending_qty = _round_to_step(qty - first, step)
                self._working.setdefault(order.symbol, []).append(order)
                qty = first
        self._fill(order, qty, price, self.fees.taker, False, now_ms)

    def _fill(
        self, order: FakeOrder, qty: float, price: float, fee_rate: float, maker: bool, now_ms: int
    ) -> None:
        symbol = order.symbol
        direction = 1 if order.side == "buy" else -1
        fee = abs(qty * price) * fee_rate
        held = self._holdings.get(symbol)
        closed = 0.0
        realised = 0.0
        if held is not None and held.direction != direction:
            closed = min(qty, held.size)
            realised = (price - held.entry) * closed * held.direction
            held.size = _round_to_step(held.size - closed, self.tape.instrument(symbol).lot_step)
            held.realised += realised
            held.updated_ms = now_ms
        opening = qty - closed
        position_closed = held is not None and held.size <= 0
        if position_closed:
            del self._holdings[symbol]
            held = None
        if opening > 1e-12:
            if held is None:
                held = _Holding(direction, opening, price, now_ms, now_ms)
                self._holdings[symbol] = held
            else:
                total = held.size + opening
                held.entry = (held.entry * held.size + price * opening) / total
                held.size = total
                held.updated_ms = now_ms
        self._wallet += realised - fee
        self._fill_seq += 1
        self._fills.append(
            FakeFill(
                id=str(5_000_000_000 + self._fill_seq),
                order_id=order.id,
                client_id=order.client_id,
                symbol=symbol,
                side=order.side,
                qty=qty,
                price=price,
                fee=fee,
                fee_rate=fee_rate,
                maker=maker,
                ts_ms=now_ms,
                realized_pnl=realised,
                closed_qty=closed,
                order_kind=order.kind,
                stop_kind=order.stop_kind,
                reduce_only=order.reduce_only,
            )
        )
        filled_before = order.filled_qty
        order.filled_qty = filled_before + qty
        if qty > 0:
            order.avg_price = (
                (order.avg_price or 0.0) * filled_before + price * qty
            ) / order.filled_qty
        order.fee += fee
        order.realized_pnl += realised
        order.updated_ms = now_ms
        order.status = "partially_filled" if order.pending_qty > 0 else "filled"
        if order.status == "filled" and order.close_position:
            order.qty = order.filled_qty
        if position_closed:
            self._on_position_closed(symbol, now_ms, order)
        if symbol in self._holdings and order.parent_id is None and opening > 1e-12:
            self._attach_brackets(order, now_ms)

    def _on_position_closed(self, symbol: str, now_ms: int, by: FakeOrder) -> None:
        for other in list(self._working.get(symbol, ())):
            if other is not by and other.reduce_only and other.is_open and other.is_conditional:
                self._cancel(other, now_ms, "position_closed")

    def _attach_brackets(self, entry: FakeOrder, now_ms: int) -> None:
        symbol = entry.symbol
        exit_side = "sell" if entry.side == "buy" else "buy"
        existing = {
            o.stop_kind for o in self._working.get(symbol, ()) if o.close_position and o.is_open
        }
        if entry.attached_stop is not None and "stop_loss" not in existing:
            self._bracket(
                symbol, exit_side, "stop_market", "stop_loss", entry.attached_stop, entry, now_ms
            )
        if entry.attached_take_profit is not None and "take_profit" not in existing:
            self._bracket(
                symbol,
                exit_side,
                "take_profit_market",
                "take_profit",
                entry.attached_take_profit,
                entry,
                now_ms,
            )

    def _bracket(
        self,
        symbol: str,
        side: str,
        kind: str,
        stop_kind: str,
        level: float,
        parent: FakeOrder | None,
        now_ms: int,
    ) -> FakeOrder:
        child = FakeOrder(
            id=self._next_order_id(),
            client_id=None,
            symbol=symbol,
            side=side,
            kind=kind,
            qty=0.0,
            trigger_price=level,
            reduce_only=True,
            close_position=True,
            status="untriggered",
            created_ms=now_ms,
            updated_ms=now_ms,
            parent_id=None if parent is None else parent.id,
            stop_kind=stop_kind,
        )
        self._orders[child.id] = child
        if stop_kind == "stop_loss" and self.faults.take("reject_stops"):
            child.status = "rejected"
            child.reject_reason = "the stop-loss was rejected by the venue"
            return child
        self._working.setdefault(symbol, []).append(child)
        return child

    # -- the market moves ------------------------------------------------------------------

    def on_bar_close(self, close_ms: int, bars: dict[str, Bar]) -> None:
        """Judge working orders of each symbol on its just-closed price-tape bar.

        Then fill what partial-fill faults left over at the next bar's open.
        """
        for symbol in [s for s, w in self._working.items() if w and s in bars]:
            self._judge(symbol, bars[symbol])
        for symbol in [s for s, w in self._working.items() if w]:
            for order in [o for o in self._working[symbol] if o.pending_qty > 0]:
                if symbol in bars:
                    self._fill_rest(order, close_ms)

    def _fill_rest(self, order: FakeOrder, now_ms: int) -> None:
        qty = order.pending_qty
        order.pending_qty = 0.0
        self._working[order.symbol].remove(order)
        if order.reduce_only:
            held = self._holdings.get(order.symbol)
            same_side = held is not None and held.direction == (1 if order.side == "buy" else -1)
            qty = 0.0 if held is None or same_side else min(qty, held.size)
        if qty <= 0:  # the position went away meanwhile: the rest is canceled
            self._cancel(order, now_ms, "nothing_to_reduce")
            return
        self._fill(order, qty, self.tape.price(order.symbol), self.fees.taker, False, now_ms)

    def _judge(self, symbol: str, bar: Bar) -> None:
        _, open_, high, low, _, _ = bar
        hits: list[tuple[int, int, FakeOrder]] = []
        for seq, order in enumerate(self._working[symbol]):
            if not order.is_open or order.pending_qty > 0:
                continue
            if order.kind == "limit":
                assert order.price is not None
                if (low <= order.price) if order.side == "buy" else (high >= order.price):
                    hits.append((2, seq, order))
                continue
            trigger = order.trigger_price
            assert trigger is not None
            if (high >= trigger) if order.rising else (low <= trigger):
                is_stop = order.kind == "stop_market"
                rank = 0 if is_stop != self.take_profit_first else 1
                hits.append((rank, seq, order))
        for _, _, order in sorted(hits, key=lambda hit: (hit[0], hit[1])):
            if not order.is_open:  # canceled by an earlier exit of this bar
                continue
            # Stamped with the bar it happened in (its open time, as the replay
            # broker does), never before the order existed.
            self._execute_hit(order, open_, max(bar[0], order.created_ms))

    def _execute_hit(self, order: FakeOrder, open_: float, now_ms: int) -> None:
        symbol = order.symbol
        self._working[symbol].remove(order)
        if order.kind == "limit":
            assert order.price is not None
            better = min(open_, order.price) if order.side == "buy" else max(open_, order.price)
            self._fill(order, order.qty, better, self.fees.maker, True, now_ms)
            return
        trigger = order.trigger_price
        assert trigger is not None
        order.status = "triggered"
        # A bar that opened beyond the trigger fills at the open (a gap).
        level = max(open_, trigger) if order.rising else min(open_, trigger)
        held = self._holdings.get(symbol)
        direction = 1 if order.side == "buy" else -1
        if order.reduce_only:
            if held is None or held.direction == direction:
                order.status = "canceled"
                order.cancel_reason = "nothing_to_reduce"
                order.updated_ms = now_ms
                return
            qty = held.size if order.close_position else min(order.qty, held.size)
        else:
            qty = order.qty
            try:
                self._check_margin(symbol, direction, qty, level)
            except FakeError as exc:
                order.status = "rejected"
                order.reject_reason = exc.message
                order.updated_ms = now_ms
                return
        take_profit = order.kind == "take_profit_market"
        fee_rate = self.fees.maker if take_profit else self.fees.taker
        self._fill(order, qty, level, fee_rate, take_profit, now_ms)

    def working_symbols(self) -> Iterable[str]:
        """Symbols with orders that a bar close can execute."""
        return [s for s, w in self._working.items() if w]
