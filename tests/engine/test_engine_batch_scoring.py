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


class OnePerSymbol(plumbing.Strategy):
    """One long a bar on every symbol while flat, stop 1 under the close."""

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        if ctx.position(candle.symbol) is not None:
            return ()
        k = float(1 + candle.ts // 300_000 % 3)
        return [
            Signal(
                candle.symbol,
                candle.ts,
                Side.LONG,
                entry=candle.close,
                stop=candle.close - 1.0,
                features={"k": k},
            )
        ]


def single_scorer(log: list[tuple[str, int]]) -> type:
    """The batch scorer without ``score_batch``: every signal scored on its own."""
    batch = batch_scorer(log)

    class Single(plumbing.Component):
        feature_names = ("k",)
        score = batch.score

        def learn(self, outcome: Outcome) -> None:
            pass

    return Single


SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


@pytest.fixture
def three_symbols(write_candles: Callable[..., Path]) -> None:
    for symbol in SYMBOLS:
        write_candles(whipsaw(8), symbol=symbol)


def _cross_symbol_profile(scorer: str) -> str:
    text = profile_text(
        f'[scorer]\nuse = "{scorer}"\nmode = "gate"\nthreshold = 0.15\n',
        risk='\n[[risk]]\nuse = "max_open_positions"\n[risk.params]\nlimit = 2\n',
    )
    text = text.replace('path = "journal.sqlite"', f'path = "{scorer}.sqlite"')
    return text.replace('use = "long_when_flat"', 'use = "one_per_symbol"')


def _run(
    scorers: dict[str, type],
    plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Replay,
) -> dict[str, RunResult]:
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("one_per_symbol", OnePerSymbol)
    for name, scorer in scorers.items():
        registry.add_scorer(name, scorer)
    return {
        name: run_replay(write_profile(_cross_symbol_profile(name), f"{name}.toml"), plugins)
        for name in scorers
    }


@pytest.mark.usefixtures("three_symbols")
def test_the_entries_of_every_symbol_closing_in_a_step_are_scored_in_one_call(
    plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Replay,
    journal_query: plumbing.Query,
) -> None:
    log: list[tuple[str, int]] = []
    result = _run({"batch": batch_scorer(log)}, plugins, write_profile, run_replay)["batch"]
    # Each symbol's strategy call returns one entry; the step's three go in one call.
    assert log
    assert all(call == ("batch", 3) for call in log)
    rows = journal_query(
        result.journal_path,
        "SELECT s.symbol, c.model FROM scores c JOIN signals s ON s.id = c.signal_id "
        "ORDER BY c.seq",
    )
    assert {r["symbol"] for r in rows} == set(SYMBOLS)
    assert {r["model"] for r in rows} == {"batch"}


def _journal(result: RunResult, query: plumbing.Query) -> dict[str, list[tuple[Any, ...]]]:
    tables = {
        "signals": "SELECT id, symbol, side, entry, stop FROM signals ORDER BY id",
        "scores": "SELECT signal_id, value, passed FROM scores ORDER BY seq",
        "orders": "SELECT client_order_id, symbol, side, qty, status FROM orders ORDER BY seq",
        "trades": "SELECT symbol, entry_ts, exit_ts, entry_price, exit_price, exit_reason "
        "FROM trades ORDER BY entry_ts, symbol",
    }
    return {
        name: [tuple(r) for r in query(result.journal_path, sql)] for name, sql in tables.items()
    }


@pytest.mark.usefixtures("three_symbols")
def test_holding_a_steps_signals_for_a_batch_trades_exactly_as_scoring_one_by_one(
    plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Replay,
    journal_query: plumbing.Query,
) -> None:
    """Same signal ids, scores, orders and trades: the risk chain (at most two open
    positions) sees the step's earlier approvals in the same order either way."""
    log: list[tuple[str, int]] = []
    scorers = {"batch": batch_scorer(log), "single": single_scorer(log)}
    results = _run(scorers, plugins, write_profile, run_replay)
    batched = _journal(results["batch"], journal_query)
    single = _journal(results["single"], journal_query)
    assert batched["trades"], "the profile should trade"
    assert any(r[-1] == 0 for r in batched["scores"]), "some signals should be gated"
    assert batched == single
