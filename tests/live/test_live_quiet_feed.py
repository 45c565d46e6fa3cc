"""A websocket that goes silent: the closed candles it never sends are read through REST.

The fake stalls its candle websockets for an hour of market time (the
connections stay up and answer pings, so ccxt sees nothing wrong). A bar
closes, and nothing more comes: no later message reveals the hole. With
``quiet_s = 0.5`` the host asks REST after half a second of silence, finds
the closed bar of every symbol and decides on it, as if it had streamed.
(The same silence ends a restart begun while a bar closed between its
warm-up and its subscription, on a market that then stands still.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.mark.parametrize(("exchange", "silent_bars"), [("bybit", 1), ("binance", 1), ("bybit", 3)])
def test_a_silent_websocket_is_caught_up_through_rest(
    bench: ModuleType, exchange: str, silent_bars: int, tmp_path: Path
) -> None:
    """Every bar it missed is booked; only the latest is decided on (the older are late)."""

    async def run() -> dict[str, Any]:
        async with bench.live_run(
            exchange,
            tmp_path,
            strategy=lambda log: bench.recorder(log, 3),
            bars=6,
            exchange_extra="quiet_s = 0.5",
        ) as run:
            await run.bars(1)  # streamed as usual
            streamed = run.source.feed.stats.closed
            run.fake.faults.ws_stall_s = 3600.0
            # The fake sends nothing for these closes, nor after them.
            await run.fake.advance(silent_bars)
            close = run.fake.now_ms()
            await run.decided(close)
            stats = run.source.feed.stats
            return {
                "decided": close in run.log.closes,
                "decided_older": [
                    c for c in run.log.closes if close - silent_bars * bench.TF_MS < c < close
                ],
                "timeouts": run.timeouts,
                "quiet_checks": stats.quiet_checks,
                "caught_up": stats.caught_up,
                "closed_after": stats.closed - streamed,
                "late": stats.late,
                "stalled": run.fake.faults.injected.get("ws_stall_bar_closes", 0),
                "symbols": len(run.source.symbols),
            }

    out = asyncio.run(run())
    print(f"quiet websocket {exchange}: {out}")
    assert out["stalled"] >= 1  # the fake really sent nothing for that close
    assert out["decided"], out
    assert out["timeouts"] == 0
    assert out["quiet_checks"] >= 1
    # The newest closed bar of each symbol came through REST; the ones before it
    # (a longer silence) were backfilled as late: booked, decided on by nobody.
    assert out["caught_up"] == out["symbols"]
    assert out["closed_after"] == out["symbols"] * silent_bars
    assert out["late"] == out["symbols"] * (silent_bars - 1)
    assert out["decided_older"] == []
