"""The fake's clock and control endpoints, in process and over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import numpy as np
import pytest
from garrison.engine.feed import Series
from garrison.fakex import FakeExchange, MarketTape, running_fake
from garrison.fakex.server import _dialect

Tape = Callable[..., MarketTape]


def one_minute_bars(n: int) -> Series:
    ts = np.array([1_700_000_100_000 + i * 60_000 for i in range(n)], np.int64)
    px = np.linspace(100.0, 140.0, n)
    return Series("AAAUSDT", "1m", ts, px, px + 1, px - 1, px + 0.5, np.ones(n))


def test_control_endpoints_show_state_set_faults_and_move_a_manual_clock(demo_tape: Tape) -> None:
    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with running_fake("bybit", demo_tape()) as fake, aiohttp.ClientSession() as http:
            base = fake.rest_url
            async with http.post(f"{base}/_fake/faults", json={"lost_replies": 2}) as response:
                out["faults"] = await response.json()
            async with http.post(f"{base}/_fake/faults", json={"nonsense": 1}) as response:
                out["bad_status"] = response.status
                out["bad"] = await response.json()
            async with http.post(f"{base}/_fake/advance", json={"bars": 3}) as response:
                out["clock"] = await response.json()
            fake.account.place_order(
                symbol="BTCUSDT", side="buy", kind="market", qty=0.01, now_ms=fake.now_ms()
            )
            async with http.get(f"{base}/_fake/state") as response:
                out["state"] = await response.json()
            out["start"] = fake.start_ms
        return out

    out = asyncio.run(run())
    assert out["faults"]["faults"]["lost_replies"] == 2
    assert out["bad_status"] == 400
    assert "unknown fault 'nonsense'" in out["bad"]["error"]
    assert out["clock"]["now_ms"] == out["start"] + 3 * 300_000
    state = out["state"]
    assert state["exchange"] == "bybit"
    assert [p["symbol"] for p in state["positions"]] == ["BTCUSDT"]
    assert [o["status"] for o in state["orders"]] == ["filled"]
    assert len(state["fills"]) == 1
    assert state["balance"]["wallet"] < 10_000.0
    assert state["faults"]["lost_replies"] == 2


def test_a_running_clock_walks_the_tape_to_its_end_and_stops() -> None:
    s = one_minute_bars(40)
    ts = s.ts
    closes: list[int] = []

    async def run() -> tuple[bool, int]:
        fake = FakeExchange("bybit", MarketTape([s]), speed=60_000.0, history=10)
        fake.on_bar_close(lambda when, closed, opened: closes.append(when))
        await fake.start()
        try:
            await asyncio.wait_for(fake.finished.wait(), 10)
            return fake.finished.is_set(), fake.now_ms()
        finally:
            await fake.stop()

    finished, now = asyncio.run(run())
    assert finished
    assert closes == [int(t) + 60_000 for t in ts[10:]]  # every bar after the history closes
    assert now == int(ts[-1]) + 60_000
    with pytest.raises(RuntimeError, match="manual"):
        asyncio.run(FakeExchange("bybit", MarketTape([s]), speed=1.0).advance())


def test_the_listener_sees_bar_closes_after_the_account_judged_them(demo_tape: Tape) -> None:
    seen: list[tuple[int, int, int, list[str]]] = []

    async def run() -> None:
        async with running_fake("bybit", demo_tape("BTCUSDT")) as fake:
            account = fake.account
            price = fake.tape.price("BTCUSDT")
            account.place_order(
                symbol="BTCUSDT",
                side="buy",
                kind="market",
                qty=0.01,
                attached_stop=round(price - 0.1, 1),
                now_ms=fake.now_ms(),
            )

            def listener(when: int, closed: list[Any], opened: list[Any]) -> None:
                seen.append(
                    (when, len(closed), len(opened), [p.symbol for p in account.positions()])
                )

            fake.on_bar_close(listener)
            await fake.advance(5)

    asyncio.run(run())
    assert [(closed, opened) for _, closed, opened, _ in seen] == [(1, 1)] * 5
    # the stop one tick under the entry is hit on the first bar, before the listener hears of it
    assert seen[0][3] == []


def test_a_dialect_that_is_not_there_is_named() -> None:
    with pytest.raises(ValueError, match="cannot speak 'nosuch' yet"):
        _dialect("nosuch")
    with pytest.raises(ValueError, match="unknown exchange 'kraken'"):
        FakeExchange("kraken", MarketTape([one_minute_bars(3)]))
