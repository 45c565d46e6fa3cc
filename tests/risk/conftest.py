"""Shared builders for the risk tests: real exchange rules, intents and accounts.

The market numbers are copied from ../shared/data/markets (Binance USDⓈ-M
instruments 2025-11-27, Bybit linear excerpt with minNotionalValue);
test_risk_markets.py checks the copies against those files when present.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from garrison_api import AccountState, Market, OrderIntent, Position, Side, TradingState

#: 2025-10-10 21:15 UTC, the crash bar in the Bybit 5m files.
T0 = 1_760_130_900_000

MARKETS: dict[str, Market] = {
    "binance:BTCUSDT": Market(
        "BTCUSDT",
        tick_size=0.1,
        lot_step=0.001,
        min_qty=0.001,
        min_notional=100.0,
        max_leverage=20.0,
    ),
    "binance:SOLUSDT": Market(
        "SOLUSDT",
        tick_size=0.01,
        lot_step=1.0,
        min_qty=1.0,
        min_notional=5.0,
        max_leverage=20.0,
    ),
    "binance:DOGEUSDT": Market(
        "DOGEUSDT",
        tick_size=0.00001,
        lot_step=1.0,
        min_qty=1.0,
        min_notional=5.0,
        max_leverage=20.0,
    ),
    "bybit:BTCUSDT": Market(
        "BTCUSDT",
        tick_size=0.1,
        lot_step=0.001,
        min_qty=0.001,
        min_notional=5.0,
        max_qty=1190.0,
        max_leverage=100.0,
    ),
    "bybit:ETHUSDT": Market(
        "ETHUSDT",
        tick_size=0.01,
        lot_step=0.01,
        min_qty=0.01,
        min_notional=5.0,
        max_qty=7240.0,
        max_leverage=100.0,
    ),
}

IntentFactory = Callable[..., OrderIntent]
AccountFactory = Callable[..., AccountState]
PositionFactory = Callable[..., Position]


@pytest.fixture
def markets() -> dict[str, Market]:
    return dict(MARKETS)


@pytest.fixture
def make_intent() -> IntentFactory:
    """An entry on Bybit BTCUSDT unless told otherwise; the stop defaults to 2 % away."""

    def build(
        market: Market = MARKETS["bybit:BTCUSDT"],
        *,
        qty: float = 0.01,
        price: float = 60_000.0,
        side: Side = Side.LONG,
        reduce_only: bool = False,
        stop: float | str | None = "auto",
        ts: int = T0,
        **extra: Any,
    ) -> OrderIntent:
        if stop == "auto":
            stop = price * (0.98 if side is Side.LONG else 1.02)
        assert stop is None or isinstance(stop, float | int)
        return OrderIntent(
            id="intent-1",
            ts=ts,
            symbol=market.symbol,
            side=side,
            qty=qty,
            price=price,
            market=market,
            reduce_only=reduce_only,
            stop=stop,
            **extra,
        )

    return build


@pytest.fixture
def make_position() -> PositionFactory:
    def build(
        symbol: str = "ETHUSDT",
        *,
        side: Side = Side.LONG,
        qty: float = 0.1,
        entry_price: float = 2500.0,
    ) -> Position:
        return Position(symbol=symbol, side=side, qty=qty, entry_price=entry_price, entry_ts=T0)

    return build


@pytest.fixture
def make_account() -> AccountFactory:
    """A flat, running 10,000 USDT account at a new equity high unless told otherwise."""

    def build(
        *,
        equity: float = 10_000.0,
        peak_equity: float | None = None,
        day_start_equity: float | None = None,
        used_margin: float = 0.0,
        positions: tuple[Position, ...] = (),
        state: TradingState = TradingState.RUNNING,
        leverage: float = 1.0,
        ts: int = T0,
    ) -> AccountState:
        return AccountState(
            ts=ts,
            balance=equity,
            equity=equity,
            peak_equity=equity if peak_equity is None else peak_equity,
            day_start_equity=equity if day_start_equity is None else day_start_equity,
            used_margin=used_margin,
            positions=positions,
            state=state,
            leverage=leverage,
        )

    return build
