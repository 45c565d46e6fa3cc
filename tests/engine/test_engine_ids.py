"""Client order ids: derived from the decision, at most 36 safe characters, stable."""

from __future__ import annotations

import re

import pytest
from garrison.engine.ids import MAX_LEN, client_order_id

SAFE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


def test_the_same_decision_gives_the_same_id_and_others_differ() -> None:
    one = client_order_id("bybit-main", "turtle", "BTCUSDT", 1_760_130_900_000, False, "long")
    assert one == client_order_id(
        "bybit-main", "turtle", "BTCUSDT", 1_760_130_900_000, False, "long"
    )
    others = {
        client_order_id("bybit-other", "turtle", "BTCUSDT", 1_760_130_900_000, False, "long"),
        client_order_id("bybit-main", "pullback", "BTCUSDT", 1_760_130_900_000, False, "long"),
        client_order_id("bybit-main", "turtle", "ETHUSDT", 1_760_130_900_000, False, "long"),
        client_order_id("bybit-main", "turtle", "BTCUSDT", 1_760_131_200_000, False, "long"),
        client_order_id("bybit-main", "turtle", "BTCUSDT", 1_760_130_900_000, True, "long"),
        client_order_id("bybit-main", "turtle", "BTCUSDT", 1_760_130_900_000, False, "short"),
    }
    assert one not in others
    assert len(others) == 6


@pytest.mark.parametrize("symbol", ["BTCUSDT", "1000000BABYDOGEUSDT", "X" * 60, "BTC/USDT:USDT"])
def test_ids_fit_both_exchanges(symbol: str) -> None:
    cid = client_order_id("p", "s", symbol, 1_760_130_900_000, False, "long")
    assert len(cid) <= MAX_LEN
    assert SAFE.match(cid), cid
