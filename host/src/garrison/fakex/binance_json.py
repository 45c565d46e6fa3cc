"""Binance USDⓈ-M payload shapes for the fake exchange: markets, klines, orders, positions.

Pure functions from the fake's state (``garrison_api.Market``, the account's
orders, fills and positions) to the JSON the real venue sends, field for
field as in ``../shared/data/fixtures/binance`` and ccxt's parsers: numbers
are decimal strings, ids are integers, times are UTC milliseconds. The
routes live in :mod:`garrison.fakex.binance`; nothing here does I/O.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from garrison_api import Market

from garrison.fakex.account import FakeFill, FakeOrder, FakePosition

#: Order types every fake symbol lists (ccxt refuses a type missing from ``orderTypes``).
ORDER_TYPES = (
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
)

#: The fake's core order kinds as Binance order types.
KIND_TO_TYPE = {
    "market": "MARKET",
    "limit": "LIMIT",
    "stop_market": "STOP_MARKET",
    "take_profit_market": "TAKE_PROFIT_MARKET",
}
TYPE_TO_KIND = {v: k for k, v in KIND_TO_TYPE.items()}

#: Statuses of regular orders (GET /fapi/v1/order).
ORDER_STATUS = {
    "new": "NEW",
    "untriggered": "NEW",
    "partially_filled": "PARTIALLY_FILLED",
    "filled": "FILLED",
    "triggered": "FILLED",
    "canceled": "CANCELED",
    "rejected": "REJECTED",
}
#: Statuses of algo (conditional) orders (GET /fapi/v1/algoOrder): a triggered stop
#: becomes a market order; FINISHED once that order is done.
ALGO_STATUS = {
    "new": "NEW",
    "untriggered": "NEW",
    "triggered": "TRIGGERED",
    "partially_filled": "TRIGGERED",
    "filled": "FINISHED",
    "canceled": "CANCELED",
    "rejected": "REJECTED",
}


def decimals(step: float) -> int:
    """Number of decimals of a tick or lot step (0.10 -> 1, 0.001 -> 3, 1 -> 0)."""
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def num(value: float | None, places: int | None = None) -> str:
    """A number as Binance writes it: a plain decimal string, never an exponent."""
    if value is None:
        return "0"
    if places is not None:
        return f"{value:.{places}f}"
    text = format(Decimal(repr(float(value))), "f")
    return text[:-2] if text.endswith(".0") else text


class Formats:
    """Price and quantity formatting of one symbol (decimals of its tick and lot step)."""

    def __init__(self, market: Market) -> None:
        self.price_places = decimals(market.tick_size)
        self.qty_places = decimals(market.lot_step)

    def price(self, value: float | None) -> str:
        return num(value or 0.0, self.price_places)

    def qty(self, value: float | None) -> str:
        return num(value or 0.0, self.qty_places)

    def quote(self, value: float | None) -> str:
        return num(value or 0.0, 8)


def symbol_info(market: Market, onboard_ms: int) -> dict[str, Any]:
    """One entry of ``exchangeInfo.symbols`` for a USDT-margined perpetual."""
    symbol = market.symbol
    base = symbol[:-4] if symbol.endswith("USDT") else symbol
    fmt = Formats(market)
    max_qty = market.max_qty if market.max_qty is not None else 1_000_000.0
    return {
        "symbol": symbol,
        "pair": symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": onboard_ms,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": fmt.price_places,
        "quantityPrecision": fmt.qty_places,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt.price(market.tick_size),
                "maxPrice": fmt.price(10_000_000.0),
                "tickSize": fmt.price(market.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "stepSize": fmt.qty(market.lot_step),
                "minQty": fmt.qty(market.min_qty),
                "maxQty": fmt.qty(max_qty),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "stepSize": fmt.qty(market.lot_step),
                "minQty": fmt.qty(market.min_qty),
                "maxQty": fmt.qty(max_qty),
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": num(market.min_notional)},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": list(ORDER_TYPES),
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


def exchange_info(markets: list[Market], server_ms: int, onboard_ms: int) -> dict[str, Any]:
    """``GET /fapi/v1/exchangeInfo``."""
    return {
        "timezone": "UTC",
        "serverTime": server_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 2400,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [symbol_info(m, onboard_ms) for m in markets],
    }


Bar = tuple[int, float, float, float, float, float]


def kline_row(bar: Bar, tf_ms: int, fmt: Formats) -> list[Any]:
    """One row of ``GET /fapi/v1/klines``."""
    ts, o, h, low, c, v = bar
    quote = v * (o + c) / 2.0
    return [
        ts,
        fmt.price(o),
        fmt.price(h),
        fmt.price(low),
        fmt.price(c),
        fmt.qty(v),
        ts + tf_ms - 1,
        fmt.quote(quote),
        _trades(v),
        fmt.qty(v / 2.0),
        fmt.quote(quote / 2.0),
        "0",
    ]


def _trades(volume: float) -> int:
    # Any plausible count: nothing reads it, but a real candle with volume has trades.
    return 0 if volume <= 0 else max(1, int(volume) % 100_000 + 1)


_KLINE = (
    '{"e":"kline","E":%d,"s":"%s","k":{"t":%d,"T":%d,"s":"%s","i":"%s","f":%d,"L":%d,'
    '"o":"%s","c":"%s","h":"%s","l":"%s","v":"%s","n":%d,"x":%s,"q":"%s","V":"%s","Q":"%s",'
    '"B":"0"}}'
)


def kline_message(
    symbol: str, interval: str, bar: Bar, tf_ms: int, closed: bool, event_ms: int, fmt: Formats
) -> str:
    """A ``<symbol>@kline_<interval>`` stream event as JSON text (``"x": true`` once closed).

    Written from a template rather than ``json.dumps``: a bar close of 541
    symbols builds over a thousand of these at once.
    """
    ts, o, h, low, c, v = bar
    quote = v * (o + c) / 2.0
    trades = _trades(v)
    first = -1 if v <= 0 else ts // 1000
    price = fmt.price
    return _KLINE % (
        event_ms,
        symbol,
        ts,
        ts + tf_ms - 1,
        symbol,
        interval,
        first,
        -1 if v <= 0 else first + trades - 1,
        price(o),
        price(c),
        price(h),
        price(low),
        fmt.qty(v),
        trades,
        "true" if closed else "false",
        fmt.quote(quote),
        fmt.qty(v / 2.0),
        fmt.quote(quote / 2.0),
    )


# -- orders ---------------------------------------------------------------------------

#: Offset between an algo order's id and the id of the market order it becomes when it
#: triggers (the venue numbers algo orders and matching-engine orders separately).
ACTUAL_ORDER_OFFSET = 3_000_000_000


def order_status(order: FakeOrder) -> str:
    """Status of a matching-engine order."""
    if order.status == "canceled" and order.cancel_reason in ("position_closed", "expired"):
        return "EXPIRED"
    return ORDER_STATUS.get(order.status, order.status.upper())


def algo_status(order: FakeOrder) -> str:
    """Status of an algo (conditional) order."""
    if order.status == "canceled" and order.cancel_reason in (
        "position_closed",
        "nothing_to_reduce",
    ):
        return "EXPIRED"
    return ALGO_STATUS.get(order.status, order.status.upper())


def order_json(order: FakeOrder, fmt: Formats, *, query: bool = True) -> dict[str, Any]:
    """A matching-engine order (``/fapi/v1/order``; ``query=False``: the create reply)."""
    kind_type = KIND_TO_TYPE[order.kind]
    avg = order.avg_price if order.filled_qty > 0 else None
    body: dict[str, Any] = {
        "orderId": int(order.id),
        "symbol": order.symbol,
        "status": order_status(order),
        "clientOrderId": order.client_id or f"fake-{order.id}",
        "price": fmt.price(order.price),
        "avgPrice": fmt.price(avg),
        "origQty": fmt.qty(order.qty),
        "executedQty": fmt.qty(order.filled_qty),
        "cumQuote": fmt.quote((avg or 0.0) * order.filled_qty),
        "timeInForce": "GTC",
        "type": kind_type,
        "reduceOnly": order.reduce_only,
        "closePosition": order.close_position,
        "side": order.side.upper(),
        "positionSide": "BOTH",
        "stopPrice": fmt.price(order.trigger_price),
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": kind_type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "updateTime": order.updated_ms,
    }
    if query:
        body["time"] = order.created_ms
    else:
        body["cumQty"] = body["executedQty"]
    return body


def actual_order_json(algo: FakeOrder, fmt: Formats) -> dict[str, Any]:
    """The market order a triggered conditional became (its fill lives here)."""
    body = order_json(algo, fmt)
    body.update(
        orderId=actual_order_id(algo),
        clientOrderId=f"algo-{algo.id}",
        status="FILLED" if algo.filled_qty > 0 else "EXPIRED",
        price="0",
        type="MARKET",
        origType=KIND_TO_TYPE[algo.kind],
        origQty=fmt.qty(algo.filled_qty if algo.close_position else algo.qty),
        time=algo.updated_ms,
    )
    return body


def actual_order_id(algo: FakeOrder) -> int:
    return int(algo.id) + ACTUAL_ORDER_OFFSET


def has_actual_order(order: FakeOrder) -> bool:
    """Did this conditional trigger into a market order (filled, or refused at the engine)?"""
    return order.is_conditional and order.status in ("triggered", "filled", "partially_filled")


def algo_json(order: FakeOrder, fmt: Formats) -> dict[str, Any]:
    """An algo order (``/fapi/v1/algoOrder``, ``openAlgoOrders``, ``allAlgoOrders``)."""
    triggered = has_actual_order(order)
    return {
        "algoId": int(order.id),
        "clientAlgoId": order.client_id or f"fake-{order.id}",
        "algoType": "CONDITIONAL",
        "orderType": KIND_TO_TYPE[order.kind],
        "symbol": order.symbol,
        "side": order.side.upper(),
        "positionSide": "BOTH",
        "timeInForce": "GTC",
        "quantity": fmt.qty(order.qty),
        "algoStatus": algo_status(order),
        "actualOrderId": str(actual_order_id(order)) if triggered else "",
        "actualPrice": fmt.price(order.avg_price) if order.filled_qty > 0 else "0",
        "triggerPrice": fmt.price(order.trigger_price),
        "price": fmt.price(order.price),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": "CONTRACT_PRICE",
        "priceMatch": "NONE",
        "closePosition": order.close_position,
        "priceProtect": False,
        "reduceOnly": order.reduce_only,
        "activatePrice": "",
        "callbackRate": "",
        "createTime": order.created_ms,
        "updateTime": order.updated_ms,
        "triggerTime": order.updated_ms if triggered else 0,
        "goodTillDate": 0,
    }


def trade_json(fill: FakeFill, order_id: int, fmt: Formats) -> dict[str, Any]:
    """One row of ``GET /fapi/v1/userTrades``."""
    buyer = fill.side == "buy"
    return {
        "symbol": fill.symbol,
        "id": int(fill.id),
        "orderId": order_id,
        "side": fill.side.upper(),
        "price": fmt.price(fill.price),
        "qty": fmt.qty(fill.qty),
        "realizedPnl": num(round(fill.realized_pnl, 8)),
        "marginAsset": "USDT",
        "quoteQty": fmt.quote(fill.qty * fill.price),
        "commission": fmt.quote(fill.fee),
        "commissionAsset": "USDT",
        "time": fill.ts_ms,
        "positionSide": "BOTH",
        "buyer": buyer,
        "maker": fill.maker,
    }


# -- positions and balances --------------------------------------------------------------


def _signed(position: FakePosition) -> float:
    return position.size if position.side == "long" else -position.size


def position_v3(position: FakePosition, fmt: Formats, maint_ratio: float = 0.004) -> dict[str, Any]:
    """One row of ``GET /fapi/v3/positionRisk`` (and ``/fapi/v3/account`` positions)."""
    amount = _signed(position)
    notional = amount * position.mark_price
    isolated = position.margin_mode == "isolated"
    margin = abs(notional) / position.leverage
    return {
        "symbol": position.symbol,
        "positionSide": "BOTH",
        "positionAmt": fmt.qty(amount),
        "entryPrice": num(position.entry_price),
        "breakEvenPrice": num(position.entry_price),
        "markPrice": fmt.price(position.mark_price),
        "unRealizedProfit": fmt.quote(position.unrealised_pnl),
        "liquidationPrice": "0",
        "isolatedMargin": fmt.quote(margin + position.unrealised_pnl if isolated else 0.0),
        "notional": fmt.quote(notional),
        "marginAsset": "USDT",
        "isolatedWallet": fmt.quote(margin if isolated else 0.0),
        "initialMargin": fmt.quote(margin),
        "maintMargin": fmt.quote(abs(notional) * maint_ratio),
        "positionInitialMargin": fmt.quote(margin),
        "openOrderInitialMargin": "0",
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": position.updated_ms,
    }


def position_v2(position: FakePosition, fmt: Formats, max_notional: str) -> dict[str, Any]:
    """One row of ``GET /fapi/v2/positionRisk`` (has leverage and marginType, not v3's margins)."""
    v3 = position_v3(position, fmt)
    return {
        "symbol": position.symbol,
        "positionAmt": v3["positionAmt"],
        "entryPrice": v3["entryPrice"],
        "breakEvenPrice": v3["breakEvenPrice"],
        "markPrice": v3["markPrice"],
        "unRealizedProfit": v3["unRealizedProfit"],
        "liquidationPrice": "0",
        "leverage": num(position.leverage),
        "maxNotionalValue": max_notional,
        "marginType": position.margin_mode,
        "isolatedMargin": v3["isolatedMargin"],
        "isAutoAddMargin": "false",
        "positionSide": "BOTH",
        "notional": v3["notional"],
        "isolatedWallet": v3["isolatedWallet"],
        "updateTime": position.updated_ms,
        "isolated": position.margin_mode == "isolated",
        "adlQuantile": 0,
    }


def flat_position_v2(
    symbol: str, leverage: float, margin_mode: str, mark: str, max_notional: str
) -> dict[str, Any]:
    """A v2 position row of a symbol with no position (v2 lists every symbol)."""
    return {
        "symbol": symbol,
        "positionAmt": "0.000",
        "entryPrice": "0.0",
        "breakEvenPrice": "0.0",
        "markPrice": mark,
        "unRealizedProfit": "0.00000000",
        "liquidationPrice": "0",
        "leverage": num(leverage),
        "maxNotionalValue": max_notional,
        "marginType": margin_mode,
        "isolatedMargin": "0.00000000",
        "isAutoAddMargin": "false",
        "positionSide": "BOTH",
        "notional": "0",
        "isolatedWallet": "0",
        "updateTime": 0,
        "isolated": margin_mode == "isolated",
        "adlQuantile": 0,
    }


def balances(
    wallet: float, available: float, unrealised: float, initial: float, now_ms: int
) -> dict[str, str | int | bool]:
    """The USDT asset of an account (``assets`` of v2/v3 account, v2/v3 balance rows)."""
    margin_balance = wallet + unrealised
    return {
        "asset": "USDT",
        "walletBalance": num(round(wallet, 8), 8),
        "unrealizedProfit": num(round(unrealised, 8), 8),
        "marginBalance": num(round(margin_balance, 8), 8),
        "maintMargin": num(round(initial * 0.04, 8), 8),
        "initialMargin": num(round(initial, 8), 8),
        "positionInitialMargin": num(round(initial, 8), 8),
        "openOrderInitialMargin": "0.00000000",
        "crossWalletBalance": num(round(wallet, 8), 8),
        "crossUnPnl": num(round(unrealised, 8), 8),
        "availableBalance": num(round(available, 8), 8),
        "maxWithdrawAmount": num(round(min(available, wallet), 8), 8),
        "marginAvailable": True,
        # ccxt skips an asset whose updateTime is 0: never send 0
        "updateTime": max(now_ms, 1),
    }


def account_totals(asset: dict[str, Any]) -> dict[str, Any]:
    """The ``total*`` fields of an account from its only (USDT) asset."""
    return {
        "totalInitialMargin": asset["initialMargin"],
        "totalMaintMargin": asset["maintMargin"],
        "totalWalletBalance": asset["walletBalance"],
        "totalUnrealizedProfit": asset["unrealizedProfit"],
        "totalMarginBalance": asset["marginBalance"],
        "totalPositionInitialMargin": asset["positionInitialMargin"],
        "totalOpenOrderInitialMargin": asset["openOrderInitialMargin"],
        "totalCrossWalletBalance": asset["crossWalletBalance"],
        "totalCrossUnPnl": asset["crossUnPnl"],
        "availableBalance": asset["availableBalance"],
        "maxWithdrawAmount": asset["maxWithdrawAmount"],
    }


def balance_row(asset: dict[str, Any]) -> dict[str, Any]:
    """One row of ``GET /fapi/v2/balance`` / ``/fapi/v3/balance``."""
    return {
        "accountAlias": "SgsR",
        "asset": "USDT",
        "balance": asset["walletBalance"],
        "crossWalletBalance": asset["crossWalletBalance"],
        "crossUnPnl": asset["crossUnPnl"],
        "availableBalance": asset["availableBalance"],
        "maxWithdrawAmount": asset["maxWithdrawAmount"],
        "marginAvailable": True,
        "updateTime": asset["updateTime"],
    }


def leverage_bracket(market: Market) -> dict[str, Any]:
    """One entry of ``GET /fapi/v1/leverageBracket``: a single bracket up to the max leverage."""
    top = int(market.max_leverage) if market.max_leverage else 125
    return {
        "symbol": market.symbol,
        "notionalCoef": 1.0,
        "brackets": [
            {
                "bracket": 1,
                "initialLeverage": top,
                "notionalCap": 1_000_000_000,
                "notionalFloor": 0,
                "maintMarginRatio": 0.004,
                "cum": 0.0,
            }
        ],
    }
