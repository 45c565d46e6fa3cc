"""DEFAULT_RISK_CHAIN and next_utc_midnight_ms."""

from __future__ import annotations

import datetime as dt

import pytest
from garrison.risk.defaults import DAY_MS, DEFAULT_RISK_CHAIN, next_utc_midnight_ms
from garrison.risk.rules import HOST_RULES


def _ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)


def test_default_chain_order() -> None:
    assert DEFAULT_RISK_CHAIN == (
        "trading_state",
        "one_position_per_symbol",
        "max_open_positions",
        "max_notional",
        "exchange_minimums",
        "stop_distance",
        "max_drawdown",
        "daily_loss_limit",
        "same_direction_exposure",
        "free_margin",
    )
    assert tuple(HOST_RULES) == DEFAULT_RISK_CHAIN


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (_ms(2025, 10, 10, 21, 15), _ms(2025, 10, 11)),
        (_ms(2025, 10, 11) - 1, _ms(2025, 10, 11)),
        (_ms(2025, 10, 11), _ms(2025, 10, 12)),  # midnight starts a day; the halt spans it
        (_ms(2024, 2, 28, 23, 59, 59), _ms(2024, 2, 29)),
        (_ms(2025, 12, 31, 12), _ms(2026, 1, 1)),
        (0, DAY_MS),
        (-1, 0),
    ],
)
def test_next_utc_midnight(ts: int, expected: int) -> None:
    assert next_utc_midnight_ms(ts) == expected


@pytest.mark.parametrize("ts", [1.7e12, "1760130900000", True, None])
def test_next_utc_midnight_wants_int_ms(ts: object) -> None:
    with pytest.raises(TypeError, match="ts must be epoch milliseconds as an int"):
        next_utc_midnight_ms(ts)  # type: ignore[arg-type]
