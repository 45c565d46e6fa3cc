"""garrison-api 1.1 through the host: context timeframes, candles, phantom-only signals,
outcomes, component life cycle and storage, several scorers.

The multi-timeframe strategy is also run through the test kit's reference runner:
the host must decide and trade exactly as the kit does on the same real candles.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from garrison.engine.run import RunError, RunResult
from garrison.plugins import PluginSet
from garrison_api import (
    Candle,
    ComponentServices,
    Ema,
    Highest,
    IndicatorSpec,
    Lowest,
    Outcome,
    Score,
    Side,
    Signal,
    SignalKind,
    StrategyContext,
)
from garrison_api.testing import candles_from_csv, run_strategy

T0 = 1_759_276_800_000  # 2025-10-01 00:00 UTC
M5 = 300_000

Query = Callable[..., list[sqlite3.Row]]
Replay = Callable[..., RunResult]


@attrs.frozen
class NoParams:
    """No settings."""


class TrendBreakout:
    """Breakouts of the 5m channel, only in the direction of the 4h EMA (read as context)."""

    Params: ClassVar[type] = NoParams
    warmup = 30
    timeframes = ("5m",)
    indicators: Mapping[str, IndicatorSpec] = {
        "high": Highest("high", 24, offset=1),
        "low": Lowest("low", 24, offset=1),
        "exit_low": Lowest("low", 12, offset=1),
        "exit_high": Highest("high", 12, offset=1),
    }
    context_indicators: Mapping[str, Mapping[str, IndicatorSpec]] = {
        "4h": {"trend": Ema("close", 6)}
    }

    def __init__(self, params: NoParams | None = None) -> None:
        self.params = params

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        symbol = candle.symbol
        here = ctx.indicators(symbol)
        trend = ctx.indicators(symbol, "4h")["trend"]
        last_4h = ctx.candles(symbol, "4h", 1)
        if trend != trend or not last_4h:
            return ()
        held = ctx.position(symbol)
        close = candle.close
        if held is None:
            if close > here["high"] and last_4h[-1].close > trend:
                return (self._entry(candle, Side.LONG, here["low"]),)
            if close < here["low"] and last_4h[-1].close < trend:
                return (self._entry(candle, Side.SHORT, here["high"]),)
            return ()
        if held.side is Side.LONG and close < here["exit_low"]:
            return (Signal(symbol, candle.ts, Side.LONG, SignalKind.EXIT, close),)
        if held.side is Side.SHORT and close > here["exit_high"]:
            return (Signal(symbol, candle.ts, Side.SHORT, SignalKind.EXIT, close),)
        return ()

    def _entry(self, candle: Candle, side: Side, stop: float) -> Signal:
        return Signal(candle.symbol, candle.ts, side, entry=candle.close, stop=stop)


def window(source: Path, folder: Path, start: int, end: int) -> Path:
    """The rows of ``source`` opening in [start, end), as a file of the same name in ``folder``."""
    lines = source.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines[1:] if start <= int(line.split(",", 1)[0]) < end]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    target.write_text("\n".join([lines[0], *kept]) + "\n", encoding="utf-8")
    return target


REFERENCE_PROFILE = """
[profile]
name = "api11"
mode = "replay"
[account]
starting_balance = 1_000_000_000.0
leverage = 100.0
[data]
source = "csv"
paths = ["window/*.csv"]
[broker]
slippage_bps = 0.0
taker_fee = 0.0
maker_fee = 0.0
[journal]
path = "journal.sqlite"
[[strategies]]
use = "trend_breakout"
[sizer]
use = "fixed_risk"
[sizer.params]
risk_usd = 1000.0
fee_rate = 0.0
[[risk]]
use = "trading_state"
[[risk]]
use = "one_position_per_symbol"
"""


def test_a_strategy_reading_4h_while_deciding_on_5m_trades_as_the_kit_says(
    bybit_5m: dict[str, Path],
    write_profile: Callable[..., Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
    tmp_path: Path,
) -> None:
    five = bybit_5m["BTCUSDT"]
    four = five.with_name("bybit_BTCUSDT_4h.csv")
    start, end = T0 - 10 * 86_400_000, T0 + 20 * 86_400_000
    files = [
        window(five, tmp_path / "window", start, end),
        window(four, tmp_path / "window", start, end),
    ]
    plugins.registry.for_plugin("test").add_strategy("trend_breakout", TrendBreakout)
    host = run_replay(write_profile(REFERENCE_PROFILE), plugins)
    kit = run_strategy(TrendBreakout(), [c for f in files for c in candles_from_csv(f)])
    rows = journal_query(
        host.journal_path, "SELECT ts, side, kind, entry, stop FROM signals ORDER BY rowid"
    )
    assert len(rows) > 20
    assert [(r["ts"], r["side"], r["kind"], r["entry"], r["stop"]) for r in rows] == [
        (s.ts, s.side.value, s.kind.value, s.entry, s.stop) for s in kit.signals
    ]
    assert [(t.entry_ts, t.entry_price, t.exit_ts, t.exit_price) for t in host.trades] == [
        (t.entry_ts, t.entry_price, t.exit_ts, t.exit_price) for t in kit.trades
    ]


def test_a_context_timeframe_the_data_lacks_is_refused_by_name(
    bybit_5m: dict[str, Path],
    write_profile: Callable[..., Path],
    plugins: PluginSet,
    run_replay: Replay,
    tmp_path: Path,
) -> None:
    window(bybit_5m["BTCUSDT"], tmp_path / "window", T0, T0 + 86_400_000)
    plugins.registry.for_plugin("test").add_strategy("trend_breakout", TrendBreakout)
    with pytest.raises(RunError, match=r"reads BTCUSDT in 4h .*no BTCUSDT 4h candles"):
        run_replay(write_profile(REFERENCE_PROFILE), plugins)


# --- phantom-only signals, outcomes, life cycle, scorers ---------------------------------------


def bars(n: int) -> list[tuple[int, float, float, float, float, float]]:
    """Bars at 100 whose low dips to 98.5: a long stopped at 99 loses 1 R on its fill bar."""
    return [(T0 + i * M5, 100.0, 100.2, 98.5, 100.0, 5.0) for i in range(n)]


def recorder(log: dict[str, list[Any]]) -> type:
    """Long when flat (every other one phantom-only); records outcomes and its life cycle."""

    class Recorder:
        Params: ClassVar[type] = NoParams
        warmup = 0
        timeframes = ("5m",)
        indicators: Mapping[str, IndicatorSpec] = {}

        def __init__(self, params: NoParams) -> None:
            self.calls = 0

        def start(self, services: ComponentServices) -> None:
            log["start"].append((services.name, services.mode))
            services.storage.set("started", True)
            services.blobs.put("model.bin", b"\x00\x01weights")
            log["sha"].append(services.blobs.sha256("model.bin"))

        def stop(self) -> None:
            log["stop"].append(self.calls)

        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
            self.calls += 1
            if ctx.position(candle.symbol) is not None:
                return ()
            return (
                Signal(
                    candle.symbol,
                    candle.ts,
                    Side.LONG,
                    entry=candle.close,
                    stop=candle.close - 1.0,
                    features={"close": candle.close},
                    execute=self.calls % 2 == 1,
                ),
            )

        def on_outcome(self, outcome: Outcome) -> None:
            log["outcomes"].append(outcome)

    return Recorder


def scorer(value: float, learned: list[Outcome], features: tuple[str, ...] = ()) -> type:
    class Fixed:
        Params: ClassVar[type] = NoParams
        feature_names = features

        def __init__(self, params: NoParams) -> None:
            pass

        def score(self, signal: Signal, ctx: StrategyContext) -> Score:
            return Score(value=value, model=f"fixed-{value}")

        def learn(self, outcome: Outcome) -> None:
            learned.append(outcome)

    return Fixed


LIFE_PROFILE = """
[profile]
name = "life"
mode = "replay"
[data]
source = "csv"
paths = ["candles/*.csv"]
[broker]
taker_fee = 0.0
maker_fee = 0.0
[journal]
path = "journal.sqlite"
[[strategies]]
use = "recorder"
[sizer]
use = "fixed_risk"
[sizer.params]
risk_pct = 1.0
fee_rate = 0.0
[[risk]]
use = "trading_state"
{scorers}
"""


@pytest.fixture
def log() -> dict[str, list[Any]]:
    return {"start": [], "stop": [], "sha": [], "outcomes": [], "gate": [], "shadow": []}


@pytest.fixture
def life_plugins(plugins: PluginSet, log: dict[str, list[Any]]) -> PluginSet:
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("recorder", recorder(log))
    registry.add_scorer("gate", scorer(0.9, log["gate"]))
    registry.add_scorer("shadow", scorer(0.1, log["shadow"]))
    registry.add_scorer("picky", scorer(0.9, log["gate"], ("close", "rsi")))
    return plugins


SCORERS = """
[[scorers]]
use = "gate"
mode = "gate"
threshold = 0.5
strategies = ["recorder"]
[[scorers]]
use = "shadow"
mode = "shadow"
threshold = 0.5
"""


def test_phantom_only_signals_outcomes_scorers_and_life_cycle(
    write_candles: Callable[..., Path],
    write_profile: Callable[..., Path],
    life_plugins: PluginSet,
    log: dict[str, list[Any]],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    write_candles(bars(10))
    result = run_replay(write_profile(LIFE_PROFILE.format(scorers=SCORERS)), life_plugins)
    journal = result.journal_path
    signals = journal_query(journal, "SELECT id, execute FROM signals ORDER BY rowid")
    intents = journal_query(journal, "SELECT signal_id FROM intents ORDER BY rowid")
    executed = {r["id"] for r in signals if r["execute"]}
    # Phantom-only signals are journaled, never sized or ordered.
    assert {r["signal_id"] for r in intents} == executed
    assert 0 < len(executed) < len(signals)
    # Every signal scored by both scorers, each in its mode; the shadow one never gates.
    scores = journal_query(journal, "SELECT scorer, mode, passed FROM scores ORDER BY seq")
    assert {(r["scorer"], r["mode"], r["passed"]) for r in scores} == {
        ("gate", "gate", 1),
        ("shadow", "shadow", 0),
    }
    assert len(scores) == 2 * len(signals)
    # Outcomes reach the strategy and both scorers, linked to their signal and gate score.
    outcomes = log["outcomes"]
    assert outcomes
    assert {o.phantom for o in outcomes} == {True, False}
    assert all(o.signal_id and o.score == 0.9 for o in outcomes)
    assert all(o.entry_price is not None and o.exit_price is not None for o in outcomes)
    assert log["gate"] == outcomes
    assert log["shadow"] == outcomes
    # Life cycle: started once with its services, stopped once after its last call.
    assert log["start"] == [("recorder", "replay")]
    assert len(log["stop"]) == 1
    assert log["stop"][0] > 0
    kv = journal_query(journal, "SELECT namespace, key FROM kv")
    assert [(r["namespace"], r["key"]) for r in kv] == [("replay/strategy/recorder", "started")]
    blobs = journal_query(journal, "SELECT namespace, name, sha256 FROM blobs")
    assert [(r["namespace"], r["name"]) for r in blobs] == [
        ("replay/strategy/recorder", "model.bin")
    ]
    assert blobs[0]["sha256"] == log["sha"][0]


def test_a_scorer_missing_features_is_not_called_and_says_which(
    write_candles: Callable[..., Path],
    write_profile: Callable[..., Path],
    life_plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
) -> None:
    write_candles(bars(4))
    picky = '[[scorers]]\nuse = "picky"\nmode = "gate"\n'
    result = run_replay(write_profile(LIFE_PROFILE.format(scorers=picky)), life_plugins)
    events = journal_query(
        result.journal_path, "SELECT data FROM events WHERE kind = 'scorer.features_missing'"
    )
    assert events
    assert json.loads(events[0]["data"])["missing"] == "rsi"
    assert journal_query(result.journal_path, "SELECT * FROM intents") == []  # a gate says no


def test_a_scorer_bound_to_a_strategy_that_does_not_exist_is_refused(
    write_profile: Callable[..., Path], life_plugins: PluginSet
) -> None:
    from garrison.profile.errors import ProfileError
    from garrison.profile.load import load_profile

    text = LIFE_PROFILE.format(scorers='[[scorers]]\nuse = "gate"\nstrategies = ["recorde"]\n')
    with pytest.raises(
        ProfileError, match=r"scorers\[0\]\.strategies\[0\].*did you mean 'recorder'"
    ):
        load_profile(write_profile(text), life_plugins.registry)


def test_candles_beyond_the_warmup_are_refused_as_live_would(
    write_candles: Callable[..., Path],
    write_profile: Callable[..., Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
) -> None:
    class Greedy:
        Params: ClassVar[type] = NoParams
        warmup = 3
        timeframes = ("5m",)
        indicators: Mapping[str, IndicatorSpec] = {}

        def __init__(self, params: NoParams) -> None:
            pass

        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
            ctx.candles(candle.symbol, "5m", 4)
            return ()

    write_candles(bars(8))
    plugins.registry.for_plugin("test").add_strategy("recorder", Greedy)
    result = run_replay(write_profile(LIFE_PROFILE.format(scorers="")), plugins)
    failed = journal_query(
        result.journal_path, "SELECT message FROM events WHERE kind = 'plugin.failed'"
    )
    assert failed
    assert "declare warmup >= 4" in failed[0]["message"]


def test_stop_runs_when_the_run_fails(
    write_candles: Callable[..., Path],
    write_profile: Callable[..., Path],
    life_plugins: PluginSet,
    log: dict[str, list[Any]],
    run_replay: Replay,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from garrison.engine import step

    def broken(self: object) -> None:
        raise RuntimeError("host bug")

    write_candles(bars(4))
    monkeypatch.setattr(step.StepProcessor, "settle", broken)
    with pytest.raises(RuntimeError, match="host bug"):
        run_replay(write_profile(LIFE_PROFILE.format(scorers="")), life_plugins)
    assert log["start"] == [("recorder", "replay")]
    assert len(log["stop"]) == 1
