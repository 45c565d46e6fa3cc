"""Client ids of protective orders across restarts, and "id used already" refusals.

A Binance stop placed just before the host dies is in no checkpoint. The
restarted host must find it and keep it: sending it again under the same id
is refused (the position would then be flattened for nothing), and under a
new one it would stand twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt.async_support as ccxt
import pytest
from garrison.live.orders import ExchangeVenue, Held, is_duplicate_id
from garrison_api import Market, Side

BASE = "g4f7f7786el1997ccaf5a0-ADAUSDT"


@pytest.mark.parametrize(
    ("exc", "duplicate"),
    [
        (
            ccxt.InvalidOrder('binanceusdm {"code":-4116,"msg":"ClientOrderId is duplicated."}'),
            True,
        ),
        (
            ccxt.InvalidOrder('binanceusdm {"code": -4116, "msg": "ClientOrderId is duplicated."}'),
            True,
        ),
        (ccxt.InvalidOrder('bybit {"retCode":110072,"retMsg":"OrderLinkedID is duplicate"}'), True),
        (ccxt.DuplicateOrderId("bybit duplicate"), True),
        (ccxt.InvalidOrder('binanceusdm {"code":-41160,"msg":"other"}'), False),
        (
            ccxt.InvalidOrder(
                'binanceusdm {"code":-2021,"msg":"Order would immediately trigger."}'
            ),
            False,
        ),
        (ccxt.ExchangeError('binanceusdm {"code":-4116}'), False),
    ],
)
def test_a_repeated_client_id_is_recognised_whatever_class_ccxt_gives_it(
    exc: Exception, duplicate: bool
) -> None:
    assert is_duplicate_id(exc) is duplicate


@pytest.mark.parametrize(
    ("cid", "placement"),
    [
        ("s" + BASE[1:], 1),
        ("t" + BASE[1:], 1),
        ("s2" + BASE[1:], 2),
        ("t2" + BASE[1:], 2),
        ("f3" + BASE[1:], 3),
        ("s12" + BASE[1:], 12),
        (BASE, None),  # the entry itself
        ("s" + BASE[1:-1] + "X", None),  # another position's
        ("x2" + BASE[1:], None),
    ],
)
def test_a_protective_order_id_tells_its_placement(cid: str, placement: int | None) -> None:
    assert ExchangeVenue._placement_of(cid, BASE[1:]) == placement


class StubBinance:
    """What the venue asks Binance when it protects a position after a restart."""

    def __init__(self, orders: list[dict[str, Any]], contracts: float) -> None:
        self.orders = orders
        self.contracts = contracts
        self.created: list[str] = []

    async def fetch_positions(self, symbols: list[str]) -> list[dict[str, Any]]:
        return [{"symbol": symbols[0], "contracts": self.contracts}]

    async def fetch_orders(
        self, symbol: str, since: int, limit: None, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        assert params == {"trigger": True}
        return self.orders

    async def create_order(self, *args: Any) -> dict[str, Any]:
        cid = args[-1]["clientOrderId"]
        self.created.append(cid)
        return {"id": f"new-{cid}"}


def _venue(client: StubBinance, events: list[str]) -> ExchangeVenue:
    market = Market("ADAUSDT", tick_size=0.0001, lot_step=1.0, min_qty=1.0)
    return ExchangeVenue(
        client=client,
        exchange="binance",
        markets={"ADAUSDT": market},
        ccxt_symbols={"ADAUSDT": "ADA/USDT:USDT"},
        bar_ms={"ADAUSDT": 300_000},
        leverage=10.0,
        on_event=lambda kind, _level, _message, _data: events.append(kind),
    )


def _held() -> Held:
    return Held(Side.LONG, 26505.0, "intent-1", BASE, 1_758_735_000_000)


def test_a_stop_placed_before_the_kill_is_kept_not_sent_again() -> None:
    client = StubBinance(
        [
            {"id": "11", "clientOrderId": "s" + BASE[1:], "status": "canceled"},
            {"id": "12", "clientOrderId": "s2" + BASE[1:], "status": "open"},
            {"id": "13", "clientOrderId": "other", "status": "open"},
        ],
        contracts=26505.0,
    )
    events: list[str] = []
    venue = _venue(client, events)
    held = _held()
    asyncio.run(venue._binance_conditionals("ADAUSDT", held, 0.80, None, look_first=True))
    assert client.created == []
    assert held.protection == ["12"]
    assert held.placements == 2  # the next placement takes an id never used
    assert events == ["protection.kept"]


def test_a_stop_gone_after_the_kill_goes_again_under_an_unused_id() -> None:
    client = StubBinance(
        [{"id": "11", "clientOrderId": "s" + BASE[1:], "status": "canceled"}],
        contracts=26505.0,
    )
    venue = _venue(client, [])
    held = _held()
    asyncio.run(venue._binance_conditionals("ADAUSDT", held, 0.80, None, look_first=True))
    assert client.created == ["s2" + BASE[1:]]
    assert held.protection == ["new-s2" + BASE[1:]]


def test_a_position_closed_while_the_host_was_down_is_not_protected_again() -> None:
    # Its stop fired meanwhile: the next sync books the exit.
    client = StubBinance(
        [{"id": "11", "clientOrderId": "s" + BASE[1:], "status": "closed"}], contracts=0.0
    )
    venue = _venue(client, [])
    held = _held()
    asyncio.run(venue._binance_conditionals("ADAUSDT", held, 0.80, None, look_first=True))
    assert client.created == []
    assert held.protection == []


class PastStopBinance(StubBinance):
    """Refuses the stop as already triggered (-2021); takes the market close."""

    async def create_order(self, *args: Any) -> dict[str, Any]:
        cid = args[-1]["clientOrderId"]
        if args[1] == "STOP_MARKET":
            raise ccxt.OrderImmediatelyFillable(
                'binanceusdm {"code":-2021,"msg":"Order would immediately trigger."}'
            )
        self.created.append(cid)
        return {"id": f"new-{cid}"}


def test_a_stop_the_price_has_passed_closes_the_position_without_halting() -> None:
    """The stop would have fired: closed at market as it would have; the symbol trades on."""
    client = PastStopBinance([], contracts=26505.0)
    events: list[str] = []
    venue = _venue(client, events)
    held = _held()
    asyncio.run(venue._protect("ADAUSDT", held, 0.80, None))
    assert client.created == ["f2" + BASE[1:]]  # the close, reduce-only
    assert venue.halted == set()
    assert events == ["protection.passed"]
