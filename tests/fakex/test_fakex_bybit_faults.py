"""Every fault of the fake, as the real ccxt Bybit client (or a raw websocket) sees it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import ccxt
import pytest
from garrison.fakex import Faults, MarketTape, running_fake

from .conftest import BTC, ccxt_client

Tape = Callable[..., MarketTape]


def test_a_lost_reply_times_out_while_the_order_is_booked_and_findable(demo_tape: Tape) -> None:
    async def run() -> dict[str, Any]:
        faults = Faults(lost_replies=1, lost_reply_hold_s=5.0)
        async with (
            running_fake("bybit", demo_tape(), faults=faults) as fake,
            ccxt_client(fake, timeout_ms=500) as client,
        ):
            await client.load_markets()
            with pytest.raises(ccxt.RequestTimeout):
                await client.create_order(
                    BTC, "market", "buy", 0.01, params={"clientOrderId": "lost-1"}
                )
            found = await client.fetch_open_orders(BTC, params={"orderLinkId": "lost-1"})
            booked = [o.client_id for o in fake.account.orders()]
            return {"found": found, "booked": booked, "injected": dict(faults.injected)}

    out = asyncio.run(run())
    assert out["booked"] == ["lost-1"]
    (order,) = out["found"]
    assert (order["clientOrderId"], order["status"], order["filled"]) == ("lost-1", "closed", 0.01)
    assert out["injected"] == {"lost_replies": 1}


def test_a_5xx_after_booking_is_a_network_error_with_the_order_booked(demo_tape: Tape) -> None:
    async def run() -> tuple[list[str | None], Exception]:
        faults = Faults(errors_5xx_after_booking=1)
        async with (
            running_fake("bybit", demo_tape(), faults=faults) as fake,
            ccxt_client(fake) as client,
        ):
            await client.load_markets()
            with pytest.raises(ccxt.ExchangeNotAvailable) as caught:
                await client.create_order(
                    BTC, "market", "buy", 0.01, params={"clientOrderId": "x-1"}
                )
            # the retry with the same client id is refused: nothing is doubled
            with pytest.raises(ccxt.InvalidOrder, match="110072"):
                await client.create_order(
                    BTC, "market", "buy", 0.01, params={"clientOrderId": "x-1"}
                )
            return [o.client_id for o in fake.account.orders()], caught.value

    booked, error = asyncio.run(run())
    assert booked == ["x-1"]
    assert isinstance(error, ccxt.NetworkError)
    assert "502" in str(error)


def test_rate_limits_are_rate_limit_exceeded_then_http_403_when_repeated(demo_tape: Tape) -> None:
    async def run() -> list[str]:
        async with (
            running_fake("bybit", demo_tape(), faults=Faults(rate_limit=2)) as fake,
            ccxt_client(fake) as client,
        ):
            errors = []
            for _ in range(2):
                with pytest.raises(ccxt.RateLimitExceeded) as caught:
                    await client.fetch_time()
                errors.append(str(caught.value))
            assert await client.fetch_time() > 0  # the limit has passed
            return errors

    first, second = asyncio.run(run())
    assert "10006" in first
    assert "403" in second


def test_orders_only_rate_limit_lets_reads_through(demo_tape: Tape) -> None:
    async def run() -> None:
        faults = Faults(rate_limit=1, rate_limit_orders_only=True)
        async with (
            running_fake("bybit", demo_tape(), faults=faults) as fake,
            ccxt_client(fake) as client,
        ):
            await client.load_markets()
            await client.fetch_positions([BTC])
            with pytest.raises(ccxt.RateLimitExceeded):
                await client.create_order(BTC, "market", "buy", 0.01)
            assert fake.account.orders() == []

    asyncio.run(run())


def test_a_websocket_closed_1006_fails_the_watch_and_the_next_watch_reconnects(
    demo_tape: Tape,
) -> None:
    async def run() -> dict[str, Any]:
        async with running_fake("bybit", demo_tape()) as fake, ccxt_client(fake) as client:
            await asyncio.wait_for(client.watch_ohlcv(BTC, "5m"), 5)
            watching = asyncio.ensure_future(client.watch_ohlcv(BTC, "5m"))
            await asyncio.sleep(0.05)
            closed = fake.close_websockets()
            with pytest.raises(ccxt.NetworkError) as caught:
                await asyncio.wait_for(watching, 5)
            again = await asyncio.wait_for(client.watch_ohlcv(BTC, "5m"), 5)
            return {
                "closed": closed,
                "error": str(caught.value),
                "again": again,
                "now": fake.now_ms(),
                "injected": dict(fake.faults.injected),
            }

    out = asyncio.run(run())
    assert out["closed"] == 1
    assert "1006" in out["error"]
    assert out["again"][-1][0] == out["now"]
    assert out["injected"] == {"ws_close": 1}


def test_ws_close_every_k_bars_loses_those_candles_which_rest_still_has(demo_tape: Tape) -> None:
    async def run() -> dict[str, Any]:
        async with running_fake("bybit", demo_tape()) as fake, ccxt_client(fake) as client:
            start = fake.now_ms()
            await asyncio.wait_for(client.watch_ohlcv(BTC, "5m"), 5)
            fake.faults.ws_close_every = 1
            watching = asyncio.ensure_future(client.watch_ohlcv(BTC, "5m"))
            await asyncio.sleep(0.05)
            await fake.advance(1)
            with pytest.raises(ccxt.NetworkError):
                await asyncio.wait_for(watching, 5)
            fake.faults.ws_close_every = 0
            await asyncio.wait_for(client.watch_ohlcv(BTC, "5m"), 5)  # reconnected
            cached = [row[0] for row in client.ohlcvs[BTC]["5m"]]
            rest = await client.fetch_ohlcv(BTC, "5m", since=start, limit=5)
            return {"start": start, "cached": cached, "rest": [row[0] for row in rest]}

    out = asyncio.run(run())
    start = out["start"]
    # the close of the bar opened at start never came over the websocket ...
    assert out["cached"] == [start, start + 300_000]
    assert out["rest"] == [start, start + 300_000]  # ... but REST serves it closed


def test_a_stalled_feed_sends_no_candles_but_keeps_the_connection(demo_tape: Tape) -> None:
    async def run() -> list[tuple[int, bool]]:
        async with (
            running_fake("bybit", demo_tape()) as fake,
            aiohttp.ClientSession() as http,
            http.ws_connect(f"{fake.ws_url}/v5/public/linear") as ws,
        ):
            await ws.send_json({"op": "subscribe", "args": ["kline.5.BTCUSDT"]})
            await ws.receive_str()  # ack
            await ws.receive_str()  # bar in progress
            fake.faults.ws_stall_s = 600  # two 5m bar closes
            await fake.advance(3)
            await ws.send_json({"op": "ping"})
            seen = []
            for _ in range(3):
                message = json.loads(await asyncio.wait_for(ws.receive_str(), 5))
                if "topic" in message:
                    data = message["data"][0]
                    seen.append((data["start"] - fake.start_ms, data["confirm"]))
                else:
                    seen.append((-1, message["ret_msg"] == "pong"))
            return seen

    seen = asyncio.run(run())
    assert seen == [(600_000, True), (900_000, False), (-1, True)]


def test_dropped_pongs_time_the_websocket_out(demo_tape: Tape) -> None:
    async def run() -> Exception:
        async with running_fake("bybit", demo_tape()) as fake, ccxt_client(fake) as client:
            client.streaming["keepAlive"] = 100  # ms between pings: fail fast
            fake.faults.drop_pongs = True
            await asyncio.wait_for(client.watch_ohlcv(BTC, "5m"), 5)
            with pytest.raises(ccxt.RequestTimeout) as caught:
                await asyncio.wait_for(client.watch_ohlcv(BTC, "5m"), 5)
            assert fake.faults.injected["drop_pongs"] >= 1
            return caught.value

    error = asyncio.run(run())
    assert "ping-pong keepalive" in str(error)


def test_duplicate_out_of_order_and_missing_candles(demo_tape: Tape) -> None:
    async def run() -> list[tuple[int, bool]]:
        async with (
            running_fake("bybit", demo_tape()) as fake,
            aiohttp.ClientSession() as http,
            http.ws_connect(f"{fake.ws_url}/v5/public/linear") as ws,
        ):
            await ws.send_json({"op": "subscribe", "args": ["kline.5.BTCUSDT"]})
            await ws.receive_str()
            await ws.receive_str()
            fake.faults.update({"duplicate_candles": 1})
            await fake.advance(1)
            fake.faults.update({"out_of_order_candles": 1})
            await fake.advance(1)
            fake.faults.update({"gap_candles": 1})
            await fake.advance(1)
            seen = []
            for _ in range(6):
                data = json.loads(await asyncio.wait_for(ws.receive_str(), 5))["data"][0]
                seen.append(((data["start"] - fake.start_ms) // 300_000, data["confirm"]))
            return seen

    seen = asyncio.run(run())
    assert seen == [
        (0, True),  # duplicated
        (0, True),
        (1, False),
        (2, False),  # the next bar's first update before ...
        (1, True),  # ... the close of bar 1: out of order
        (3, False),  # bar 2's close never comes: a gap
    ]


def test_partial_fills_rejected_stops_and_insufficient_margin(demo_tape: Tape) -> None:
    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        faults = Faults(partial_fills=1, reject_stops=2, insufficient_margin=1)
        async with (
            running_fake("bybit", demo_tape(), faults=faults) as fake,
            ccxt_client(fake) as client,
        ):
            await client.load_markets()
            with pytest.raises(ccxt.InsufficientFunds):
                await client.create_order(BTC, "market", "buy", 0.01)
            price = fake.tape.price("BTCUSDT")
            entry = await client.create_order(
                BTC, "market", "buy", 0.01, params={"stopLoss": round(price * 0.95, 1)}
            )
            out["half"] = await client.fetch_order(entry["id"], BTC, {"acknowledged": True})
            out["position"] = (await client.fetch_positions([BTC]))[0]
            with pytest.raises(ccxt.InvalidOrder, match="110009"):
                await client.create_order(
                    BTC, "market", "sell", 0.01, params={"stopLossPrice": round(price * 0.9, 1)}
                )
            await fake.advance(1)
            out["whole"] = await client.fetch_order(entry["id"], BTC, {"acknowledged": True})
        return out

    out = asyncio.run(run())
    half = out["half"]
    assert (half["status"], half["filled"], half["remaining"]) == ("open", 0.005, 0.005)
    assert half["info"]["orderStatus"] == "PartiallyFilled"
    assert out["position"]["contracts"] == 0.005
    assert not out["position"]["stopLossPrice"]  # "0": the attached stop was rejected
    whole = out["whole"]
    assert (whole["status"], whole["filled"]) == ("closed", 0.01)
