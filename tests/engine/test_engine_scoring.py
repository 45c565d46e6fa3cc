"""Scorers in the pipeline (gate and shadow), phantom outcomes, and the daily loss halt."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from garrison.engine.run import RunResult
from garrison.plugins import PluginSet
from garrison_api import (
    Candle,
    ExitReason,
    IndicatorSpec,
    Outcome,
    Score,
    Side,
    Signal,
    SignalKind,
    StrategyContext,
)

T0 = 1_759_276_800_000  # 2025-10-01 00:00 UTC
BAR = 300_000
DAY = 86_400_000

Query = Callable[..., list[sqlite3.Row]]
Replay = Callable[..., RunResult]


@attrs.frozen
class NoParams:
    """Throwaway components take no parameters."""


class LongWhenFlat:
    """Long at every close while flat, stop one price unit under the close."""

    Params: ClassVar[type] = NoParams
    warmup = 0
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {}

    def __init__(self, params: NoParams) -> None:
        self.params = params

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        if ctx.position(candle.symbol) is not None:
            return ()
        return (
            Signal(
                symbol=candle.symbol,
                ts=candle.ts,
                side=Side.LONG,
                entry=candle.close,
                stop=candle.close - 1.0,
                features={"close": candle.close},
            ),
        )


def scorer_class(value: float, learned: list[Outcome], *, fail: bool = False) -> type:
    """A scorer that always says ``value`` (or raises) and keeps what it learns in ``learned``."""

    class FixedScorer:
        Params: ClassVar[type] = NoParams

        def __init__(self, params: NoParams) -> None:
            self.params = params

        def score(self, signal: Signal, ctx: StrategyContext) -> Score:
            if fail:
                raise ArithmeticError("scorer overflowed")
            return Score(value=value, model="fixed-1", details={"v": value})

        def learn(self, outcome: Outcome) -> None:
            learned.append(outcome)

    return FixedScorer


def whipsaw(n: int) -> list[tuple[int, float, float, float, float, float]]:
    """Flat bars at 100 that dip to 98.5: a long entered at the open is stopped at 99."""
    return [(T0 + i * BAR, 100.0, 100.2, 98.5, 100.0, 5.0) for i in range(n)]


def profile_text(scorer: str = "", risk: str = "", engine: str = "") -> str:
    return (
        '[profile]\nname = "scoring"\nmode = "replay"\n\n'
        "[account]\nstarting_balance = 10000.0\nleverage = 5.0\n\n"
        '[data]\nsource = "csv"\npaths = ["candles/*.csv"]\n\n'
        "[broker]\nslippage_bps = 0.0\ntaker_fee = 0.0\nmaker_fee = 0.0\n\n"
        '[journal]\npath = "journal.sqlite"\n\n'
        f"[engine]\nmax_plugin_failures = 3\n{engine}\n"
        '[[strategies]]\nuse = "long_when_flat"\n\n'
        '[sizer]\nuse = "fixed_risk"\n[sizer.params]\nrisk_pct = 1.0\nfee_rate = 0.0\n\n'
        f'[[risk]]\nuse = "trading_state"\n{risk}\n'
        f"{scorer}"
    )


def scorer_table(use: str, mode: str, threshold: float = 0.5) -> str:
    return f'[scorer]\nuse = "{use}"\nmode = "{mode}"\nthreshold = {threshold}\n'


@pytest.fixture
def learned() -> list[Outcome]:
    return []


@pytest.fixture
def scoring_plugins(plugins: PluginSet, learned: list[Outcome]) -> PluginSet:
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("long_when_flat", LongWhenFlat)
    registry.add_scorer("low", scorer_class(0.2, learned))
    registry.add_scorer("high", scorer_class(0.9, learned))
    registry.add_scorer("broken", scorer_class(0.9, learned, fail=True))
    registry.add_scorer("out_of_range", scorer_class(1.5, learned))
    return plugins


@pytest.fixture
def twenty_bars(write_candles: Callable[..., Path]) -> Path:
    return write_candles(whipsaw(20))


def rows(query: Query, journal: Path, sql: str) -> list[sqlite3.Row]:
    return query(journal, sql)


@pytest.mark.usefixtures("twenty_bars")
def test_gate_below_threshold_trades_nothing_but_follows_phantoms(
    scoring_plugins: PluginSet,
    learned: list[Outcome],
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    result = run_replay(write_profile(profile_text(scorer_table("low", "gate"))), scoring_plugins)
    journal = result.journal_path
    scores = rows(journal_query, journal, "SELECT * FROM scores ORDER BY seq")
    assert len(scores) == 20
    assert {(r["scorer"], r["value"], r["mode"], r["passed"]) for r in scores} == {
        ("low", 0.2, "gate", 0)
    }
    assert json.loads(scores[0]["details"]) == {"v": 0.2}
    assert rows(journal_query, journal, "SELECT * FROM intents") == []
    assert result.trades == ()
    # Every gated signal was still followed: each resolves on the next bar at its stop.
    phantoms = rows(journal_query, journal, "SELECT * FROM phantoms ORDER BY seq")
    assert len(phantoms) == 19  # the last signal never saw another bar
    assert {(r["exit_reason"], r["r_multiple"], r["phantom"]) for r in phantoms} == {
        ("stop", -1.0, 1)
    }
    # Stopped out on the bar after the fill, stop first: no favourable move, one R adverse.
    assert {(r["mfe_r"], r["mae_r"]) for r in phantoms} == {(0.0, 1.0)}
    assert [o.phantom for o in learned] == [True] * 19
    assert {(o.mfe_r, o.mae_r) for o in learned} == {(0.0, 1.0)}
    assert all(o.exit_reason is ExitReason.STOP and o.r_multiple == -1.0 for o in learned)


@pytest.mark.usefixtures("twenty_bars")
def test_gate_above_threshold_trades_and_learns_from_trades(
    scoring_plugins: PluginSet,
    learned: list[Outcome],
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    result = run_replay(write_profile(profile_text(scorer_table("high", "gate"))), scoring_plugins)
    journal = result.journal_path
    assert len(result.trades) == 19
    assert {r["passed"] for r in rows(journal_query, journal, "SELECT passed FROM scores")} == {1}
    # A signal that was filled resolves as its trade: one outcome row each, phantom 0.
    outcomes = rows(journal_query, journal, "SELECT * FROM phantoms ORDER BY seq")
    assert [r["phantom"] for r in outcomes] == [0] * 19
    assert [r["r_multiple"] for r in outcomes] == [t.r_multiple for t in result.trades]
    assert [r["signal_id"] for r in outcomes] == [o.signal_id for o in learned]
    assert all(r["mfe_r"] is not None and r["mae_r"] >= 1.0 for r in outcomes)
    assert [o.phantom for o in learned] == [False] * 19
    assert [o.r_multiple for o in learned] == pytest.approx([-1.0] * 19)
    assert learned[0].signal.features == {"close": 100.0}


@pytest.mark.usefixtures("twenty_bars")
def test_shadow_mode_records_scores_but_never_gates(
    scoring_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    text = profile_text(scorer_table("low", "shadow"))
    result = run_replay(write_profile(text), scoring_plugins)
    scores = rows(journal_query, result.journal_path, "SELECT mode, passed FROM scores")
    assert {(r["mode"], r["passed"]) for r in scores} == {("shadow", 0)}
    assert len(result.trades) == 19


@pytest.mark.usefixtures("twenty_bars")
@pytest.mark.parametrize(
    ("scorer", "mode", "trades", "error"),
    [
        ("broken", "gate", 0, "ArithmeticError: scorer overflowed"),
        ("broken", "shadow", 19, "ArithmeticError: scorer overflowed"),
        ("out_of_range", "gate", 0, "ValueError: score 1.5 is outside [0, 1]"),
    ],
)
def test_failing_scorer_is_quarantined(
    scorer: str,
    mode: str,
    trades: int,
    error: str,
    scoring_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    result = run_replay(write_profile(profile_text(scorer_table(scorer, mode))), scoring_plugins)
    journal = result.journal_path
    failed = rows(journal_query, journal, "SELECT * FROM events WHERE kind = 'plugin.failed'")
    assert [json.loads(r["data"])["call"] for r in failed] == ["score"] * 3
    assert json.loads(failed[0]["data"])["error"] == error
    quarantined = "SELECT * FROM events WHERE kind = 'plugin.quarantined'"
    assert len(rows(journal_query, journal, quarantined)) == 1
    assert len(result.trades) == trades
    assert rows(journal_query, journal, "SELECT * FROM scores") == []


# --- the daily loss limit: a timed halt that ends at UTC midnight ------------------------


def test_daily_loss_halt_lifts_at_midnight_and_the_day_starts_afresh(
    write_candles: Callable[..., Path],
    scoring_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    write_candles(whipsaw(2 * 288))  # two whole UTC days
    risk = '[[risk]]\nuse = "daily_loss_limit"\nparams = { max_pct = 2.5 }\n'
    result = run_replay(write_profile(profile_text(risk=risk)), scoring_plugins)
    journal = result.journal_path
    # Three 1 % losses a day; the fourth entry of each day meets the limit and halts.
    entries = [t.entry_ts for t in result.trades]
    assert entries == [T0 + BAR, T0 + 2 * BAR, T0 + 3 * BAR] + [
        T0 + DAY + i * BAR for i in range(3)
    ]
    halts = rows(journal_query, journal, "SELECT * FROM events WHERE kind = 'risk.halted'")
    assert [(r["ts"], json.loads(r["data"])["until"]) for r in halts] == [
        (T0 + 4 * BAR, T0 + DAY),
        (T0 + DAY + 3 * BAR, T0 + 2 * DAY),
    ]
    assert all(json.loads(r["data"])["stage"] == "daily_loss_limit" for r in halts)


class EnterThenExit:
    """Long at the first close; at the fourth, an exit signal without a price (entry = nan)."""

    Params: ClassVar[type] = NoParams
    warmup = 0
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {}

    def __init__(self, params: NoParams) -> None:
        self.calls = 0

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        self.calls += 1
        if self.calls == 1:
            return (
                Signal(
                    symbol=candle.symbol,
                    ts=candle.ts,
                    side=Side.LONG,
                    entry=candle.close,
                    stop=candle.close - 5.0,
                ),
            )
        if self.calls == 4:
            return (
                Signal(symbol=candle.symbol, ts=candle.ts, side=Side.LONG, kind=SignalKind.EXIT),
            )
        return ()


def test_exit_signal_without_price_resolves_phantoms_at_the_close(
    write_candles: Callable[..., Path],
    scoring_plugins: PluginSet,
    learned: list[Outcome],
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    # Closes climb by 1 from 100, each bar opening at the previous close.
    write_candles(
        [(T0 + i * BAR, 100.0 + max(i - 1, 0), 100.4 + i, 99.6, 100.0 + i, 5.0) for i in range(8)]
    )
    scoring_plugins.registry.for_plugin("test").add_strategy("enter_then_exit", EnterThenExit)
    text = profile_text(scorer_table("low", "gate")).replace(
        'use = "long_when_flat"', 'use = "enter_then_exit"'
    )
    result = run_replay(write_profile(text), scoring_plugins)
    (phantom,) = journal_query(result.journal_path, "SELECT * FROM phantoms")
    assert phantom["exit_reason"] == "signal"
    # Entry at bar 1's open (100), exit decided at bar 3's close (103), risk 5: +0.6 R.
    assert phantom["r_multiple"] == pytest.approx(0.6)
    assert [o.r_multiple for o in learned] == pytest.approx([0.6])
