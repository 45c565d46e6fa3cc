"""Bybit v5 (linear USDT perpetuals, unified trading account) spoken by the fake exchange.

``mount(app, fake)`` adds the REST routes ccxt's ``bybit`` class calls and the
public websocket ``/v5/public/linear`` (see :mod:`garrison.fakex.bybit_ws`).
Every answer is Bybit's envelope ``{"retCode", "retMsg", "result",
"retExtInfo", "time"}`` with HTTP 200, errors included, as Bybit does; the
codes are the ones ccxt's Bybit error map turns into the right exception
(110072 duplicate orderLinkId -> InvalidOrder, 110007 -> InsufficientFunds,
110017 reduce-only -> InvalidOrder, 110001 -> OrderNotFound, 10006 rate limit
-> RateLimitExceeded, 10002 timestamp -> InvalidNonce, 10003/10004 ->
AuthenticationError). A repeated rate-limit refusal is HTTP 403, Bybit's IP
limit, which ccxt also raises as RateLimitExceeded.

The account is a unified trading account (``uta: 1``): ccxt then sets the
margin mode account-wide and reads single orders from ``/v5/order/realtime``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from garrison.fakex import bybit_shapes as shapes
from garrison.fakex.account import FakeError, FakeOrder
from garrison.fakex.bybit_ws import BybitPublicStream
from garrison.fakex.numbers import num
from garrison.fakex.server import FakeExchange
from garrison.fakex.tape import TapeError

Params = dict[str, Any]
Endpoint = Callable[[Params], Awaitable[web.StreamResponse]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: FakeError code -> (Bybit retCode, retMsg prefix).
ERRORS = {
    "duplicate_client_id": (110072, "OrderLinkedID is duplicate"),
    "insufficient_margin": (110007, "ab not enough for new order"),
    "reduce_only_rejected": (110017, "current position is zero, cannot fix reduce-only order qty"),
    "invalid_qty": (10001, "Qty invalid"),
    "invalid_price": (10001, "Price invalid"),
    "unknown_symbol": (10001, "Not supported symbols"),
    "order_not_found": (110001, "order not exists or too late to cancel"),
    "stop_rejected": (110009, "The number of stop orders exceeds maximum limit allowed"),
    "would_trigger_immediately": (10001, "params error"),
    "rate_limited": (10006, "Too many visits. Exceeded the API Rate Limit."),
    "invalid_leverage": (10001, "leverage invalid"),
}
RECV_WINDOW_DEFAULT = 5000

#: Orders per ``/v5/order/create-batch`` request for linear contracts (Bybit v5 docs).
BATCH_LIMIT = 20


class BybitError(Exception):
    """A Bybit error answer (retCode, retMsg)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _from_fake_error(exc: FakeError) -> BybitError:
    code, text = ERRORS.get(exc.code, (10001, "params error"))
    if exc.code == "would_trigger_immediately":
        if exc.message.startswith("expect Rising"):
            return BybitError(110092, exc.message)
        if exc.message.startswith("expect Falling"):
            return BybitError(110093, exc.message)
    if exc.code == "invalid_qty" and exc.message.startswith("order value"):
        return BybitError(110094, f"Order does not meet minimum order value: {exc.message}")
    return BybitError(code, f"{text}: {exc.message}")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1")


def _float(params: Params, key: str) -> float | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BybitError(10001, f"params error: {key} {value!r} is not a number") from None


def _int(params: Params, key: str, default: int, top: int) -> int:
    value = params.get(key)
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise BybitError(10001, f"params error: {key} {value!r} is not a whole number") from None
    if not 1 <= n <= top:
        raise BybitError(10001, f"params error: {key} must be in [1, {top}]")
    return n


def _page(items: list[Any], params: Params, default: int, top: int) -> tuple[list[Any], str]:
    limit = _int(params, "limit", default, top)
    cursor = params.get("cursor") or "0"
    try:
        start = int(cursor)
    except ValueError:
        raise BybitError(10001, f"params error: cursor {cursor!r} is invalid") from None
    chunk = items[start : start + limit]
    more = start + limit < len(items)
    return chunk, str(start + limit) if more else ""


