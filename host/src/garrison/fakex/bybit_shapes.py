"""Bybit v5 payload shapes for the fake exchange: instruments, orders, executions, positions.

Field names and value formats follow Bybit's v5 REST responses (see the
payloads in ``../shared/data/fixtures/bybit``); numbers are decimal strings.
"""

from __future__ import annotations

import math
from typing import Any

from garrison_api import Market

from garrison.fakex.account import FakeFill, FakeOrder, FakePosition
from garrison.fakex.numbers import num

#: Bybit kline interval of each timeframe, and back.
INTERVALS = {
    "1m": "1",
    "3m": "3",
    "5m": "5",
    "15m": "15",
    "30m": "30",
    "1h": "60",
    "2h": "120",
    "4h": "240",
    "6h": "360",
    "12h": "720",
    "1d": "D",
    "1w": "W",
}
TIMEFRAMES = {interval: tf for tf, interval in INTERVALS.items()}

_STATUS = {
    "new": "New",
    "partially_filled": "PartiallyFilled",
    "filled": "Filled",
    "canceled": "Cancelled",
    "rejected": "Rejected",
    "untriggered": "Untriggered",
    "triggered": "Triggered",
}
_CANCEL_TYPE = {
    "": "UNKNOWN",
    "user": "CancelByUser",
    "replaced": "CancelByUser",
    "position_closed": "CancelByTpSlTsClear",
    "nothing_to_reduce": "CancelByReduceOnly",
}


def base_coin(symbol: str) -> str:
    """``BTC`` of ``BTCUSDT``."""
    return symbol[:-4] if symbol.endswith("USDT") else symbol


def _decimals(step: float) -> int:
    return 0 if step >= 1 else max(0, -math.floor(math.log10(step) + 1e-9))


def instrument(market: Market, launch_ms: int) -> dict[str, Any]:
    """One ``/v5/market/instruments-info`` item of a linear USDT perpetual."""
    max_qty = market.max_qty if market.max_qty is not None else market.min_qty * 1_000_000
    return {
        "symbol": market.symbol,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": base_coin(market.symbol),
        "quoteCoin": "USDT",
        "launchTime": str(launch_ms),
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(_decimals(market.tick_size)),
        "leverageFilter": {
            "minLeverage": "1",
            "maxLeverage": num(market.max_leverage or 100.0),
            "leverageStep": "0.01",
        },
        "priceFilter": {
            "minPrice": num(market.tick_size),
            "maxPrice": num(market.tick_size * 10**9),
            "tickSize": num(market.tick_size),
        },
        "lotSizeFilter": {
            "maxOrderQty": num(max_qty),
            "minOrderQty": num(market.min_qty),
            "qtyStep": num(market.lot_step),
            "postOnlyMaxOrderQty": num(max_qty),
            "maxMktOrderQty": num(max_qty),
            "minNotionalValue": num(market.min_notional),
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": "USDT",
        "copyTrading": "both",
        "upperFundingRate": "0.005",
        "lowerFundingRate": "-0.005",
        "isPreListing": False,
        "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"},
        "displayName": "",
    }


def _stop_order_type(order: FakeOrder) -> str:
    if order.stop_kind == "stop_loss":
        return "StopLoss"
    if order.stop_kind == "take_profit":
        return "TakeProfit"
    return "Stop" if order.is_conditional else ""


def order_status(order: FakeOrder) -> str:
    """Bybit's orderStatus of ``order``."""
    if order.status == "canceled":
        if order.is_conditional:
            return "Deactivated"
        if order.filled_qty > 0:
            return "PartiallyFilledCanceled"
    return _STATUS[order.status]


