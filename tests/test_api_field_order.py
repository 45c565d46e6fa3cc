"""The host builds some garrison_api value types positionally on its hot path: pin their fields.

Building a frozen attrs value positionally is measurably faster than by
keyword, and the replay makes one per candle, fill or trade. The price is
that a field inserted in the middle of one of these classes would silently
shift every value the host builds. API changes are additive (new fields go
last, with defaults); this test fails the moment that rule is broken.
"""

from __future__ import annotations

import attrs
import pytest
from garrison_api import (
    AccountState,
    Candle,
    Event,
    Fill,
    Order,
    OrderIntent,
    Outcome,
    Position,
    Trade,
)

#: Field order each type had when the host started building it positionally.
PINNED: dict[type, tuple[str, ...]] = {
    Candle: ("symbol", "timeframe", "ts", "open", "high", "low", "close", "volume"),
    Fill: (
        "order_id",
        "intent_id",
        "ts",
        "symbol",
        "side",
        "reduce_only",
        "qty",
        "price",
        "fee",
        "reason",
    ),
    Position: (
        "symbol",
        "side",
        "qty",
        "entry_price",
        "entry_ts",
        "stop",
        "take_profit",
        "strategy",
        "intent_id",
        "signal_id",
    ),
    Trade: (
        "id",
        "symbol",
        "side",
        "qty",
        "entry_ts",
        "entry_price",
        "exit_ts",
        "exit_price",
        "exit_reason",
        "pnl",
        "fees",
        "r_multiple",
        "strategy",
    ),
    OrderIntent: (
        "id",
        "ts",
        "symbol",
        "side",
        "qty",
        "price",
        "market",
        "reduce_only",
        "stop",
        "take_profit",
        "order_type",
        "strategy",
        "signal_id",
    ),
    Order: (
        "id",
        "intent_id",
        "client_order_id",
        "ts",
        "symbol",
        "side",
        "reduce_only",
        "qty",
        "order_type",
        "status",
        "price",
        "reason",
    ),
    Outcome: (
        "signal",
        "strategy",
        "r_multiple",
        "exit_reason",
        "closed_ts",
        "phantom",
        "signal_id",
        "score",
        "entry_price",
        "exit_price",
    ),
    AccountState: (
        "ts",
        "balance",
        "equity",
        "peak_equity",
        "day_start_equity",
        "used_margin",
        "positions",
        "state",
        "leverage",
        "pending",
    ),
    Event: ("ts", "kind", "message", "level", "source", "data"),
}


@pytest.mark.parametrize("cls", list(PINNED), ids=lambda cls: cls.__name__)
def test_positionally_built_types_keep_their_field_order(cls: type) -> None:
    names = tuple(field.name for field in attrs.fields(cls))
    pinned = PINNED[cls]
    assert names[: len(pinned)] == pinned, (
        f"{cls.__name__}'s fields moved: the host builds it positionally; add new fields last"
    )
    # Fields added after the pinned ones must have defaults (additive within 1.x).
    for field in attrs.fields(cls)[len(pinned) :]:
        assert field.default is not attrs.NOTHING, f"{cls.__name__}.{field.name} has no default"
