"""A scorer's ``ctx.storage`` is its own store, never the strategy's it rates signals of."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from garrison.engine.run import RunResult
from garrison.plugins import PluginSet
from garrison_api import Outcome, Score, Signal, StrategyContext

from . import plumbing
from .plumbing import BAR, T0, Query
from .test_engine_learn_failures import AlwaysLong


class CountingScorer(plumbing.Component):
    """Counts the signals it scores in ``ctx.storage``; reads the strategy's window."""

    def score(self, signal: Signal, ctx: StrategyContext) -> Score:
        assert ctx.position(signal.symbol) is None  # the strategy's window, still
        seen = int(ctx.storage.get("scored", 0)) + 1
        ctx.storage.set("scored", seen)
        return Score(0.9)

    def learn(self, outcome: Outcome) -> None:
        pass


def test_a_scorer_writes_its_own_store_not_the_strategys(
    plugins: PluginSet,
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    run_replay: Callable[..., RunResult],
    journal_query: Query,
) -> None:
    write_candles([(T0 + i * BAR, 100.0, 100.5, 98.5, 100.0, 1.0) for i in range(20)])
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("always_long", AlwaysLong)
    registry.add_scorer("counting", CountingScorer)
    text = (
        '[profile]\nname = "scorer-storage"\nmode = "replay"\n'
        '[data]\nsource = "csv"\npaths = ["candles/*.csv"]\n'
        '[journal]\npath = "journal.sqlite"\n'
        '[[strategies]]\nuse = "always_long"\n'
        '[sizer]\nuse = "fixed_risk"\n'
        '[[risk]]\nuse = "trading_state"\n'
        '[[scorers]]\nuse = "counting"\nmode = "shadow"\n'
    )
    result = run_replay(write_profile(text), plugins)
    rows = journal_query(result.journal_path, "SELECT namespace, key, value FROM kv")
    assert [(r["namespace"], r["key"]) for r in rows] == [("replay/scorer/counting", "scored")]
    assert int(rows[0]["value"]) == result.stats.signals > 3
