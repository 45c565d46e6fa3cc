"""The live venue: committed orders to the exchange through ccxt, reports back.

:class:`ExchangeVenue` is the execution client of ``mode = "live"``. What it
guarantees, and how:

- **Never a second order.** Every order carries the client order id the
  journal holds for it (Bybit ``orderLinkId``, Binance ``newClientOrderId``).
  A create whose reply is lost (timeout, 5xx, dropped connection) has an
  unknown outcome: it is resolved by looking the client id up, never by
  sending again. A rate-limited create was refused before it was booked; it
  waits and goes again with the same id, which the venue would refuse were
  it booked after all — and that refusal, too, is resolved by a lookup.
- **Every position protected.** An entry's stop (and take-profit) rests on
  the exchange: attached to the order on Bybit, a separate reduce-only
  conditional order placed right after the fill on Binance. When the stop
  is re-anchored on the fill (``bracket_from_fill``) it is moved there.
  If the stop cannot be placed, the position is closed at market, the
  symbol is halted (until an operator's resume) and an alert event is
  raised. A stop the price has passed already closes the position as the
  stop would have, and the symbol trades on.
- **What the exchange did, booked in order.** Fills of the host's orders
  arrive as reports; stops and take-profits that triggered on the exchange
  are found at the start of each step (:meth:`sync`) and booked as bracket
  reports before the step's candles.

Fill times are bar open times (the engine's convention): the open of the
symbol's execution bar the exchange filled in.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import attrs
import ccxt.async_support as ccxt
from garrison_api import ExitReason, Fill, Market, Position, Side

from garrison.engine.execution import (
    CommittedOrder,
    ExecutionReport,
    ReportKind,
    check_committed,
)
from garrison.live.batching import CreateBatcher
from garrison.live.retry import with_retries

#: (kind, level, message, data) of something worth an event.
VenueEvent = Callable[[str, str, str, dict[str, Any]], None]

#: "This client order id was used already" in a venue's error body (Binance -4116,
#: Bybit 110072): ccxt raises both as InvalidOrder, not DuplicateOrderId.
DUPLICATE_ID = re.compile(r'"(?:code|retCode)"\s*:\s*(?:-4116|110072)\b')
#: Pauses before each lookup of an order whose create had no answer.
LOOKUP_PAUSES_S = (0.5, 1.0, 2.0, 4.0)
#: Up to this many symbols whose stops a step may have reached are read one by one;
#: more, and every position is listed instead.
FEW_SYMBOLS = 5


def is_duplicate_id(exc: BaseException) -> bool:
    """Whether the venue refused a create because its client order id was used already."""
    if isinstance(exc, ccxt.DuplicateOrderId):
        return True
    if not isinstance(exc, ccxt.InvalidOrder):
        return False
    return DUPLICATE_ID.search(str(exc)) is not None


@attrs.define
class Held:
    """A position the venue holds for the host, with its protection on the exchange."""

    side: Side
    qty: float
    intent_id: str
    client_id: str
    opened_ms: int
    stop: float | None = None
    take_profit: float | None = None
    #: Ids of the separate conditional orders protecting it (Binance), if any.
    protection: list[str] = attrs.Factory(list)
    #: The exchange's trade ids already booked for this position.
    booked: set[str] = attrs.Factory(set)
    #: Protective orders placed so far (each gets its own client id).
    placements: int = 0


class ExchangeVenue:
    """Sends committed orders through a ccxt client; see the module docstring.

    Used from the engine's event loop only. ``bar_ms`` is the execution
    timeframe of each symbol, in ms.
    """

    def __init__(
        self,
        *,
        client: Any,
        exchange: str,
        markets: Mapping[str, Market],
        ccxt_symbols: Mapping[str, str],
        bar_ms: Mapping[str, int],
        leverage: float,
        margin_mode: str = "cross",
        on_event: VenueEvent | None = None,
        crash: Callable[[str], None] | None = None,
        create_client: Any = None,
    ) -> None:
        self._client = client
        self._exchange = exchange
        # Creates may go through a client (and a rate limiter) of their own: the venues
        # count order requests apart from reads, and a read must not delay an order.
        self._create_client = create_client or client
        self._creates = CreateBatcher(self._create_client, exchange)
        self._markets = markets
        self._ccxt = dict(ccxt_symbols)
        self._bar_ms = dict(bar_ms)
        self._leverage = leverage
        self._margin_mode = margin_mode
        self._emit = on_event or (lambda _k, _l, _m, _d: None)
        self._crash = crash or (lambda _point: None)
        self._reports: list[ExecutionReport] = []
        self._open: dict[str, CommittedOrder] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._prepared: set[str] = set()
        #: Symbols with a send (and its stop placement) still running, with how many.
        self._sending: dict[str, int] = {}
        #: Positions as booked by the engine (polled reports): what a checkpoint holds.
        self._booked: dict[str, Held] = {}
        #: Entries filled whose report is not polled yet, by order id.
        self._entry_held: dict[str, Held] = {}
        self._account_margin_set = False
        self.held: dict[str, Held] = {}
        #: Symbols where trading stopped because a position could not be protected.
        self.halted: set[str] = set()
        self._full_sync = True
        #: Counters for the run's figures.
        self.unknown_outcomes = 0
        self.resolved = 0
        self.rate_limited = 0

    # -- the execution seam ---------------------------------------------------------

    def submit(self, order: CommittedOrder) -> list[ExecutionReport]:
        """Start sending ``order`` (durable in the journal); reports come through :meth:`poll`."""
        check_committed(order, durable=True)
        self._open[order.order.id] = order
        symbol = order.intent.symbol
        self._sending[symbol] = self._sending.get(symbol, 0) + 1

        def done(task: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            left = self._sending.get(symbol, 1) - 1
            if left > 0:
                self._sending[symbol] = left
            else:
                self._sending.pop(symbol, None)

        task = asyncio.ensure_future(self._send(order))
        self._tasks.add(task)
        task.add_done_callback(done)
        return []

    def poll(self) -> list[ExecutionReport]:
        """Reports since the last call; from here on they count as booked (see snapshot)."""
        reports, self._reports = self._reports, []
        for report in reports:
            kind, symbol, order = report.kind, report.symbol, report.order
            if order is not None and (kind is not ReportKind.FILL or report.remaining <= 0.0):
                self._open.pop(order.order.id, None)
            fill = report.fill
            if kind is ReportKind.FILL and order is None and fill is not None:
                held = self._entry_held.pop(fill.order_id, None)  # an adopted position
                if held is not None:
                    self._booked[symbol] = held
            elif kind is ReportKind.FILL and order is not None and not order.intent.reduce_only:
                held = self._entry_held.pop(order.order.id, None)
                if held is not None:
                    self._booked[symbol] = held
            elif kind in (ReportKind.FILL, ReportKind.BRACKET):
                held = self._booked.get(symbol)
                if held is not None and self.held.get(symbol) is not held:
                    del self._booked[symbol]  # closed (a partial close keeps it held)
        return reports

    def open_orders(self) -> list[CommittedOrder]:
        return list(self._open.values())

    def cancel_open(self, ts: int, reason: str) -> list[ExecutionReport]:
        # Market orders do not rest: nothing of the host's waits on the book to cancel.
        return []

    def trigger(self, symbol: str) -> list[float]:
        return [math.inf, -math.inf]

    def on_bar(
        self, symbol: str, ts: int, open_: float, high: float, low: float
    ) -> list[ExecutionReport]:
        # The exchange executes; :meth:`sync` books what it did.
        return []

    def snapshot(self) -> dict[str, Any]:
        """Positions as the engine has booked them (a fill not yet polled stays pending).

        The checkpoint holds the ledger as of the booked reports; the venue's
        part must agree with it, or a restart would forget a fill (or an
        exit) that happened between the exchange's answer and its booking.
        An order whose report is not booked yet stays among the open orders,
        so a restart looks it up again.
        """
        return {
            "held": {
                symbol: {
                    "side": h.side.value,
                    "qty": h.qty,
                    "intent_id": h.intent_id,
                    "client_id": h.client_id,
                    "opened_ms": h.opened_ms,
                    "stop": h.stop,
                    "take_profit": h.take_profit,
                    "protection": list(h.protection),
                    "placements": h.placements,
                }
                for symbol, h in self._booked.items()
            },
            "halted": sorted(self.halted),
        }

    def restore(self, state: dict[str, Any], pending: list[CommittedOrder]) -> None:
        for symbol, h in (state.get("held") or {}).items():
            self.held[symbol] = self._booked[symbol] = Held(
                Side(h["side"]),
                float(h["qty"]),
                h["intent_id"],
                h["client_id"],
                int(h["opened_ms"]),
                h.get("stop"),
                h.get("take_profit"),
                list(h.get("protection") or ()),
                placements=int(h.get("placements") or 0),
            )
        self.halted = set(state.get("halted") or ())
        for order in pending:
            self._open[order.order.id] = order
            task = asyncio.ensure_future(self._resolve(order, "the host restarted", restarted=True))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # -- sending ------------------------------------------------------------------------

    def _bar_open(self, symbol: str, ms: int) -> int:
        bar = self._bar_ms.get(symbol, 60_000)
        return ms - ms % bar

    async def settled(self, timeout_s: float = 10.0) -> None:
        """Wait (up to ``timeout_s``) until no order is being sent or looked up."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)

    async def prepare(self, symbols: Sequence[str]) -> None:
        """Set margin mode and leverage for ``symbols`` before any entry (once per symbol).

        Done when trading starts, so the first entry on a symbol waits for
        nothing; a symbol added later is prepared before its first entry.
        Bybit's unified account has one margin mode for the whole account.
        """
        if self._exchange == "bybit" and not self._account_margin_set:
            self._account_margin_set = True
            await self._setting("margin mode", "account", self._margin_mode_call(None))
            # ccxt asks which account kind this is before the first create (each client
            # once): ask now, not in the first bar close's orders.
            for client in {id(c): c for c in (self._client, self._create_client)}.values():
                await with_retries(client.is_unified_enabled, what="account kind")
        for symbol in symbols:
            await self._prepare(symbol)

    def _margin_mode_call(self, ccxt_symbol: str | None) -> Callable[[], Awaitable[Any]]:
        return functools.partial(self._client.set_margin_mode, self._margin_mode, ccxt_symbol)

    async def _setting(self, what: str, symbol: str, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            await with_retries(call, what=f"set {what} {symbol}")
        except ccxt.BaseError as exc:
            # "Not modified" answers land here too: the setting is already so.
            self._emit(
                "exchange.setting",
                "info",
                f"{symbol}: set {what}: {type(exc).__name__}: {exc}",
                {"symbol": symbol},
            )

    async def _prepare(self, symbol: str) -> None:
        """Margin mode (per symbol on Binance) and leverage, once per symbol."""
        if symbol in self._prepared:
            return
        self._prepared.add(symbol)
        ccxt_symbol = self._ccxt[symbol]
        if self._exchange != "bybit":
            await self._setting("margin mode", symbol, self._margin_mode_call(ccxt_symbol))
        # Binance takes whole leverage only ("100", not "100.0").
        whole = max(1, round(self._leverage))
        leverage = functools.partial(self._client.set_leverage, whole, ccxt_symbol)
        await self._setting("leverage", symbol, leverage)

    def _params(self, order: CommittedOrder) -> dict[str, Any]:
        intent = order.intent
        params: dict[str, Any] = {"clientOrderId": order.order.client_order_id}
        if intent.reduce_only:
            params["reduceOnly"] = True
        elif self._exchange == "bybit":
            # Protection from the first instant: attached to the entry itself.
            if intent.stop is not None:
                stop = self._level(intent.symbol, intent.stop, away_up=not intent.is_buy)
                params["stopLoss"] = {"triggerPrice": stop}
            if intent.take_profit is not None:
                params["takeProfit"] = {
                    "triggerPrice": self._level(
                        intent.symbol, intent.take_profit, away_up=intent.is_buy
                    )
                }
        return params

    def _level(self, symbol: str, price: float, away_up: bool) -> float:
        """A stop or take-profit level on the tick grid, rounded away from the position's price.

        Bar highs and lows sit on the same grid, so a level rounded outwards
        triggers on exactly the bars the exact level would (a long's stop at
        213.846 and at 213.84 are both reached by a low of 213.84, neither by
        213.85); rounding to the nearest tick would trigger one tick early.
        """
        tick = self._markets[symbol].tick_size
        steps = price / tick
        snapped = math.ceil(steps - 1e-9) if away_up else math.floor(steps + 1e-9)
        return float(self._client.price_to_precision(self._ccxt[symbol], snapped * tick))

    def _amount(self, symbol: str, qty: float) -> float:
        return float(self._client.amount_to_precision(self._ccxt[symbol], qty))

    async def _send(self, order: CommittedOrder) -> None:
        intent = order.intent
        symbol = intent.symbol
        if not intent.reduce_only:
            await self._prepare(symbol)
        side = "buy" if intent.is_buy else "sell"
        try:
            qty = self._amount(symbol, intent.qty)
        except ccxt.BaseError as exc:
            self._reject(order, f"quantity {intent.qty:g} not valid for {symbol}: {exc}")
            return
        params = self._params(order)
        if intent.reduce_only:
            self._crash("exiting")
        pause = 0.5
        while True:
            try:
                reply = await self._creates.create(self._ccxt[symbol], side, qty, params)
                break
            except (ccxt.RateLimitExceeded, ccxt.DDoSProtection) as exc:
                # Refused before booking: wait, then the same order (same id) again.
                self.rate_limited += 1
                self._emit(
                    "order.deferred",
                    "warning",
                    f"order {order.order.client_order_id} deferred {pause:.1f}s: "
                    f"{type(exc).__name__}",
                    {"client_order_id": order.order.client_order_id},
                )
                await asyncio.sleep(pause)
                pause = min(10.0, pause * 2)
            except ccxt.BaseError as exc:
                why = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, ccxt.NetworkError) or is_duplicate_id(exc):
                    # Timeout, 5xx, dropped connection, or "already have this id":
                    # booked or not, only a lookup can tell.
                    self.unknown_outcomes += 1
                    await self._resolve(order, why)
                else:
                    self._reject(order, why)
                return
        self._crash("after_reply")
        await self._settle_order(order, reply)

    def _reject(self, order: CommittedOrder, reason: str) -> None:
        self._reports.append(
            ExecutionReport(
                ReportKind.REJECT,
                order.intent.symbol,
                order.order.ts,
                order,
                reason=reason,
            )
        )

    async def _find(self, order: CommittedOrder) -> dict[str, Any] | None:
        """The exchange's order with ``order``'s client id, or None when it has none."""
        symbol = self._ccxt[order.intent.symbol]
        cid = order.order.client_order_id
        open_orders = await with_retries(
            lambda: self._client.fetch_open_orders(symbol), what=f"open orders {symbol}"
        )
        closed = await with_retries(
            lambda: self._client.fetch_closed_orders(symbol), what=f"closed orders {symbol}"
        )
        for found in [*open_orders, *closed]:
            if found.get("clientOrderId") == cid:
                return dict(found)
        return None

    async def _resolve(self, order: CommittedOrder, why: str, *, restarted: bool = False) -> None:
        """Settle an order whose create went unanswered, by its client id; never resend.

        ``restarted``: the order was sent by an earlier life of the host, which
        may have placed its stop too before it died.
        """
        cid = order.order.client_order_id
        self._emit(
            "order.unknown",
            "warning",
            f"order {cid} for {order.intent.symbol}: no answer to its create ({why}); "
            "looking it up by client id",
            {"client_order_id": cid},
        )
        for pause in LOOKUP_PAUSES_S:
            await asyncio.sleep(pause)
            try:
                found = await self._find(order)
            except ccxt.BaseError:
                continue
            if found is not None:
                self.resolved += 1
                await self._settle_order(order, found, restarted=restarted)
                return
        self.resolved += 1
        self._reject(order, f"the exchange has no order {cid}: it never arrived ({why})")

    async def _settle_order(
        self, order: CommittedOrder, reply: Mapping[str, Any], *, restarted: bool = False
    ) -> None:
        """Wait for a market order to fill, then report the fill (and protect an entry)."""
        symbol = order.intent.symbol
        ccxt_symbol = self._ccxt[symbol]
        state = dict(reply)
        for pause in (0.0, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0):
            if state.get("status") in ("closed", "canceled", "rejected", "expired"):
                break
            if pause:
                await asyncio.sleep(pause)
            order_id = str(state.get("id"))
            try:
                state = dict(
                    await with_retries(
                        functools.partial(self._order_state, order_id, ccxt_symbol),
                        what=f"order {order.order.client_order_id}",
                    )
                )
            except ccxt.BaseError as exc:
                self._emit(
                    "order.lookup_failed",
                    "warning",
                    f"order {order.order.client_order_id}: {type(exc).__name__}: {exc}",
                    {"client_order_id": order.order.client_order_id},
                )
        filled = float(state.get("filled") or 0.0)
        if filled <= 0.0:
            self._reject(order, f"the exchange ended the order unfilled ({state.get('status')})")
            return
        price = float(state.get("average") or state.get("price") or 0.0)
        fee = self._fee(state, filled, price)
        ts = self._bar_open(symbol, int(state.get("lastTradeTimestamp") or state["timestamp"]))
        intent = order.intent
        fill = Fill(
            order.order.id,
            intent.id,
            ts,
            symbol,
            intent.side,
            intent.reduce_only,
            filled,
            price,
            fee,
            "signal" if intent.reduce_only else "entry",
        )
        if intent.reduce_only:
            held = self.held.pop(symbol, None)
            self._reports.append(
                ExecutionReport(
                    ReportKind.FILL, symbol, ts, order, fill, ExitReason.SIGNAL, "", 0.0
                )
            )
            if held is not None:
                await self._unprotect(symbol, held)
            return
        stop, take_profit = intent.stop, intent.take_profit
        signal = order.signal
        if signal is not None and signal.bracket_from_fill and not math.isnan(signal.entry):
            shift = price - signal.entry
            stop = None if stop is None else stop + shift
            take_profit = None if take_profit is None else take_profit + shift
        long = intent.side is Side.LONG
        stop = None if stop is None else self._level(symbol, stop, away_up=not long)
        take_profit = None if take_profit is None else self._level(symbol, take_profit, long)
        held = Held(intent.side, filled, intent.id, order.order.client_order_id, ts)
        self.held[symbol] = self._entry_held[order.order.id] = held
        self._reports.append(
            ExecutionReport(
                ReportKind.FILL, symbol, ts, order, fill, None, "", 0.0, stop, take_profit
            )
        )
        attached = None
        if self._exchange == "bybit":
            attached = (
                None if intent.stop is None else self._level(symbol, intent.stop, not long),
                None
                if intent.take_profit is None
                else self._level(symbol, intent.take_profit, long),
            )
        await self._protect(symbol, held, stop, take_profit, attached, look_first=restarted)

    async def _order_state(self, order_id: str, ccxt_symbol: str) -> Mapping[str, Any]:
        """The exchange's order ``order_id`` as ccxt describes it."""
        client = self._client
        if self._exchange != "bybit":
            found: Mapping[str, Any] = await client.fetch_order(order_id, ccxt_symbol)
            return found
        # Bybit's single-order lookup is split: ended orders, then resting ones.
        try:
            found = await client.fetch_closed_order(order_id, ccxt_symbol)
        except ccxt.OrderNotFound:
            found = await client.fetch_open_order(order_id, ccxt_symbol)
        return found

    def _fee(self, state: Mapping[str, Any], filled: float, price: float) -> float:
        fee = state.get("fee") or {}
        cost: Any = fee.get("cost") if isinstance(fee, Mapping) else None
        if cost is None:
            fees = state.get("fees") or []
            costs = [f["cost"] for f in fees if isinstance(f, Mapping) and f.get("cost")]
            cost = sum(float(c) for c in costs) if costs else None
        return abs(float(cost)) if cost is not None else 0.0

    # -- protection -----------------------------------------------------------------------

    async def _protect(
        self,
        symbol: str,
        held: Held,
        stop: float | None,
        take_profit: float | None,
        attached: tuple[float | None, float | None] | None = None,
        *,
        look_first: bool = False,
    ) -> None:
        """Put the position's stop (and take-profit) on the exchange; flatten when that fails.

        ``look_first``: an earlier life of the host may have placed them already
        (its checkpoint does not say so); those are kept, not placed again.
        """
        held.stop, held.take_profit = stop, take_profit
        if stop is None and take_profit is None:
            return
        self._crash("placing_stop")
        # On Bybit the entry may carry these very levels already: nothing to move.
        if attached != (stop, take_profit):
            try:
                if self._exchange == "bybit":
                    await self._bybit_trading_stop(symbol, stop, take_profit)
                else:
                    await self._binance_conditionals(
                        symbol, held, stop, take_profit, look_first=look_first
                    )
            except ccxt.OrderImmediatelyFillable as exc:
                # The price is past the level already (it moved while the entry filled,
                # or while the host was down): closed at market, as the stop would have.
                # Nothing failed, so the symbol trades on.
                await self._flatten_unprotected(
                    symbol, held, f"{type(exc).__name__}: {exc}", halt=False
                )
                return
            except ccxt.BaseError as exc:
                await self._flatten_unprotected(symbol, held, f"{type(exc).__name__}: {exc}")
                return
        self._crash("after_stop")

    async def _bybit_trading_stop(
        self, symbol: str, stop: float | None, take_profit: float | None
    ) -> None:
        # The entry carried its stop; re-anchored on the fill, it moves there.
        request: dict[str, Any] = {
            "category": "linear",
            "symbol": symbol,
            "tpslMode": "Full",
            "positionIdx": 0,
        }
        if stop is not None:
            request["stopLoss"] = self._client.price_to_precision(self._ccxt[symbol], stop)
        if take_profit is not None:
            request["takeProfit"] = self._client.price_to_precision(self._ccxt[symbol], take_profit)
        await with_retries(
            lambda: self._client.private_post_v5_position_trading_stop(request),
            what=f"stop of {symbol}",
        )

    async def _binance_conditionals(
        self,
        symbol: str,
        held: Held,
        stop: float | None,
        take_profit: float | None,
        *,
        look_first: bool = False,
    ) -> None:
        standing: dict[str, str] = {}
        if look_first:
            if await self._open_qty(symbol) < held.qty * (1 - 1e-9):
                # Closed (or cut) on the exchange while the host was down: its stop
                # fired. The next sync books that exit; nothing is left to protect.
                self.request_full_sync()
                return
            standing = await self._earlier_protection(symbol, held)
        for tag, kind, level in (
            ("s", "STOP_MARKET", stop),
            ("t", "TAKE_PROFIT_MARKET", take_profit),
        ):
            if level is None:
                continue
            found = standing.get(tag)
            if found is not None:
                held.protection.append(found)
                self._emit(
                    "protection.kept",
                    "info",
                    f"{symbol}: kept the {kind} order placed before the host restarted",
                    {"symbol": symbol, "order_id": found},
                )
                continue
            held.protection.append(await self._conditional(symbol, held, tag, kind, level))

    async def _earlier_protection(self, symbol: str, held: Held) -> dict[str, str]:
        """The standing protective orders of ``held`` by tag, from every life of the host.

        A checkpoint may count fewer placements than were made (the host died
        in between): every conditional order of the symbol since the position
        opened is read, the placement count moves past each id of this
        position's found there (so none is sent again), and the ones still
        standing are returned ``{tag: exchange id}``.
        """
        listing = functools.partial(
            self._client.fetch_orders,
            self._ccxt[symbol],
            held.opened_ms,
            None,
            {"trigger": True},
        )
        orders = await with_retries(listing, what=f"conditional orders {symbol}")
        base = (held.client_id or f"g{held.intent_id}")[1:]
        standing: dict[str, str] = {}
        for order in orders:
            cid = str(order.get("clientOrderId") or "")
            placement = self._placement_of(cid, base)
            if placement is None:
                continue
            held.placements = max(held.placements, placement)
            if order.get("status") == "open":
                standing[cid[0]] = str(order.get("id"))
        return standing

    @staticmethod
    def _placement_of(cid: str, base: str) -> int | None:
        """Which placement of a position ``cid`` is (see :meth:`_protection_id`), or None."""
        for cut in range(1, min(len(cid), 4)):
            head, rest = cid[:cut], cid[cut:]
            if rest != base[: len(rest)] or len(rest) < min(len(base), 36 - cut):
                continue
            if head[0] not in "stf" or not (head[1:].isdigit() or head[1:] == ""):
                continue
            return int(head[1:]) if head[1:] else 1
        return None

    def _protection_id(self, held: Held, tag: str) -> str:
        """Client id of a protective order: the entry's, its first letter the tag (and a count).

        A position protected again (after a restart found its stop gone) gets
        a new id: the venue refuses an id it has seen.
        """
        held.placements += 1
        base = held.client_id or f"g{held.intent_id}"
        prefix = tag if held.placements == 1 else f"{tag}{held.placements}"
        return (prefix + base[1:])[:36]

    async def _conditional(self, symbol: str, held: Held, tag: str, kind: str, level: float) -> str:
        """Place one reduce-only conditional order and return its exchange id.

        An unanswered create is looked up by its client id before anything
        else, and goes again under the same id when absent (the venue refuses
        it should it have been booked after all). A create refused as a
        repeated id is looked up too; found on no standing order (it
        triggered, or was canceled), the id is not reused: the order goes
        again under the next one.
        """
        ccxt_symbol = self._ccxt[symbol]
        close_side = "sell" if held.side is Side.LONG else "buy"
        cid = ""
        for _attempt in range(3):
            cid = cid or self._protection_id(held, tag)
            params = {
                "triggerPrice": level,
                "reduceOnly": True,
                "clientOrderId": cid,
                "workingType": "CONTRACT_PRICE",
            }
            try:
                placed = await self._client.create_order(
                    ccxt_symbol, kind, close_side, held.qty, None, params
                )
            except ccxt.NetworkError:
                # Booked or not, only a lookup can tell.
                self.unknown_outcomes += 1
                found = await self._find_conditional(symbol, cid)
                self.resolved += 1
                if found is None:
                    continue
                placed = found
            except ccxt.BaseError as exc:
                if not is_duplicate_id(exc):
                    raise
                found = await self._find_conditional(symbol, cid)
                if found is None:
                    cid = ""  # used up: the next attempt takes a fresh id
                    continue
                placed = found
            return str(placed.get("id"))
        raise ccxt.ExchangeError(
            f"{symbol}: the {kind} order could not be placed in three attempts"
        )

    async def _find_conditional(self, symbol: str, cid: str) -> Mapping[str, Any] | None:
        listing = functools.partial(
            self._client.fetch_open_orders, self._ccxt[symbol], None, None, {"trigger": True}
        )
        for pause in LOOKUP_PAUSES_S:
            await asyncio.sleep(pause)
            try:
                orders = await with_retries(listing, what=f"conditional orders {symbol}")
            except ccxt.BaseError:
                continue
            for order in orders:
                if order.get("clientOrderId") == cid:
                    found: Mapping[str, Any] = order
                    return found
            return None
        return None

    async def _unprotect(self, symbol: str, held: Held) -> None:
        """Cancel what protected a position that is closed now (Binance's separate orders)."""
        for order_id in held.protection:
            cancel = functools.partial(
                self._client.cancel_order, order_id, self._ccxt[symbol], {"trigger": True}
            )
            try:
                await with_retries(
                    cancel,
                    what=f"cancel protection {order_id}",
                )
            except ccxt.OrderNotFound:
                pass
            except ccxt.BaseError as exc:
                self._emit(
                    "order.cancel_failed",
                    "warning",
                    f"{symbol}: could not cancel protective order {order_id}: {exc}",
                    {"symbol": symbol, "order_id": order_id},
                )

    async def _flatten_unprotected(
        self, symbol: str, held: Held, why: str, *, halt: bool = True
    ) -> None:
        """Close a position whose stop could not be placed; ``halt``: and stop trading it."""
        try:
            open_qty = await self._open_qty(symbol)
        except ccxt.BaseError:
            open_qty = held.qty  # cannot tell: assume the worst, it is open
        if open_qty <= 0.0:
            # Closed already (its attached stop, or a fast market): nothing to protect;
            # the next sync books the exit.
            self.request_full_sync()
            return
        if halt:
            self.halted.add(symbol)
            self._emit(
                "protection.failed",
                "critical",
                f"{symbol}: the stop could not be placed ({why}); closing the position at "
                "market and halting the symbol",
                {"symbol": symbol, "stop": held.stop},
            )
        else:
            self._emit(
                "protection.passed",
                "warning",
                f"{symbol}: the price is past the stop already ({why}); closing the position "
                "at market, as the stop would have",
                {"symbol": symbol, "stop": held.stop},
            )
        side = "sell" if held.side is Side.LONG else "buy"
        # Booked as the position's exit at the next sync, like any close the host did not send.
        self.request_full_sync()
        try:
            await self._client.create_order(
                self._ccxt[symbol],
                "market",
                side,
                held.qty,
                None,
                {"reduceOnly": True, "clientOrderId": self._protection_id(held, "f")},
            )
        except ccxt.NetworkError:
            # Unanswered: the position itself says whether the close went through.
            await asyncio.sleep(LOOKUP_PAUSES_S[0])
            with contextlib.suppress(ccxt.BaseError):
                if await self._open_qty(symbol) <= 0.0:
                    return
            self._emit(
                "protection.flatten_unknown",
                "critical",
                f"{symbol}: closing the unprotected position got no answer; the next sync "
                "and reconciliation check it",
                {"symbol": symbol},
            )
        except ccxt.BaseError as exc:
            self._emit(
                "protection.flatten_failed",
                "critical",
                f"{symbol}: closing the unprotected position failed too ({exc}); it stays "
                "open without a stop: act now",
                {"symbol": symbol},
            )
            return

    def busy(self) -> set[str]:
        """Symbols in motion: an order sent (its stop being placed) or its outcome not booked."""
        return {order.intent.symbol for order in self._open.values()} | set(self._sending)

    def adopt(self, position: Position) -> None:
        """Follow a journaled position the venue has lost track of, and check it next sync.

        After a restart from a checkpoint taken between an exit's fill and
        its booking, the journal may hold a position the exchange closed:
        following it again lets the next sync find and book that close.
        """
        if position.symbol in self.held:
            return
        held = Held(
            position.side,
            position.qty,
            position.intent_id,
            "",
            position.entry_ts,
            position.stop,
            position.take_profit,
        )
        self.held[position.symbol] = self._booked[position.symbol] = held
        self.request_full_sync()

    async def adopt_unknown(
        self,
        symbol: str,
        side: str,
        contracts: float,
        position: Mapping[str, Any],
        stop_pct: float,
        now_ms: int,
    ) -> None:
        """Take over a position the host did not open (``unknown_positions = "adopt"``).

        It is booked as an entry fill at the exchange's entry price (no order
        of the host's behind it, strategy ``adopted``) and protected like any
        entry: the stop the exchange already holds for it (Bybit's position
        stop), else one ``stop_pct`` percent beyond its entry price. If that
        stop cannot be placed (the price is already past it), the position is
        flattened and the symbol halted, as for any unprotectable position.
        """
        if symbol in self.held or symbol not in self._ccxt:
            return
        long = side == "long"
        entry = float(position.get("entryPrice") or 0.0)
        if entry <= 0.0:
            entry = float(position.get("markPrice") or 0.0)
        existing = float(position.get("stopLossPrice") or 0.0)
        stop = existing or entry * (1 - stop_pct / 100 if long else 1 + stop_pct / 100)
        level = self._level(symbol, stop, away_up=not long)
        ts = self._bar_open(symbol, now_ms)
        adoption = f"adopted-{symbol}-{ts}"
        fill = Fill(
            adoption,
            adoption,
            ts,
            symbol,
            Side.LONG if long else Side.SHORT,
            False,
            contracts,
            entry,
            0.0,
            "adopted",
        )
        held = Held(fill.side, contracts, adoption, "", ts)
        self.held[symbol] = self._entry_held[adoption] = held
        self._reports.append(
            ExecutionReport(ReportKind.FILL, symbol, ts, None, fill, None, "", 0.0, level, None)
        )
        self._emit(
            "position.adopted",
            "warning",
            f"{symbol}: adopted the exchange's {side} {contracts:g} at {entry:g}, stop {level:g}",
            {"symbol": symbol, "qty": contracts, "entry": entry, "stop": level},
        )
        attached = (level, None) if existing and self._exchange == "bybit" else None
        await self._protect(symbol, held, level, None, attached)

    async def has_stop(self, symbol: str, position: Mapping[str, Any]) -> bool:
        """Whether the exchange holds the stop of ``symbol``'s position."""
        if self._exchange == "bybit":
            return bool(position.get("stopLossPrice"))
        orders = await with_retries(
            lambda: self._client.fetch_open_orders(
                self._ccxt[symbol], None, None, {"trigger": True}
            ),
            what=f"conditional orders {symbol}",
        )
        held = self.held.get(symbol)
        return held is None or any(str(o.get("id")) in held.protection for o in orders)

    async def reprotect(self, symbol: str) -> None:
        """Place a held position's stop (and take-profit) again."""
        held = self.held.get(symbol)
        if held is None:
            return
        held.protection.clear()
        # Its orders may stand under ids a checkpoint did not know (placed, then died).
        await self._protect(symbol, held, held.stop, held.take_profit, look_first=True)

    async def open_positions(self) -> dict[str, tuple[str, float, Mapping[str, Any]]]:
        """``{symbol id: (side, contracts, ccxt position)}`` of every open position.

        Bybit lists 200 positions a page: all pages are read.
        """
        params = {"paginate": True} if self._exchange == "bybit" else {}
        listing = functools.partial(self._client.fetch_positions, None, params)
        positions = await with_retries(listing, what="positions")
        found: dict[str, tuple[str, float, Mapping[str, Any]]] = {}
        for p in positions:
            contracts = float(p.get("contracts") or 0.0)
            if contracts:
                symbol = str((p.get("info") or {}).get("symbol") or p.get("id") or "")
                found[symbol] = (str(p.get("side") or ""), contracts, p)
        return found

    async def _open_qty(self, symbol: str) -> float:
        ccxt_symbol = self._ccxt[symbol]
        positions = await with_retries(
            functools.partial(self._client.fetch_positions, [ccxt_symbol]),
            what=f"position {symbol}",
        )
        return sum(
            float(p.get("contracts") or 0.0) for p in positions if p.get("symbol") == ccxt_symbol
        )

    # -- what the exchange did on its own ----------------------------------------------------

    def _may_have_moved(
        self, symbol: str, held: Held, ranges: Mapping[str, tuple[float, float]]
    ) -> bool:
        """Whether the exchange may have closed ``symbol`` during the bars of ``ranges``.

        A bar whose range reaches neither the stop nor the take-profit cannot
        have triggered them (the broker's own screen); a symbol without a bar
        in the step is checked. Closes by hand or by liquidation are found by
        the reconciliation, which asks for a full sync.
        """
        bar = ranges.get(symbol)
        if self._full_sync or bar is None:
            return True
        low, high = bar
        stop, target = held.stop, held.take_profit
        if held.side is Side.LONG:
            return (stop is not None and low <= stop) or (target is not None and high >= target)
        return (stop is not None and high >= stop) or (target is not None and low <= target)

    def request_full_sync(self) -> None:
        """Check every held position at the next :meth:`sync` (the reconciliation found a gap)."""
        self._full_sync = True

    async def sync(self, ranges: Mapping[str, tuple[float, float]] | None = None) -> None:
        """Book positions the exchange closed by itself (stops, take-profits, liquidation).

        ``ranges`` are (low, high) of each symbol's bar in the step: symbols
        whose bar cannot have triggered anything are not asked about.
        """
        await self.settled()
        if not self.held:
            self._full_sync = False
            return
        # Every held symbol when a full sync is due or no ranges are given.
        moved = [
            s for s, h in self.held.items() if ranges is None or self._may_have_moved(s, h, ranges)
        ]
        if not moved:
            return
        full = self._full_sync or ranges is None or len(moved) > FEW_SYMBOLS
        self._full_sync = False
        if full:
            positions = await self.open_positions()
            open_qty = {symbol: contracts for symbol, (_, contracts, _p) in positions.items()}
        else:
            # A few stops within reach: ask about those symbols only (one short read
            # each, together) instead of listing every position page by page.
            qty = await asyncio.gather(*(self._open_qty(s) for s in moved))
            open_qty = {
                **{s: h.qty for s, h in self.held.items()},
                **dict(zip(moved, qty, strict=True)),
            }
        for symbol, held in list(self.held.items()):
            if open_qty.get(symbol, 0.0) >= held.qty * (1 - 1e-9):
                continue
            await self._book_exchange_exit(symbol, held, open_qty.get(symbol, 0.0))

    async def _book_exchange_exit(self, symbol: str, held: Held, left: float) -> None:
        ccxt_symbol = self._ccxt[symbol]
        trades = await with_retries(
            lambda: self._client.fetch_my_trades(ccxt_symbol, held.opened_ms),
            what=f"trades {symbol}",
        )
        closing = "sell" if held.side is Side.LONG else "buy"
        fills = [
            t for t in trades if t.get("side") == closing and str(t.get("id")) not in held.booked
        ]
        if not fills:
            return
        qty = sum(float(t["amount"]) for t in fills)
        cost = sum(float(t["amount"]) * float(t["price"]) for t in fills)
        price = cost / qty if qty else 0.0
        fee = sum(abs(float((t.get("fee") or {}).get("cost") or 0.0)) for t in fills)
        last_ms = max(int(t["timestamp"]) for t in fills)
        for t in fills:
            held.booked.add(str(t.get("id")))
        reason, tag = self._exit_reason(held, price)
        ts = self._bar_open(symbol, last_ms)
        fill = Fill(
            f"{held.intent_id}-{tag}",
            held.intent_id,
            ts,
            symbol,
            held.side,
            True,
            min(qty, held.qty),
            price,
            fee,
            tag,
        )
        if left <= 0.0:
            self.held.pop(symbol, None)
            await self._unprotect(symbol, held)
        else:
            held.qty = left
        self._reports.append(
            ExecutionReport(ReportKind.BRACKET, symbol, ts, None, fill, reason, "", 0.0)
        )

    @staticmethod
    def _exit_reason(held: Held, price: float) -> tuple[ExitReason, str]:
        long = held.side is Side.LONG
        tol = 1e-9 * max(abs(price), 1.0)
        if held.stop is not None and (
            price <= held.stop + tol if long else price >= held.stop - tol
        ):
            return ExitReason.STOP, "stop"
        if held.take_profit is not None and (
            price >= held.take_profit - tol if long else price <= held.take_profit + tol
        ):
            return ExitReason.TAKE_PROFIT, "take_profit"
        return ExitReason.SIGNAL, "external"
