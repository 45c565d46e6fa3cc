"""Faults as Binance shows them to the real ccxt client, and how the order is found afterwards.

A create whose reply is lost (or answered 5xx) after the venue booked it has
an unknown outcome: the test proves the order exists and is found by its
client order id, which is what the host's order path relies on.
"""

from __future__ import annotations

import asyncio

import ccxt
import pytest

from .binance_kit import BTC, binance_client, binance_fake, tick_floor


def test_lost_reply_times_out_and_the_order_is_found_by_client_id() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake, binance_client(fake, timeout_ms=400) as client:
            await client.load_markets()
            fake.faults.lost_replies = 1
            with pytest.raises(ccxt.RequestTimeout):
                await client.create_order(
                    BTC, "market", "buy", 0.01, None, {"clientOrderId": "g-l1"}
                )
            assert fake.faults.injected["lost_replies"] == 1
            found = await client.fetch_order(None, BTC, {"clientOrderId": "g-l1"})
            assert (found["status"], found["filled"]) == ("closed", 0.01)
            # sending it again is what must never happen: the venue refuses the same id
            with pytest.raises(ccxt.InvalidOrder, match="-4116"):
                await client.create_order(
                    BTC, "market", "buy", 0.01, None, {"clientOrderId": "g-l1"}
                )
            # a stop's reply lost the same way: found among the algo orders
            fake.faults.lost_replies = 1
            trigger = tick_floor(fake.tape.price("BTCUSDT") * 0.95, 0.1)
            with pytest.raises(ccxt.RequestTimeout):
                await client.create_order(
                    BTC, "market", "sell", 0.01, None,
                    {"clientOrderId": "g-l1-sl", "triggerPrice": trigger, "reduceOnly": True},
                )  # fmt: skip
            stop = await client.fetch_order(
                None, BTC, {"clientOrderId": "g-l1-sl", "trigger": True}
            )
            assert (stop["status"], stop["triggerPrice"]) == ("open", trigger)

    asyncio.run(scenario())


def test_5xx_after_booking_leaves_an_order_to_look_up() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake, binance_client(fake) as client:
            await client.load_markets()
            fake.faults.errors_5xx_after_booking = 1  # 502 with an HTML body: a gateway error
            with pytest.raises(ccxt.ExchangeNotAvailable):
                await client.create_order(
                    BTC, "market", "buy", 0.01, None, {"clientOrderId": "g-x1"}
                )
            assert (await client.fetch_order(None, BTC, {"clientOrderId": "g-x1"}))[
                "filled"
            ] == 0.01
            # Binance's own 503: -1007 "execution status unknown", a RequestTimeout for ccxt
            fake.faults.errors_5xx_after_booking = 1
            fake.faults.error_5xx_status = 503
            with pytest.raises(ccxt.RequestTimeout, match="-1007"):
                await client.create_order(
                    BTC, "market", "buy", 0.01, None, {"clientOrderId": "g-x2"}
                )
            assert (await client.fetch_order(None, BTC, {"clientOrderId": "g-x2"}))[
                "filled"
            ] == 0.01
            assert fake.faults.injected["errors_5xx_after_booking"] == 2

    asyncio.run(scenario())


def test_rate_limit_is_429_then_418_while_the_client_keeps_calling() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake, binance_client(fake) as client:
            await client.load_markets()
            fake.faults.rate_limit = 3
            statuses = []
            for _ in range(3):
                with pytest.raises(ccxt.DDoSProtection) as caught:
                    await client.fetch_balance()
                statuses.append(str(caught.value).split()[1])
            assert statuses == ["429", "418", "418"]
            assert "-1003" in str(caught.value)
            assert (await client.fetch_balance())["USDT"]["total"] == 10_000.0
            assert fake.faults.injected["rate_limit"] == 3
            assert fake.faults.injected["rate_limit_418"] == 2
            # orders only: reads pass while order requests are refused
            fake.faults.rate_limit = 1
            fake.faults.rate_limit_orders_only = True
            await client.fetch_positions()
            with pytest.raises(ccxt.DDoSProtection, match="429"):
                await client.create_order(BTC, "market", "buy", 0.01)

    asyncio.run(scenario())


def test_rejected_stop_and_insufficient_margin() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake, binance_client(fake) as client:
            await client.create_order(BTC, "market", "buy", 0.01)
            trigger = tick_floor(fake.tape.price("BTCUSDT") * 0.95, 0.1)
            stop = {"clientOrderId": "g-s1", "triggerPrice": trigger, "reduceOnly": True}
            fake.faults.reject_stops = 1
            with pytest.raises(ccxt.OperationRejected, match="-4045"):
                await client.create_order(BTC, "market", "sell", 0.01, None, stop)
            # refused at placing: nothing booked under that id, so the same id can be retried
            placed = await client.create_order(BTC, "market", "sell", 0.01, None, stop)
            assert placed["status"] == "open"
            fake.faults.insufficient_margin = 1
            with pytest.raises(ccxt.InsufficientFunds, match="-2019"):
                await client.create_order(BTC, "market", "buy", 0.01)
            assert fake.faults.injected == {"reject_stops": 1, "insufficient_margin": 1}

    asyncio.run(scenario())


def test_partial_fill_shows_as_partially_filled_until_the_next_bar() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake, binance_client(fake) as client:
            fake.faults.partial_fills = 1
            order = await client.create_order(
                BTC, "market", "buy", 0.02, None, {"clientOrderId": "g-p"}
            )
            assert (order["status"], order["filled"]) == ("open", 0.01)
            assert order["info"]["status"] == "PARTIALLY_FILLED"
            assert [o["id"] for o in await client.fetch_open_orders(BTC)] == [order["id"]]
            await fake.advance(1)
            done = await client.fetch_order(order["id"], BTC)
            assert (done["status"], done["filled"]) == ("closed", 0.02)
            assert len(await client.fetch_my_trades(BTC)) == 2

    asyncio.run(scenario())


def test_signatures_and_clock_skew_are_checked_like_the_venue() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake:
            fake.faults.clock_skew_ms = -30_000  # the venue's clock runs 30 s behind ours
            async with binance_client(fake) as client:
                # ccxt learns the offset in load_markets (adjustForTimeDifference): signs fine
                await client.load_markets()
                assert abs(client.options["timeDifference"] - 30_000) < 2_000
                assert (await client.fetch_balance())["USDT"]["total"] == 10_000.0
                # the venue's clock moves: -1021, ccxt InvalidNonce, until the client re-learns it
                fake.faults.clock_skew_ms = 30_000
                with pytest.raises(ccxt.InvalidNonce, match="-1021"):
                    await client.fetch_balance()
                await client.load_time_difference()
                await client.fetch_balance()
            async with binance_client(fake, secret="wrong") as client:
                with pytest.raises(ccxt.AuthenticationError, match="-1022"):
                    await client.fetch_balance()
            async with binance_client(fake, api_key="other") as client:
                with pytest.raises(ccxt.AuthenticationError, match="-2015"):
                    await client.fetch_balance()

    asyncio.run(scenario())
