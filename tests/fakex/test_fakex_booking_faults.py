"""Faults after booking can spare plain or conditional orders; repeated client ids are counted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from garrison.fakex import FakeError, FakeExchange, Faults, MarketTape

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "bybit_BTCUSDT_5m.csv.gz"


@pytest.mark.parametrize(
    ("plain_only", "conditional_only", "strikes_plain", "strikes_conditional"),
    [
        (False, False, True, True),
        (True, False, True, False),
        (False, True, False, True),
    ],
)
def test_booking_faults_strike_the_kinds_of_order_asked_for(
    plain_only: bool, conditional_only: bool, strikes_plain: bool, strikes_conditional: bool
) -> None:
    faults = Faults()
    faults.update(
        {
            "booking_faults_plain_only": plain_only,
            "booking_faults_conditional_only": conditional_only,
        }
    )
    assert faults.strikes_booked(conditional=False) is strikes_plain
    assert faults.strikes_booked(conditional=True) is strikes_conditional


def test_a_spared_order_keeps_the_fault_for_the_next_one_it_strikes() -> None:
    async def run() -> tuple[bool, int, int]:
        faults = Faults(errors_5xx_after_booking=1, booking_faults_conditional_only=True)
        fake = FakeExchange("bybit", MarketTape.from_paths([str(DEMO)]), faults=faults)
        spared = await fake.fault_after_booking(conditional=False) is None
        struck = await fake.fault_after_booking(conditional=True)
        assert struck is not None
        return spared, struck.status, faults.errors_5xx_after_booking

    assert asyncio.run(run()) == (True, 502, 0)


def test_the_account_counts_each_refused_repeat_of_a_client_id() -> None:
    fake = FakeExchange("bybit", MarketTape.from_paths([str(DEMO)]))
    account = fake.account
    now = fake.now_ms()
    account.place_order(
        symbol="BTCUSDT", side="buy", kind="market", qty=0.01, client_id="once", now_ms=now
    )
    for _ in range(2):
        with pytest.raises(FakeError, match="duplicate"):
            account.place_order(
                symbol="BTCUSDT", side="buy", kind="market", qty=0.01, client_id="once", now_ms=now
            )
    assert account.refused_duplicates == ["once", "once"]
    assert [o.client_id for o in account.orders()] == ["once"]
