"""A scorer whose learn() fails on every outcome is quarantined, though its score() works.

A good ``score()`` ends a scorer's run of failures, but not while its last
``learn()`` failed: otherwise a scorer that scores every signal and fails to
learn from every outcome (a hung learn costs a whole call budget each time)
would never reach ``max_plugin_failures`` in a row. A good ``learn()`` lets
the next good ``score()`` end the run again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from garrison.engine.run import RunResult
from garrison.plugins import PluginSet
from garrison_api import Candle, Outcome, Score, Side, Signal, StrategyContext

from . import plumbing
from .plumbing import BAR, T0, Query


class AlwaysLong(plumbing.Strategy):
    """Long whenever flat, stop 1 below the close: the next bar (low 98.5) stops it out."""

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        if ctx.position(candle.symbol) is not None:
            return ()
        return (
            Signal(candle.symbol, candle.ts, Side.LONG, entry=candle.close, stop=candle.close - 1),
        )


class NeverLearns(plumbing.Component):
    def __init__(self, params: plumbing.NoParams) -> None:
        super().__init__(params)
        self.outcomes = 0

    def score(self, signal: Signal, ctx: StrategyContext) -> Score:
        return Score(0.9)

    def learn(self, outcome: Outcome) -> None:
        raise RuntimeError("cannot learn")


class LearnsOnSecondTry(NeverLearns):
    def learn(self, outcome: Outcome) -> None:
        self.outcomes += 1
        if self.outcomes % 2:
            raise RuntimeError("cannot learn this one")


def profile(scorer: str) -> str:
    return (
        '[profile]\nname = "learn-failures"\nmode = "replay"\n'
        '[data]\nsource = "csv"\npaths = ["candles/*.csv"]\n'
        '[journal]\npath = "journal.sqlite"\n'
        "[engine]\nmax_plugin_failures = 2\n"
        '[[strategies]]\nuse = "always_long"\n'
        '[sizer]\nuse = "fixed_risk"\n'
        '[[risk]]\nuse = "trading_state"\n'
        f'[[scorers]]\nuse = "{scorer}"\nmode = "shadow"\n'
    )


@pytest.fixture
def learn_plugins(plugins: PluginSet, write_candles: Callable[..., Path]) -> PluginSet:
    write_candles([(T0 + i * BAR, 100.0, 100.5, 98.5, 100.0, 1.0) for i in range(30)])
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("always_long", AlwaysLong)
    registry.add_scorer("never_learns", NeverLearns)
    registry.add_scorer("learns_on_second_try", LearnsOnSecondTry)
    return plugins


def _calls(journal: Path, query: Query) -> list[tuple[str, str, int]]:
    rows = query(journal, "SELECT data FROM events WHERE kind = 'plugin.failed' ORDER BY seq")
    data = [json.loads(row["data"]) for row in rows]
    return [(d["component"], d["call"], d["count"]) for d in data]


def _quarantined(journal: Path, query: Query) -> list[str]:
    rows = query(journal, "SELECT source FROM events WHERE kind = 'plugin.quarantined'")
    return [row["source"] for row in rows]


def test_a_scorer_failing_every_learn_is_quarantined_though_it_scores(
    learn_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Callable[..., RunResult],
    journal_query: Query,
) -> None:
    result = run_replay(write_profile(profile("never_learns")), learn_plugins)
    journal = result.journal_path
    assert _calls(journal, journal_query) == [
        ("never_learns", "learn", 1),
        ("never_learns", "learn", 2),
    ]
    assert _quarantined(journal, journal_query) == ["never_learns"]
    assert len(result.trades) > 2  # the strategy trades on without it


def test_a_good_learn_lets_the_next_good_score_end_the_run(
    learn_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Callable[..., RunResult],
    journal_query: Query,
) -> None:
    result = run_replay(write_profile(profile("learns_on_second_try")), learn_plugins)
    journal = result.journal_path
    calls = _calls(journal, journal_query)
    assert len(calls) > 2
    assert {count for _, _, count in calls} == {1}
    assert _quarantined(journal, journal_query) == []


class NeverTakesOutcomes(AlwaysLong):
    """Decides fine on every bar; its on_outcome fails on every outcome."""

    def on_outcome(self, outcome: Outcome) -> None:
        raise RuntimeError("cannot take outcomes")


def test_a_strategy_failing_every_on_outcome_is_quarantined_though_it_decides(
    learn_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Callable[..., RunResult],
    journal_query: Query,
) -> None:
    learn_plugins.registry.for_plugin("test").add_strategy("never_takes", NeverTakesOutcomes)
    text = profile("learns_on_second_try").replace('use = "always_long"', 'use = "never_takes"')
    text = text.split("[[scorers]]")[0]
    result = run_replay(write_profile(text), learn_plugins)
    journal = result.journal_path
    # Good on_candle calls came between the failures: they did not end the run of them.
    assert _calls(journal, journal_query) == [
        ("never_takes", "on_outcome", 1),
        ("never_takes", "on_outcome", 2),
    ]
    assert _quarantined(journal, journal_query) == ["never_takes"]
