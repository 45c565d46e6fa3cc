"""Step semantics (issue 8, defects 1-6): what one bar-close instant does, in order.

Each test builds a small market by hand and a scripted strategy whose
decisions are fixed in advance, so the expected money can be worked out on
paper: fills come from each symbol's finest timeframe only, every fill and
mark of a step is booked before anything of the step is decided, the risk
chain sees orders approved earlier in the same step, kill switches fire on
the close that crosses them, equity rows hold the equity of their own
close, and every order ends in a journaled terminal status.
"""

from __future__ import annotations

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
    IndicatorSpec,
    Side,
    Signal,
    SignalKind,
    StrategyContext,
)

T0 = 1_759_276_800_000  # 2025-10-01 00:00 UTC
M5 = 300_000
H1 = 3_600_000

Query = Callable[..., list[sqlite3.Row]]
Replay = Callable[..., RunResult]
Row = tuple[int, float, float, float, float, float]
#: (symbol, open ts of the candle decided on) -> what the strategy says there.
Script = dict[tuple[str, int], list[Signal]]


@attrs.frozen
class NoParams:
    """Scripted strategies take no parameters."""


def scripted(script: Script, timeframes: tuple[str, ...] = ("5m",)) -> type:
    """A strategy that returns ``script[(symbol, ts)]`` and nothing else."""

    class Scripted:
        Params: ClassVar[type] = NoParams
        warmup = 0
        indicators: Mapping[str, IndicatorSpec] = {}

        def __init__(self, params: NoParams) -> None:
            self.params = params
            self.timeframes = timeframes

        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
            return script.get((candle.symbol, candle.ts), [])

    return Scripted


def entry(symbol: str, ts: int, price: float, stop: float, side: Side = Side.LONG) -> Signal:
    return Signal(symbol=symbol, ts=ts, side=side, entry=price, stop=stop)


def exit_(symbol: str, ts: int, price: float, side: Side = Side.LONG) -> Signal:
    return Signal(symbol=symbol, ts=ts, side=side, kind=SignalKind.EXIT, entry=price)


def flat(start: int, step: int, n: int, price: float = 100.0) -> list[Row]:
    return [(start + i * step, price, price + 0.5, price - 0.5, price, 10.0) for i in range(n)]


def profile(
    *,
    strategies: str,
    risk: str = "",
    engine: str = "",
    markets: Sequence[str] = ("AAAUSDT", "ZZZUSDT"),
    sizer: str = "risk_usd = 100.0\nfee_rate = 0.0",
) -> str:
    overrides = "".join(
        f"[markets.overrides.{m}]\ntick_size = 0.01\nlot_step = 0.001\nmin_qty = 0.001\n"
        for m in markets
    )
    return (
        '[profile]\nname = "steps"\nmode = "replay"\n\n'
        "[account]\nstarting_balance = 10000.0\nleverage = 10.0\n\n"
        '[data]\nsource = "csv"\npaths = ["candles/*.csv"]\n\n'
        f"{overrides}\n"
        "[broker]\nslippage_bps = 0.0\ntaker_fee = 0.0\nmaker_fee = 0.0\n\n"
        '[journal]\npath = "journal.sqlite"\n\n'
        f"[engine]\nequity_interval_minutes = 5\n{engine}\n"
        f"{strategies}\n"
        f'[sizer]\nuse = "fixed_risk"\n[sizer.params]\n{sizer}\n\n'
        f"{risk}\n"
    )


def rows_of(query: Query, journal: Path, sql: str) -> list[sqlite3.Row]:
    return query(journal, sql)


# --- 1. fills come from each symbol's execution series ---------------------------------------


def test_a_coarser_bar_that_opened_before_an_entry_cannot_stop_it_out(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
    tmp_path: Path,
) -> None:
    # 5m bars at 100 for two hours; one 1h bar (00:00-01:00) whose low is 50.
    write_candles(flat(T0, M5, 24), "AAAUSDT", "5m")
    write_candles([(T0, 100.0, 100.5, 50.0, 100.0, 10.0)], "AAAUSDT", "1h")
    # Long decided at the 00:25 bar's close, filled at 00:30's open, stop 90.
    script = {("AAAUSDT", T0 + 5 * M5): [entry("AAAUSDT", T0 + 5 * M5, 100.0, 90.0)]}
    plugins.registry.for_plugin("test").add_strategy("script", scripted(script))
    path = write_profile(profile(strategies='[[strategies]]\nuse = "script"\n'))
    result = run_replay(path, plugins)
    # The 1h bar closing at 01:00 opened at 00:00, before the entry: it is context only.
    assert result.trades == ()
    assert result.open_positions == 1
    fills = journal_query(tmp_path / "journal.sqlite", "SELECT ts, reason FROM fills")
    assert [(r["ts"], r["reason"]) for r in fills] == [(T0 + 6 * M5, "entry")]


