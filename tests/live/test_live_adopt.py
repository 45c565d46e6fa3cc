"""``unknown_positions = "adopt"``: a position the host did not open is taken over and protected.

The fake's account holds a BTC long opened by hand (no client id, no stop)
before the host starts. The reconciliation at start finds it; the host books
it (strategy ``adopted``) at the exchange's entry price and places its stop
``adopt_stop_pct`` below that price: Bybit's position stop, a Binance
conditional order. The journal then equals the exchange.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


def _open_by_hand(fake: Any) -> None:
    fake.account.place_order(
        symbol="BTCUSDT", side="buy", kind="market", qty=0.01, now_ms=fake.now_ms()
    )


@pytest.mark.slow
@pytest.mark.parametrize("exchange", ["bybit", "binance"])
def test_an_unknown_position_is_adopted_and_protected(
    bench: ModuleType, exchange: str, tmp_path: Path
) -> None:
    async def run() -> dict[str, Any]:
        async with bench.live_run(
            exchange,
            tmp_path,
            strategy=lambda log: bench.recorder(log, 5),
            bars=4,
            exchange_extra='unknown_positions = "adopt"\nadopt_stop_pct = 3.0',
            before_start=_open_by_hand,
        ) as run:
            await run.to_end()
            fake = run.fake
            (position,) = [p for p in fake.account.positions() if p.size]
            stops = [
                o for o in fake.account.open_orders("BTCUSDT") if o.is_conditional and o.reduce_only
            ]
            return {"position": position, "stops": stops, "journal": run.journal}

    out = asyncio.run(run())
    position = out["position"]
    with sqlite3.connect(out["journal"]) as db:
        rows = db.execute(
            "SELECT symbol, side, qty, entry_price, stop, strategy, action FROM positions "
            "WHERE seq IN (SELECT MAX(seq) FROM positions GROUP BY symbol)"
        ).fetchall()
        events = [r[0] for r in db.execute("SELECT kind FROM events")]
    assert "position.adopted" in events
    ((symbol, side, qty, entry, stop, strategy, action),) = rows
    assert (symbol, side, qty, strategy, action) == ("BTCUSDT", "long", 0.01, "adopted", "open")
    assert entry == pytest.approx(position.entry_price)
    # 3 % below the entry, on the tick grid, rounded away from the price (down for a long)
    assert entry * 0.97 - 1.0 < stop <= entry * 0.97
    if exchange == "bybit":
        assert position.stop_loss == pytest.approx(stop)
    else:
        assert [o.trigger_price for o in out["stops"]] == [pytest.approx(stop)]
