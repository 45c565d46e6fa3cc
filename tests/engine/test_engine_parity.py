"""The host against the reference runner (garrison_api.testing) on real Bybit candles.

configs/turtle-system1.toml gives the reference semantics (no fees, no slippage, risk
limits that never bind), so a replay through the whole host must trade exactly like
``run_strategy(TurtleStrategy)`` over the same candles. The 2025-10-10 21:15 UTC crash
bar then checks the stop rule where it matters most.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from garrison.engine.run import RunResult, replay
from garrison.engine.sources import DataSelection
from garrison.plugins import PluginSet, load_plugins
from garrison.profile.dates import iso_to_ms
from garrison.profile.load import load_profile
from garrison_api import Candle, IndicatorSpec, Side, Signal, StrategyContext, Trade
from garrison_api.testing import RunResult as ReferenceResult
from garrison_api.testing import candles_from_csv, run_strategy
from garrison_turtle import TurtleParams, TurtleStrategy

START, END = "2025-10-01", "2025-11-01"
CRASH_TS = 1_760_130_900_000  # 2025-10-10 21:15 UTC, the bar open
BAR = 300_000

TradeKey = tuple[str, str, int, float, int, float, str]


def trade_key(trade: Trade) -> TradeKey:
    return (
        trade.symbol,
        trade.side.value,
        trade.entry_ts,
        trade.entry_price,
        trade.exit_ts,
        trade.exit_price,
        trade.exit_reason.value,
    )


def window_copy(source: Path, folder: Path, start_ms: int, end_ms: int) -> Path:
    """The rows of ``source`` opening in [start_ms, end_ms), as a CSV of the same name."""
    lines = source.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines[1:] if start_ms <= int(line.split(",", 1)[0]) < end_ms]
    target = folder / source.name
    target.write_text("\n".join([lines[0], *kept]) + "\n", encoding="utf-8")
    return target


def window_candles(files: Mapping[str, Path], folder: Path, start: str, end: str) -> list[Candle]:
    """Every candle of ``files`` in the window, read with the test kit's CSV reader."""
    folder.mkdir(parents=True, exist_ok=True)
    candles: list[Candle] = []
    for path in files.values():
        candles.extend(
            candles_from_csv(window_copy(path, folder, iso_to_ms(start), iso_to_ms(end)))
        )
    return candles


def host_replay(
    plugins: PluginSet, profile_path: Path, files: Mapping[str, Path], journal: Path, **window: str
) -> RunResult:
    profile = load_profile(profile_path, plugins.registry)
    selection = DataSelection(paths=tuple(str(p) for p in files.values()), **window)
    return asyncio.run(
        replay(profile, plugins, selection=selection, journal_path=journal, any_mode=True)
    )


@attrs.frozen
class Parity:
    host: RunResult
    reference: ReferenceResult
    candles: dict[tuple[str, int], Candle]


