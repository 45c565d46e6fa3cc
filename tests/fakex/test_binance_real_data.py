"""The Binance fake replaying the real Binance USDⓈ-M 5m files of ../shared (skipped without them).

Candles come back through REST and websockets exactly as recorded, and an
accelerated clock streams closed candles to ccxt.pro while a stop rests.
"""

from __future__ import annotations

import asyncio
import csv
import itertools

import pytest
from garrison.fakex import MarketTape

from .binance_kit import BTC, ETH, SHARED_BINANCE, binance_client, binance_fake

FILES = [SHARED_BINANCE / f"binance_{s}_5m.csv" for s in ("BTCUSDT", "ETHUSDT")]

pytestmark = pytest.mark.skipif(
    not all(f.is_file() for f in FILES),
    reason=f"real Binance candles not found in {SHARED_BINANCE} (../shared/data is absent)",
)


def _tape() -> MarketTape:
    return MarketTape.from_paths([str(f) for f in FILES], exchange="binance")


def test_klines_are_the_recorded_rows_to_the_digit() -> None:
    with FILES[0].open() as handle:
        recorded = [row for _, row in zip(range(1_200), csv.DictReader(handle), strict=False)]

    async def scenario() -> list[list[float]]:
        async with binance_fake(_tape()) as fake, binance_client(fake) as client:
            first = int(recorded[0]["timestamp_ms"])
            return list(await client.fetch_ohlcv(BTC, "5m", since=first, limit=1000))

    served = asyncio.run(scenario())
    fields = ("timestamp_ms", "open", "high", "low", "close", "volume")
    expected = [[float(row[k]) for k in fields] for row in recorded[:1000]]
    assert [[float(x) for x in candle] for candle in served] == expected


def test_accelerated_clock_streams_closed_candles_while_a_stop_rests() -> None:
    async def scenario() -> tuple[list[int], str]:
        tape = _tape()
        async with binance_fake(tape, speed=6_000.0) as fake, binance_client(fake) as client:
            await client.load_markets()
            await client.create_order(ETH, "market", "buy", 0.1)
            price = tape.price("ETHUSDT")
            stop = await client.create_order(
                ETH, "market", "sell", 0.1, None,
                {"clientOrderId": "g-rd", "triggerPrice": round(price / 2, 2), "reduceOnly": True},
            )  # fmt: skip
            opens: list[int] = []
            while len(opens) < 4:  # a 5m bar every 50 ms of wall time
                candles = await asyncio.wait_for(client.watch_ohlcv(ETH, "5m"), 2)
                opens += [c[0] for c in candles if not opens or c[0] > opens[-1]]
            found = await client.fetch_order(stop["id"], ETH, {"trigger": True})
            return opens, found["status"]

    opens, status = asyncio.run(scenario())
    assert [b - a for a, b in itertools.pairwise(opens)] == [300_000] * 3
    assert status == "open"
