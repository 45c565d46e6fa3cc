"""Binance USDⓈ-M dialect of the fake exchange: REST routes and market streams.

``mount(app, fake)`` adds the ``/fapi/v1|v2|v3`` endpoints the real ccxt
``binanceusdm`` client calls (markets, klines, account, positions, orders,
algo orders, trades, leverage, margin type) and the websocket streams of
:mod:`garrison.fakex.binance_ws`. Requests are read and answered as the venue
does: parameters in the query string or the form body, private endpoints
signed with ``X-MBX-APIKEY`` + an HMAC-SHA256 ``signature`` (checked when the
fake has a secret), errors as ``{"code": -XXXX, "msg": ...}`` with the HTTP
status Binance uses. Conditional orders (STOP_MARKET, TAKE_PROFIT_MARKET)
live only on the algo-order endpoints, as they do since Binance moved them
there; a triggered one becomes a market order with its own order id.

The account, tape and faults belong to the core (:mod:`garrison.fakex.server`);
this module only translates. Faults are rendered the Binance way: a lost reply
holds the request past the client's timeout, a 5xx after booking is a gateway
error page (502) or the venue's own 503 ``-1007`` "execution status unknown",
a rate limit is HTTP 429 ``-1003`` and, while the client keeps calling, 418.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from garrison_api import Market

from garrison.fakex import binance_json as shape
from garrison.fakex.account import FakeError, FakeOrder
from garrison.fakex.binance_ws import KlineStreams
from garrison.fakex.server import FakeExchange
from garrison.fakex.tape import TapeError
from garrison.profile.timeframes import TIMEFRAMES, timeframe_ms

Params = dict[str, str]
Handler = Callable[[web.Request, Params], Awaitable[web.StreamResponse]]

#: Default and largest ``limit`` of ``GET /fapi/v1/klines``.
KLINES_LIMIT = (500, 1500)
#: Default and largest ``limit`` of order and trade lists.
LIST_LIMIT = (500, 1000)
#: Orders per ``/fapi/v1/batchOrders`` request (Binance USDⓈ-M docs).
BATCH_LIMIT = 5
_WEEK_MS = 7 * 86_400_000
_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
_ORDER_ID = re.compile(r"^[0-9]{1,20}$")
_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_FAKE_ERRORS: dict[str, tuple[int, int, str]] = {
    "duplicate_client_id": (400, -4116, "ClientOrderId is duplicated."),
    "insufficient_margin": (400, -2019, "Margin is insufficient."),
    "reduce_only_rejected": (400, -2022, "ReduceOnly Order is rejected."),
    "invalid_qty": (400, -1111, "Precision is over the maximum defined for this asset."),
    "invalid_price": (400, -4014, "Price not increased by tick size."),
    "unknown_symbol": (400, -1121, "Invalid symbol."),
    "order_not_found": (400, -2013, "Order does not exist."),
    "stop_rejected": (400, -4045, "Reach max stop order limit."),
    "would_trigger_immediately": (400, -2021, "Order would immediately trigger."),
    "rate_limited": (
        429,
        -1003,
        "Too many requests; current limit is 2400 requests per minute. Please use the "
        "websocket for live updates to avoid polling the API.",
    ),
    "invalid_leverage": (400, -4028, "Leverage is not valid"),
}


class BinanceError(Exception):
    """A request refused the venue's way: HTTP ``status``, Binance ``code`` and ``msg``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.status = status
        self.code = code
        self.msg = msg


def _bad(code: int, msg: str) -> BinanceError:
    return BinanceError(400, code, msg)


