"""Every order of a step gets its own client id, and the same one on every run.

Two entries of one strategy, for one symbol, decided in one step on the same
side, are two orders: an exchange would refuse the second as a duplicate if
both carried the same client id. The first keeps the id it always had; the
ones after it carry their ordinal.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import attrs
from garrison.engine.ids import MAX_LEN, client_order_id
from garrison.engine.run import RunResult
from garrison.plugins import PluginSet
from garrison_api import Candle, IndicatorSpec, Side, Signal, SignalKind, StrategyContext

T0 = 1_759_276_800_000  # 2025-10-01 00:00 UTC
M5 = 300_000
SAFE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")

Query = Callable[..., list[sqlite3.Row]]
Replay = Callable[..., RunResult]


@attrs.frozen
class NoParams:
    """No settings."""


def scripted(script: dict[tuple[str, int], list[Signal]]) -> type:
    class Scripted:
        Params: ClassVar[type] = NoParams
        warmup = 0
        timeframes: tuple[str, ...] = ("5m",)
        indicators: Mapping[str, IndicatorSpec] = {}

        def __init__(self, params: NoParams) -> None:
            self.params = params

        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
            return script.get((candle.symbol, candle.ts), [])

    return Scripted


def profile(name: str) -> str:
    return (
        f'[profile]\nname = "{name}"\nmode = "replay"\n\n'
        "[account]\nstarting_balance = 1000000.0\nleverage = 10.0\n\n"
        '[data]\nsource = "csv"\npaths = ["candles/*.csv"]\n\n'
        "[markets.overrides.AAAUSDT]\ntick_size = 0.01\nlot_step = 0.001\nmin_qty = 0.001\n\n"
        "[broker]\nslippage_bps = 0.0\ntaker_fee = 0.0\nmaker_fee = 0.0\n\n"
        '[journal]\npath = "journal.sqlite"\n\n'
        '[[strategies]]\nuse = "twice"\n\n'
        '[sizer]\nuse = "fixed_risk"\n[sizer.params]\nrisk_usd = 10.0\nfee_rate = 0.0\n\n'
        # No one_position_per_symbol, no caps: both entries are approved.
        '[[risk]]\nuse = "trading_state"\n'
    )


def _client_ids(query: Query, journal: Path) -> list[tuple[str, bool, str]]:
    rows = query(
        journal,
        "SELECT DISTINCT id, client_order_id, reduce_only FROM orders ORDER BY CAST(id AS INT)",
    )
    return [(r["id"], bool(r["reduce_only"]), r["client_order_id"]) for r in rows]


def test_two_entries_of_one_step_get_distinct_stable_client_ids(
    write_candles: Callable[..., Path],
    write_profile: Callable[..., Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
    tmp_path: Path,
) -> None:
    write_candles(
        [(T0 + i * M5, 100.0, 100.5, 99.5, 100.0, 10.0) for i in range(6)], "AAAUSDT", "5m"
    )
    at = T0 + M5
    later = T0 + 3 * M5
    script = {
        ("AAAUSDT", at): [
            Signal("AAAUSDT", at, Side.LONG, entry=100.0, stop=90.0),
            Signal("AAAUSDT", at, Side.LONG, entry=100.0, stop=80.0),
        ],
        ("AAAUSDT", later): [
            Signal("AAAUSDT", later, Side.LONG, kind=SignalKind.EXIT, entry=100.0),
        ],
    }
    plugins.registry.for_plugin("test").add_strategy("twice", scripted(script))
    path = write_profile(profile("ids"))

    run_replay(path, plugins, journal=tmp_path / "first.sqlite")
    first = _client_ids(journal_query, tmp_path / "first.sqlite")
    entries = [cid for _, reduce_only, cid in first if not reduce_only]
    assert len(entries) == 2
    assert entries[0] != entries[1]
    for cid in entries:
        assert len(cid) <= MAX_LEN
        assert SAFE.match(cid), cid
    # The first order of the step keeps the id it had before ordinals existed.
    decided = T0 + 2 * M5  # the 00:05 bar closes at 00:10: the step's close
    assert entries[0] == client_order_id("ids", "twice", "AAAUSDT", decided, False, "long")

    run_replay(path, plugins, journal=tmp_path / "second.sqlite")
    assert _client_ids(journal_query, tmp_path / "second.sqlite") == first


def test_the_ordinal_keeps_ids_distinct_short_and_safe() -> None:
    for symbol in ("BTCUSDT", "ABCDEFGHIJKLM", "1000000BABYDOGEUSDT", "BTC/USDT:USDT"):
        ids = [
            client_order_id("p", "s", symbol, 1_760_130_900_000, False, "long", ordinal)
            for ordinal in (0, 1, 2, 15, 16, 255, 10_000)
        ]
        assert ids[0] == client_order_id("p", "s", symbol, 1_760_130_900_000, False, "long")
        assert len(set(ids)) == len(ids)
        for cid in ids:
            assert len(cid) <= MAX_LEN
            assert SAFE.match(cid), cid
