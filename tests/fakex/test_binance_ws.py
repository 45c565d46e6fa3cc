"""Binance kline streams of the fake: the protocol (raw websocket) and what ccxt.pro makes of it.

A raw aiohttp client checks the frames (acks, ``"x"`` flags, envelopes,
pings, the candle faults message by message); the real ccxt.pro client checks
that ``watch_ohlcv`` / ``watch_ohlcv_for_symbols`` work against it, and how a
dropped connection or lost pongs reach the caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import ccxt
import pytest
from garrison.fakex import FakeExchange
from garrison.fakex.binance import DIALECT

from .binance_kit import BTC, ETH, binance_client, binance_fake, demo_tape

STREAMS = ["btcusdt@kline_5m", "ethusdt@kline_5m"]


@asynccontextmanager
async def raw_ws(fake: FakeExchange, path: str = "/ws") -> AsyncIterator[Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(fake.ws_url + path, autoping=False) as ws,
    ):
        yield ws


async def next_json(ws: Any, timeout: float = 2.0) -> Any:
    while True:
        message = await asyncio.wait_for(ws.receive(), timeout)
        if message.type == aiohttp.WSMsgType.TEXT:
            return json.loads(message.data)
        if message.type in (aiohttp.WSMsgType.PING, aiohttp.WSMsgType.PONG):
            continue
        raise AssertionError(f"unexpected frame {message.type}")


async def subscribe(ws: Any, streams: list[str], rid: int = 1) -> list[Any]:
    """SUBSCRIBE; the ack and the candles in progress that follow it."""
    await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": streams, "id": rid}))
    return [await next_json(ws) for _ in range(len(streams) + 1)]


async def drain(ws: Any, n: int) -> list[Any]:
    return [await next_json(ws) for _ in range(n)]


def test_subscribe_ack_then_closed_and_opening_candles() -> None:
    async def scenario() -> None:
        tape = demo_tape()
        async with binance_fake(tape) as fake, raw_ws(fake) as ws:
            ack, *current = await subscribe(ws, STREAMS, rid=7)
            assert ack == {"result": None, "id": 7}
            now = tape.now_ms()
            assert {m["s"] for m in current} == {"BTCUSDT", "ETHUSDT"}
            assert all(m["k"]["x"] is False and m["k"]["t"] <= now for m in current)
            await fake.advance(1)
            messages = await drain(ws, 4)
            closed, opened = messages[:2], messages[2:]
            assert [m["k"]["x"] for m in messages] == [True, True, False, False]
            bar = tape.last_closed("BTCUSDT")
            assert bar is not None
            btc = next(m["k"] for m in closed if m["s"] == "BTCUSDT")
            assert (btc["t"], btc["T"], btc["i"]) == (bar[0], bar[0] + 299_999, "5m")
            assert [float(btc[k]) for k in "ohlcv"] == list(bar[1:])
            assert all(m["e"] == "kline" and m["E"] == tape.now_ms() for m in messages)
            assert all(m["k"]["t"] == tape.now_ms() and m["k"]["v"] == "0.000" for m in opened)
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 8}))
            assert await next_json(ws) == {"result": STREAMS, "id": 8}
            await ws.send_str(json.dumps({"method": "UNSUBSCRIBE", "params": STREAMS[:1], "id": 9}))
            assert await next_json(ws) == {"result": None, "id": 9}
            await fake.advance(1)
            assert {m["s"] for m in await drain(ws, 2)} == {"ETHUSDT"}

    asyncio.run(scenario())


def test_combined_stream_url_and_limits() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake:
            async with raw_ws(fake, "/stream?streams=" + "/".join(STREAMS)) as ws:
                current = await drain(ws, 2)
                assert sorted(m["stream"] for m in current) == STREAMS
                assert all(m["data"]["e"] == "kline" for m in current)
            async with raw_ws(fake, "/ws/btcusdt@kline_5m") as ws:
                assert (await next_json(ws))["s"] == "BTCUSDT"
                names = [f"s{i}usdt@kline_5m" for i in range(1024)]
                await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": names, "id": 1}))
                refused = await next_json(ws)
                assert refused["id"] == 1
                assert refused["error"]["code"] == 2
            # over 10 requests a second: the venue drops the connection
            async with raw_ws(fake, "/market/ws/0") as ws:
                for i in range(11):
                    await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
                replies = []
                while True:
                    message = await asyncio.wait_for(ws.receive(), 2)
                    if message.type != aiohttp.WSMsgType.TEXT:
                        break
                    replies.append(json.loads(message.data))
                assert len(replies) == 10
                assert message.type == aiohttp.WSMsgType.CLOSE
                assert message.data == 1008  # policy violation
            assert fake.faults.injected["ws_too_many_messages"] == 1

    asyncio.run(scenario())


def test_pings_are_protocol_frames_and_pongs_can_be_lost() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake, raw_ws(fake) as ws:
            await ws.ping(b"hello")
            pong = await asyncio.wait_for(ws.receive(), 2)
            assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"hello")
            fake.faults.drop_pongs = True
            await ws.ping(b"again")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.receive(), 0.3)
            assert fake.faults.injected["drop_pongs"] == 1

    asyncio.run(scenario())


def test_server_pings_need_pongs_which_ccxt_sends() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake:
            streams = fake.app[DIALECT].streams
            streams.ping_interval_s, streams.pong_timeout_s = 0.05, 0.3
            async with binance_client(fake) as client:
                await client.watch_ohlcv(BTC, "5m")
                await asyncio.sleep(0.6)  # ccxt answered every ping: still connected
                assert len(fake.peers) == 1
            async with raw_ws(fake) as ws:  # a client that never answers pings is hung up on
                frames = []
                while (message := await asyncio.wait_for(ws.receive(), 2)).type == (
                    aiohttp.WSMsgType.PING
                ):
                    frames.append(message.type)
                assert frames
                assert message.type == aiohttp.WSMsgType.CLOSE
            assert fake.faults.injected["ws_no_pong_close"] == 1

    asyncio.run(scenario())


def test_watch_ohlcv_gets_each_closed_candle() -> None:
    async def scenario() -> None:
        tape = demo_tape()
        async with binance_fake(tape) as fake, binance_client(fake) as client:
            first = await client.watch_ohlcv(BTC, "5m")
            assert first[-1][0] <= tape.now_ms()
            for _ in range(3):
                await fake.advance(1)
                candles = await asyncio.wait_for(client.watch_ohlcv(BTC, "5m"), 2)
                bar = tape.last_closed("BTCUSDT")
                assert bar is not None
                assert candles[0] == list(bar)  # the closed candle, as recorded
            both = await client.watch_ohlcv_for_symbols([[BTC, "5m"], [ETH, "5m"]])
            assert set(both) <= {BTC, ETH}
            # every kline subscription of one ccxt client shares one connection (stream 0)
            assert [url for url in client.clients] == [fake.ws_url + "/market/ws/0"]
            assert len(fake.peers) == 1

    asyncio.run(scenario())


def test_dropped_connection_reaches_the_watcher_and_a_new_watch_reconnects() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake, binance_client(fake) as client:
            await client.watch_ohlcv(BTC, "5m")
            fake.faults.ws_close_every = 1
            pending = asyncio.ensure_future(client.watch_ohlcv(BTC, "5m"))
            await asyncio.sleep(0.05)
            await fake.advance(1)
            with pytest.raises(ccxt.NetworkError):
                await asyncio.wait_for(pending, 2)
            assert fake.faults.injected["ws_close"] == 1
            fake.faults.ws_close_every = 0
            again = await asyncio.wait_for(client.watch_ohlcv(BTC, "5m"), 2)
            assert again[-1][0] == fake.tape.now_ms()
        async with binance_fake() as fake, raw_ws(fake) as ws:
            await subscribe(ws, STREAMS[:1])
            fake.close_websockets()
            message = await asyncio.wait_for(ws.receive(), 2)
            assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
            assert ws.close_code == 1006  # no close frame: an abnormal closure

    asyncio.run(scenario())


def test_lost_pongs_time_the_ccxt_connection_out() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake, binance_client(fake) as client:
            client.streaming["keepAlive"] = 150  # ms; Binance's default is 3 minutes
            await client.watch_ohlcv(BTC, "5m")
            await asyncio.sleep(0.5)  # pongs answered: the connection stays up
            fake.faults.drop_pongs = True
            with pytest.raises(ccxt.RequestTimeout, match="ping-pong"):
                await asyncio.wait_for(client.watch_ohlcv(BTC, "5m"), 3)
            assert fake.faults.injected["drop_pongs"] >= 1

    asyncio.run(scenario())


def test_candle_faults_message_by_message() -> None:
    async def scenario() -> None:
        tape = demo_tape()
        async with binance_fake(tape) as fake, raw_ws(fake) as ws:
            await subscribe(ws, STREAMS[:1])

            async def bar_close() -> list[tuple[int, bool]]:
                await fake.advance(1)
                # a request's reply queues behind everything the bar close sent: a sentinel
                await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 99}))
                messages = []
                while "k" in (message := await next_json(ws)):
                    messages.append((message["k"]["t"], message["k"]["x"]))
                assert message["id"] == 99
                return messages

            t = tape.now_ms()
            assert await bar_close() == [(t, True), (t + 300_000, False)]
            fake.faults.duplicate_candles = 1
            t += 300_000
            assert await bar_close() == [(t, True), (t, True), (t + 300_000, False)]
            fake.faults.out_of_order_candles = 1
            t += 300_000
            assert await bar_close() == [(t + 300_000, False), (t, True)]
            fake.faults.gap_candles = 1
            t += 300_000
            assert await bar_close() == [(t + 300_000, False)]
            fake.faults.ws_stall_s = 600  # two 5m bars of silence
            t += 300_000
            assert await bar_close() == []
            assert await bar_close() == []
            t += 600_000
            assert await bar_close() == [(t, True), (t + 300_000, False)]
            # REST still has the candle the stream skipped
            async with binance_client(fake) as client:
                gap = t - 600_000
                [row] = await client.fetch_ohlcv(BTC, "5m", since=gap, limit=1)
                series = tape.series("BTCUSDT", "5m")
                index = int((series.ts < gap).sum())
                assert row == [gap, *(float(c[index]) for c in (series.open, series.high,
                               series.low, series.close, series.volume))]  # fmt: skip
            injected = fake.faults.injected
            assert (injected["duplicate_candles"], injected["out_of_order_candles"]) == (1, 1)
            assert (injected["gap_candles"], injected["ws_stall"]) == (1, 1)

    asyncio.run(scenario())
