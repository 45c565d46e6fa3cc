"""The real ccxt Bybit client trades against the fake: markets, candles, orders, positions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import ccxt
import pytest
from aiohttp import web
from garrison.fakex import FakeExchange, MarketTape, running_fake

from .conftest import BTC, ETH, ccxt_client

Tape = Callable[..., MarketTape]


def test_load_markets_asks_only_what_the_fake_serves(demo_tape: Tape) -> None:
    asked: list[str] = []

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        asked.append(request.path)
        return await handler(request)

    async def scenario() -> dict[str, Any]:
        fake = FakeExchange("bybit", demo_tape(), secret="s")
        fake.app.middlewares.append(record)
        await fake.start()
        try:
            async with ccxt_client(fake) as client:
                markets: dict[str, Any] = await client.load_markets()
                return markets
        finally:
            await fake.stop()

    markets = asyncio.run(scenario())
    assert sorted(markets) == [BTC, ETH]
    btc = markets[BTC]
    assert (btc["id"], btc["type"], btc["linear"], btc["settle"]) == (
        "BTCUSDT",
        "swap",
        True,
        "USDT",
    )
    assert btc["precision"] == {"amount": 0.001, "price": 0.1}
    assert btc["limits"]["amount"]["min"] == 0.001
    assert btc["limits"]["cost"]["min"] == 5.0
    # Clock skew first, then currencies (the key is set), then linear instruments
    # (and the pre-launch list) - nothing spot, inverse or option.
    assert set(asked) == {
        "/v5/market/time",
        "/v5/asset/coin/query-info",
        "/v5/market/instruments-info",
    }


def test_instruments_page_with_a_cursor(demo_tape: Tape) -> None:
    async def scenario() -> list[tuple[list[str], str]]:
        pages = []
        async with running_fake("bybit", demo_tape()) as fake, aiohttp.ClientSession() as http:
            cursor = ""
            while True:
                url = f"{fake.rest_url}/v5/market/instruments-info"
                query = {"category": "linear", "limit": "1", "cursor": cursor}
                async with http.get(url, params=query) as response:
                    result = (await response.json())["result"]
                cursor = result["nextPageCursor"]
                pages.append(([item["symbol"] for item in result["list"]], cursor))
                if not cursor:
                    return pages

    pages = asyncio.run(scenario())
    assert [symbols for symbols, _ in pages] == [["BTCUSDT"], ["ETHUSDT"]]
    assert pages[-1][1] == ""


def test_fetch_ohlcv_pages_history_and_ends_with_the_bar_in_progress(demo_tape: Tape) -> None:
    async def scenario() -> tuple[int, list[list[float]], list[list[float]]]:
        async with (
            running_fake("bybit", demo_tape(), history=300) as fake,
            ccxt_client(fake) as client,
        ):
            now = fake.now_ms()
            latest = await client.fetch_ohlcv(BTC, "5m", limit=3)
            since = now - 10 * 300_000
            paged = await client.fetch_ohlcv(BTC, "5m", since=since, limit=4)
            return now, latest, paged

    now, latest, paged = asyncio.run(scenario())
    assert [row[0] for row in latest] == [now - 600_000, now - 300_000, now]
    _, o, h, low, c, v = latest[-1]
    assert o == h == low == c
    assert v == 0.0
    assert latest[0][2] > latest[0][3]  # a closed bar has its range
    assert [row[0] for row in paged] == [now - 10 * 300_000 + i * 300_000 for i in range(4)]


def test_fetch_time_is_the_server_clock_and_signatures_survive_clock_skew(demo_tape: Tape) -> None:
    async def scenario() -> tuple[int, int, dict[str, Any]]:
        async with running_fake("bybit", demo_tape(), api_key="k", secret="s") as fake:
            fake.faults.clock_skew_ms = 60_000
            async with ccxt_client(fake) as client:
                # load_markets signs fetch_currencies before it measures the time
                # difference, so a skewed clock needs the measurement first.
                await client.load_time_difference()
                await client.load_markets()
                server = await client.fetch_time()
                balance = await client.fetch_balance()
                skewed = fake.server_time_ms()
            return server, skewed, balance

    server, skewed, balance = asyncio.run(scenario())
    assert abs(server - skewed) < 5_000
    assert balance["USDT"]["total"] == 10_000.0


def test_a_stale_timestamp_and_a_bad_signature_are_refused(demo_tape: Tape) -> None:
    async def scenario() -> tuple[Exception, Exception]:
        async with (
            running_fake("bybit", demo_tape(), api_key="k", secret="s") as fake,
            ccxt_client(fake) as client,
        ):
            await client.load_markets()
            fake.faults.clock_skew_ms = 60_000  # after ccxt measured the difference
            with pytest.raises(ccxt.InvalidNonce) as stale:
                await client.fetch_balance()
            fake.faults.clock_skew_ms = 0
            client.secret = "wrong"
            with pytest.raises(ccxt.AuthenticationError) as forged:
                await client.fetch_balance()
            return stale.value, forged.value

    stale, forged = asyncio.run(scenario())
    assert "10002" in str(stale)
    assert "10004" in str(forged)


def test_an_entry_with_attached_stop_and_take_profit(demo_tape: Tape) -> None:
    async def scenario(fake: FakeExchange) -> dict[str, Any]:
        async with ccxt_client(fake) as client:
            await client.load_markets()
            price = fake.tape.price("BTCUSDT")
            stop = round(price * 0.98, 1)
            target = round(price * 1.03, 1)
            created = await client.create_order(
                BTC,
                "market",
                "buy",
                0.01,
                params={"clientOrderId": "entry-1", "stopLoss": stop, "takeProfit": target},
            )
            out: dict[str, Any] = {"created": created, "stop": stop, "target": target}
            out["price"] = price
            out["fetched"] = await client.fetch_order(created["id"], BTC, {"acknowledged": True})
            out["by_link"] = await client.fetch_open_orders(BTC, params={"orderLinkId": "entry-1"})
            out["closed"] = await client.fetch_closed_order(created["id"], BTC)
            # By orderLinkId: the order id must be "" - ccxt sends None as "orderId=None",
            # which names no order.
            link = {"orderLinkId": "entry-1"}
            out["by_link_ids"] = [
                (await client.fetch_order("", BTC, {**link, "acknowledged": True}))["id"],
                (await client.fetch_open_order("", BTC, link))["id"],
                (await client.fetch_closed_order("", BTC, link))["id"],
            ]
            with pytest.raises(ccxt.OrderNotFound):
                await client.fetch_open_order(None, BTC, link)
            out["open"] = await client.fetch_open_orders(BTC)
            out["positions"] = await client.fetch_positions([BTC])
            out["all_positions"] = await client.fetch_positions()
            out["trades"] = await client.fetch_my_trades(BTC)
            out["balance"] = await client.fetch_balance()
            return out

    async def run() -> dict[str, Any]:
        async with running_fake("bybit", demo_tape()) as fake:
            return await scenario(fake)

    out = asyncio.run(run())
    # Bybit answers a create with the ids only: no price, status or fill.
    created = out["created"]
    assert created["clientOrderId"] == "entry-1"
    assert created["status"] is None
    assert created["average"] is None
    fetched = out["fetched"]
    assert (fetched["status"], fetched["filled"], fetched["average"]) == (
        "closed",
        0.01,
        out["price"],
    )
    assert fetched["stopLossPrice"] == out["stop"]
    assert fetched["takeProfitPrice"] == out["target"]
    assert fetched["fee"]["currency"] == "USDT"
    assert [o["id"] for o in out["by_link"]] == [created["id"]]
    assert out["by_link_ids"] == [created["id"]] * 3
    assert out["closed"]["id"] == created["id"]
    brackets = {o["info"]["stopOrderType"]: o for o in out["open"]}
    assert set(brackets) == {"StopLoss", "TakeProfit"}
    assert brackets["StopLoss"]["triggerPrice"] == out["stop"]
    assert brackets["StopLoss"]["side"] == "sell"
    assert brackets["StopLoss"]["reduceOnly"] is True
    assert brackets["StopLoss"]["stopLossPrice"] == out["stop"]
    assert brackets["TakeProfit"]["takeProfitPrice"] == out["target"]
    (position,) = out["positions"]
    assert (position["side"], position["contracts"], position["entryPrice"]) == (
        "long",
        0.01,
        out["price"],
    )
    assert position["stopLossPrice"] == out["stop"]
    assert position["takeProfitPrice"] == out["target"]
    assert [p["symbol"] for p in out["all_positions"]] == [BTC]
    (trade,) = out["trades"]
    assert (trade["order"], trade["price"], trade["amount"]) == (created["id"], out["price"], 0.01)
    assert trade["fee"]["cost"] == pytest.approx(0.01 * out["price"] * 0.00055)
    assert out["balance"]["USDT"]["used"] == pytest.approx(0.01 * out["price"] / 10)


def test_conditional_stop_market_orders_rest_until_a_bar_reaches_them(demo_tape: Tape) -> None:
    async def run() -> dict[str, Any]:
        async with running_fake("bybit", demo_tape()) as fake, ccxt_client(fake) as client:
            await client.load_markets()
            await client.create_order(BTC, "market", "sell", 0.01)
            price = fake.tape.price("BTCUSDT")
            trigger = round(price + 0.1, 1)  # one tick above: the next bar reaches it
            stop = await client.create_order(
                BTC,
                "market",
                "buy",
                0.01,
                params={
                    "triggerPrice": trigger,
                    "triggerDirection": "ascending",
                    "reduceOnly": True,
                    "clientOrderId": "stop-1",
                },
            )
            resting = await client.fetch_open_orders(BTC)
            for _ in range(50):
                await fake.advance(1)
                if not fake.account.positions():
                    break
            done = await client.fetch_closed_orders(BTC, params={"orderLinkId": "stop-1"})
            positions = await client.fetch_positions([BTC])
            return {"stop": stop, "resting": resting, "done": done, "positions": positions}

    out = asyncio.run(run())
    (resting,) = out["resting"]
    assert (resting["status"], resting["info"]["orderStatus"]) == ("open", "Untriggered")
    assert resting["stopLossPrice"] == resting["triggerPrice"]
    (done,) = out["done"]
    assert (done["id"], done["status"], done["filled"]) == (out["stop"]["id"], "closed", 0.01)
    assert done["average"] >= done["triggerPrice"]
    assert out["positions"][0]["contracts"] == 0


def test_cancel_reduce_only_leverage_and_margin_mode(demo_tape: Tape) -> None:
    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with running_fake("bybit", demo_tape()) as fake, ccxt_client(fake) as client:
            await client.load_markets()
            out["leverage"] = await client.set_leverage(5, BTC)
            with pytest.raises(ccxt.BadRequest, match="110043"):
                await client.set_leverage(5, BTC)  # Bybit: "leverage not modified"
            out["margin"] = await client.set_margin_mode("isolated", BTC)
            with pytest.raises(ccxt.InvalidOrder, match="110017"):
                await client.create_order(BTC, "market", "sell", 0.01, params={"reduceOnly": True})
            await client.create_order(BTC, "market", "buy", 0.02, params={"clientOrderId": "a"})
            with pytest.raises(ccxt.InvalidOrder, match="110072"):
                await client.create_order(BTC, "market", "buy", 0.01, params={"clientOrderId": "a"})
            with pytest.raises(ccxt.InsufficientFunds, match="110007"):
                await client.create_order(BTC, "market", "buy", 500)
            price = fake.tape.price("BTCUSDT")
            stop = await client.create_order(
                BTC, "market", "sell", 0.02, params={"stopLossPrice": round(price * 0.9, 1)}
            )
            out["stop"] = stop
            out["canceled"] = await client.cancel_order(stop["id"], BTC)
            with pytest.raises(ccxt.OrderNotFound):
                await client.cancel_order(stop["id"], BTC)
            await client.create_order(
                BTC, "market", "sell", 0.02, params={"stopLossPrice": round(price * 0.9, 1)}
            )
            out["cancel_all"] = await client.cancel_all_orders(BTC)
            out["exit"] = await client.create_order(
                BTC, "market", "sell", 0.05, params={"reduceOnly": True}
            )
            out["positions"] = await client.fetch_positions([BTC])
            out["isolated"] = fake.account.margin_mode("BTCUSDT")
            out["lev"] = fake.account.leverage("BTCUSDT")
        return out

    out = asyncio.run(run())
    assert out["canceled"]["id"] == out["stop"]["id"]
    assert len(out["cancel_all"]) == 1
    assert out["positions"][0]["contracts"] == 0  # reduce-only 0.05 closed the 0.02 held
    assert (out["isolated"], out["lev"]) == ("isolated", 5.0)


def test_rest_unknown_symbol_is_a_bad_symbol(demo_tape: Tape) -> None:
    async def run() -> dict[str, Any]:
        async with running_fake("bybit", demo_tape()) as fake, aiohttp.ClientSession() as http:
            url = f"{fake.rest_url}/v5/market/kline"
            query = {"category": "linear", "symbol": "XYZUSDT", "interval": "5"}
            async with http.get(url, params=query) as response:
                body: dict[str, Any] = await response.json()
                return body

    body = asyncio.run(run())
    assert body["retCode"] == 10001
    assert body["retMsg"].startswith("Not supported symbols")
