"""Helpers of the Binance fake-exchange tests: a fake on 127.0.0.1, real ccxt clients, raw calls.

The market is the bundled ``data/demo`` 5m candles (real Bybit prices, traded
here under Binance's instrument rules), so these tests never need
``../shared``; the real Binance files are used only where a test says so.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from garrison.fakex import FakeExchange, MarketTape, running_fake
from garrison.live.connect import make_client

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
SHARED_BINANCE = REPO.parent / "shared" / "data" / "candles" / "binance_usdm"
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
KEY, SECRET = "k", "s"


def demo_tape(*symbols: str) -> MarketTape:
    """A tape of the bundled 5m candles of ``symbols`` (BTCUSDT and ETHUSDT unless told)."""
    names = symbols or ("BTCUSDT", "ETHUSDT")
    return MarketTape.from_paths([str(DEMO / f"bybit_{s}_5m.csv.gz") for s in names])


@asynccontextmanager
async def binance_fake(
    tape: MarketTape | None = None, **options: Any
) -> AsyncIterator[FakeExchange]:
    """A started Binance fake (manual clock, key "k", secret "s": signatures are checked)."""
    options.setdefault("api_key", KEY)
    options.setdefault("secret", SECRET)
    async with running_fake("binance", tape or demo_tape(), **options) as fake:
        yield fake


@asynccontextmanager
async def binance_client(
    fake: FakeExchange,
    *,
    pro: bool = True,
    timeout_ms: int = 10_000,
    api_key: str = KEY,
    secret: str = SECRET,
) -> AsyncIterator[Any]:
    """The real ccxt(.pro) ``binanceusdm`` client as Garrison builds it, pointed at ``fake``."""
    client = make_client(
        "binance",
        rest_url=fake.rest_url,
        ws_url=fake.ws_url,
        api_key=api_key,
        secret=secret,
        timeout_ms=timeout_ms,
        pro=pro,
    )
    try:
        yield client
    finally:
        await client.close()


async def signed(fake: FakeExchange, method: str, path: str, **params: Any) -> tuple[int, Any]:
    """A request signed the Binance way (query string for GET/DELETE, form body for POST)."""
    params.setdefault("timestamp", fake.server_time_ms())
    query = urlencode(params)
    signature = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    query += f"&signature={signature}"
    headers = {"X-MBX-APIKEY": KEY}
    async with aiohttp.ClientSession() as session:
        if method in ("GET", "DELETE"):
            url, data = f"{fake.rest_url}{path}?{query}", None
        else:
            url, data = f"{fake.rest_url}{path}", query
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        async with session.request(method, url, data=data, headers=headers) as response:
            return response.status, json.loads(await response.text())


async def public(fake: FakeExchange, path: str, **params: Any) -> tuple[int, Any]:
    """An unsigned GET."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{fake.rest_url}{path}", params=params) as response,
    ):
        return response.status, json.loads(await response.text())


def tick_floor(price: float, tick: float) -> float:
    """``price`` rounded down to the tick grid (as a clean decimal)."""
    places = max(0, len(repr(tick).split(".")[1]) if "." in repr(tick) else 0)
    return round(int(price / tick) * tick, places)


def reachable_stop(tape: MarketTape, symbol: str, tick: float, bars: int = 30) -> float:
    """A sell-stop trigger below the price now that one of the next ``bars`` bars reaches."""
    series = tape.series(symbol, tape.timeframes(symbol)[0])
    now = tape.now_ms()
    start = int((series.ts <= now).sum()) - 1  # the bar in progress
    lows = series.low[start : start + bars]
    price = tape.price(symbol)
    target = float(lows.min())
    assert target < price, "the tape never dips in the next bars: pick another start"
    return tick_floor(min(price - tick, target + (price - target) / 4), tick)


def reachable_rise(tape: MarketTape, symbol: str, tick: float, bars: int = 30) -> float:
    """A buy-stop trigger above the price now that one of the next ``bars`` bars reaches."""
    series = tape.series(symbol, tape.timeframes(symbol)[0])
    now = tape.now_ms()
    start = int((series.ts <= now).sum()) - 1
    highs = series.high[start : start + bars]
    price = tape.price(symbol)
    target = float(highs.max())
    assert target > price, "the tape never rises in the next bars: pick another start"
    return tick_floor(max(price + tick, target - (target - price) / 4), tick)
