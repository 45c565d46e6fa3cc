"""Batched creates: the fake's batch endpoints as the real ccxt clients see them, and the
order path's batcher giving each order its own reply or its own exception."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import ccxt
import pytest
from garrison.fakex import Faults, MarketTape, running_fake
from garrison.live.batching import CreateBatcher, match_replies

from .binance_kit import binance_client, binance_fake
from .conftest import BTC, ETH, ccxt_client

Tape = Callable[..., MarketTape]


async def _create_all(
    batcher: CreateBatcher, orders: list[tuple[str, str, float, str]]
) -> list[Any]:
    """Create ``orders`` (symbol, side, qty, client id) at once; replies or exceptions."""
    return await asyncio.gather(
        *(
            batcher.create(symbol, side, qty, {"clientOrderId": cid})
            for symbol, side, qty, cid in orders
        ),
        return_exceptions=True,
    )


def _orders(prefix: str, count: int) -> list[tuple[str, str, float, str]]:
    return [
        (BTC if i % 2 else ETH, "buy" if i % 3 else "sell", 0.01 if i % 2 else 0.1, f"{prefix}{i}")
        for i in range(count)
    ]


async def _single_error(client: Any, symbol: str, qty: float, cid: str) -> type[BaseException]:
    with pytest.raises(ccxt.BaseError) as caught:
        await client.create_order(symbol, "market", "buy", qty, None, {"clientOrderId": cid})
    return type(caught.value)


@pytest.mark.parametrize(("exchange", "requests"), [("bybit", 1), ("binance", 2)])
def test_creates_of_one_turn_leave_in_batches_each_with_its_own_answer(
    exchange: str, requests: int, demo_tape: Tape
) -> None:
    """Seven creates at once: one Bybit batch (20 a request), two Binance ones (5 a request).

    Two are refused by the venue (a client id already used, a quantity the
    margin cannot carry): each gets the very exception class a single create
    would get, the other five their own order.
    """

    async def run() -> dict[str, Any]:
        async with (
            running_fake(exchange, demo_tape()) as fake,
            ccxt_client(fake) as client,
        ):
            await client.load_markets()
            await client.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "used"})
            duplicate = await _single_error(client, BTC, 0.01, "used")
            too_big = await _single_error(client, BTC, 1000.0, "huge-single")
            batcher = CreateBatcher(client, exchange)
            orders = _orders("b", 5)
            orders.insert(2, (BTC, "buy", 0.01, "used"))
            orders.insert(5, (BTC, "sell", 1000.0, "huge"))
            outcomes = await _create_all(batcher, orders)
            booked = [o.client_id for o in fake.account.orders()]
            return {
                "outcomes": outcomes,
                "orders": orders,
                "booked": booked,
                "requests": batcher.requests,
                "batches": batcher.batches,
                "duplicate": duplicate,
                "too_big": too_big,
            }

    out = asyncio.run(run())
    assert (out["requests"], out["batches"]) == (requests, requests)
    for (_symbol, _side, _qty, cid), outcome in zip(out["orders"], out["outcomes"], strict=True):
        if cid == "used":
            assert type(outcome) is out["duplicate"]
        elif cid == "huge":
            assert type(outcome) is out["too_big"]
        else:
            assert isinstance(outcome, dict), outcome
            assert outcome["clientOrderId"] == cid
            assert outcome["id"]
    assert sorted(out["booked"]) == sorted(["used", *(f"b{i}" for i in range(5))])


def test_an_order_ccxt_refuses_before_sending_does_not_take_its_batch_with_it(
    demo_tape: Tape,
) -> None:
    """ccxt checks every order of a batch before sending; one below the lot fails the call."""

    async def run() -> tuple[list[Any], list[str | None], int]:
        async with (
            running_fake("bybit", demo_tape()) as fake,
            ccxt_client(fake) as client,
        ):
            await client.load_markets()
            batcher = CreateBatcher(client, "bybit")
            orders = [*_orders("ok", 3), (ETH, "buy", 0.0000001, "tiny")]
            outcomes = await _create_all(batcher, orders)
            return outcomes, [o.client_id for o in fake.account.orders()], batcher.requests

    outcomes, booked, requests = asyncio.run(run())
    assert [isinstance(o, dict) for o in outcomes] == [True, True, True, False]
    assert isinstance(outcomes[3], ccxt.InvalidOrder)
    assert sorted(c or "" for c in booked) == ["ok0", "ok1", "ok2"]
    assert requests == 5  # the refused batch, then each order on its own


def test_a_lone_create_goes_through_the_single_order_endpoint(demo_tape: Tape) -> None:
    async def run() -> tuple[str, int, int]:
        async with (
            running_fake("bybit", demo_tape()) as fake,
            ccxt_client(fake) as client,
        ):
            await client.load_markets()
            batcher = CreateBatcher(client, "bybit")
            reply = await batcher.create(BTC, "buy", 0.01, {"clientOrderId": "alone"})
            return reply["clientOrderId"], batcher.requests, batcher.batches

    assert asyncio.run(run()) == ("alone", 1, 0)


def test_a_batch_whose_reply_is_lost_leaves_every_order_unknown_and_booked(
    demo_tape: Tape,
) -> None:
    """The whole request timed out: each order gets the network error (to be looked up)."""

    async def run() -> tuple[list[Any], list[str | None]]:
        faults = Faults(lost_replies=1, lost_reply_hold_s=5.0)
        async with (
            running_fake("bybit", demo_tape(), faults=faults) as fake,
            ccxt_client(fake, timeout_ms=500) as client,
        ):
            await client.load_markets()
            outcomes = await _create_all(CreateBatcher(client, "bybit"), _orders("lost", 4))
            return outcomes, [o.client_id for o in fake.account.orders()]

    outcomes, booked = asyncio.run(run())
    assert all(isinstance(o, ccxt.RequestTimeout) for o in outcomes), outcomes
    assert sorted(c or "" for c in booked) == [f"lost{i}" for i in range(4)]


def test_binance_batches_through_the_signed_batch_endpoint() -> None:
    """Signatures checked: the batch is a signed form field like any other order request."""

    async def run() -> tuple[list[str], int]:
        async with binance_fake() as fake, binance_client(fake) as client:
            await client.load_markets()
            batcher = CreateBatcher(client, "binance")
            outcomes = await _create_all(batcher, _orders("s", 6))
            assert all(isinstance(o, dict) for o in outcomes), outcomes
            return sorted(str(o.client_id) for o in fake.account.orders()), batcher.batches

    booked, batches = asyncio.run(run())
    assert booked == [f"s{i}" for i in range(6)]
    assert batches == 1  # five in one request; the sixth alone through create_order


def test_replies_are_matched_by_client_id_and_refusals_in_request_order() -> None:
    """ccxt sorts parsed replies by time: position in the reply is not the request's."""
    client = ccxt.bybit()
    requests = [{"params": {"clientOrderId": cid}} for cid in ("a", "b", "c", "d")]
    replies = [
        {"clientOrderId": None, "info": {"code": 110072, "msg": "OrderLinkedID is duplicate"}},
        {"clientOrderId": None, "info": {"code": 10001, "msg": "Qty invalid"}},
        {"clientOrderId": "d", "info": {"orderLinkId": "d"}},
        {"clientOrderId": "a", "info": {"orderLinkId": "a"}},
    ]
    a, b, c, d = match_replies(client, requests, replies)
    assert isinstance(a, dict)
    assert a["clientOrderId"] == "a"
    assert isinstance(d, dict)
    assert d["clientOrderId"] == "d"
    assert isinstance(b, ccxt.InvalidOrder)
    assert "110072" in str(b)
    assert isinstance(c, ccxt.BadRequest)
    assert "10001" in str(c)
    # a request the reply does not mention at all has an unknown outcome
    (missing,) = match_replies(client, [{"params": {"clientOrderId": "x"}}], [])
    assert isinstance(missing, ccxt.NetworkError)
