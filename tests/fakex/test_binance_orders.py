"""Orders through the real ccxt binanceusdm client against the Binance fake.

Market and reduce-only orders go to ``/fapi/v1/order``; stops and
take-profits are algo orders (``/fapi/v1/algoOrder``, ccxt 4.5's route for
any create with a trigger price), found again with ``params={"trigger":
True}``. A triggered stop becomes a market order with its own id
(``actualOrderId``), which is where its fill and trade are.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import pytest

from .binance_kit import (
    BTC,
    ETH,
    binance_client,
    binance_fake,
    demo_tape,
    reachable_rise,
    reachable_stop,
    signed,
    tick_floor,
)


async def _expect(error: type[Exception], code: str, call: Any) -> None:
    with pytest.raises(error) as caught:
        await call
    assert code in str(caught.value)


def test_market_order_reply_carries_the_fill_and_is_found_by_either_id() -> None:
    async def scenario() -> None:
        tape = demo_tape()
        async with binance_fake(tape) as fake, binance_client(fake) as client:
            order = await client.create_order(
                BTC, "market", "buy", 0.01, None, {"clientOrderId": "g-e1"}
            )
            price = tape.price("BTCUSDT")
            # newOrderRespType=RESULT: the reply already has the fill
            assert (order["status"], order["filled"], order["average"]) == ("closed", 0.01, price)
            assert order["clientOrderId"] == "g-e1"
            assert order["info"]["type"] == "MARKET"
            assert order["info"]["cumQty"] == "0.010"
            by_id = await client.fetch_order(order["id"], BTC)
            by_client = await client.fetch_order(None, BTC, {"clientOrderId": "g-e1"})
            assert by_id["id"] == by_client["id"] == order["id"]
            assert by_client["average"] == price
            assert by_client["timestamp"] == tape.now_ms()
            # fetch_open_order of a filled order: the venue says it does not exist
            await _expect(ccxt.OrderNotFound, "-2013", client.fetch_open_order(order["id"], BTC))
            closed = await client.fetch_closed_orders(BTC)
            assert [o["clientOrderId"] for o in closed] == ["g-e1"]
            [trade] = await client.fetch_my_trades(BTC)
            assert (trade["order"], trade["price"], trade["amount"]) == (order["id"], price, 0.01)
            assert trade["fee"]["cost"] == pytest.approx(0.01 * price * 0.00055)
            # the ACK answer (ccxt never asks for it) has ids but no fill yet
            status, ack = await signed(
                fake, "POST", "/fapi/v1/order", symbol="ETHUSDT", side="BUY", type="MARKET",
                quantity="0.010", newClientOrderId="g-ack",
            )  # fmt: skip
            assert status == 200
            assert (ack["status"], ack["executedQty"]) == ("NEW", "0.000")

    asyncio.run(scenario())


def test_reduce_only_closes_and_is_refused_without_a_position() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake, binance_client(fake) as client:
            await _expect(
                ccxt.InvalidOrder,
                "-2022",
                client.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True}),
            )
            await client.create_order(BTC, "market", "buy", 0.02)
            exit_ = await client.create_order(
                BTC, "market", "sell", 0.02, None, {"reduceOnly": True}
            )
            assert exit_["reduceOnly"] is True
            assert exit_["status"] == "closed"
            assert await client.fetch_positions() == []

    asyncio.run(scenario())


def test_stop_is_an_algo_order_found_by_algo_id_or_client_id_and_canceled() -> None:
    async def scenario() -> None:
        tape = demo_tape()
        async with binance_fake(tape) as fake, binance_client(fake) as client:
            await client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "g-e1"})
            trigger = tick_floor(tape.price("BTCUSDT") * 0.97, 0.1)
            stop = await client.create_order(
                BTC, "market", "sell", 0.01, None,
                {"clientOrderId": "g-s1", "triggerPrice": trigger, "reduceOnly": True},
            )  # fmt: skip
            assert stop["info"]["algoType"] == "CONDITIONAL"
            assert stop["info"]["orderType"] == "STOP_MARKET"
            assert (stop["status"], stop["triggerPrice"], stop["reduceOnly"]) == (
                "open",
                trigger,
                True,
            )
            assert stop["clientOrderId"] == "g-s1"
            found = await client.fetch_order(stop["id"], BTC, {"trigger": True})
            by_client = await client.fetch_order(
                None, BTC, {"clientOrderId": "g-s1", "trigger": True}
            )
            assert found["id"] == by_client["id"] == stop["id"]
            # without trigger=True ccxt asks the matching engine, where the stop is not
            await _expect(
                ccxt.OrderNotFound,
                "-2013",
                client.fetch_order(None, BTC, {"clientOrderId": "g-s1"}),
            )
            assert [
                o["id"] for o in await client.fetch_open_orders(BTC, None, None, {"trigger": True})
            ] == [stop["id"]]
            assert await client.fetch_open_orders(BTC) == []
            # fetch_open_order cannot see algo orders (ccxt refuses trigger=True there)
            with pytest.raises(ccxt.NotSupported):
                await client.fetch_open_order(stop["id"], BTC, {"trigger": True})
            canceled = await client.cancel_order(
                None, BTC, {"clientOrderId": "g-s1", "trigger": True}
            )
            assert canceled["id"] == stop["id"]
            after = await client.fetch_order(stop["id"], BTC, {"trigger": True})
            assert after["status"] == "canceled"
            await _expect(
                ccxt.OrderNotFound, "-2011", client.cancel_order(stop["id"], BTC, {"trigger": True})
            )
            history = await client.fetch_orders(BTC, None, None, {"trigger": True})
            assert [(o["id"], o["status"]) for o in history] == [(stop["id"], "canceled")]

    asyncio.run(scenario())


def test_triggered_stop_finishes_into_a_market_order_with_its_fill() -> None:
    async def scenario() -> None:
        tape = demo_tape()
        async with binance_fake(tape) as fake, binance_client(fake) as client:
            await client.create_order(BTC, "market", "buy", 0.01)
            trigger = reachable_stop(tape, "BTCUSDT", 0.1)
            stop = await client.create_order(
                BTC, "market", "sell", 0.01, None,
                {"clientOrderId": "g-s1", "triggerPrice": trigger, "reduceOnly": True},
            )  # fmt: skip
            take = await client.create_order(
                BTC, "market", "sell", 0.01, None,
                {"clientOrderId": "g-t1", "takeProfitPrice": tick_floor(trigger * 1.5, 0.1),
                 "reduceOnly": True},
            )  # fmt: skip
            assert take["info"]["orderType"] == "TAKE_PROFIT_MARKET"
            for _ in range(30):
                await fake.advance(1)
                bar = tape.last_closed("BTCUSDT")
                assert bar is not None
                if bar[3] <= trigger:
                    break
            else:
                pytest.fail("the stop was never reached")
            expected = min(bar[1], trigger)  # at the trigger, or the open of a bar gapping through
            done = await client.fetch_order(None, BTC, {"clientOrderId": "g-s1", "trigger": True})
            assert done["status"] == "closed"
            assert done["info"]["algoStatus"] == "FINISHED"
            assert float(done["info"]["actualPrice"]) == pytest.approx(expected)
            actual_id = done["info"]["actualOrderId"]
            actual = await client.fetch_order(actual_id, BTC)
            assert (actual["type"], actual["info"]["origType"]) == ("market", "STOP_MARKET")
            assert (actual["status"], actual["filled"]) == ("closed", 0.01)
            assert actual["average"] == pytest.approx(expected)
            trades = await client.fetch_my_trades(BTC)
            assert [t["order"] for t in trades][-1] == actual_id
            assert await client.fetch_positions() == []
            # closing the position retired the other reduce-only conditional
            other = await client.fetch_order(take["id"], BTC, {"trigger": True})
            assert (other["status"], other["info"]["algoStatus"]) == ("expired", "EXPIRED")
            assert stop["id"] != actual_id

    asyncio.run(scenario())


def test_close_position_stop_needs_no_quantity_and_closes_everything() -> None:
    async def scenario() -> None:
        tape = demo_tape()
        async with binance_fake(tape) as fake, binance_client(fake) as client:
            await client.create_order(ETH, "market", "sell", 0.5)
            trigger = reachable_rise(tape, "ETHUSDT", 0.01)
            stop = await client.create_order(
                ETH,
                "STOP_MARKET",
                "buy",
                None,
                None,
                {"closePosition": True, "triggerPrice": trigger},
            )
            assert stop["info"]["closePosition"] is True
            assert not stop["amount"]
            for _ in range(30):
                if not await client.fetch_positions():
                    break
                await fake.advance(1)
            done = await client.fetch_order(stop["id"], ETH, {"trigger": True})
            assert done["info"]["algoStatus"] == "FINISHED"
            actual = await client.fetch_order(done["info"]["actualOrderId"], ETH)
            assert actual["filled"] == 0.5

    asyncio.run(scenario())


def test_cancel_all_orders_keeps_plain_and_algo_orders_apart() -> None:
    async def scenario() -> None:
        tape = demo_tape()
        async with binance_fake(tape) as fake, binance_client(fake) as client:
            await client.create_order(BTC, "market", "buy", 0.01)
            price = tape.price("BTCUSDT")
            limit = await client.create_order(
                BTC, "limit", "buy", 0.01, tick_floor(price * 0.9, 0.1)
            )
            stop = await client.create_order(
                BTC, "market", "sell", 0.01, None,
                {"triggerPrice": tick_floor(price * 0.9, 0.1), "reduceOnly": True},
            )  # fmt: skip
            open_ = await client.fetch_open_order(limit["id"], BTC)
            assert open_["status"] == "open"
            # by client id ccxt still sends orderId=None, which the venue refuses (-1100)
            await _expect(
                ccxt.BadRequest,
                "-1100",
                client.fetch_open_order(None, BTC, {"origClientOrderId": limit["clientOrderId"]}),
            )
            await client.cancel_all_orders(BTC)
            assert await client.fetch_open_orders(BTC) == []
            assert len(await client.fetch_open_orders(BTC, None, None, {"trigger": True})) == 1
            await client.cancel_all_orders(BTC, {"trigger": True})
            assert await client.fetch_open_orders(BTC, None, None, {"trigger": True}) == []
            assert (await client.fetch_order(stop["id"], BTC, {"trigger": True}))[
                "status"
            ] == "canceled"
            # no symbol (warnWithoutSymbol is off): ccxt charges it 40 weight, so it goes last
            again = await client.create_order(
                BTC, "limit", "buy", 0.01, tick_floor(price * 0.9, 0.1)
            )
            every = await client.fetch_open_orders()
            assert [o["id"] for o in every] == [again["id"]]

    asyncio.run(scenario())


def test_refusals_map_to_binance_codes_and_ccxt_classes() -> None:
    async def scenario() -> None:
        tape = demo_tape()
        async with binance_fake(tape) as fake, binance_client(fake) as client:
            price = tape.price("BTCUSDT")
            await client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "g-1"})
            await _expect(
                ccxt.InvalidOrder,
                "-4116",
                client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "g-1"}),
            )
            await _expect(
                ccxt.InsufficientFunds, "-2019", client.create_order(BTC, "market", "buy", 5.0)
            )
            await _expect(
                ccxt.OrderImmediatelyFillable,
                "-2021",
                client.create_order(
                    BTC, "market", "sell", 0.01, None,
                    {"triggerPrice": tick_floor(price * 1.01, 0.1), "reduceOnly": True},
                ),
            )  # fmt: skip
            # 0.001 ETH is a few USDT: under Binance's 20 USDT minimum for ETHUSDT
            small = await signed(
                fake, "POST", "/fapi/v1/order", symbol="ETHUSDT", side="BUY", type="MARKET",
                quantity="0.001",
            )  # fmt: skip
            assert small == (
                400,
                {
                    "code": -4164,
                    "msg": "Order's notional must be no smaller than 20 (unless you choose "
                    "reduce only).",
                },
            )
            await _expect(ccxt.OrderNotFound, "-2013", client.fetch_order("1", BTC))
            await _expect(ccxt.OrderNotFound, "-2011", client.cancel_order("1", BTC))
            order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}
            status, body = await signed(fake, "POST", "/fapi/v1/order", **order, quantity="0.0015")
            assert (status, body["code"]) == (400, -1111)
            status, body = await signed(fake, "POST", "/fapi/v1/order", **order, quantity="0")
            assert (status, body["code"]) == (400, -4003)
            status, body = await signed(
                fake, "POST", "/fapi/v1/order", **order, quantity="0.01", newClientOrderId="x" * 37
            )
            assert (status, body["code"]) == (400, -1100)
            # conditional types live on the algo endpoint only
            status, body = await signed(
                fake, "POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="STOP_MARKET",
                quantity="0.01", stopPrice="1000.0",
            )  # fmt: skip
            assert (status, body["code"]) == (400, -4120)
            status, body = await signed(fake, "GET", "/fapi/v1/order", symbol="NOPEUSDT", orderId=1)
            assert (status, body["code"]) == (400, -1121)

    asyncio.run(scenario())