def test_decisions_on_a_coarser_timeframe_fill_at_the_next_execution_bar(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
) -> None:
    bars = flat(T0, M5, 24)
    bars[12] = (T0 + 12 * M5, 101.0, 101.5, 100.5, 101.0, 10.0)  # 01:00's open is 101
    write_candles(bars, "AAAUSDT", "5m")
    write_candles([(T0, 100.0, 100.5, 99.5, 100.0, 10.0)], "AAAUSDT", "1h")
    script = {("AAAUSDT", T0): [entry("AAAUSDT", T0, 100.0, 90.0)]}
    plugins.registry.for_plugin("test").add_strategy("script", scripted(script, ("1h",)))
    path = write_profile(profile(strategies='[[strategies]]\nuse = "script"\n'))
    result = run_replay(path, plugins)
    assert result.open_positions == 1
    # Decided at 01:00 on the hour bar; filled at the open of the 5m bar opening at 01:00.
    # (no trade: read the position from the journal's fills)
    assert result.stats.signals == 1


# --- 2. pending orders count ---------------------------------------------------------------------


def test_entries_approved_earlier_in_the_step_count_against_the_limits(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
    tmp_path: Path,
) -> None:
    symbols = ("AAAUSDT", "BBBUSDT", "CCCUSDT")
    for symbol in symbols:
        write_candles(flat(T0, M5, 6), symbol, "5m")
    # Two strategies both want every symbol at 00:05's close.
    at = T0 + M5
    script = {(s, at): [entry(s, at, 100.0, 90.0)] for s in symbols}
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("first", scripted(script))
    registry.add_strategy("second", scripted(script))
    text = profile(
        strategies='[[strategies]]\nuse = "first"\n[[strategies]]\nuse = "second"\n',
        markets=symbols,
        risk=(
            '[[risk]]\nuse = "one_position_per_symbol"\n'
            '[[risk]]\nuse = "max_open_positions"\nparams = { limit = 2 }\n'
        ),
    )
    result = run_replay(write_profile(text), plugins)
    journal = tmp_path / "journal.sqlite"
    approved = journal_query(
        journal, "SELECT symbol, strategy FROM intents WHERE approved = 1 ORDER BY CAST(id AS INT)"
    )
    # AAA and BBB by the first strategy; everything else refused in the same step.
    assert [(r["symbol"], r["strategy"]) for r in approved] == [
        ("AAAUSDT", "first"),
        ("BBBUSDT", "first"),
    ]
    assert result.open_positions == 2
    reasons = {
        r["reason"]
        for r in journal_query(journal, "SELECT reason FROM vetoes WHERE stage != 'sizer'")
    }
    assert any("already approved and not filled yet" in r for r in reasons)
    assert any("approved entries not filled yet" in r for r in reasons)


def test_same_direction_exposure_counts_pending_entries(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
    tmp_path: Path,
) -> None:
    symbols = ("AAAUSDT", "BBBUSDT", "CCCUSDT")
    for symbol in symbols:
        write_candles(flat(T0, M5, 6), symbol, "5m")
    at = T0 + M5
    # risk_usd 100 with a stop 10 away: 10 units, 1,000 USDT each; the cap is 25 % of 10,000.
    script = {(s, at): [entry(s, at, 100.0, 90.0)] for s in symbols}
    plugins.registry.for_plugin("test").add_strategy("script", scripted(script))
    text = profile(
        strategies='[[strategies]]\nuse = "script"\n',
        markets=symbols,
        risk='[[risk]]\nuse = "same_direction_exposure"\nparams = { max_pct_of_equity = 25.0 }\n',
    )
    run_replay(write_profile(text), plugins)
    approved = journal_query(
        tmp_path / "journal.sqlite", "SELECT symbol FROM intents WHERE approved = 1"
    )
    assert sorted(r["symbol"] for r in approved) == ["AAAUSDT", "BBBUSDT"]


