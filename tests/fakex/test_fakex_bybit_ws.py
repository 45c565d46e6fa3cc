"""Bybit's public linear websocket: acks, pongs and kline pushes in bar-close order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
from garrison.fakex import MarketTape, running_fake

from .conftest import BTC, ETH, ccxt_client

Tape = Callable[..., MarketTape]


async def receive(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    return [json.loads(await asyncio.wait_for(ws.receive_str(), 5)) for _ in range(n)]


def test_subscribe_ack_ping_pong_and_bar_close_order(demo_tape: Tape) -> None:
    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with (
            running_fake("bybit", demo_tape()) as fake,
            aiohttp.ClientSession() as http,
            http.ws_connect(f"{fake.ws_url}/v5/public/linear") as ws,
        ):
            topics = ["kline.5.BTCUSDT", "kline.5.ETHUSDT"]
            await ws.send_json({"op": "subscribe", "req_id": "7", "args": topics})
            out["ack"], *out["snapshots"] = await receive(ws, 3)
            await ws.send_json({"op": "ping", "req_id": "8"})
            (out["pong"],) = await receive(ws, 1)
            await ws.send_json({"op": "subscribe", "req_id": "9", "args": ["kline.1.BTCUSDT"]})
            (out["refused"],) = await receive(ws, 1)
            out["now"] = fake.now_ms()
            await fake.advance(1)
            out["close"] = await receive(ws, 4)
        return out

    out = asyncio.run(run())
    ack = out["ack"]
    assert (ack["op"], ack["success"], ack["req_id"], ack["ret_msg"]) == (
        "subscribe",
        True,
        "7",
        "",
    )
    assert (out["pong"]["ret_msg"], out["pong"]["op"]) == ("pong", "ping")
    assert out["refused"]["success"] is False
    now = out["now"]
    assert [m["data"][0]["start"] for m in out["snapshots"]] == [now, now]
    close = out["close"]
    assert [m["topic"] for m in close] == ["kline.5.BTCUSDT", "kline.5.ETHUSDT"] * 2
    assert [m["data"][0]["confirm"] for m in close] == [True, True, False, False]
    assert [m["data"][0]["start"] for m in close] == [now, now, now + 300_000, now + 300_000]
    closed, opened = close[0]["data"][0], close[2]["data"][0]
    assert closed["end"] == now + 300_000 - 1
    assert float(closed["high"]) >= float(closed["low"])
    assert opened["open"] == opened["high"] == opened["low"] == opened["close"] == closed["close"]
    assert opened["volume"] == "0"


def test_watch_ohlcv_and_watch_ohlcv_for_symbols_receive_closed_bars(demo_tape: Tape) -> None:
    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with running_fake("bybit", demo_tape()) as fake, ccxt_client(fake) as client:
            out["now"] = fake.now_ms()
            out["first"] = await asyncio.wait_for(client.watch_ohlcv(BTC, "5m"), 5)
            watching = asyncio.ensure_future(client.watch_ohlcv(BTC, "5m"))
            await asyncio.sleep(0.05)
            await fake.advance(1)
            out["closed"] = await asyncio.wait_for(watching, 5)
            pairs = [[BTC, "5m"], [ETH, "5m"]]
            out["multi_first"] = await asyncio.wait_for(client.watch_ohlcv_for_symbols(pairs), 5)
            rest = await client.fetch_ohlcv(BTC, "5m", limit=2)
            out["rest_closed"] = rest[0]
        return out

    out = asyncio.run(run())
    now = out["now"]
    assert [row[0] for row in out["first"]] == [now]
    closed = out["closed"][0]
    assert closed[0] == now
    assert closed[2] > closed[3]
    assert closed == out["rest_closed"]  # the websocket bar equals REST's
    multi = out["multi_first"]
    ((symbol, by_tf),) = multi.items()
    assert symbol in (BTC, ETH)
    assert list(by_tf) == ["5m"]
