"""A scorer with ``score_batch`` rates a strategy call's entry signals in one call (API 1.2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from garrison.engine.run import RunResult
from garrison.plugins import PluginSet
from garrison_api import BatchScorer, Candle, Outcome, Score, Side, Signal, StrategyContext

from . import plumbing
from .test_engine_scoring import profile_text, whipsaw

Replay = Callable[..., RunResult]


class ThreeAtOnce(plumbing.Strategy):
    """Three phantom-only longs a bar, with stops 1, 2 and 3 under the close."""

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        entries = [
            Signal(
                candle.symbol,
                candle.ts,
                Side.LONG,
                entry=candle.close,
                stop=candle.close - k,
                features={"k": float(k)},
                execute=False,
            )
            for k in (1, 2, 3)
        ]
        return entries


def batch_scorer(log: list[tuple[str, int]], mode: str = "ok") -> type:
    class Batch(plumbing.Component):
        feature_names = ("k",)

        def score(self, signal: Signal, ctx: StrategyContext) -> Score:
            log.append(("score", 1))
            return Score(signal.features["k"] / 10)

        def score_batch(self, signals: Sequence[Signal], ctx: StrategyContext) -> Any:
            log.append(("batch", len(signals)))
            if mode == "raise":
                raise RuntimeError("model crashed")
            if mode == "short":
                return [Score(0.5)]
            return [Score(s.features["k"] / 10, "batch") for s in signals]

        def learn(self, outcome: Outcome) -> None:
            pass

    return Batch


@pytest.fixture
def three(write_candles: Callable[..., Path]) -> Path:
    return write_candles(whipsaw(6))


def _profile(mode: str = "gate") -> str:
    text = profile_text(f'[scorer]\nuse = "batch"\nmode = "{mode}"\nthreshold = 0.15\n')
    return text.replace('use = "long_when_flat"', 'use = "three"')


@pytest.mark.usefixtures("three")
def test_one_batch_call_per_strategy_call_gives_each_signal_its_score(
    plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: plumbing.Query,
) -> None:
    log: list[tuple[str, int]] = []
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("three", ThreeAtOnce)
    registry.add_scorer("batch", batch_scorer(log))
    assert isinstance(batch_scorer(log)(plumbing.NoParams()), BatchScorer)
    result = run_replay(write_profile(_profile()), plugins)
    assert log == [("batch", 3)] * 6  # never one at a time
    rows = journal_query(
        result.journal_path, "SELECT signal_id, value, model, passed FROM scores ORDER BY seq"
    )
    assert [(r["value"], r["model"], r["passed"]) for r in rows[:3]] == [
        (0.1, "batch", 0),
        (0.2, "batch", 1),
        (0.3, "batch", 1),
    ]
    assert len(rows) == 18


@pytest.mark.parametrize("mode", ["raise", "short"])
@pytest.mark.usefixtures("three")
def test_a_failed_batch_fails_once_and_its_gate_refuses_every_signal(
    mode: str,
    plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: plumbing.Query,
) -> None:
    log: list[tuple[str, int]] = []
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("three", ThreeAtOnce)
    registry.add_scorer("batch", batch_scorer(log, mode))
    result = run_replay(write_profile(_profile()), plugins)
    assert journal_query(result.journal_path, "SELECT * FROM scores") == []
    failures = journal_query(
        result.journal_path, "SELECT data FROM events WHERE kind = 'plugin.failed'"
    )
    # max_plugin_failures = 3: three failed batches (one per bar), then quarantine.
    assert len(failures) == 3
    assert log == [("batch", 3)] * 3
