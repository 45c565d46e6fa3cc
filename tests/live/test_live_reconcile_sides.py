"""Reconciliation of a position the exchange holds on the other side than the journal."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from garrison.live.reconcile import Reconciler
from garrison_api import Position, Side


class StubVenue:
    """The venue calls the reconciler makes, answering from fixed exchange positions."""

    def __init__(self, positions: dict[str, tuple[str, float, dict[str, Any]]]) -> None:
        self.positions = positions
        self.held: dict[str, Any] = {}
        self.adopted: list[Position] = []

    async def open_positions(self) -> dict[str, tuple[str, float, dict[str, Any]]]:
        return self.positions

    def busy(self) -> set[str]:
        return set()

    def adopt(self, position: Position) -> None:
        self.adopted.append(position)

    def request_full_sync(self) -> None:
        pass


def test_an_opposite_position_is_a_difference_and_halts() -> None:
    events: list[tuple[str, str, str]] = []
    halts: list[str] = []
    venue = StubVenue({"ADAUSDT": ("short", 3021.0, {})})
    reconciler = Reconciler(
        client=None,
        venue=venue,  # type: ignore[arg-type]
        ccxt_symbols={"ADAUSDT": "ADA/USDT:USDT"},
        unknown_positions="flatten",
        on_event=lambda kind, level, message, data: events.append((kind, level, message)),
        halt=halts.append,
    )
    journal = Position("ADAUSDT", Side.LONG, 12391.0, 0.7803, 0)
    ledger = SimpleNamespace(positions={"ADAUSDT": journal})
    assert asyncio.run(reconciler.run(ledger)) is False  # type: ignore[arg-type]
    assert events == [
        (
            "reconcile.difference",
            "warning",
            "ADAUSDT: the journal holds long 12391, the exchange short 3021; trading halts "
            "for an operator",
        )
    ]
    assert halts == ["ADAUSDT: the journal holds a long position, the exchange a short one"]
    assert venue.adopted == []  # nothing flattened or booked on a guess