class BybitVenue:
    """The Bybit dialect's REST handlers over one :class:`FakeExchange`."""

    def __init__(self, fake: FakeExchange) -> None:
        self.fake = fake
        self.tape = fake.tape
        self.account = fake.account
        self._seq = 0

    # -- envelope ------------------------------------------------------------------------

    def ok(self, result: Any, message: str = "OK") -> web.Response:
        return web.json_response(
            {
                "retCode": 0,
                "retMsg": message,
                "result": result,
                "retExtInfo": {},
                "time": self.fake.server_time_ms(),
            }
        )

    def error(self, code: int, message: str, status: int = 200) -> web.Response:
        return web.json_response(
            {
                "retCode": code,
                "retMsg": message,
                "result": {},
                "retExtInfo": {},
                "time": self.fake.server_time_ms(),
            },
            status=status,
        )

    def endpoint(self, func: Endpoint, *, private: bool, is_order: bool = False) -> Handler:
        """An aiohttp handler: rate limit, auth, parameters, errors around ``func``."""

        async def handle(request: web.Request) -> web.StreamResponse:
            limited = self.fake.rate_limited(is_order)
            if limited:
                return self._rate_limited(limited)
            body = await request.text() if request.method == "POST" else ""
            if private:
                refusal = self._auth(request, body)
                if refusal is not None:
                    return refusal
            try:
                params = self._params(request, body)
                return await func(params)
            except BybitError as exc:
                return self.error(exc.code, exc.message)
            except FakeError as exc:
                bybit = _from_fake_error(exc)
                return self.error(bybit.code, bybit.message)
            except TapeError as exc:
                return self.error(10001, f"Not supported symbols: {exc}")

        return handle

    def _rate_limited(self, streak: int) -> web.Response:
        if streak > 1:  # refused again in a row: the IP limit answers HTTP 403
            return web.Response(status=403, text="access too frequent")
        response = self.error(10006, ERRORS["rate_limited"][1])
        reset = self.fake.server_time_ms() + 1000
        response.headers["X-Bapi-Limit"] = "10"
        response.headers["X-Bapi-Limit-Status"] = "0"
        response.headers["X-Bapi-Limit-Reset-Timestamp"] = str(reset)
        return response

    def _params(self, request: web.Request, body: str) -> Params:
        if request.method != "POST":
            return dict(request.query)
        if not body.strip():
            return {}
        try:
            parsed = json.loads(body)
        except json.JSONDecodeError:
            raise BybitError(10001, "params error: body is not JSON") from None
        if not isinstance(parsed, dict):
            raise BybitError(10001, "params error: body must be a JSON object")
        return parsed

    def _auth(self, request: web.Request, body: str) -> web.Response | None:
        headers = request.headers
        key = headers.get("X-BAPI-API-KEY")
        sign = headers.get("X-BAPI-SIGN")
        stamp = headers.get("X-BAPI-TIMESTAMP")
        recv = headers.get("X-BAPI-RECV-WINDOW") or str(RECV_WINDOW_DEFAULT)
        if not key or not self.fake.key_ok(key):
            return self.error(10003, "API key is invalid.")
        if not sign or not stamp:
            return self.error(10004, "error sign! missing X-BAPI-SIGN or X-BAPI-TIMESTAMP")
        if not self.fake.checks_signatures:
            return None
        try:
            ts, window = int(stamp), int(recv)
        except ValueError:
            return self.error(10002, "invalid request, please check your timestamp")
        server = self.fake.server_time_ms()
        if not server - window <= ts < server + 1000:
            return self.error(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts}],server_timestamp[{server}],recv_window[{window}]",
            )
        payload = stamp + key + recv + (body if request.method == "POST" else "")
        if request.method != "POST":
            payload += request.rel_url.raw_query_string
        if not self.fake.signature_ok(payload, sign):
            return self.error(10004, "error sign! Check the signature and the string signed.")
        return None

    def _symbol(self, params: Params, required: bool = True) -> str | None:
        symbol = params.get("symbol")
        if not symbol:
            if required:
                raise BybitError(10001, "params error: symbol is required")
            return None
        if not self.tape.has(str(symbol)):
            raise BybitError(10001, f"Not supported symbols: {symbol}")
        return str(symbol)

    def _linear(self, params: Params) -> None:
        category = params.get("category")
        if category != "linear":
            raise BybitError(
                10001, f"params error: category {category!r} is not served (only linear)"
            )

    # -- public market data ----------------------------------------------------------------

    async def market_time(self, params: Params) -> web.StreamResponse:
        ms = self.fake.server_time_ms()
        return self.ok({"timeSecond": str(ms // 1000), "timeNano": str(ms * 1_000_000)})

    async def instruments(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        if params.get("status") not in (None, "", "Trading"):
            return self.ok({"category": "linear", "list": [], "nextPageCursor": ""})
        wanted = params.get("symbol")
        base = params.get("baseCoin")
        symbols = [
            s
            for s in self.tape.symbols()
            if (not wanted or s == wanted) and (not base or shapes.base_coin(s) == base)
        ]
        chunk, cursor = _page(symbols, params, 500, 1000)
        items = [
            shapes.instrument(
                self.tape.instrument(s),
                int(self.tape.series(s, self.tape.price_timeframe(s)).ts[0]),
            )
            for s in chunk
        ]
        return self.ok({"category": "linear", "list": items, "nextPageCursor": cursor})

    async def kline(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        symbol = self._symbol(params)
        assert symbol is not None
        interval = str(params.get("interval", ""))
        tf = shapes.TIMEFRAMES.get(interval)
        if tf is None:
            raise BybitError(10001, f"Invalid period! interval {interval!r}")
        if not self.tape.has(symbol, tf):
            raise BybitError(
                10001, f"Invalid period! the fake has no {tf} candles of {symbol} loaded"
            )
        start = _float(params, "start")
        end = _float(params, "end")
        limit = _int(params, "limit", 200, 1000)
        bars = self.tape.klines(
            symbol,
            tf,
            None if start is None else int(start),
            None if end is None else int(end),
            limit,
        )
        rows = [
            [str(ts), num(o), num(h), num(lo), num(c), num(v), num(v * c)]
            for ts, o, h, lo, c, v in reversed(bars)
        ]
        return self.ok({"category": "linear", "symbol": symbol, "list": rows})

    async def tickers(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        symbol = self._symbol(params, required=False)
        items = []
        for s in [symbol] if symbol else self.tape.symbols():
            price = self.tape.price(s)
            tick = self.tape.instrument(s).tick_size
            items.append(
                {
                    "symbol": s,
                    "lastPrice": num(price),
                    "indexPrice": num(price),
                    "markPrice": num(price),
                    "prevPrice24h": num(price),
                    "price24hPcnt": "0",
                    "highPrice24h": num(price),
                    "lowPrice24h": num(price),
                    "prevPrice1h": num(price),
                    "openInterest": "0",
                    "openInterestValue": "0",
                    "turnover24h": "0",
                    "volume24h": "0",
                    "fundingRate": "0.0001",
                    "nextFundingTime": "0",
                    "predictedDeliveryPrice": "",
                    "basisRate": "",
                    "deliveryFeeRate": "",
                    "deliveryTime": "0",
                    "ask1Size": "1",
                    "bid1Price": num(price),
                    "ask1Price": num(price + tick),
                    "bid1Size": "1",
                    "basis": "",
                }
            )
        return self.ok({"category": "linear", "list": items})

    # -- account ----------------------------------------------------------------------------

    async def query_api(self, params: Params) -> web.StreamResponse:
        return self.ok(
            {
                "id": "1",
                "note": "garrison fake exchange",
                "apiKey": self.fake.api_key or "",
                "readOnly": 0,
                "secret": "",
                "permissions": {
                    "ContractTrade": ["Order", "Position"],
                    "Spot": [],
                    "Wallet": [],
                    "Options": [],
                    "Derivatives": [],
                    "CopyTrading": [],
                    "BlockTrade": [],
                    "Exchange": [],
                    "NFT": [],
                    "Affiliate": [],
                },
                "ips": ["*"],
                "type": 1,
                "deadlineDay": 90,
                "expiredAt": "",
                "createdAt": "",
                "unified": 0,
                "uta": 1,
                "userID": 1,
                "inviterID": 0,
                "vipLevel": "No VIP",
                "mktMakerLevel": "0",
                "affiliateID": 0,
                "rsaPublicKey": "",
                "isMaster": True,
                "parentUid": "0",
                "kycLevel": "LEVEL_DEFAULT",
                "kycRegion": "",
            }
        )

    async def account_info(self, params: Params) -> web.StreamResponse:
        mode = self.account.default_margin_mode
        return self.ok(
            {
                "marginMode": "ISOLATED_MARGIN" if mode == "isolated" else "REGULAR_MARGIN",
                "updatedTime": str(self.fake.start_ms),
                "unifiedMarginStatus": 5,
                "dcpStatus": "OFF",
                "timeWindow": 10,
                "smpGroup": 0,
                "isMasterTrader": False,
                "spotHedgingStatus": "OFF",
            }
        )

    async def coin_info(self, params: Params) -> web.StreamResponse:
        coins = ["USDT", *sorted({shapes.base_coin(s) for s in self.tape.symbols()})]
        rows = [{"name": c, "coin": c, "remainAmount": "0", "chains": []} for c in coins]
        return self.ok({"rows": rows})

    async def wallet_balance(self, params: Params) -> web.StreamResponse:
        account_type = str(params.get("accountType", "UNIFIED"))
        if account_type not in ("UNIFIED", "CONTRACT"):
            raise BybitError(10001, f"params error: accountType {account_type!r}")
        wallet, available, unrealised = self.account.balance()
        im = self.account.initial_margin()
        equity = wallet + unrealised
        realised = wallet - self.account.starting_balance
        coin = {
            "coin": "USDT",
            "equity": num(equity),
            "usdValue": num(equity),
            "walletBalance": num(wallet),
            "availableToWithdraw": "",
            "availableToBorrow": "",
            "bonus": "0",
            "borrowAmount": "0",
            "accruedInterest": "0",
            "totalOrderIM": "0",
            "totalPositionIM": num(im),
            "totalPositionMM": num(im * 0.05),
            "unrealisedPnl": num(unrealised),
            "cumRealisedPnl": num(realised),
            "locked": "0",
            "collateralSwitch": True,
            "marginCollateral": True,
            "spotBorrow": "0",
            "spotHedgingQty": "0",
        }
        entry = {
            "accountType": account_type,
            "totalEquity": num(equity),
            "totalWalletBalance": num(wallet),
            "totalMarginBalance": num(equity),
            "totalAvailableBalance": num(available),
            "totalPerpUPL": num(unrealised),
            "totalInitialMargin": num(im),
            "totalMaintenanceMargin": num(im * 0.05),
            "accountIMRate": num(im / equity if equity > 0 else 0.0),
            "accountMMRate": num(im * 0.05 / equity if equity > 0 else 0.0),
            "accountLTV": "0",
            "coin": [coin],
        }
        return self.ok({"list": [entry]})

    async def fee_rate(self, params: Params) -> web.StreamResponse:
        symbol = self._symbol(params, required=False)
        fees = self.account.fees
        items = [
            {"symbol": s, "takerFeeRate": num(fees.taker), "makerFeeRate": num(fees.maker)}
            for s in ([symbol] if symbol else self.tape.symbols())
        ]
        return self.ok({"list": items})

    # -- positions ----------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def position_list(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        symbol = self._symbol(params, required=False)
        if symbol is None and not params.get("settleCoin") and not params.get("baseCoin"):
            raise BybitError(10001, "params error: symbol or settleCoin is required")
        held = [p.symbol for p in self.account.positions()]
        symbols = held if symbol is None else [symbol]
        rows = []
        for s in symbols:
            p = self.account.position(s)
            rows.append(
                shapes.position(
                    s,
                    p,
                    leverage=self.account.leverage(s),
                    margin_mode=self.account.margin_mode(s),
                    mark=self.tape.price(s),
                    seq=self._next_seq(),
                )
            )
        chunk, cursor = _page(rows, params, 20, 200)
        return self.ok({"category": "linear", "list": chunk, "nextPageCursor": cursor})

    async def set_leverage(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        symbol = self._symbol(params)
        assert symbol is not None
        buy, sell = _float(params, "buyLeverage"), _float(params, "sellLeverage")
        if buy is None or sell is None:
            raise BybitError(10001, "params error: buyLeverage and sellLeverage are required")
        if buy != sell:
            raise BybitError(10001, "params error: buyLeverage must equal sellLeverage (one-way)")
        if buy == self.account.leverage(symbol):
            raise BybitError(110043, "leverage not modified")
        self.account.set_leverage(symbol, buy)
        return self.ok({})

    async def set_margin_mode(self, params: Params) -> web.StreamResponse:
        wanted = params.get("setMarginMode")
        modes = {"REGULAR_MARGIN": "cross", "ISOLATED_MARGIN": "isolated"}
        if wanted not in modes:
            raise BybitError(
                10001, f"params error: setMarginMode {wanted!r} (REGULAR_MARGIN or ISOLATED_MARGIN)"
            )
        self.account.set_margin_mode(None, modes[wanted])
        return self.ok({"reasons": []}, "Request accepted")

    async def switch_isolated(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        symbol = self._symbol(params)
        assert symbol is not None
        mode = {"0": "cross", "1": "isolated"}.get(str(params.get("tradeMode")))
        if mode is None:
            raise BybitError(10001, "params error: tradeMode must be 0 (cross) or 1 (isolated)")
        if mode == self.account.margin_mode(symbol):
            raise BybitError(110026, "Cross/isolated margin mode is not modified")
        self.account.set_margin_mode(symbol, mode)
        leverage = _float(params, "buyLeverage")
        if leverage is not None:
            self.account.set_leverage(symbol, leverage)
        return self.ok({})

    async def switch_mode(self, params: Params) -> web.StreamResponse:
        if str(params.get("mode")) != "0":
            raise BybitError(10001, "params error: the fake trades one-way positions only")
        raise BybitError(110025, "Position mode is not modified")

    async def trading_stop(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        symbol = self._symbol(params)
        assert symbol is not None
        stop_loss, take_profit = _float(params, "stopLoss"), _float(params, "takeProfit")
        try:
            self.account.set_trading_stop(
                symbol, stop_loss=stop_loss, take_profit=take_profit, now_ms=self.fake.now_ms()
            )
        except FakeError as exc:
            if exc.code == "reduce_only_rejected":
                raise BybitError(10001, "can not set tp/sl/ts for zero position") from None
            raise
        return self.ok({})

    # -- orders --------------------------------------------------------------------------------

    async def order_create(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        order = self._place(params)
        fault = await self.fake.fault_after_booking(order.is_conditional)
        if fault is not None:
            return fault
        return self.ok({"orderId": order.id, "orderLinkId": order.client_id or ""})

    async def order_create_batch(self, params: Params) -> web.StreamResponse:
        """``/v5/order/create-batch``: up to 20 orders, each booked or refused on its own.

        The reply lists one result per order, in order, and ``retExtInfo`` one
        code per order (0 for booked); the faults after booking strike the
        request as a whole, as a lost reply would.
        """
        self._linear(params)
        requests = params.get("request")
        if not isinstance(requests, list) or not requests:
            raise BybitError(10001, "params error: request must be a non-empty list of orders")
        if len(requests) > BATCH_LIMIT:
            raise BybitError(
                10001, f"params error: at most {BATCH_LIMIT} orders per batch, got {len(requests)}"
            )
        results: list[dict[str, Any]] = []
        codes: list[dict[str, Any]] = []
        conditional = False
        booked = 0
        for item in requests:
            if not isinstance(item, dict):
                raise BybitError(10001, "params error: each request item must be an object")
            symbol = str(item.get("symbol", ""))
            try:
                order = self._place({**item, "category": "linear"})
            except BybitError as exc:
                refused = exc
            except FakeError as exc:
                refused = _from_fake_error(exc)
            except TapeError as exc:
                refused = BybitError(10001, f"Not supported symbols: {exc}")
            else:
                booked += 1
                conditional = conditional or order.is_conditional
                results.append(
                    {
                        "category": "linear",
                        "symbol": symbol,
                        "orderId": order.id,
                        "orderLinkId": order.client_id or "",
                        "createAt": str(self.fake.server_time_ms()),
                    }
                )
                codes.append({"code": 0, "msg": "OK"})
                continue
            results.append(
                {"category": "linear", "symbol": symbol, "orderId": "", "orderLinkId": ""}
            )
            codes.append({"code": refused.code, "msg": refused.message})
        fault = await self.fake.fault_after_booking(conditional, booked) if booked else None
        if fault is not None:
            return fault
        return web.json_response(
            {
                "retCode": 0,
                "retMsg": "OK",
                "result": {"list": results},
                "retExtInfo": {"list": codes},
                "time": self.fake.server_time_ms(),
            }
        )

    def _place(self, params: Params) -> FakeOrder:
        """Validate one create the venue's way and book it on the account."""
        symbol = self._symbol(params)
        assert symbol is not None
        side = {"Buy": "buy", "Sell": "sell"}.get(str(params.get("side")))
        if side is None:
            raise BybitError(10001, f"params error: side {params.get('side')!r}")
        order_type = str(params.get("orderType"))
        if order_type not in ("Market", "Limit"):
            raise BybitError(10001, f"params error: orderType {order_type!r}")
        if str(params.get("positionIdx", "0")) != "0":
            raise BybitError(10001, "position idx not match position mode")
        qty = _float(params, "qty")
        if qty is None:
            raise BybitError(10001, "params error: qty is required")
        link = params.get("orderLinkId") or None
        if link is not None and len(str(link)) > 36:
            raise BybitError(10001, "params error: orderLinkId is longer than 36 characters")
        trigger = _float(params, "triggerPrice")
        kind = "market" if order_type == "Market" else "limit"
        if trigger:
            if order_type != "Market":
                raise BybitError(10001, "params error: the fake serves conditional Market only")
            direction = str(params.get("triggerDirection", ""))
            if direction not in ("1", "2"):
                raise BybitError(10001, "params error: triggerDirection must be 1 or 2")
            rising = direction == "1"
            kind = "stop_market" if rising == (side == "buy") else "take_profit_market"
        stop_loss = _float(params, "stopLoss") or None
        take_profit = _float(params, "takeProfit") or None
        order = self.account.place_order(
            symbol=symbol,
            side=side,
            kind=kind,
            qty=qty,
            price=_float(params, "price") if kind == "limit" else None,
            trigger_price=trigger or None,
            reduce_only=_flag(params.get("reduceOnly", False))
            or _flag(params.get("closeOnTrigger", False)),
            client_id=None if link is None else str(link),
            attached_stop=stop_loss,
            attached_take_profit=take_profit,
            now_ms=self.fake.now_ms(),
        )
        return order

    def _find(self, params: Params) -> FakeOrder:
        symbol = params.get("symbol") or None
        order_id = params.get("orderId") or None
        link = params.get("orderLinkId") or None
        if order_id is None and link is None:
            raise BybitError(10001, "params error: orderId or orderLinkId is required")
        return self.account.get_order(
            None if symbol is None else str(symbol),
            None if order_id is None else str(order_id),
            None if link is None else str(link),
        )

    async def order_cancel(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        self._symbol(params)
        order = self._find(params)
        self.account.cancel_order(order.symbol, order.id, now_ms=self.fake.now_ms())
        return self.ok({"orderId": order.id, "orderLinkId": order.client_id or ""})

    async def order_cancel_all(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        symbol = self._symbol(params, required=False)
        wanted = self._filter(params)
        canceled = []
        for order in self.account.open_orders(symbol):
            if wanted(order):
                self.account.cancel_order(order.symbol, order.id, now_ms=self.fake.now_ms())
                canceled.append({"orderId": order.id, "orderLinkId": order.client_id or ""})
        return self.ok({"list": canceled, "success": "1"})

    def _filter(self, params: Params) -> Callable[[FakeOrder], bool]:
        kind = params.get("orderFilter") or None
        if kind is None:
            return lambda order: True
        if kind == "Order":
            return lambda order: not order.is_conditional
        if kind == "StopOrder":
            return lambda order: order.is_conditional
        if kind == "tpslOrder":
            return lambda order: order.stop_kind is not None
        raise BybitError(10001, f"params error: orderFilter {kind!r}")

    def _orders(self, params: Params, pool: list[FakeOrder]) -> list[FakeOrder]:
        symbol = self._symbol(params, required=False)
        order_id = params.get("orderId") or None
        link = params.get("orderLinkId") or None
        wanted = self._filter(params)
        start = _float(params, "startTime")
        end = _float(params, "endTime")
        status = params.get("orderStatus") or None
        found = []
        for order in pool:
            if symbol is not None and order.symbol != symbol:
                continue
            if order_id is not None and order.id != order_id:
                continue
            if link is not None and order.client_id != link:
                continue
            if not wanted(order):
                continue
            if start is not None and order.created_ms < start:
                continue
            if end is not None and order.created_ms > end:
                continue
            if status is not None and shapes.order_status(order) != status:
                continue
            found.append(order)
        return found

    def _order(self, order: FakeOrder) -> dict[str, Any]:
        held = self.account.position(order.symbol) if order.close_position else None
        return shapes.order(order, 0.0 if held is None else held.size)

    async def order_realtime(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        by_id = params.get("orderId") or params.get("orderLinkId")
        if by_id:  # a single order is found whatever its status (the last 500 orders)
            pool = self.account.orders()[:500]
        elif str(params.get("openOnly", "0")) == "0":
            pool = self.account.open_orders()
        else:
            pool = [o for o in self.account.orders() if not o.is_open][:500]
        orders = self._orders(params, pool)
        chunk, cursor = _page(orders, params, 20, 50)
        return self.ok(
            {
                "category": "linear",
                "list": [self._order(o) for o in chunk],
                "nextPageCursor": cursor,
            }
        )

    async def order_history(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        pool = [o for o in self.account.orders() if not o.is_open]
        orders = self._orders(params, pool)
        chunk, cursor = _page(orders, params, 20, 50)
        return self.ok(
            {
                "category": "linear",
                "list": [self._order(o) for o in chunk],
                "nextPageCursor": cursor,
            }
        )

    async def executions(self, params: Params) -> web.StreamResponse:
        self._linear(params)
        symbol = self._symbol(params, required=False)
        order_id = params.get("orderId") or None
        link = params.get("orderLinkId") or None
        start = _float(params, "startTime")
        end = _float(params, "endTime")
        fills = [
            f
            for f in reversed(self.account.fills(symbol))
            if (order_id is None or f.order_id == order_id)
            and (link is None or f.client_id == link)
            and (start is None or f.ts_ms >= start)
            and (end is None or f.ts_ms <= end)
        ]
        chunk, cursor = _page(fills, params, 50, 100)
        items = [
            shapes.execution(f, self.account.get_order(order_id=f.order_id), int(f.id))
            for f in chunk
        ]
        return self.ok({"category": "linear", "list": items, "nextPageCursor": cursor})


def mount(app: web.Application, fake: FakeExchange) -> None:
    """Add Bybit's v5 REST routes and public linear websocket to ``app``."""
    venue = BybitVenue(fake)
    public = [
        ("/v5/market/time", venue.market_time),
        ("/v5/market/instruments-info", venue.instruments),
        ("/v5/market/kline", venue.kline),
        ("/v5/market/tickers", venue.tickers),
    ]
    private_get = [
        ("/v5/user/query-api", venue.query_api),
        ("/v5/account/info", venue.account_info),
        ("/v5/asset/coin/query-info", venue.coin_info),
        ("/v5/account/wallet-balance", venue.wallet_balance),
        ("/v5/account/fee-rate", venue.fee_rate),
        ("/v5/position/list", venue.position_list),
        ("/v5/order/realtime", venue.order_realtime),
        ("/v5/order/history", venue.order_history),
        ("/v5/execution/list", venue.executions),
    ]
    private_post = [
        ("/v5/position/set-leverage", venue.set_leverage, False),
        ("/v5/account/set-margin-mode", venue.set_margin_mode, False),
        ("/v5/position/switch-isolated", venue.switch_isolated, False),
        ("/v5/position/switch-mode", venue.switch_mode, False),
        ("/v5/position/trading-stop", venue.trading_stop, True),
        ("/v5/order/create", venue.order_create, True),
        ("/v5/order/create-batch", venue.order_create_batch, True),
        ("/v5/order/cancel", venue.order_cancel, True),
        ("/v5/order/cancel-all", venue.order_cancel_all, True),
    ]
    for path, func in public:
        app.router.add_get(path, venue.endpoint(func, private=False))
    for path, func in private_get:
        app.router.add_get(path, venue.endpoint(func, private=True))
    for path, func, is_order in private_post:
        app.router.add_post(path, venue.endpoint(func, private=True, is_order=is_order))
    stream = BybitPublicStream(fake)
    app.router.add_get("/v5/public/linear", stream.handle)
    fake.on_bar_close(stream.on_bar_close)
