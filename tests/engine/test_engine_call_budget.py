"""A strategy or scorer that hangs is interrupted, counted and quarantined; the run goes on.

Issue 8, defect 7: a strategy in an endless loop had no limit. With
``[engine] plugin_call_budget_ms`` the watchdog interrupts the call (a real
signal to the engine's thread), the host counts it as that plugin's failure,
and ``max_plugin_failures`` of them in a row quarantine it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from garrison.engine.run import RunResult
from garrison.plugins import PluginSet
from garrison_api import Candle, IndicatorSpec, Outcome, Score, Side, Signal, StrategyContext

T0 = 1_759_276_800_000
BAR = 300_000

Query = Callable[..., list[sqlite3.Row]]


@attrs.frozen
class NoParams:
    """No settings."""


class _Plumbing:
    Params: ClassVar[type] = NoParams
    warmup = 0
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {}

    def __init__(self, params: NoParams) -> None:
        self.params = params


class Spinning(_Plumbing):
    """Loops for ever on every bar, swallowing ordinary exceptions on the way."""

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        while True:
            try:
                sum(range(1000))
            except Exception:
                continue


class Sleeping(_Plumbing):
    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        time.sleep(30)
        return ()


class AlwaysLong(_Plumbing):
    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        if ctx.position(candle.symbol) is not None:
            return ()
        return (
            Signal(candle.symbol, candle.ts, Side.LONG, entry=candle.close, stop=candle.close - 1),
        )


class StuckScorer:
    Params: ClassVar[type] = NoParams

    def __init__(self, params: NoParams) -> None:
        pass

    def score(self, signal: Signal, ctx: StrategyContext) -> Score:
        while True:
            pass

    def learn(self, outcome: Outcome) -> None:
        return None


def profile(strategy: str, scorer: str = "") -> str:
    return (
        '[profile]\nname = "budget"\nmode = "replay"\n'
        '[data]\nsource = "csv"\npaths = ["candles/*.csv"]\n'
        '[journal]\npath = "journal.sqlite"\n'
        "[engine]\nmax_plugin_failures = 2\nplugin_call_budget_ms = 100\n"
        f'[[strategies]]\nuse = "{strategy}"\n'
        '[sizer]\nuse = "fixed_risk"\n'
        f"{scorer}"
    )


@pytest.fixture
def budget_plugins(plugins: PluginSet, write_candles: Callable[..., Path]) -> PluginSet:
    write_candles([(T0 + i * BAR, 100.0, 100.5, 99.5, 100.0, 1.0) for i in range(30)])
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("spinning", Spinning)
    registry.add_strategy("sleeping", Sleeping)
    registry.add_strategy("always_long", AlwaysLong)
    registry.add_scorer("stuck", StuckScorer)
    return plugins


@pytest.mark.parametrize("strategy", ["spinning", "sleeping"])
def test_a_hanging_strategy_is_interrupted_and_quarantined(
    strategy: str,
    budget_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Callable[..., RunResult],
    journal_query: Query,
) -> None:
    started = time.monotonic()
    result = run_replay(write_profile(profile(strategy)), budget_plugins)
    assert time.monotonic() - started < 20  # two budgets and a quarantine, not 30 bars of 30 s
    journal = result.journal_path
    failed = journal_query(journal, "SELECT data FROM events WHERE kind = 'plugin.failed'")
    errors = [json.loads(row["data"])["error"] for row in failed]
    assert len(errors) == 2
    assert all(e.startswith("PluginCallTimeout: still running after") for e in errors)
    quarantined = journal_query(
        journal, "SELECT source FROM events WHERE kind = 'plugin.quarantined'"
    )
    assert [row["source"] for row in quarantined] == [strategy]
    assert result.stats.candles == 30
    assert journal_query(journal, "SELECT status FROM runs")[0]["status"] == "completed"


def test_a_hanging_scorer_is_interrupted_and_its_gate_says_no(
    budget_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Callable[..., RunResult],
    journal_query: Query,
) -> None:
    scorer = '[[scorers]]\nuse = "stuck"\nmode = "gate"\n'
    result = run_replay(write_profile(profile("always_long", scorer)), budget_plugins)
    journal = result.journal_path
    quarantined = journal_query(
        journal, "SELECT source FROM events WHERE kind = 'plugin.quarantined'"
    )
    assert [row["source"] for row in quarantined] == ["stuck"]
    assert journal_query(journal, "SELECT * FROM intents") == []  # no score, no trade
