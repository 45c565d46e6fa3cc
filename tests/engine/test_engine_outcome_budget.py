"""A scorer's ``learn`` or a strategy's ``on_outcome`` that hangs is stopped like ``score()``.

Both are called once per resolved outcome (a closed trade or a phantom).
Under ``[engine] plugin_call_budget_ms`` the watchdog interrupts them, the
host counts the overrun as that plugin's failure, and ``max_plugin_failures``
of them in a row quarantine it; the run goes on and completes.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from garrison.engine.run import RunResult, replay
from garrison.plugins import PluginSet
from garrison.profile.load import load_profile
from garrison_api import Candle, Outcome, Score, Side, Signal, StrategyContext

from . import plumbing
from .plumbing import BAR, T0, Query


class Watcher(plumbing.Strategy):
    """Follows a phantom long (stop 99) on each of the first ten bars; bar 12 stops all out."""

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        if candle.ts >= T0 + 10 * BAR:
            return ()
        return (Signal(candle.symbol, candle.ts, Side.LONG, entry=100.0, stop=99.0, execute=False),)


class SpinningOutcome(Watcher):
    def on_outcome(self, outcome: Outcome) -> None:
        while True:
            try:
                sum(range(1000))
            except Exception:
                continue


class SleepingOutcome(Watcher):
    def on_outcome(self, outcome: Outcome) -> None:
        time.sleep(30)


class _Scorer(plumbing.Component):
    def score(self, signal: Signal, ctx: StrategyContext) -> Score:
        return Score(0.9)


class SpinningLearner(_Scorer):
    def learn(self, outcome: Outcome) -> None:
        while True:
            try:
                sum(range(1000))
            except Exception:
                continue


class SleepingLearner(_Scorer):
    def learn(self, outcome: Outcome) -> None:
        time.sleep(30)


class SlowLearner(_Scorer):
    """Over the budget, but finishes: where the call cannot be interrupted."""

    def learn(self, outcome: Outcome) -> None:
        time.sleep(0.4)


def profile(strategy: str, scorer: str = "") -> str:
    return (
        '[profile]\nname = "outcome-budget"\nmode = "replay"\n'
        '[data]\nsource = "csv"\npaths = ["candles/*.csv"]\n'
        '[journal]\npath = "journal.sqlite"\n'
        "[engine]\nmax_plugin_failures = 2\nplugin_call_budget_ms = 100\n"
        f'[[strategies]]\nuse = "{strategy}"\n'
        '[sizer]\nuse = "fixed_risk"\n'
        '[[risk]]\nuse = "trading_state"\n'
        f"{scorer}"
    )


@pytest.fixture
def outcome_plugins(plugins: PluginSet, write_candles: Callable[..., Path]) -> PluginSet:
    bars = [(T0 + i * BAR, 100.0, 100.5, 99.5, 100.0, 1.0) for i in range(30)]
    bars[12] = (T0 + 12 * BAR, 100.0, 100.5, 90.0, 95.0, 1.0)  # ten outcomes in a row
    write_candles(bars)
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("watcher", Watcher)
    registry.add_strategy("spinning_outcome", SpinningOutcome)
    registry.add_strategy("sleeping_outcome", SleepingOutcome)
    registry.add_scorer("spinning_learner", SpinningLearner)
    registry.add_scorer("sleeping_learner", SleepingLearner)
    registry.add_scorer("slow_learner", SlowLearner)
    return plugins


def _failures(journal: Path, query: Query) -> list[tuple[str, str, str]]:
    rows = query(journal, "SELECT data FROM events WHERE kind = 'plugin.failed' ORDER BY seq")
    data = [json.loads(row["data"]) for row in rows]
    return [(d["component"], d["call"], d["error"]) for d in data]


def _quarantined(journal: Path, query: Query) -> list[str]:
    rows = query(journal, "SELECT source FROM events WHERE kind = 'plugin.quarantined'")
    return [row["source"] for row in rows]


@pytest.mark.parametrize("scorer", ["spinning_learner", "sleeping_learner"])
def test_a_hanging_learn_is_interrupted_and_the_scorer_quarantined(
    scorer: str,
    outcome_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Callable[..., RunResult],
    journal_query: Query,
) -> None:
    started = time.monotonic()
    text = profile("watcher", f'[[scorers]]\nuse = "{scorer}"\nmode = "shadow"\n')
    result = run_replay(write_profile(text), outcome_plugins)
    assert time.monotonic() - started < 20  # two budgets and a quarantine, not 30 s each
    journal = result.journal_path
    failures = _failures(journal, journal_query)
    assert [(c, call) for c, call, _ in failures] == [(scorer, "learn")] * 2
    assert all(e.startswith("PluginCallTimeout: still running after") for _, _, e in failures)
    assert _quarantined(journal, journal_query) == [scorer]
    assert result.stats.candles == 30
    assert journal_query(journal, "SELECT status FROM runs")[0]["status"] == "completed"


@pytest.mark.parametrize("strategy", ["spinning_outcome", "sleeping_outcome"])
def test_a_hanging_on_outcome_is_interrupted_and_the_strategy_quarantined(
    strategy: str,
    outcome_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Callable[..., RunResult],
    journal_query: Query,
) -> None:
    started = time.monotonic()
    result = run_replay(write_profile(profile(strategy)), outcome_plugins)
    assert time.monotonic() - started < 20
    journal = result.journal_path
    failures = _failures(journal, journal_query)
    assert [(c, call) for c, call, _ in failures] == [(strategy, "on_outcome")] * 2
    assert all(e.startswith("PluginCallTimeout: still running after") for _, _, e in failures)
    assert _quarantined(journal, journal_query) == [strategy]
    assert result.stats.candles == 30
    assert journal_query(journal, "SELECT status FROM runs")[0]["status"] == "completed"


def test_a_learn_over_budget_that_cannot_be_interrupted_still_counts(
    outcome_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    journal_query: Query,
    tmp_path: Path,
) -> None:
    # In a thread other than the main one the watchdog has no signal: it
    # records the overrun and the host counts it once learn returns.
    text = profile("watcher", '[[scorers]]\nuse = "slow_learner"\nmode = "shadow"\n')
    loaded = load_profile(write_profile(text), outcome_plugins.registry)
    results: list[RunResult] = []

    def run() -> None:
        results.append(
            asyncio.run(
                replay(
                    loaded,
                    outcome_plugins,
                    journal_path=tmp_path / "journal.sqlite",
                    any_mode=True,
                )
            )
        )

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    journal = results[0].journal_path
    failures = _failures(journal, journal_query)
    assert [(c, call) for c, call, _ in failures] == [("slow_learner", "learn")] * 2
    assert _quarantined(journal, journal_query) == ["slow_learner"]
    assert journal_query(journal, "SELECT status FROM runs")[0]["status"] == "completed"
