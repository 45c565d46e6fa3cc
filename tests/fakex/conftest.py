"""Fixtures for the fake-exchange tests: the bundled Bybit 5m candles and ccxt clients.

The tape is built from ``data/demo`` (real Bybit 5-minute candles shipped in
the repository), so nothing here needs ``../shared``. Clients are the real
ccxt / ccxt.pro classes made by ``garrison.live.connect.make_client`` and
pointed at the fake on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from garrison.fakex import FakeExchange, MarketTape
from garrison.live.connect import make_client

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


def demo_files(*symbols: str) -> list[str]:
    """Paths of the bundled 5m files of ``symbols`` (exchange ids such as ``BTCUSDT``)."""
    return [str(DEMO / f"bybit_{symbol}_5m.csv.gz") for symbol in symbols]


@pytest.fixture
def demo_tape() -> Callable[..., MarketTape]:
    """A fresh tape of bundled candles per call (BTC and ETH unless told)."""

    def make(*symbols: str) -> MarketTape:
        return MarketTape.from_paths(demo_files(*(symbols or ("BTCUSDT", "ETHUSDT"))))

    return make


@asynccontextmanager
async def ccxt_client(
    fake: FakeExchange, *, pro: bool = True, paced: bool = False, **options: Any
) -> AsyncIterator[Any]:
    """A real ccxt client pointed at ``fake`` (key "k", secret "s"), closed on exit.

    ccxt's client-side rate limiter only spaces requests out (at a cost of
    about a second per test); it is off unless ``paced``.
    """
    client = make_client(
        fake.exchange,
        rest_url=fake.rest_url,
        ws_url=fake.ws_url,
        api_key="k",
        secret="s",
        pro=pro,
        **options,
    )
    client.enableRateLimit = paced
    try:
        yield client
    finally:
        await client.close()