# --- 3. every fill of a step is booked before any decision ------------------------------------


def test_a_decision_sees_the_stop_out_of_a_symbol_that_sorts_after_it(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
    tmp_path: Path,
) -> None:
    write_candles(flat(T0, M5, 8), "AAAUSDT", "5m")
    zzz = flat(T0, M5, 8)
    zzz[4] = (T0 + 4 * M5, 50.0, 50.5, 49.5, 50.0, 10.0)  # gaps through the stop at 90
    write_candles(zzz, "ZZZUSDT", "5m")
    script = {
        # ZZZ long at 00:00's close: 10 units (risk 100 over a 10 stop), filled at 00:05.
        ("ZZZUSDT", T0): [entry("ZZZUSDT", T0, 100.0, 90.0)],
        # AAA wants in at the close of the very bar that stops ZZZ out at 50 (-500).
        ("AAAUSDT", T0 + 4 * M5): [entry("AAAUSDT", T0 + 4 * M5, 100.0, 90.0)],
    }
    plugins.registry.for_plugin("test").add_strategy("script", scripted(script))
    text = profile(
        strategies='[[strategies]]\nuse = "script"\n',
        risk='[[risk]]\nuse = "max_drawdown"\nparams = { max_pct = 4.0 }\n',
    )
    result = run_replay(write_profile(text), plugins)
    journal = tmp_path / "journal.sqlite"
    (stop,) = result.trades
    assert (stop.symbol, stop.exit_price, stop.pnl) == ("ZZZUSDT", 50.0, -500.0)
    assert result.halts
    assert result.halts[0][0] == T0 + 5 * M5
    refused = journal_query(
        journal,
        "SELECT i.approved, v.stage, v.reason FROM intents i JOIN vetoes v "
        "ON v.run_id = i.run_id AND v.intent_id = i.id WHERE i.symbol = 'AAAUSDT'",
    )
    assert refused
    assert all(r["approved"] == 0 for r in refused)
    assert {r["stage"] for r in refused} >= {"trading_state"}
    halted = journal_query(journal, "SELECT ts FROM events WHERE kind = 'risk.halted'")
    assert [r["ts"] for r in halted] == [T0 + 5 * M5]


# --- 4. equity rows hold the equity of their own close ------------------------------------------


def test_periodic_equity_rows_hold_the_equity_of_the_close_they_are_stamped_with(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
    tmp_path: Path,
) -> None:
    closes = [100.0, 100.0, 102.0, 105.0, 99.0, 101.0]
    bars = [(T0 + i * M5, c, c + 0.5, c - 0.5, c, 10.0) for i, c in enumerate(closes)]
    bars[1] = (T0 + M5, 100.0, 100.5, 99.5, 100.0, 10.0)
    write_candles(bars, "AAAUSDT", "5m")
    script = {("AAAUSDT", T0): [entry("AAAUSDT", T0, 100.0, 90.0)]}
    plugins.registry.for_plugin("test").add_strategy("script", scripted(script))
    text = profile(strategies='[[strategies]]\nuse = "script"\n', markets=("AAAUSDT",))
    run_replay(write_profile(text), plugins)
    rows = journal_query(tmp_path / "journal.sqlite", "SELECT ts, equity FROM equity ORDER BY seq")
    by_ts = {r["ts"]: r["equity"] for r in rows}
    # 10 units long from 100 (filled at 00:05's open): equity at each close.
    for i, close in enumerate(closes):
        if i >= 1:
            assert by_ts[T0 + (i + 1) * M5] == pytest.approx(10_000.0 + 10 * (close - 100.0))


# --- 5. kill switches on every mark; exits pass a halt -------------------------------------------


def dip(n: int = 10) -> list[Row]:
    """100, then a close at 88 (bar 4, low 87.5), then back to 100: a stop at 80 never fills."""
    bars = flat(T0, M5, n)
    bars[4] = (T0 + 4 * M5, 100.0, 100.5, 87.5, 88.0, 10.0)
    return bars