def order(o: FakeOrder, position_size: float = 0.0) -> dict[str, Any]:
    """One order as ``/v5/order/realtime`` and ``/v5/order/history`` list it.

    A working whole-position stop-loss / take-profit shows the size of the
    position it would close (``position_size``).
    """
    conditional = o.is_conditional
    filled = o.filled_qty
    qty = position_size if o.close_position and o.is_open else o.qty
    leaves = max(0.0, qty - filled) if o.is_open else 0.0
    avg = o.avg_price
    limit_price = o.price if o.kind == "limit" and o.price is not None else 0.0
    return {
        "orderId": o.id,
        "orderLinkId": o.client_id or "",
        "blockTradeId": "",
        "symbol": o.symbol,
        "price": num(limit_price),
        "qty": num(qty),
        "side": "Buy" if o.side == "buy" else "Sell",
        "isLeverage": "",
        "positionIdx": 0,
        "orderStatus": order_status(o),
        "createType": _create_type(o),
        "cancelType": _CANCEL_TYPE.get(o.cancel_reason, "UNKNOWN"),
        "rejectReason": o.reject_reason or "EC_NoError",
        "avgPrice": "" if avg is None else num(avg),
        "leavesQty": num(leaves),
        "leavesValue": num(leaves * (limit_price or (o.trigger_price or 0.0))),
        "cumExecQty": num(filled),
        "cumExecValue": num(filled * (avg or 0.0)),
        "cumExecFee": num(o.fee),
        "cumFeeDetail": {"USDT": num(o.fee)} if o.fee else {},
        "timeInForce": "GTC" if o.kind == "limit" else "IOC",
        "orderType": "Limit" if o.kind == "limit" else "Market",
        "stopOrderType": _stop_order_type(o),
        "orderIv": "",
        "triggerPrice": num(o.trigger_price or 0.0),
        "takeProfit": num(o.attached_take_profit or 0.0),
        "stopLoss": num(o.attached_stop or 0.0),
        "tpTriggerBy": "LastPrice" if o.attached_take_profit else "",
        "slTriggerBy": "LastPrice" if o.attached_stop else "",
        "triggerDirection": (1 if o.rising else 2) if conditional else 0,
        "triggerBy": "LastPrice" if conditional else "",
        "lastPriceOnCreated": "",
        "reduceOnly": o.reduce_only,
        "closeOnTrigger": o.close_position,
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "tpslMode": "Full" if (o.stop_kind or o.attached_stop or o.attached_take_profit) else "",
        "tpLimitPrice": "0",
        "slLimitPrice": "0",
        "placeType": "",
        "slippageToleranceType": "UNKNOWN",
        "slippageTolerance": "0",
        "extraFees": "",
        "createdTime": str(o.created_ms),
        "updatedTime": str(o.updated_ms),
    }


def _create_type(o: FakeOrder) -> str:
    if o.stop_kind == "stop_loss":
        return "CreateByStopLoss"
    if o.stop_kind == "take_profit":
        return "CreateByTakeProfit"
    return "CreateByUser"


def execution(f: FakeFill, o: FakeOrder, seq: int) -> dict[str, Any]:
    """One ``/v5/execution/list`` item."""
    return {
        "symbol": f.symbol,
        "orderId": f.order_id,
        "orderLinkId": f.client_id or "",
        "side": "Buy" if f.side == "buy" else "Sell",
        "orderPrice": num(o.price if o.kind == "limit" and o.price is not None else 0.0),
        "orderQty": num(o.qty),
        "leavesQty": num(max(0.0, o.qty - o.filled_qty)),
        "createType": _create_type(o),
        "orderType": "Limit" if o.kind == "limit" else "Market",
        "stopOrderType": _stop_order_type(o),
        "execFee": num(f.fee),
        "execId": f.id,
        "execPrice": num(f.price),
        "execQty": num(f.qty),
        "execType": "Trade",
        "execValue": num(f.qty * f.price),
        "execTime": str(f.ts_ms),
        "feeCurrency": "USDT",
        "isMaker": f.maker,
        "feeRate": num(f.fee_rate),
        "tradeIv": "",
        "markIv": "",
        "markPrice": num(f.price),
        "indexPrice": num(f.price),
        "underlyingPrice": "",
        "blockTradeId": "",
        "closedSize": num(f.closed_qty),
        "seq": seq,
        "extraFees": "",
    }


def position(
    symbol: str,
    p: FakePosition | None,
    *,
    leverage: float,
    margin_mode: str,
    mark: float,
    seq: int,
) -> dict[str, Any]:
    """One ``/v5/position/list`` item (a flat symbol has size 0 and side "")."""
    if p is None:
        size = entry = value = im = upnl = realised = 0.0
        side = ""
        stop_loss = take_profit = None
        created = updated = 0
    else:
        size, entry = p.size, p.entry_price
        value = size * entry
        im = p.initial_margin
        upnl = p.unrealised_pnl
        realised = p.realised_pnl
        side = "Buy" if p.side == "long" else "Sell"
        stop_loss, take_profit = p.stop_loss, p.take_profit
        created, updated = p.created_ms, p.updated_ms
    return {
        "positionIdx": 0,
        "riskId": 1,
        "riskLimitValue": "2000000",
        "symbol": symbol,
        "side": side,
        "size": num(size),
        "avgPrice": num(entry),
        "positionValue": num(value),
        "tradeMode": 1 if margin_mode == "isolated" else 0,
        "positionStatus": "Normal",
        "autoAddMargin": 0,
        "adlRankIndicator": 2 if size else 0,
        "leverage": num(leverage),
        "positionBalance": num(im),
        "markPrice": num(mark),
        "liqPrice": "",
        "bustPrice": "",
        "positionMM": num(value * 0.005),
        "positionIM": num(im),
        "tpslMode": "Full",
        "takeProfit": num(take_profit or 0.0),
        "stopLoss": num(stop_loss or 0.0),
        "trailingStop": "0",
        "unrealisedPnl": num(upnl),
        "curRealisedPnl": num(realised),
        "cumRealisedPnl": num(realised),
        "seq": seq,
        "isReduceOnly": False,
        "mmrSysUpdatedTime": "",
        "leverageSysUpdatedTime": "",
        "sessionAvgPrice": "",
        "createdTime": str(created),
        "updatedTime": str(updated),
    }
