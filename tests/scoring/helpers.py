"""Helpers of the scoring tests: a Turtle profile over real candles, journal reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def turtle_profile(paths: Sequence[str], scorers: str, *, sizer: str = "") -> str:
    """The demo's Turtle System 2 on 5-minute bars with ``scorers`` appended."""
    listed = ", ".join(f'"{p}"' for p in paths)
    sizer = sizer or (
        '[sizer]\nuse = "fixed_risk"\n[sizer.params]\nrisk_pct = 0.25\nfee_rate = 0.00055\n'
        "max_notional = 1000.0\n"
    )
    return f"""
[profile]
name = "scoring"
mode = "replay"
exchange = "bybit"

[account]
starting_balance = 10_000.0
leverage = 5.0

[data]
source = "csv"
paths = [{listed}]

[markets]
snapshot = "bybit_linear"

[broker]
slippage_bps = 2.0
taker_fee = 0.00055
maker_fee = 0.0002

[[strategies]]
use = "turtle"
[strategies.params]
system = 2
entry_period = 96
exit_period = 48
stop_n = 4.0

{sizer}
{scorers}
"""


def query(path: Path, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
    """Rows of ``sql`` on the journal at ``path``, opened read-only."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