@pytest.fixture(scope="module")
def parity(
    repo: Path, bybit_5m: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Parity:
    """One host replay and one reference run of Turtle System 1 over October 2025.

    Both read the same window of rows (copied out of the real files), so
    neither has bars before the window to warm up on.
    """
    tmp = tmp_path_factory.mktemp("parity")
    plugins = load_plugins()
    candles = window_candles(bybit_5m, tmp / "window", START, END)
    copies = {symbol: tmp / "window" / path.name for symbol, path in bybit_5m.items()}
    host = host_replay(plugins, repo / "configs" / "turtle-system1.toml", copies, tmp / "j.sqlite")
    reference = run_strategy(TurtleStrategy(TurtleParams(system=1)), candles)
    return Parity(host, reference, {(c.symbol, c.ts): c for c in candles})


def test_turtle_trades_through_the_host_equal_the_reference(parity: Parity) -> None:
    host = [trade_key(t) for t in parity.host.trades]
    reference = [trade_key(t) for t in parity.reference.trades]
    assert len(host) > 1000  # a month of 5m breakouts on five symbols
    assert {key[0] for key in host} == set(parity.host.symbols)
    assert host == reference
    assert parity.host.open_positions == len(parity.reference.open_positions)
    assert parity.host.stats.candles == len(parity.candles) == 5 * 31 * 288


def test_turtle_signals_through_the_host_equal_the_reference(parity: Parity) -> None:
    conn = sqlite3.connect(f"{parity.host.journal_path.as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT symbol, ts, side, kind, entry, stop FROM signals WHERE run_id = ? "
            "ORDER BY rowid",
            (parity.host.run_id,),
        ).fetchall()
    finally:
        conn.close()
    reference = [
        (s.symbol, s.ts, s.side.value, s.kind.value, s.entry, s.stop)
        for s in parity.reference.signals
    ]
    assert rows == reference


def test_equity_curve_is_in_time_order(parity: Parity) -> None:
    stamps = [ts for ts, _ in parity.host.equity]
    assert len(stamps) > 31 * 24  # hourly points and one per closed trade
    assert stamps == sorted(stamps)
    assert stamps[-1] == parity.host.last_ts


def test_every_stop_exit_follows_the_gap_rule(parity: Parity) -> None:
    conn = sqlite3.connect(f"{parity.host.journal_path.as_uri()}?mode=ro", uri=True)
    try:
        stops = dict(
            conn.execute(
                "SELECT intent_id, stop FROM positions WHERE run_id = ? AND action = 'open'",
                (parity.host.run_id,),
            ).fetchall()
        )
        intents = conn.execute(
            "SELECT p.symbol, p.entry_ts, p.intent_id FROM positions p "
            "WHERE p.run_id = ? AND p.action = 'open'",
            (parity.host.run_id,),
        ).fetchall()
    finally:
        conn.close()
    stop_of = {(symbol, entry_ts): stops[intent] for symbol, entry_ts, intent in intents}
    checked = 0
    for trade in parity.host.trades:
        if trade.exit_reason.value != "stop":
            continue
        bar = parity.candles[(trade.symbol, trade.exit_ts)]
        stop = stop_of[(trade.symbol, trade.entry_ts)]
        if trade.side is Side.LONG:
            assert bar.low <= stop
            assert trade.exit_price == min(bar.open, stop)
        else:
            assert bar.high >= stop
            assert trade.exit_price == max(bar.open, stop)
        checked += 1
    assert checked > 50


# --- the 2025-10-10 crash bar ---------------------------------------------------------------


@attrs.frozen
class CrashParams:
    """Where to go long: at the close of the bar opening at ``at_ts``, stop ``stop_pct`` under."""

    at_ts: int = CRASH_TS - BAR
    stop_pct: float = 3.0


class LongIntoTheCrash:
    """Goes long on every symbol at the close of one chosen bar; never exits by signal."""

    Params: ClassVar[type] = CrashParams
    warmup = 0
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {}

    def __init__(self, params: CrashParams | None = None) -> None:
        self.params = params or CrashParams()

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        if candle.ts != self.params.at_ts:
            return ()
        stop = candle.close * (1.0 - self.params.stop_pct / 100.0)
        return (
            Signal(
                symbol=candle.symbol,
                ts=candle.ts,
                side=Side.LONG,
                entry=candle.close,
                stop=stop,
                reason="into the crash",
                bracket_from_fill=True,
            ),
        )


CRASH_PROFILE = """
[profile]
name = "crash"
mode = "replay"

[account]
starting_balance = 1_000_000_000.0
leverage = 100.0

[data]
source = "csv"
paths = ["{data}/bybit_*USDT_5m.csv"]
start = "2025-10-10"
end = "2025-10-11"

[markets]
snapshot = "bybit_linear"

[broker]
slippage_bps = 0.0
taker_fee = 0.0
maker_fee = 0.0

[[strategies]]
use = "into_the_crash"

[sizer]
use = "fixed_risk"
[sizer.params]
risk_usd = 1000.0
fee_rate = 0.0

[[risk]]
use = "trading_state"
"""


def test_crash_bar_stops_fill_at_the_stop_not_the_low(
    tmp_path: Path, bybit_5m: dict[str, Path], plugins: PluginSet
) -> None:
    plugins.registry.for_plugin("test").add_strategy("into_the_crash", LongIntoTheCrash)
    profile = tmp_path / "crash.toml"
    folder = next(iter(bybit_5m.values())).parent
    profile.write_text(CRASH_PROFILE.replace("{data}", folder.as_posix()), encoding="utf-8")
    loaded = load_profile(profile, plugins.registry)
    host = asyncio.run(replay(loaded, plugins, journal_path=tmp_path / "crash.sqlite"))
    candles = window_candles(bybit_5m, tmp_path / "window", "2025-10-10", "2025-10-11")
    bars = {(c.symbol, c.ts): c for c in candles}

    assert sorted(t.symbol for t in host.trades) == sorted(bybit_5m)
    for trade in host.trades:
        crash = bars[(trade.symbol, CRASH_TS)]
        before = bars[(trade.symbol, CRASH_TS - BAR)]
        stop = trade.entry_price + (before.close * 0.97 - before.close)
        assert (trade.entry_ts, trade.exit_ts) == (CRASH_TS, CRASH_TS)
        assert trade.exit_reason.value == "stop"
        assert trade.entry_price == crash.open
        # The bar opened above the stop and fell far through it: the stop fills at its
        # own price (the gap rule's min(open, stop)), not at the bar's low or close.
        assert crash.low < stop < crash.open
        assert trade.exit_price == pytest.approx(min(crash.open, stop), rel=1e-12)
        assert trade.exit_price > crash.low
        assert trade.r_multiple == pytest.approx(-1.0, rel=1e-9)

    reference = run_strategy(LongIntoTheCrash(), candles)
    assert [trade_key(t)[:5] for t in host.trades] == [trade_key(t)[:5] for t in reference.trades]
    assert [t.exit_reason for t in host.trades] == [t.exit_reason for t in reference.trades]
    for ours, theirs in zip(host.trades, reference.trades, strict=True):
        assert ours.exit_price == pytest.approx(theirs.exit_price, rel=1e-12)
