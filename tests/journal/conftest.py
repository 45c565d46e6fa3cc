"""Fixtures for the journal tests: a journal in tmp_path and sample values of every type."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from garrison.journal import Journal
from garrison_api import (
    Event,
    ExitReason,
    Fill,
    Level,
    Market,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Outcome,
    Position,
    Score,
    Side,
    Signal,
    SignalKind,
    Trade,
    Veto,
)

T0 = 1_763_732_712_000  # 2025-11-21 13:45:12 UTC
PROFILE_TOML = '[profile]\nname = "demo"\nmode = "replay"\n'


class Samples:
    """Values with every optional field both set and unset, and awkward numbers."""

    market = Market(
        symbol="BTCUSDT",
        tick_size=0.1,
        lot_step=0.001,
        min_qty=0.001,
        min_notional=5.0,
        contract_size=1.0,
        max_qty=100.0,
        max_leverage=None,
    )

    def signal(self, i: int = 0, **changes: object) -> Signal:
        values: dict[str, object] = {
            "symbol": "BTCUSDT",
            "ts": T0 + i * 300_000,
            "side": Side.LONG if i % 2 == 0 else Side.SHORT,
            "kind": SignalKind.ENTRY,
            "entry": 100.5 + i,
            "stop": 99.0 + i,
            "take_profit": 104.25 + i if i % 3 else None,
            "reason": f"breakout {i}",
            "features": {"atr": 1.25, "rsi": 55.5 + i, "neg": -3.0},
            "bracket_from_fill": i % 2 == 1,
            "execute": i % 4 != 3,
            "horizon_ms": 7_200_000 if i % 2 else None,
        }
        values.update(changes)
        return Signal(**values)  # type: ignore[arg-type]

    def score(self) -> Score:
        # version and model_hash (API 1.2): the provenance every score is journaled with.
        return Score(
            value=0.73,
            model="river-1",
            details={"prior": 0.5, "n": 12.0},
            version="7",
            model_hash="9f" * 32,
        )

    def veto(self, halt: bool = False) -> Veto:
        return Veto(
            stage="max_drawdown",
            reason="drawdown 12% > 10%",
            halt=halt,
            halt_until=T0 if halt else None,
        )

    def intent(self, i: int = 0, **changes: object) -> OrderIntent:
        values: dict[str, object] = {
            "id": f"intent-{i}",
            "ts": T0 + i,
            "symbol": "BTCUSDT",
            "side": Side.SHORT,
            "qty": 0.012,
            "price": 101.3,
            "market": self.market,
            "reduce_only": i % 2 == 1,
            "stop": 103.0 if i % 2 == 0 else None,
            "take_profit": None,
            "order_type": OrderType.MARKET,
            "strategy": "turtle",
            "signal_id": f"sig-{i}" if i % 2 == 0 else None,
        }
        values.update(changes)
        return OrderIntent(**values)  # type: ignore[arg-type]

    def order(self, status: OrderStatus = OrderStatus.OPEN) -> Order:
        return Order(
            id="order-1",
            intent_id="intent-0",
            client_order_id="g20251121-intent-0",
            ts=T0,
            symbol="BTCUSDT",
            side=Side.SHORT,
            reduce_only=False,
            qty=0.012,
            order_type=OrderType.LIMIT,
            status=status,
            price=101.0 if status is OrderStatus.OPEN else None,
            reason="no position to close" if status is OrderStatus.REJECTED else "",
        )

    def fill(self) -> Fill:
        return Fill(
            order_id="order-1",
            intent_id="intent-0",
            ts=T0 + 300_000,
            symbol="BTCUSDT",
            side=Side.SHORT,
            reduce_only=False,
            qty=0.012,
            price=101.25,
            fee=0.00066,
            reason="entry",
        )

    def position(self, signal_id: str | None = "sig-0") -> Position:
        return Position(
            symbol="BTCUSDT",
            side=Side.SHORT,
            qty=0.012,
            entry_price=101.25,
            entry_ts=T0 + 300_000,
            stop=103.0,
            take_profit=None,
            strategy="turtle",
            intent_id="intent-0",
            signal_id=signal_id,
        )

    def trade(self, i: int = 0) -> Trade:
        return Trade(
            id=f"trade-{i}",
            symbol="ETHUSDT",
            side=Side.LONG,
            qty=1.5,
            entry_ts=T0,
            entry_price=3000.0,
            exit_ts=T0 + 3_600_000,
            exit_price=3090.0,
            exit_reason=ExitReason.TAKE_PROFIT,
            pnl=132.5,
            fees=2.5,
            r_multiple=2.5 if i % 2 == 0 else None,
            strategy="pullback",
        )

    def outcome(self, signal: Signal, signal_id: str = "sig-2") -> Outcome:
        # Prices set: an Outcome left with its NaN prices is not equal to itself.
        return Outcome(
            signal=signal,
            strategy="turtle",
            r_multiple=-1.0,
            exit_reason=ExitReason.STOP,
            closed_ts=T0 + 900_000,
            phantom=True,
            signal_id=signal_id,
            score=0.42,
            entry_price=102.5,
            exit_price=101.0,
            mfe_r=0.4,
            mae_r=1.0,
        )

    def event(self) -> Event:
        return Event(
            ts=T0,
            kind="trade.closed",
            message="ETHUSDT long closed +2.5R",
            level=Level.WARNING,
            source="host",
            data={"symbol": "ETHUSDT", "r": 2.5, "n": 3, "ok": True, "none": None},
        )


def candles(n: int, start: int = T0, step: int = 300_000) -> np.ndarray:
    """``n`` synthetic (ts, o, h, l, c, v) rows on a ``step`` grid."""
    ts = start + step * np.arange(n, dtype=np.int64)
    close = 100.0 + np.arange(n, dtype=np.float64)
    return np.column_stack([ts, close - 0.5, close + 1.0, close - 1.0, close, np.full(n, 7.5)])


@pytest.fixture
def samples() -> Samples:
    return Samples()


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite"


@pytest.fixture
def journal(journal_path: Path) -> Iterator[Journal]:
    j = Journal.open(journal_path)
    yield j
    j.close()


@pytest.fixture
def running(journal: Journal) -> Journal:
    """A journal with a run started."""
    journal.start_run(profile_name="demo", mode="replay", profile_toml=PROFILE_TOML, started_ms=T0)
    return journal


@pytest.fixture
def make_candles() -> Callable[..., np.ndarray]:
    """The ``candles`` factory (test modules cannot import this conftest)."""
    return candles
