"""Pipeline and plugin guard through whole replays: failures, quarantine, vetoes, halts.

Throwaway components are registered on top of the real plugins; profiles are TOML
text in tmp_path; every replay writes a real SQLite journal that the tests read back.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import math
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
import pytest
from garrison.engine.run import RunResult
from garrison.plugins import PluginSet
from garrison_api import Candle, Event, IndicatorSpec, Side, Signal, SignalKind, StrategyContext

T0 = 1_759_276_800_000  # 2025-10-01 00:00 UTC
BAR = 300_000

Query = Callable[..., list[sqlite3.Row]]
Replay = Callable[..., RunResult]


@attrs.frozen
class NoParams:
    """Throwaway components take no parameters."""


class _Quiet:
    """Strategy plumbing: no warm-up, every timeframe, no indicators."""

    Params: ClassVar[type] = NoParams
    warmup = 0
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {}

    def __init__(self, params: NoParams) -> None:
        self.params = params


class RaisingStrategy(_Quiet):
    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        raise RuntimeError(f"boom at {candle.ts}")


class ExitingStrategy(_Quiet):
    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        raise SystemExit(f"strategy quits at {candle.ts}")


class EveryOtherBarRaises(_Quiet):
    """Fails on every other bar: never twice in a row."""

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        if (candle.ts - T0) // BAR % 2 == 0:
            raise RuntimeError(f"boom at {candle.ts}")
        return ()


def long_entry(candle: Candle, **changes: Any) -> Signal:
    values: dict[str, Any] = {
        "symbol": candle.symbol,
        "ts": candle.ts,
        "side": Side.LONG,
        "kind": SignalKind.ENTRY,
        "entry": candle.close,
        "stop": candle.close - 1.0,
        "reason": "test entry",
    }
    values.update(changes)
    return Signal(**values)


class AlwaysLong(_Quiet):
    """Goes long whenever flat, stop one price unit under the close."""

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        if ctx.position(candle.symbol) is not None:
            return ()
        return (long_entry(candle),)


#: What a badly written strategy might return, by test id.
GARBAGE: dict[str, Callable[[Candle], object]] = {
    "not-a-signal": lambda c: [object()],
    "nan-entry": lambda c: [long_entry(c, entry=math.nan)],
    "wrong-symbol": lambda c: [long_entry(c, symbol="ETHUSDT")],
    "negative-stop": lambda c: [long_entry(c, stop=-5.0)],
    "a-string": lambda c: "go long",
    "valid-then-garbage": lambda c: [long_entry(c), None],
}


def garbage_strategy(make: Callable[[Candle], object]) -> type:
    class Garbage(_Quiet):
        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Any:
            return make(candle)

    return Garbage


class HangingNotifier:
    Params: ClassVar[type] = NoParams

    def __init__(self, params: NoParams) -> None:
        self.params = params

    async def notify(self, event: Event) -> None:
        await asyncio.sleep(3600)


class BlockingNotifier(HangingNotifier):
    async def notify(self, event: Event) -> None:
        time.sleep(60)  # blocks its thread: the mistake the host must survive


class RaisingNotifier(HangingNotifier):
    async def notify(self, event: Event) -> None:
        raise ConnectionError(f"cannot deliver {event.kind}")


class RaisingSizer:
    Params: ClassVar[type] = NoParams

    def __init__(self, params: NoParams) -> None:
        self.params = params

    def size(self, signal: Signal, score: object, account: object, market: object) -> float:
        raise ZeroDivisionError("sizer divided by zero")


class RaisingRule:
    Params: ClassVar[type] = NoParams

    def __init__(self, params: NoParams) -> None:
        self.params = params

    def check(self, intent: object, account: object) -> None:
        raise KeyError("rule lost its key")


def falling_bars(n: int = 40) -> list[tuple[int, float, float, float, float, float]]:
    """Bars that each open at the previous close and dip 1.5 under it: every long stop is hit."""
    rows = []
    for i in range(n):
        open_ = 100.0 - i
        rows.append((T0 + i * BAR, open_, open_ + 0.2, open_ - 1.5, open_ - 1.0, 10.0))
    return rows


def profile_text(
    strategy: str = "always_long",
    *,
    risk: str = '[[risk]]\nuse = "trading_state"\n',
    notifiers: str = "",
    sizer: str = 'use = "fixed_risk"\n[sizer.params]\nrisk_pct = 1.0\nfee_rate = 0.0\n',
    engine: str = "max_plugin_failures = 3\nnotifier_timeout_s = 0.05\n",
) -> str:
    return (
        '[profile]\nname = "guard"\nmode = "replay"\n\n'
        "[account]\nstarting_balance = 10000.0\nleverage = 5.0\n\n"
        '[data]\nsource = "csv"\npaths = ["candles/*.csv"]\n\n'
        '[markets]\nsnapshot = "bybit_linear"\n\n'
        "[broker]\nslippage_bps = 0.0\ntaker_fee = 0.0\nmaker_fee = 0.0\n\n"
        '[journal]\npath = "journal.sqlite"\n\n'
        f"[engine]\n{engine}\n"
        f'[[strategies]]\nuse = "{strategy}"\n\n'
        f"[sizer]\n{sizer}\n"
        f"{risk}\n"
        f"{notifiers}"
    )


@pytest.fixture
def test_plugins(plugins: PluginSet) -> PluginSet:
    """The real plugins plus this file's throwaway components (as plugin ``test``)."""
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("raising", RaisingStrategy)
    registry.add_strategy("exiting", ExitingStrategy)
    registry.add_strategy("every_other_bar", EveryOtherBarRaises)
    registry.add_strategy("always_long", AlwaysLong)
    for name, make in GARBAGE.items():
        registry.add_strategy(f"garbage-{name}", garbage_strategy(make))
    registry.add_notifier("hanging", HangingNotifier)
    registry.add_notifier("raising", RaisingNotifier)
    registry.add_notifier("blocking", BlockingNotifier)
    registry.add_sizer("raising", RaisingSizer)
    registry.add_risk_rule("raising", RaisingRule)
    return plugins