def _mandatory(name: str) -> BinanceError:
    return _bad(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def error_response(status: int, code: int, msg: str) -> web.Response:
    """A Binance error body with its HTTP status."""
    return web.json_response({"code": code, "msg": msg}, status=status)


#: The app's Binance dialect (tests tune its streams: ``fake.app[DIALECT].streams``).
DIALECT: web.AppKey[BinanceDialect] = web.AppKey("binance_dialect")


def mount(app: web.Application, fake: FakeExchange) -> None:
    """Add the Binance USDⓈ-M REST routes and websocket streams for ``fake`` to ``app``."""
    dialect = BinanceDialect(fake)
    dialect.mount(app)
    app[DIALECT] = dialect


class BinanceDialect:
    """Translates Binance requests into the fake account's and tape's terms."""

    def __init__(self, fake: FakeExchange) -> None:
        self.fake = fake
        self.streams = KlineStreams(fake)
        self._formats: dict[str, shape.Formats] = {}
        self._onboard_ms = 1_569_398_400_000

    def mount(self, app: web.Application) -> None:
        """Add every route to ``app``."""
        public: dict[str, Handler] = {
            "/fapi/v1/ping": self.ping,
            "/fapi/v1/time": self.time,
            "/fapi/v1/exchangeInfo": self.exchange_info,
            "/fapi/v1/klines": self.klines,
        }
        for path, handler in public.items():
            app.router.add_get(path, self._wrap(handler, private=False))
        private: list[tuple[str, str, Handler, bool]] = [
            ("GET", "/fapi/v1/leverageBracket", self.leverage_bracket, False),
            ("GET", "/fapi/v2/balance", self.balance, False),
            ("GET", "/fapi/v3/balance", self.balance, False),
            ("GET", "/fapi/v2/account", self.account_v2, False),
            ("GET", "/fapi/v3/account", self.account_v3, False),
            ("GET", "/fapi/v2/positionRisk", self.position_risk_v2, False),
            ("GET", "/fapi/v3/positionRisk", self.position_risk_v3, False),
            ("GET", "/fapi/v1/positionSide/dual", self.position_mode, False),
            ("POST", "/fapi/v1/positionSide/dual", self.set_position_mode, False),
            ("GET", "/fapi/v1/commissionRate", self.commission_rate, False),
            ("POST", "/fapi/v1/leverage", self.set_leverage, False),
            ("POST", "/fapi/v1/marginType", self.set_margin_type, False),
            ("POST", "/fapi/v1/order", self.create_order, True),
            ("POST", "/fapi/v1/batchOrders", self.create_batch, True),
            ("GET", "/fapi/v1/order", self.query_order, False),
            ("DELETE", "/fapi/v1/order", self.cancel_order, True),
            ("GET", "/fapi/v1/openOrder", self.query_open_order, False),
            ("GET", "/fapi/v1/openOrders", self.open_orders, False),
            ("GET", "/fapi/v1/allOrders", self.all_orders, False),
            ("DELETE", "/fapi/v1/allOpenOrders", self.cancel_all, True),
            ("POST", "/fapi/v1/algoOrder", self.create_algo, True),
            ("GET", "/fapi/v1/algoOrder", self.query_algo, False),
            ("DELETE", "/fapi/v1/algoOrder", self.cancel_algo, True),
            ("GET", "/fapi/v1/openAlgoOrders", self.open_algos, False),
            ("GET", "/fapi/v1/allAlgoOrders", self.all_algos, False),
            ("DELETE", "/fapi/v1/algoOpenOrders", self.cancel_all_algos, True),
            ("GET", "/fapi/v1/userTrades", self.user_trades, False),
        ]
        for method, path, handler, trading in private:
            app.router.add_route(method, path, self._wrap(handler, private=True, trading=trading))
        self.streams.mount(app)

    # -- plumbing ---------------------------------------------------------------------

    def server_ms(self) -> int:
        """The venue's clock (what ``/fapi/v1/time`` says and signatures are checked against)."""
        return self.fake.server_time_ms()

    def _wrap(self, handler: Handler, *, private: bool, trading: bool = False) -> Any:
        async def route(request: web.Request) -> web.StreamResponse:
            limited = self._rate_limited(trading)
            if limited is not None:
                return limited
            try:
                params = await self._params(request, private)
                return await handler(request, params)
            except BinanceError as exc:
                return error_response(exc.status, exc.code, exc.msg)
            except FakeError as exc:
                return self._fake_error(exc)

        return route

    def _rate_limited(self, trading: bool) -> web.Response | None:
        streak = self.fake.rate_limited(trading)
        if streak == 0:
            return None
        if streak == 1:
            return web.json_response(
                {"code": -1003, "msg": _FAKE_ERRORS["rate_limited"][2]},
                status=429,
                headers={"Retry-After": "60"},
            )
        # A client that keeps calling through 429s gets its IP banned: 418.
        self.fake.faults.note("rate_limit_418")
        until = self.server_ms() + 120_000
        msg = (
            f"Way too many requests; IP(127.0.0.1) banned until {until}. "
            "Please use the websocket for live updates to avoid bans."
        )
        return web.json_response(
            {"code": -1003, "msg": msg}, status=418, headers={"Retry-After": "120"}
        )

    async def _params(self, request: web.Request, private: bool) -> Params:
        raw_query = request.rel_url.raw_query_string
        raw_body = await request.text() if request.can_read_body else ""
        params: Params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(parse_qsl(raw_body, keep_blank_values=True))
        if private:
            self._authenticate(request, params, raw_query, raw_body)
        return params

    def _authenticate(
        self, request: web.Request, params: Params, raw_query: str, raw_body: str
    ) -> None:
        fake = self.fake
        key = request.headers.get("X-MBX-APIKEY")
        if not key:
            raise BinanceError(401, -2014, "API-key format invalid.")
        if not fake.key_ok(key):
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        if "timestamp" not in params or not params["timestamp"].isdigit():
            raise _mandatory("timestamp")
        signature = params.get("signature")
        if not signature:
            raise _mandatory("signature")
        # The venue signs "query string + body" exactly as sent, minus the signature itself.
        if not fake.signature_ok(_unsigned(raw_query) + _unsigned(raw_body), signature):
            raise _bad(-1022, "Signature for this request is not valid.")
        if not fake.checks_signatures:
            return
        stamp = int(params["timestamp"])
        window = _int_param(params, "recvWindow", 5000)
        if window > 60_000:
            raise _bad(-1131, "recvWindow must be less than 60000")
        now = self.server_ms()
        if stamp > now + 1000:
            raise _bad(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if now - stamp > window:
            raise _bad(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _fake_error(self, exc: FakeError) -> web.Response:
        status, code, msg = _FAKE_ERRORS.get(exc.code, (400, -1000, exc.message))
        return error_response(status, code, msg)

    def _market(self, params: Params, required: bool = True) -> Market | None:
        symbol = params.get("symbol")
        if not symbol:
            if required:
                raise _mandatory("symbol")
            return None
        if not self.fake.tape.has(symbol):
            raise _bad(-1121, "Invalid symbol.")
        return self.fake.tape.instrument(symbol)

    def _need_market(self, params: Params) -> Market:
        market = self._market(params)
        assert market is not None
        return market

    def _fmt(self, symbol: str) -> shape.Formats:
        fmt = self._formats.get(symbol)
        if fmt is None:
            fmt = self._formats[symbol] = shape.Formats(self.fake.tape.instrument(symbol))
        return fmt

    async def _after_booking(self, order: FakeOrder, orders: int = 1) -> web.Response | None:
        """The faults that strike once ``order`` (and ``orders - 1`` beside it) is booked:
        a lost reply, a 5xx."""
        failed = await self.fake.fault_after_booking(order.is_conditional, orders)
        if failed is not None and failed.status == 503:
            # The venue's own 503: "execution status unknown" (the order may well exist).
            return error_response(
                503,
                -1007,
                "Timeout waiting for response from backend server. Send status unknown; "
                "execution status unknown.",
            )
        return failed

    # -- public ---------------------------------------------------------------------------

    async def ping(self, request: web.Request, params: Params) -> web.Response:
        return web.json_response({})

    async def time(self, request: web.Request, params: Params) -> web.Response:
        return web.json_response({"serverTime": self.server_ms()})

    async def exchange_info(self, request: web.Request, params: Params) -> web.Response:
        tape = self.fake.tape
        markets = [tape.instrument(s) for s in tape.symbols()]
        return web.json_response(shape.exchange_info(markets, self.server_ms(), self._onboard_ms))

    async def klines(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        interval = params.get("interval")
        if not interval:
            raise _mandatory("interval")
        if interval not in TIMEFRAMES:
            raise _bad(-1120, "Invalid interval.")
        limit = _int_param(params, "limit", KLINES_LIMIT[0])
        if not 1 <= limit <= KLINES_LIMIT[1]:
            raise _bad(-1130, "Data sent for parameter 'limit' is not valid.")
        start = _opt_int(params, "startTime")
        end = _opt_int(params, "endTime")
        if start is not None and end is not None and start > end:
            raise _bad(-1023, "Start time is greater than end time.")
        try:
            bars = self.fake.tape.klines(market.symbol, interval, start, end, limit)
        except TapeError:
            bars = []  # a timeframe the tape does not hold: the venue would have it; we do not
        tf_ms = timeframe_ms(interval)
        fmt = self._fmt(market.symbol)
        return web.json_response([shape.kline_row(bar, tf_ms, fmt) for bar in bars])

    # -- account --------------------------------------------------------------------------

    async def leverage_bracket(self, request: web.Request, params: Params) -> web.Response:
        market = self._market(params, required=False)
        tape = self.fake.tape
        if market is not None:
            return web.json_response([shape.leverage_bracket(market)])
        rows = [shape.leverage_bracket(tape.instrument(s)) for s in tape.symbols()]
        return web.json_response(rows)

    def _asset(self) -> dict[str, Any]:
        account = self.fake.account
        wallet, available, unrealised = account.balance()
        return shape.balances(
            wallet, available, unrealised, account.initial_margin(), self.fake.tape.now_ms()
        )

    async def balance(self, request: web.Request, params: Params) -> web.Response:
        return web.json_response([shape.balance_row(self._asset())])

    async def account_v3(self, request: web.Request, params: Params) -> web.Response:
        asset = self._asset()
        positions = [
            _account_position(shape.position_v3(p, self._fmt(p.symbol)))
            for p in self.fake.account.positions()
        ]
        return web.json_response(
            {**shape.account_totals(asset), "assets": [asset], "positions": positions}
        )

    async def account_v2(self, request: web.Request, params: Params) -> web.Response:
        asset = self._asset()
        body = {
            "feeTier": 0,
            "feeBurn": False,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
            **shape.account_totals(asset),
            "assets": [asset],
            "positions": [self._v2_row(s, account_row=True) for s in self.fake.tape.symbols()],
        }
        return web.json_response(body)

    def _v2_row(self, symbol: str, account_row: bool = False) -> dict[str, Any]:
        account = self.fake.account
        fmt = self._fmt(symbol)
        max_notional = "1000000000"
        position = account.position(symbol)
        if position is not None:
            row = shape.position_v2(position, fmt, max_notional)
        else:
            mark = fmt.price(self.fake.tape.price(symbol))
            row = shape.flat_position_v2(
                symbol, account.leverage(symbol), account.margin_mode(symbol), mark, max_notional
            )
        if account_row:
            row = _account_position(row)
            row["leverage"] = shape.num(account.leverage(symbol))
        return row

    async def position_risk_v2(self, request: web.Request, params: Params) -> web.Response:
        market = self._market(params, required=False)
        symbols = [market.symbol] if market is not None else self.fake.tape.symbols()
        return web.json_response([self._v2_row(s) for s in symbols])

    async def position_risk_v3(self, request: web.Request, params: Params) -> web.Response:
        market = self._market(params, required=False)
        positions = self.fake.account.positions()
        if market is not None:
            positions = [p for p in positions if p.symbol == market.symbol]
        rows = [shape.position_v3(p, self._fmt(p.symbol)) for p in positions]
        return web.json_response(rows)

    async def position_mode(self, request: web.Request, params: Params) -> web.Response:
        return web.json_response({"dualSidePosition": False})

    async def set_position_mode(self, request: web.Request, params: Params) -> web.Response:
        if params.get("dualSidePosition", "").lower() == "false":
            raise _bad(-4059, "No need to change position side.")
        raise _bad(-4061, "The fake exchange keeps one-way positions only.")

    async def commission_rate(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        fees = self.fake.account.fees
        return web.json_response(
            {
                "symbol": market.symbol,
                "makerCommissionRate": shape.num(fees.maker),
                "takerCommissionRate": shape.num(fees.taker),
            }
        )

    async def set_leverage(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        raw = params.get("leverage")
        if not raw:
            raise _mandatory("leverage")
        if not raw.isdigit():
            raise _bad(-1100, "Illegal characters found in parameter 'leverage'.")
        leverage = int(raw)
        top = int(market.max_leverage) if market.max_leverage else 125
        if not 1 <= leverage <= top:
            raise _bad(-4028, f"Leverage {leverage} is not valid")
        self.fake.account.set_leverage(market.symbol, float(leverage))
        return web.json_response(
            {"leverage": leverage, "maxNotionalValue": "1000000000", "symbol": market.symbol}
        )

    async def set_margin_type(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        wanted = {"ISOLATED": "isolated", "CROSSED": "cross"}.get(params.get("marginType", ""))
        if wanted is None:
            raise _mandatory("marginType")
        account = self.fake.account
        if account.margin_mode(market.symbol) == wanted:
            raise _bad(-4046, "No need to change margin type.")
        if account.position(market.symbol) is not None:
            raise _bad(-4048, "Margin type cannot be changed if there exists position.")
        if account.open_orders(market.symbol):
            raise _bad(-4047, "Margin type cannot be changed if there exists open orders.")
        account.set_margin_mode(market.symbol, wanted)
        return web.json_response({"code": 200, "msg": "success"})

    # -- orders ---------------------------------------------------------------------------

    def _order_request(self, params: Params, market: Market, algo: bool) -> dict[str, Any]:
        """Validate a new order the venue's way; the account's keyword arguments."""
        side = params.get("side")
        if not side:
            raise _mandatory("side")
        if side not in ("BUY", "SELL"):
            raise _bad(-1117, "Invalid side.")
        order_type = params.get("type")
        if not order_type:
            raise _mandatory("type")
        conditional = order_type in ("STOP_MARKET", "TAKE_PROFIT_MARKET")
        if order_type not in shape.TYPE_TO_KIND:
            raise _bad(-1116, "Invalid orderType.")
        if conditional and not algo:
            raise _bad(
                -4120,
                "Order type not supported for this endpoint. Please use the Algo Order API "
                "endpoints instead.",
            )
        if algo and not conditional:
            raise _bad(-1116, "Invalid orderType.")
        if params.get("positionSide", "BOTH") != "BOTH":
            raise _bad(-4061, "Order's position side does not match user's setting.")
        id_key = "clientAlgoId" if algo else "newClientOrderId"
        client_id = params.get(id_key) or None
        if client_id is not None and not _CLIENT_ID.match(client_id):
            raise _bad(
                -1100,
                f"Illegal characters found in parameter '{id_key}'; legal range is "
                r"'^[\.A-Z\:/a-z0-9_-]{1,36}$'.",
            )
        reduce_only = _bool_param(params, "reduceOnly")
        close_position = _bool_param(params, "closePosition")
        if close_position and not conditional:
            raise _bad(-1106, "Parameter 'closePosition' sent when not required.")
        if close_position and reduce_only:
            raise _bad(-1106, "Parameter 'reduceOnly' sent when not required.")
        qty = 0.0
        if close_position:
            if "quantity" in params:
                raise _bad(-1106, "Parameter 'quantity' sent when not required.")
        else:
            qty = self._decimal(params, "quantity", market.lot_step, required=True)
            self._check_qty(market, qty)
        price = None
        if order_type == "LIMIT":
            price = self._decimal(params, "price", market.tick_size, required=True)
            self._check_price(market, price)
            if params.get("timeInForce", "GTC") not in ("GTC", "IOC", "FOK", "GTX", "GTD"):
                raise _bad(-1115, "Invalid timeInForce.")
        trigger = None
        if conditional:
            trigger = self._decimal(params, "triggerPrice", market.tick_size, required=True)
            self._check_price(market, trigger)
            if params.get("algoType") != "CONDITIONAL":
                raise _mandatory("algoType")
        if not (reduce_only or close_position) and order_type == "MARKET":
            notional = qty * self.fake.tape.price(market.symbol)
            if notional < market.min_notional:
                raise _bad(
                    -4164,
                    f"Order's notional must be no smaller than {shape.num(market.min_notional)} "
                    "(unless you choose reduce only).",
                )
        return {
            "symbol": market.symbol,
            "side": side.lower(),
            "kind": shape.TYPE_TO_KIND[order_type],
            "qty": qty,
            "price": price,
            "trigger_price": trigger,
            "reduce_only": reduce_only,
            "close_position": close_position,
            "client_id": client_id,
        }

    @staticmethod
    def _decimal(params: Params, name: str, step: float, *, required: bool) -> float:
        raw = params.get(name)
        if raw is None or raw == "":
            if required:
                raise _mandatory(name)
            return 0.0
        if not _DECIMAL.match(raw):
            raise _bad(
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is "
                r"'^([0-9]{1,20})(\.[0-9]{1,20})?$'.",
            )
        _, _, fraction = raw.partition(".")
        if len(fraction.rstrip("0")) > shape.decimals(step):
            raise _bad(-1111, "Precision is over the maximum defined for this asset.")
        return float(raw)

    @staticmethod
    def _check_qty(market: Market, qty: float) -> None:
        if qty <= 0:
            raise _bad(-4003, "Quantity less than or equal to zero.")
        units = qty / market.lot_step
        if abs(units - round(units)) > 1e-9 * max(1.0, units):
            raise _bad(-1111, "Precision is over the maximum defined for this asset.")
        if qty < market.min_qty * (1 - 1e-9):
            raise _bad(-4004, "Quantity less than min quantity.")
        if market.max_qty is not None and qty > market.max_qty * (1 + 1e-9):
            raise _bad(-4005, "Quantity greater than max quantity.")

    @staticmethod
    def _check_price(market: Market, price: float) -> None:
        if price <= 0:
            raise _bad(-4013, "Price less than min price.")
        units = price / market.tick_size
        if abs(units - round(units)) > 1e-9 * max(1.0, units):
            raise _bad(-4014, "Price not increased by tick size.")

    def _place(self, request_args: dict[str, Any]) -> FakeOrder:
        return self.fake.account.place_order(**request_args, now_ms=self.fake.tape.now_ms())

    async def create_order(self, request: web.Request, params: Params) -> web.StreamResponse:
        market = self._need_market(params)
        order = self._place(self._order_request(params, market, algo=False))
        failed = await self._after_booking(order)
        if failed is not None:
            return failed
        fmt = self._fmt(market.symbol)
        if params.get("newOrderRespType", "ACK") == "ACK":
            # ACK: ids and what was asked, before any fill is reported
            body = shape.order_json(order, fmt, query=False)
            body.update(status="NEW", executedQty=fmt.qty(0), cumQty=fmt.qty(0))
            body.update(avgPrice=fmt.price(0), cumQuote=fmt.quote(0))
            return web.json_response(body)
        return web.json_response(shape.order_json(order, fmt, query=False))

    async def create_batch(self, request: web.Request, params: Params) -> web.StreamResponse:
        """``/fapi/v1/batchOrders``: up to 5 orders, each booked or refused on its own.

        The reply is a list, one item per order in order: the order, or the
        ``{code, msg}`` that refused it. Faults after booking strike the
        request as a whole.
        """
        raw = params.get("batchOrders")
        if not raw:
            raise _mandatory("batchOrders")
        try:
            items = json.loads(raw)
        except json.JSONDecodeError:
            raise _bad(-1130, "Data sent for parameter 'batchOrders' is not valid.") from None
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise _bad(-1130, "Data sent for parameter 'batchOrders' is not valid.")
        if len(items) > BATCH_LIMIT:
            raise _bad(
                -1130,
                f"Data sent for parameter 'batchOrders' is not valid: at most "
                f"{BATCH_LIMIT} orders, got {len(items)}.",
            )
        replies: list[dict[str, Any]] = []
        booked: list[FakeOrder] = []
        for item in items:
            fields = {key: _param_text(value) for key, value in item.items()}
            try:
                market = self._need_market(fields)
                order = self._place(self._order_request(fields, market, algo=False))
            except BinanceError as exc:
                replies.append({"code": exc.code, "msg": exc.msg})
                continue
            except FakeError as exc:
                _status, code, msg = _FAKE_ERRORS.get(exc.code, (400, -1000, exc.message))
                replies.append({"code": code, "msg": msg})
                continue
            booked.append(order)
            replies.append(shape.order_json(order, self._fmt(market.symbol), query=False))
        if booked:
            failed = await self._after_booking(booked[0], len(booked))
            if failed is not None:
                return failed
        return web.json_response(replies)

    async def create_algo(self, request: web.Request, params: Params) -> web.StreamResponse:
        market = self._need_market(params)
        order = self._place(self._order_request(params, market, algo=True))
        failed = await self._after_booking(order)
        if failed is not None:
            return failed
        return web.json_response(shape.algo_json(order, self._fmt(market.symbol)))

    def _find_order(self, params: Params, market: Market) -> tuple[FakeOrder, bool]:
        """The matching-engine order named by orderId / origClientOrderId.

        Returns (order, actual): ``actual`` when the id is the market order a
        triggered algo order became.
        """
        raw_id = params.get("orderId")
        client_id = params.get("origClientOrderId")
        account = self.fake.account
        if raw_id:
            if not _ORDER_ID.match(raw_id):
                raise _bad(
                    -1100,
                    "Illegal characters found in parameter 'orderId'; legal range is "
                    "'^[0-9]{1,20}$'.",
                )
            number = int(raw_id)
            actual = number >= shape.ACTUAL_ORDER_OFFSET + 1_000_000_000
            core_id = str(number - shape.ACTUAL_ORDER_OFFSET) if actual else raw_id
            order = account.get_order(market.symbol, order_id=core_id)
            if actual != order.is_conditional or (actual and not shape.has_actual_order(order)):
                raise FakeError("order_not_found", raw_id)
            if client_id and _client_id_of(order, actual) != client_id:
                raise FakeError("order_not_found", client_id)
            return order, actual
        if client_id:
            order = account.get_order(market.symbol, client_id=client_id)
            if order.is_conditional:
                raise FakeError("order_not_found", client_id)
            return order, False
        raise _bad(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )

    def _find_algo(self, params: Params, market: Market | None) -> FakeOrder:
        raw_id = params.get("algoId")
        client_id = params.get("clientAlgoId")
        symbol = None if market is None else market.symbol
        account = self.fake.account
        if raw_id:
            if not _ORDER_ID.match(raw_id):
                raise _bad(
                    -1100,
                    "Illegal characters found in parameter 'algoId'; legal range is "
                    "'^[0-9]{1,20}$'.",
                )
            order = account.get_order(symbol, order_id=raw_id)
        elif client_id:
            order = account.get_order(symbol, client_id=client_id)
        else:
            raise _bad(
                -1102, "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!"
            )
        if not order.is_conditional:
            raise FakeError("order_not_found", raw_id or client_id or "")
        return order

    def _order_view(self, order: FakeOrder, actual: bool) -> dict[str, Any]:
        fmt = self._fmt(order.symbol)
        return shape.actual_order_json(order, fmt) if actual else shape.order_json(order, fmt)

    async def query_order(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        order, actual = self._find_order(params, market)
        return web.json_response(self._order_view(order, actual))

    async def query_open_order(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        order, actual = self._find_order(params, market)
        if actual or not order.is_open:
            raise FakeError("order_not_found", order.id)
        return web.json_response(self._order_view(order, False))

    async def cancel_order(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        try:
            order, actual = self._find_order(params, market)
            if actual or not order.is_open:
                raise FakeError("order_not_found", order.id)
            self.fake.account.cancel_order(market.symbol, order_id=order.id, now_ms=self._now())
        except FakeError as exc:
            if exc.code == "order_not_found":
                raise _bad(-2011, "Unknown order sent.") from None
            raise
        return web.json_response(shape.order_json(order, self._fmt(order.symbol), query=False))

    def _now(self) -> int:
        return self.fake.tape.now_ms()

    def _engine_orders(self, symbol: str | None) -> list[tuple[FakeOrder, bool]]:
        """Matching-engine orders oldest first: plain ones, and triggered algos' market orders."""
        rows = []
        for order in reversed(self.fake.account.orders(symbol)):
            if not order.is_conditional:
                rows.append((order, False))
            elif shape.has_actual_order(order):
                rows.append((order, True))
        return rows

    async def open_orders(self, request: web.Request, params: Params) -> web.Response:
        market = self._market(params, required=False)
        symbol = None if market is None else market.symbol
        orders = [o for o in self.fake.account.open_orders(symbol) if not o.is_conditional]
        rows = [shape.order_json(o, self._fmt(o.symbol)) for o in reversed(orders)]
        return web.json_response(rows)

    async def all_orders(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        rows = self._engine_orders(market.symbol)
        from_id = _opt_int(params, "orderId")
        start = _opt_int(params, "startTime")
        end = _opt_int(params, "endTime")
        limit = _list_limit(params)
        views = [self._order_view(order, actual) for order, actual in rows]
        if from_id is not None:
            views = [v for v in views if v["orderId"] >= from_id]
            return web.json_response(views[:limit])
        views = [
            v
            for v in views
            if (start is None or v["time"] >= start) and (end is None or v["time"] <= end)
        ]
        return web.json_response(views[:limit] if start is not None else views[-limit:])

    async def cancel_all(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        account = self.fake.account
        now = self._now()
        for order in account.open_orders(market.symbol):
            if not order.is_conditional:
                account.cancel_order(market.symbol, order_id=order.id, now_ms=now)
        return web.json_response(
            {"code": 200, "msg": "The operation of cancel all open order is done."}
        )

    async def query_algo(self, request: web.Request, params: Params) -> web.Response:
        market = self._market(params, required=False)
        order = self._find_algo(params, market)
        return web.json_response(shape.algo_json(order, self._fmt(order.symbol)))

    async def cancel_algo(self, request: web.Request, params: Params) -> web.Response:
        market = self._market(params, required=False)
        try:
            order = self._find_algo(params, market)
            if not order.is_open or order.status == "triggered":
                raise FakeError("order_not_found", order.id)
            self.fake.account.cancel_order(order.symbol, order_id=order.id, now_ms=self._now())
        except FakeError as exc:
            if exc.code == "order_not_found":
                raise _bad(-2011, "Unknown order sent.") from None
            raise
        return web.json_response(
            {
                "algoId": int(order.id),
                "clientAlgoId": order.client_id or f"fake-{order.id}",
                "code": "200",
                "msg": "success",
            }
        )

    async def open_algos(self, request: web.Request, params: Params) -> web.Response:
        market = self._market(params, required=False)
        symbol = None if market is None else market.symbol
        orders = [o for o in self.fake.account.open_orders(symbol) if o.is_conditional]
        rows = [shape.algo_json(o, self._fmt(o.symbol)) for o in reversed(orders)]
        return web.json_response(rows)

    async def all_algos(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        orders = [o for o in reversed(self.fake.account.orders(market.symbol)) if o.is_conditional]
        start = _opt_int(params, "startTime")
        end = _opt_int(params, "endTime")
        from_id = _opt_int(params, "algoId")
        limit = _list_limit(params)
        rows = [
            shape.algo_json(o, self._fmt(o.symbol))
            for o in orders
            if (start is None or o.created_ms >= start)
            and (end is None or o.created_ms <= end)
            and (from_id is None or int(o.id) >= from_id)
        ]
        return web.json_response(rows[:limit] if start is not None or from_id else rows[-limit:])

    async def cancel_all_algos(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        account = self.fake.account
        now = self._now()
        for order in account.open_orders(market.symbol):
            if order.is_conditional and order.status != "triggered":
                account.cancel_order(market.symbol, order_id=order.id, now_ms=now)
        return web.json_response(
            {"code": 200, "msg": "The operation of cancel all open order is done."}
        )

    async def user_trades(self, request: web.Request, params: Params) -> web.Response:
        market = self._need_market(params)
        start = _opt_int(params, "startTime")
        end = _opt_int(params, "endTime")
        from_id = _opt_int(params, "fromId")
        limit = _list_limit(params)
        if from_id is not None and (start is not None or end is not None):
            raise _bad(-4133, "fromId cannot be sent with startTime or endTime.")
        if start is not None and end is not None and end - start > _WEEK_MS:
            raise _bad(
                -4136, "The time between startTime and endTime cannot be longer than 7 days."
            )
        account = self.fake.account
        fills = account.fills(market.symbol)
        if from_id is not None:
            fills = [f for f in fills if int(f.id) >= from_id][:limit]
        else:
            # without a window the venue gives the last 7 days (of the market's clock here)
            if start is None and end is None:
                start = self._now() - _WEEK_MS
            elif start is None:
                assert end is not None
                start = end - _WEEK_MS
            elif end is None:
                end = start + _WEEK_MS
            fills = [f for f in fills if f.ts_ms >= start and (end is None or f.ts_ms <= end)]
            fills = fills[-limit:]
        fmt = self._fmt(market.symbol)
        rows = []
        for fill in fills:
            order = account.get_order(order_id=fill.order_id)
            order_id = shape.actual_order_id(order) if order.is_conditional else int(order.id)
            rows.append(shape.trade_json(fill, order_id, fmt))
        return web.json_response(rows)


def _client_id_of(order: FakeOrder, actual: bool) -> str:
    if actual:
        return f"algo-{order.id}"
    return order.client_id or f"fake-{order.id}"


def _account_position(row: dict[str, Any]) -> dict[str, Any]:
    """A position row as the account endpoints give it (``unrealizedProfit`` spelled so)."""
    out = dict(row)
    out["unrealizedProfit"] = out.pop("unRealizedProfit")
    for key in ("markPrice", "liquidationPrice", "breakEvenPrice", "marginAsset", "adl"):
        out.pop(key, None)
    return out


def _unsigned(raw: str) -> str:
    """``raw`` (a query string or form body) without its ``signature`` parameter."""
    if not raw:
        return ""
    return "&".join(part for part in raw.split("&") if not part.startswith("signature="))


def _int_param(params: Params, name: str, default: int) -> int:
    value = _opt_int(params, name)
    return default if value is None else value


def _opt_int(params: Params, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise _bad(-1100, f"Illegal characters found in parameter '{name}'.") from None


def _list_limit(params: Params) -> int:
    limit = _int_param(params, "limit", LIST_LIMIT[0])
    if not 1 <= limit <= LIST_LIMIT[1]:
        raise _bad(-1130, "Data sent for parameter 'limit' is not valid.")
    return limit


def _param_text(value: Any) -> str:
    """A batch item's value as the venue reads a form field (JSON true -> "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bool_param(params: Params, name: str) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return False
    lowered = raw.lower()
    if lowered not in ("true", "false"):
        raise _bad(-1100, f"Illegal characters found in parameter '{name}'.")
    return lowered == "true"
