"""The host's default risk chain and the time helper its daily rule needs."""

from __future__ import annotations

#: One UTC day in milliseconds.
DAY_MS = 86_400_000

#: Stage order used when a profile has no ``[[risk]]`` array. Cheap, decisive
#: checks (trading state, one position per symbol) come first so the journal
#: reads naturally, but every stage runs on every intent regardless.
DEFAULT_RISK_CHAIN: tuple[str, ...] = (
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


def next_utc_midnight_ms(ts: int) -> int:
    """Start of the UTC day after the one containing ``ts`` (both epoch milliseconds).

    A ``ts`` exactly at midnight belongs to the day it starts, so the answer is
    the following midnight, never ``ts`` itself.
    """
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise TypeError(f"ts must be epoch milliseconds as an int, got {ts!r}")
    return (ts // DAY_MS + 1) * DAY_MS