@pytest.fixture
def falling_data(write_candles: Callable[..., Path]) -> Path:
    return write_candles(falling_bars())


@pytest.fixture
def demo_slice(repo: Path, write_candles: Callable[..., Path]) -> Path:
    """The first 2,000 bundled BTCUSDT 5m bars (real data), as a plain CSV."""
    with gzip.open(repo / "data" / "demo" / "bybit_BTCUSDT_5m.csv.gz", "rt") as fh:
        lines = fh.read().splitlines()[1:2001]
    rows = []
    for line in lines:
        ts, *values = line.split(",")
        o, h, lo, c, v = (float(x) for x in values)
        rows.append((int(ts), o, h, lo, c, v))
    return write_candles(rows)


def events(query: Query, journal: Path, kind: str) -> list[sqlite3.Row]:
    return query(journal, "SELECT * FROM events WHERE kind = ? ORDER BY seq", (kind,))


def run_status(query: Query, journal: Path) -> list[str]:
    return [row["status"] for row in query(journal, "SELECT status FROM runs")]


# --- strategies ----------------------------------------------------------------------------


@pytest.mark.usefixtures("falling_data")
def test_raising_strategy_is_reported_then_quarantined(
    tmp_path: Path,
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    result = run_replay(write_profile(profile_text("raising")), test_plugins)
    journal = result.journal_path
    failed = events(journal_query, journal, "plugin.failed")
    assert len(failed) == 3  # then quarantined: never called again
    for count, row in enumerate(failed, start=1):
        data = json.loads(row["data"])
        assert (row["source"], row["level"]) == ("raising", "error")
        assert data == {
            "component": "raising",
            "call": "on_candle",
            "error": f"RuntimeError: boom at {T0 + (count - 1) * BAR}",
            "count": count,
        }
        assert row["ts"] == T0 + count * BAR  # the close of the bar it failed on
    (quarantined,) = events(journal_query, journal, "plugin.quarantined")
    assert (quarantined["source"], quarantined["level"]) == ("raising", "critical")
    assert quarantined["ts"] == T0 + 3 * BAR
    assert run_status(journal_query, journal) == ["completed"]
    assert result.stats.candles == 40
    assert result.events["plugin.failed"] == 3


@pytest.mark.usefixtures("falling_data")
def test_system_exit_from_a_strategy_is_its_failure_not_the_hosts_exit(
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    result = run_replay(write_profile(profile_text("exiting")), test_plugins)
    journal = result.journal_path
    failed = events(journal_query, journal, "plugin.failed")
    assert [json.loads(row["data"])["error"] for row in failed] == [
        f"SystemExit: strategy quits at {T0 + i * BAR}" for i in range(3)
    ]
    assert len(events(journal_query, journal, "plugin.quarantined")) == 1
    assert run_status(journal_query, journal) == ["completed"]


@pytest.mark.usefixtures("falling_data")
def test_failures_that_are_not_in_a_row_never_quarantine(
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    result = run_replay(write_profile(profile_text("every_other_bar")), test_plugins)
    journal = result.journal_path
    failed = events(journal_query, journal, "plugin.failed")
    assert len(failed) == 20  # every other bar of 40
    assert {json.loads(row["data"])["count"] for row in failed} == {1}
    assert events(journal_query, journal, "plugin.quarantined") == []
    assert run_status(journal_query, journal) == ["completed"]


@pytest.mark.usefixtures("falling_data")
@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_strategy_returning_garbage_counts_as_failure(
    kind: str,
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    result = run_replay(write_profile(profile_text(f"garbage-{kind}")), test_plugins)
    journal = result.journal_path
    failed = events(journal_query, journal, "plugin.failed")
    assert len(failed) == 3
    assert {json.loads(row["data"])["call"] for row in failed} == {"on_candle"}
    assert len(events(journal_query, journal, "plugin.quarantined")) == 1
    assert run_status(journal_query, journal) == ["completed"]
    # Only valid signals reach the journal (and only they are acted on).
    recorded = journal_query(journal, "SELECT * FROM signals")
    if kind == "valid-then-garbage":
        assert len(recorded) == 3
        assert all(row["symbol"] == "BTCUSDT" for row in recorded)
    else:
        assert recorded == []


@pytest.mark.usefixtures("falling_data")
def test_strategy_returning_a_bare_signal_counts_as_failure(
    plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    plugins.registry.for_plugin("test").add_strategy(
        "bare", garbage_strategy(lambda c: long_entry(c))
    )
    result = run_replay(write_profile(profile_text("bare")), plugins)
    assert len(events(journal_query, result.journal_path, "plugin.quarantined")) == 1
    assert run_status(journal_query, result.journal_path) == ["completed"]


# --- notifiers -----------------------------------------------------------------------------


@pytest.mark.usefixtures("falling_data")
@pytest.mark.parametrize(
    ("notifier", "error"),
    [
        ("hanging", "TimeoutError: no answer within 0.05s"),
        ("raising", "ConnectionError: cannot deliver run.started"),
    ],
)
def test_bad_notifier_is_quarantined_and_the_run_completes(
    notifier: str,
    error: str,
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    text = profile_text(
        engine="max_plugin_failures = 2\nnotifier_timeout_s = 0.05\n",
        notifiers=f'[[notifiers]]\nuse = "{notifier}"\n',
    )
    result = run_replay(write_profile(text), test_plugins)
    journal = result.journal_path
    failed = events(journal_query, journal, "plugin.failed")
    assert [row["source"] for row in failed] == [notifier, notifier]
    assert json.loads(failed[0]["data"])["error"] == error
    assert json.loads(failed[0]["data"])["call"] == "notify"
    (quarantined,) = events(journal_query, journal, "plugin.quarantined")
    assert quarantined["source"] == notifier
    assert run_status(journal_query, journal) == ["completed"]
    assert len(result.trades) == 39  # trading went on regardless
    assert len(events(journal_query, journal, "run.finished")) == 1


@pytest.mark.usefixtures("falling_data")
def test_a_good_notifier_beside_a_bad_one_keeps_working(
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    text = profile_text(
        engine="max_plugin_failures = 1\nnotifier_timeout_s = 0.05\n",
        notifiers='[[notifiers]]\nuse = "hanging"\n[[notifiers]]\nuse = "log"\n',
    )
    result = run_replay(write_profile(text), test_plugins)
    failed = events(journal_query, result.journal_path, "plugin.failed")
    assert [row["source"] for row in failed] == ["hanging"]
    assert run_status(journal_query, result.journal_path) == ["completed"]


@pytest.mark.usefixtures("falling_data")
def test_a_notifier_blocking_its_thread_does_not_hold_up_the_run(
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    text = profile_text(
        engine="max_plugin_failures = 2\nnotifier_timeout_s = 0.05\n",
        notifiers='[[notifiers]]\nuse = "blocking"\n[[notifiers]]\nuse = "log"\n',
    )
    started = time.monotonic()
    result = run_replay(write_profile(text), test_plugins)
    assert time.monotonic() - started < 30  # not the 60 s it sleeps, let alone once per event
    journal = result.journal_path
    (failed,) = events(journal_query, journal, "plugin.failed")
    assert failed["source"] == "blocking"
    assert "notify blocks its thread" in json.loads(failed["data"])["error"]
    (left,) = events(journal_query, journal, "notifier.undelivered")
    assert left["source"] == "blocking"
    assert json.loads(left["data"])["stuck"] is True
    assert run_status(journal_query, journal) == ["completed"]
    assert len(result.trades) == 39


# --- sizer and risk rules ------------------------------------------------------------------


@pytest.mark.usefixtures("falling_data")
def test_raising_sizer_vetoes_and_is_quarantined(
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    text = profile_text(sizer='use = "raising"\n')
    result = run_replay(write_profile(text), test_plugins)
    journal = result.journal_path
    failed = events(journal_query, journal, "plugin.failed")
    assert [json.loads(row["data"])["call"] for row in failed] == ["size"] * 3
    assert len(events(journal_query, journal, "plugin.quarantined")) == 1
    vetoes = journal_query(journal, "SELECT * FROM vetoes ORDER BY seq")
    assert len(vetoes) == 40  # one per entry signal, every one refused
    assert {row["stage"] for row in vetoes} == {"sizer"}
    assert "quarantined" in vetoes[-1]["reason"]
    assert result.trades == ()
    assert journal_query(journal, "SELECT * FROM fills") == []


@pytest.mark.usefixtures("falling_data")
def test_raising_risk_rule_fails_closed(
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    risk = '[[risk]]\nuse = "trading_state"\n[[risk]]\nuse = "raising"\nname = "fragile"\n'
    result = run_replay(write_profile(profile_text(risk=risk)), test_plugins)
    journal = result.journal_path
    vetoes = journal_query(journal, "SELECT * FROM vetoes ORDER BY seq")
    assert vetoes
    assert {row["stage"] for row in vetoes} == {"fragile"}
    assert vetoes[0]["reason"] == "rule raised KeyError: 'rule lost its key'"
    failed = events(journal_query, journal, "plugin.failed")
    assert failed[0]["source"] == "fragile"
    assert json.loads(failed[0]["data"])["call"] == "check"
    assert result.trades == ()


# --- vetoes and halts ----------------------------------------------------------------------


def test_vetoes_are_journaled_with_stage_and_reason(
    demo_slice: Path,
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    risk = (
        '[[risk]]\nuse = "trading_state"\n'
        '[[risk]]\nuse = "max_notional"\nparams = { max_usd = 1.0 }\n'
        '[[risk]]\nuse = "stop_distance"\nparams = { max_pct = 0.0001 }\n'
    )
    result = run_replay(write_profile(profile_text("turtle", risk=risk)), test_plugins)
    journal = result.journal_path
    intents = journal_query(journal, "SELECT * FROM intents ORDER BY rowid")
    assert len(intents) > 5  # turtle breaks out many times in 2,000 real bars
    assert {row["approved"] for row in intents} == {0}
    vetoes = journal_query(journal, "SELECT * FROM vetoes ORDER BY seq")
    # Every rule runs on every intent: two vetoes each, in chain order.
    assert len(vetoes) == 2 * len(intents)
    by_intent: dict[str, list[str]] = {}
    for row in vetoes:
        by_intent.setdefault(row["intent_id"], []).append(row["stage"])
    assert set(by_intent) == {row["id"] for row in intents}
    assert all(stages == ["max_notional", "stop_distance"] for stages in by_intent.values())
    notional = next(row for row in vetoes if row["stage"] == "max_notional")
    assert "exceeds max 1.00" in notional["reason"]
    assert notional["halt"] == 0
    assert journal_query(journal, "SELECT * FROM fills") == []
    assert result.stats.vetoed_intents == len(intents)


@pytest.mark.usefixtures("falling_data")
def test_max_drawdown_halt_stops_new_entries(
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    risk = (
        '[[risk]]\nuse = "trading_state"\n'
        '[[risk]]\nuse = "max_drawdown"\nparams = { max_pct = 2.5 }\n'
    )
    result = run_replay(write_profile(profile_text(risk=risk)), test_plugins)
    journal = result.journal_path
    # Each trade loses 1 % of equity at its stop; the fourth entry finds a 2.97 % drawdown.
    assert [t.exit_reason.value for t in result.trades] == ["stop"] * 3
    assert all(t.r_multiple == pytest.approx(-1.0) for t in result.trades)
    (halted,) = events(journal_query, journal, "risk.halted")
    halt_ts = T0 + 4 * BAR  # the close of bar 3, where the fourth entry was decided
    assert halted["ts"] == halt_ts
    assert halted["level"] == "critical"
    assert json.loads(halted["data"])["stage"] == "max_drawdown"
    assert json.loads(halted["data"])["until"] is None
    assert journal_query(journal, "SELECT * FROM fills WHERE ts > ?", (halt_ts,)) == []
    later = journal_query(
        journal,
        "SELECT v.stage, v.halt FROM vetoes v JOIN intents i "
        "ON i.run_id = v.run_id AND i.id = v.intent_id WHERE i.ts > ?",
        (halt_ts,),
    )
    assert {row["stage"] for row in later} == {"trading_state", "max_drawdown"}
    assert result.events["risk.halted"] == 1
    assert run_status(journal_query, journal) == ["completed"]


@pytest.mark.usefixtures("falling_data")
@pytest.mark.parametrize("commit", ["step", "chunk"])
def test_every_signal_intent_order_and_fill_is_journaled_in_order(
    test_plugins: PluginSet,
    write_profile: Callable[[str], Path],
    run_replay: Replay,
    journal_query: Query,
    commit: str,
) -> None:
    text = profile_text().replace(
        '[journal]\npath = "journal.sqlite"\n',
        f'[journal]\npath = "journal.sqlite"\ncommit = "{commit}"\n',
    )
    result = run_replay(write_profile(text), test_plugins)
    journal = result.journal_path
    signals = journal_query(journal, "SELECT * FROM signals ORDER BY rowid")
    intents = journal_query(journal, "SELECT * FROM intents ORDER BY rowid")
    orders = journal_query(journal, "SELECT * FROM orders ORDER BY seq")
    fills = journal_query(journal, "SELECT * FROM fills ORDER BY seq")
    trades = journal_query(journal, "SELECT * FROM trades ORDER BY rowid")
    # Each entry is stopped out on its own fill bar, so the strategy is flat at every
    # close: 40 entries on 40 bars, the last one left unfilled when the data ends.
    # The orders table is a history: committing each step, a row when sent and one
    # more when the order ends. Committing by chunks, an order that ends before its
    # chunk is committed is one row with its end status (the first would have
    # landed in the same transaction: nobody could have read it).
    assert len(signals) == len(intents) == 40
    statuses = [row["status"] for row in orders]
    if commit == "step":
        assert statuses == ["open", "filled"] * 39 + ["open", "canceled"]
    else:
        # The last was committed open at the end of the data, then canceled.
        assert statuses == ["filled"] * 39 + ["open", "canceled"]
    assert len({row["id"] for row in orders}) == 40
    assert len(fills) == 2 * 39
    assert len(trades) == len(result.trades) == 39
    assert [(row["reason"], row["ts"]) for row in fills[:2]] == [
        ("entry", T0 + BAR),
        ("stop", T0 + BAR),
    ]
    assert (fills[0]["price"], fills[1]["price"]) == (99.0, 98.0)
    assert [row["signal_id"] for row in intents] == [row["id"] for row in signals]
    for row in fills:
        assert row["intent_id"] in {i["id"] for i in intents}
    canceled = events(journal_query, journal, "order.canceled")
    assert len(canceled) == 1
    # Every signal became a real trade: each outcome row is a trade's (phantom 0).
    outcomes = journal_query(journal, "SELECT phantom, r_multiple FROM phantoms ORDER BY seq")
    assert [row["phantom"] for row in outcomes] == [0] * 39
    assert [row["r_multiple"] for row in outcomes] == [t.r_multiple for t in result.trades]


@pytest.mark.usefixtures("falling_data")
def test_commit_per_step_trades_the_same_and_commits_more(
    tmp_path: Path,
    test_plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Replay,
    journal_query: Query,
) -> None:
    chunk = run_replay(write_profile(profile_text()), test_plugins, journal=tmp_path / "c.sqlite")
    text = profile_text().replace(
        '[journal]\npath = "journal.sqlite"\n',
        '[journal]\npath = "journal.sqlite"\ncommit = "step"\n',
    )
    step = run_replay(write_profile(text, "step.toml"), test_plugins, journal=tmp_path / "s.sqlite")
    assert step.trades == chunk.trades
    assert step.stats.commits > chunk.stats.commits
    assert step.stats.commits >= 40  # at least one per step that made an intent
    assert run_status(journal_query, step.journal_path) == ["completed"]