@pytest.mark.parametrize("blocks_exits", [False, True])
def test_drawdown_halts_at_the_close_that_crosses_it_and_exits_still_pass(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
    tmp_path: Path,
    blocks_exits: bool,
) -> None:
    write_candles(dip(), "AAAUSDT", "5m")
    script = {
        # 5 units long from 100 (risk 100 over a 20 stop); at 88 the account is 60 down.
        ("AAAUSDT", T0): [entry("AAAUSDT", T0, 100.0, 80.0)],
        # No entry at the dip, so only a kill switch judged on marks can see it. Exit later.
        ("AAAUSDT", T0 + 7 * M5): [exit_("AAAUSDT", T0 + 7 * M5, 100.0)],
    }
    plugins.registry.for_plugin("test").add_strategy("script", scripted(script))
    flag = "true" if blocks_exits else "false"
    text = profile(
        strategies='[[strategies]]\nuse = "script"\n',
        markets=("AAAUSDT",),
        risk=(
            f'[[risk]]\nuse = "trading_state"\nparams = {{ halted_blocks_exits = {flag} }}\n'
            '[[risk]]\nuse = "max_drawdown"\nparams = { max_pct = 0.5 }\n'
        ),
    )
    result = run_replay(write_profile(text), plugins)
    assert [ts for ts, _ in result.halts] == [T0 + 5 * M5]
    assert "drawdown" in result.halts[0][1]
    if blocks_exits:
        assert result.trades == ()
        assert result.open_positions == 1
    else:
        (trade,) = result.trades
        assert (trade.exit_reason.value, trade.exit_price) == ("signal", 100.0)


def test_daily_loss_limit_halts_until_midnight_on_a_mark(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
) -> None:
    write_candles(dip(), "AAAUSDT", "5m")
    script = {("AAAUSDT", T0): [entry("AAAUSDT", T0, 100.0, 80.0)]}
    plugins.registry.for_plugin("test").add_strategy("script", scripted(script))
    text = profile(
        strategies='[[strategies]]\nuse = "script"\n',
        markets=("AAAUSDT",),
        risk='[[risk]]\nuse = "daily_loss_limit"\nparams = { max_pct = 0.5 }\n',
    )
    result = run_replay(write_profile(text), plugins)
    ((ts, message),) = result.halts
    assert ts == T0 + 5 * M5
    assert f"until {T0 + 86_400_000}" in message


# --- 6. every order ends in a journaled terminal status -----------------------------------------


def test_refused_and_leftover_orders_end_rejected_or_canceled_with_a_reason(
    write_candles: Callable[..., Path],
    write_profile: Callable[[str], Path],
    plugins: PluginSet,
    run_replay: Replay,
    journal_query: Query,
    tmp_path: Path,
) -> None:
    bars = flat(T0, M5, 6)
    bars[3] = (T0 + 3 * M5, 100.0, 100.5, 89.0, 95.0, 10.0)  # stops the long at 90
    write_candles(bars, "AAAUSDT", "5m")
    both = {("AAAUSDT", T0): [entry("AAAUSDT", T0, 100.0, 90.0)]}
    late = {("AAAUSDT", T0 + 5 * M5): [entry("AAAUSDT", T0 + 5 * M5, 100.0, 90.0)]}
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("first", scripted({**both, **late}))
    registry.add_strategy("second", scripted(both))
    # No one_position_per_symbol rule: both entries reach the venue, which holds one.
    text = profile(
        strategies='[[strategies]]\nuse = "first"\n[[strategies]]\nuse = "second"\n',
        markets=("AAAUSDT",),
        risk='[[risk]]\nuse = "trading_state"\n',
    )
    result = run_replay(write_profile(text), plugins)
    journal = tmp_path / "journal.sqlite"
    last = journal_query(
        journal,
        "SELECT id, status, reason FROM orders o WHERE seq = "
        "(SELECT MAX(seq) FROM orders p WHERE p.id = o.id AND p.run_id = o.run_id) ORDER BY id",
    )
    assert [(r["id"], r["status"]) for r in last] == [
        ("1", "filled"),
        ("2", "rejected"),
        ("3", "canceled"),
    ]
    assert "one position per symbol" in last[1]["reason"]
    assert "data ended" in last[2]["reason"]
    assert result.stats.rejected_orders == 1
    kinds = [r["kind"] for r in journal_query(journal, "SELECT kind FROM events ORDER BY seq")]
    assert "order.rejected" in kinds
    assert "order.canceled" in kinds
