"""Strategy screens in replay: same journal with and without them, and bad screens ignored.

A replay calls a strategy that declares ``screen`` only on the bars it flags. These
tests replay the bundled demo (real Bybit data, five symbols) both ways and compare
every decision the journal holds, check that a screen which raises or answers
nonsense is reported and ignored, and that indicator views stay current for bars a
strategy did not see.
"""

from __future__ import annotations

import gzip
import math
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest
from garrison.engine.run import RunResult
from garrison.plugins import PluginSet
from garrison_api import Candle, Columns, Highest, IndicatorSpec, Side, Signal, StrategyContext

Query = Callable[..., list[sqlite3.Row]]
Replay = Callable[..., RunResult]

#: Journal tables that must agree row for row between a screened and an unscreened replay.
COMPARED = ("signals", "intents", "vetoes", "orders", "fills", "positions", "trades", "equity")


def demo_profile(repo: Path, tmp_path: Path, *, screen: bool, name: str) -> Path:
    """configs/demo.toml with absolute paths, its own journal and ``[engine] screen``."""
    text = (repo / "configs" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('"../data/demo/', f'"{repo.as_posix()}/data/demo/')
    text = text.replace('path = "../var/demo.sqlite"', f'path = "{name}.sqlite"')
    text = text.replace(
        "[[strategies]]", f"[engine]\nscreen = {str(screen).lower()}\n\n[[strategies]]"
    )
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def rows(query: Query, journal: Path, table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` in recording order, less what carries the run id, and the rowid."""
    found = query(journal, f"SELECT * FROM {table} ORDER BY rowid")
    skip = ("run_id", "seq", "client_order_id")
    # sqlite3.Row iterates values, not keys: keys() is needed here.
    return [{k: r[k] for k in r.keys() if k not in skip} for r in found]  # noqa: SIM118


def test_screened_demo_replay_journals_exactly_what_the_unscreened_one_does(
    repo: Path,
    tmp_path: Path,
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
) -> None:
    results = {}
    for screen in (True, False):
        name = "screened" if screen else "unscreened"
        profile = demo_profile(repo, tmp_path, screen=screen, name=name)
        results[name] = run_replay(profile, plugins, journal=tmp_path / f"{name}.sqlite")
    screened, unscreened = results["screened"], results["unscreened"]
    # The screen really skipped most calls, and the unscreened run called on every warm bar.
    assert screened.stats.strategy_calls < unscreened.stats.strategy_calls / 3
    assert unscreened.stats.strategy_calls == unscreened.stats.strategy_calls_unscreened
    assert screened.stats.strategy_calls_unscreened == unscreened.stats.strategy_calls
    assert len(screened.trades) == len(unscreened.trades) > 100
    for table in COMPARED:
        a = rows(journal_query, tmp_path / "screened.sqlite", table)
        b = rows(journal_query, tmp_path / "unscreened.sqlite", table)
        assert a == b, f"{table} differs between screened and unscreened replays"
    assert screened.final_equity == unscreened.final_equity


@attrs.frozen
class NoParams:
    pass


class _Breakout:
    """Long on a close above the 20-bar high; with a screen that may be broken on purpose."""

    Params: ClassVar[type] = NoParams
    warmup = 20
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {"hi": Highest("high", 20, offset=1)}

    def __init__(self, params: NoParams) -> None:
        self.params = params

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        hi = ctx.indicators(candle.symbol)["hi"]
        if ctx.position(candle.symbol) is None and candle.close > hi:
            return (
                Signal(candle.symbol, candle.ts, Side.LONG, entry=candle.close, stop=hi * 0.99),
            )
        return ()


class RaisingScreen(_Breakout):
    def screen(self, columns: Columns) -> Any:
        raise RuntimeError("screen is broken")


class ShortScreen(_Breakout):
    def screen(self, columns: Columns) -> Any:
        return np.ones(3, dtype=np.bool_)  # not one flag per bar


class IntScreen(_Breakout):
    def screen(self, columns: Columns) -> Any:
        return np.ones(len(columns["close"]), dtype=np.int64)


class CrossSymbolReader(_Breakout):
    """Screened to almost nothing; when called, records what ADAUSDT's view says."""

    seen: ClassVar[list[tuple[int, float]]] = []

    def screen(self, columns: Columns) -> Any:
        mask = np.zeros(len(columns["close"]), dtype=np.bool_)
        mask[100::250] = True
        return mask

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        if candle.symbol == "BTCUSDT":
            ada = ctx.indicators("ADAUSDT")
            self.seen.append((candle.ts, ada["hi"]))
        return ()


PROFILE = """
[profile]
name = "screens"
mode = "replay"

[account]
starting_balance = 10000.0
leverage = 5.0

[data]
source = "csv"
paths = ["{data}/bybit_BTCUSDT_5m.csv.gz", "{data}/bybit_ADAUSDT_5m.csv.gz"]

[markets]
snapshot = "bybit_linear"

[broker]
slippage_bps = 0.0
taker_fee = 0.0
maker_fee = 0.0

[journal]
path = "{journal}"

[[strategies]]
use = "{strategy}"

[sizer]
use = "fixed_risk"
[sizer.params]
risk_pct = 0.5
fee_rate = 0.0
max_notional = 1000.0
"""


@pytest.fixture
def screen_plugins(plugins: PluginSet) -> PluginSet:
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("plain", _Breakout)
    registry.add_strategy("raising_screen", RaisingScreen)
    registry.add_strategy("short_screen", ShortScreen)
    registry.add_strategy("int_screen", IntScreen)
    registry.add_strategy("cross_reader", CrossSymbolReader)
    return plugins


def replay_with(
    strategy: str, repo: Path, tmp_path: Path, plugins: PluginSet, run_replay: Replay
) -> tuple[RunResult, Path]:
    journal = tmp_path / f"{strategy}.sqlite"
    profile = tmp_path / f"{strategy}.toml"
    profile.write_text(
        PROFILE.format(
            data=(repo / "data" / "demo").as_posix(), journal=journal.as_posix(), strategy=strategy
        ),
        encoding="utf-8",
    )
    return run_replay(profile, plugins, journal=journal), journal


@pytest.mark.parametrize(
    ("strategy", "complaint"),
    [
        ("raising_screen", "screen raised RuntimeError: screen is broken"),
        ("short_screen", "expected one bool per bar"),
        ("int_screen", "screen returned int64 array"),
    ],
)
def test_a_broken_screen_is_reported_and_ignored(
    strategy: str,
    complaint: str,
    repo: Path,
    tmp_path: Path,
    screen_plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
) -> None:
    plain, _ = replay_with("plain", repo, tmp_path, screen_plugins, run_replay)
    broken, journal = replay_with(strategy, repo, tmp_path, screen_plugins, run_replay)
    warnings = journal_query(
        journal, "SELECT level, source, message FROM events WHERE kind = 'strategy.screen_ignored'"
    )
    assert len(warnings) == 2  # one per series
    for row in warnings:
        assert row["level"] == "warning"
        assert row["source"] == strategy
        assert complaint in row["message"]
        assert "calling it on every" in row["message"]
    # Ignored means unscreened: every warm bar is a call, and the decisions are the plain ones.
    assert broken.stats.strategy_calls == broken.stats.strategy_calls_unscreened
    assert [(t.symbol, t.entry_ts, t.exit_ts) for t in broken.trades] == [
        (t.symbol, t.entry_ts, t.exit_ts) for t in plain.trades
    ]
    assert len(plain.trades) > 10


def test_views_follow_every_bar_even_those_a_strategy_was_not_called_on(
    repo: Path, tmp_path: Path, screen_plugins: PluginSet, run_replay: Replay
) -> None:
    CrossSymbolReader.seen.clear()
    result, _ = replay_with("cross_reader", repo, tmp_path, screen_plugins, run_replay)
    assert result.stats.strategy_calls < result.stats.strategy_calls_unscreened / 100
    seen = CrossSymbolReader.seen
    assert len(seen) > 100
    # ADAUSDT's 20-bar high as of each BTCUSDT call, computed independently from the file.
    with gzip.open(repo / "data" / "demo" / "bybit_ADAUSDT_5m.csv.gz", "rt") as fh:
        lines = fh.read().splitlines()[1:]
    ts = np.array([int(line.split(",")[0]) for line in lines])
    highs = np.array([float(line.split(",")[2]) for line in lines])
    for when, value in seen:
        # Same timestamps: symbols are merged in name order, so ADAUSDT's bar at
        # ``when`` is processed before BTCUSDT's.
        i = int(np.searchsorted(ts, when))
        assert ts[i] == when
        expected = highs[i - 20 : i].max() if i >= 20 else math.nan
        assert value == expected or (math.isnan(value) and math.isnan(expected))
