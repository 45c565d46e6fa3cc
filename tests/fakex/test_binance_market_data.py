"""The Binance fake serves what ccxt's binanceusdm needs to start: markets, time, klines, account.

Every call goes through the real ccxt client Garrison builds; the fake knows
only Binance's ``/fapi`` paths, so a client reaching for anything else (the
spot ``sapi`` wallet calls ``load_markets`` makes by default) would fail here.
"""

from __future__ import annotations

import asyncio

import ccxt
import pytest

from .binance_kit import BTC, ETH, binance_client, binance_fake, demo_tape, public, signed


def test_load_markets_asks_only_futures_paths_and_keeps_binance_rules() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake, binance_client(fake) as client:
            markets = await client.load_markets()
            assert set(markets) == {BTC, ETH}
            btc = markets[BTC]
            assert (btc["type"], btc["linear"], btc["settle"]) == ("swap", True, "USDT")
            # Binance's bundled rules, not the candles' venue: tick 0.1, lot 0.001, 100 USDT
            assert btc["precision"] == {
                "amount": 0.001,
                "price": 0.1,
                "base": 1e-08,
                "quote": 1e-08,
            }
            assert btc["limits"]["amount"]["min"] == 0.001
            assert btc["limits"]["cost"]["min"] == 100.0
            server = await client.fetch_time()
            assert abs(server - fake.server_time_ms()) < 2_000

    asyncio.run(scenario())


def test_fetch_ohlcv_pages_by_start_end_and_limit_like_the_venue() -> None:
    async def scenario() -> None:
        tape = demo_tape()
        async with binance_fake(tape) as fake, binance_client(fake) as client:
            series = tape.series("BTCUSDT", "5m")
            now = tape.now_ms()
            latest = await client.fetch_ohlcv(BTC, "5m")
            assert len(latest) == 500  # the venue's default limit
            last = latest[-1]
            # the candle in progress is there, open-only, as on the venue
            assert last[0] <= now < last[0] + 300_000
            assert last[1] == last[2] == last[3] == last[4]
            assert last[5] == 0.0
            first = int(series.ts[0])
            page = await client.fetch_ohlcv(BTC, "5m", since=first, limit=3)
            assert [c[0] for c in page] == [first, first + 300_000, first + 600_000]
            assert page[0][1:] == [
                float(series.open[0]),
                float(series.high[0]),
                float(series.low[0]),
                float(series.close[0]),
                float(series.volume[0]),
            ]
            until = first + 10 * 300_000
            bounded = await client.fetch_ohlcv(BTC, "5m", since=first, params={"until": until})
            assert [c[0] for c in bounded] == [first + i * 300_000 for i in range(11)]
            # paging forward with since = last + 1 bar walks the history without holes, up to now
            seen: list[int] = []
            since = first
            while chunk := await client.fetch_ohlcv(BTC, "5m", since=since, limit=400):
                seen += [c[0] for c in chunk]
                since = chunk[-1][0] + 300_000
            assert seen == [first + i * 300_000 for i in range(len(seen))]
            assert seen[-1] == last[0]
            assert len(seen) == 1_001

    asyncio.run(scenario())


def test_klines_refuse_what_the_venue_refuses() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake:
            assert await public(fake, "/fapi/v1/klines", symbol="NOPEUSDT", interval="5m") == (
                400,
                {"code": -1121, "msg": "Invalid symbol."},
            )
            status, body = await public(fake, "/fapi/v1/klines", symbol="BTCUSDT", interval="7m")
            assert (status, body["code"]) == (400, -1120)
            status, body = await public(
                fake, "/fapi/v1/klines", symbol="BTCUSDT", interval="5m", limit=1501
            )
            assert (status, body["code"]) == (400, -1130)
            status, rows = await public(fake, "/fapi/v1/klines", symbol="BTCUSDT", interval="5m")
            assert status == 200
            assert len(rows[-1]) == 12
            # [open, o, h, l, c, v, close time, quote volume, trades, taker base, taker quote, "0"]
            assert rows[-2][6] == rows[-2][0] + 299_999
            assert all(isinstance(x, str) for x in rows[-2][1:6])

    asyncio.run(scenario())


def test_balance_positions_and_account_follow_a_trade() -> None:
    async def scenario() -> None:
        tape = demo_tape()
        async with binance_fake(tape) as fake, binance_client(fake) as client:
            balance = await client.fetch_balance()
            assert balance["USDT"]["total"] == 10_000.0
            assert balance["USDT"]["free"] == 10_000.0
            assert await client.fetch_positions() == []
            await client.set_leverage(5, BTC)
            await client.create_order(BTC, "market", "sell", 0.05)
            price = tape.price("BTCUSDT")
            [position] = await client.fetch_positions()
            assert position["symbol"] == BTC
            assert (position["side"], position["contracts"]) == ("short", 0.05)
            assert position["entryPrice"] == price
            assert position["marginMode"] == "cross"
            # v3 has no leverage field; v2 (useV2) has it, and lists flat symbols too
            v2 = await client.fetch_positions(None, {"useV2": True})
            assert [(p["symbol"], p["leverage"]) for p in v2] == [(BTC, 5.0)]
            status, rows = await signed(fake, "GET", "/fapi/v2/positionRisk")
            assert status == 200
            assert {r["symbol"] for r in rows} == {"BTCUSDT", "ETHUSDT"}
            balance = await client.fetch_balance()
            fee = 0.05 * price * 0.00055
            assert abs(balance["USDT"]["total"] - (10_000.0 - fee)) < 1e-6
            assert abs(balance["USDT"]["used"] - 0.05 * price / 5) < 1e-6
            status, account = await signed(fake, "GET", "/fapi/v2/account")
            assert status == 200
            assert account["canTrade"] is True
            status, rows = await signed(fake, "GET", "/fapi/v2/balance")
            assert status == 200
            assert rows[0]["asset"] == "USDT"

    asyncio.run(scenario())


def test_leverage_and_margin_mode_answer_as_binance_does() -> None:
    async def scenario() -> None:
        async with binance_fake() as fake, binance_client(fake) as client:
            assert await client.set_leverage(7, BTC) == {
                "leverage": 7,
                "maxNotionalValue": "1000000000",
                "symbol": "BTCUSDT",
            }
            # out of the symbol's range: -4028 (ccxt BadRequest)
            status, body = await signed(
                fake, "POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=50
            )
            assert (status, body["code"]) == (400, -4028)
            # already cross: Binance answers -4046; ccxt raises MarginModeAlreadySet (its option
            # throwMarginModeAlreadySet is on by default for binance), a caller treats it as done
            with pytest.raises(ccxt.MarginModeAlreadySet, match="-4046"):
                await client.set_margin_mode("cross", BTC)
            assert await client.set_margin_mode("isolated", BTC) == {"code": 200, "msg": "success"}
            await client.create_order(BTC, "market", "buy", 0.01)
            [position] = await client.fetch_positions()
            assert position["marginMode"] == "isolated"
            with pytest.raises(ccxt.OperationRejected, match="-4048"):
                await client.set_margin_mode("cross", BTC)

    asyncio.run(scenario())
