"""Recording, committing and reading back every kind of journal row."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import attrs
import numpy as np
import pytest
from garrison.journal import (
    EquityPoint,
    IntentRecord,
    Journal,
    JournalError,
    PhantomRecord,
    PositionRecord,
    ScoreRecord,
    SignalRecord,
    VetoRecord,
)
from garrison_api import ExitReason, OrderStatus, Outcome, Side

T0 = 1_763_732_712_000


def _count(path: Path, table: str) -> int:
    # A second, independent connection: sees only what is committed.
    with sqlite3.connect(path) as other:
        return int(other.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_every_record_type_round_trips(running: Journal, samples) -> None:
    run = running.run_id
    signals = [samples.signal(i) for i in range(4)]  # sig-3 is phantom-only
    for i, s in enumerate(signals):
        running.record_signal(f"sig-{i}", "turtle", s)
    running.record_score("sig-0", "river", samples.score(), "shadow", True)
    running.record_score("sig-1", "river", samples.score(), "gate", False)
    running.record_veto("intent-1", samples.veto())
    running.record_veto("intent-1", samples.veto(halt=True))
    running.record_order(samples.order())
    running.record_order(samples.order(OrderStatus.FILLED))
    running.record_order(samples.order(OrderStatus.REJECTED))
    running.record_fill(samples.fill())
    running.record_position(T0, "open", samples.position())
    running.record_position(T0 + 1, "close", samples.position(signal_id=None))
    running.record_trade(samples.trade(0))
    running.record_trade(samples.trade(1))
    running.record_phantom("sig-2", "turtle", samples.outcome(signals[2]))
    running.record_equity(T0, 10_000.0, 10_050.5, 1)
    running.record_event(samples.event())
    running.commit_intent(samples.intent(0), True)
    running.commit_intent(samples.intent(1), False)

    assert running.signals(run) == [
        SignalRecord(f"sig-{i}", "turtle", s) for i, s in enumerate(signals)
    ]
    assert running.scores(run) == [
        ScoreRecord("sig-0", "river", samples.score(), "shadow", True),
        ScoreRecord("sig-1", "river", samples.score(), "gate", False),
    ]
    assert running.vetoes(run) == [
        VetoRecord("intent-1", samples.veto()),
        VetoRecord("intent-1", samples.veto(halt=True)),
    ]
    assert running.intents(run) == [
        IntentRecord(samples.intent(0), True),
        IntentRecord(samples.intent(1), False),
    ]
    assert running.orders(run) == [
        samples.order(),
        samples.order(OrderStatus.FILLED),
        samples.order(OrderStatus.REJECTED),
    ]
    assert running.orders(run)[2].reason == "no position to close"
    assert running.fills(run) == [samples.fill()]
    assert running.positions(run) == [
        PositionRecord(T0, "open", samples.position()),
        PositionRecord(T0 + 1, "close", samples.position(signal_id=None)),
    ]
    assert running.trades(run) == [samples.trade(0), samples.trade(1)]
    assert running.phantoms(run) == [PhantomRecord("sig-2", "turtle", samples.outcome(signals[2]))]
    assert running.equity(run) == [(T0, 10_050.5)]
    assert running.equity_points(run) == [EquityPoint(T0, 10_000.0, 10_050.5, 1)]
    assert running.events(run) == [samples.event()]


def test_api_1_1_fields_round_trip(running: Journal, samples) -> None:
    phantom_only = samples.signal(3)
    assert (phantom_only.execute, phantom_only.horizon_ms) == (False, 7_200_000)
    running.record_signal("sig-3", "turtle", phantom_only)
    running.record_signal("sig-2", "turtle", samples.signal(2))
    # An outcome that leaves its 1.1 fields unset: no score, no prices, no signal id.
    bare = Outcome(
        signal=samples.signal(2),
        strategy="turtle",
        r_multiple=0.5,
        exit_reason=ExitReason.HORIZON,
        closed_ts=T0,
        phantom=True,
    )
    running.record_phantom("sig-2", "turtle", bare)
    running.record_phantom("sig-3", "turtle", samples.outcome(phantom_only, "sig-3"))
    running.flush()
    signals = {r.signal_id: r.signal for r in running.signals(running.run_id)}
    assert signals["sig-3"] == phantom_only
    assert signals["sig-2"].execute is True
    first, second = (record.outcome for record in running.phantoms(running.run_id))
    # The phantom row's signal id is the outcome's.
    assert (first.signal_id, first.score) == ("sig-2", None)
    assert (first.entry_price, first.exit_price) == (None, None)
    assert second == samples.outcome(phantom_only, "sig-3")
    assert (second.score, second.entry_price, second.exit_price) == (0.42, 102.5, 101.0)


def test_a_phantom_of_another_signal_is_refused(running: Journal, samples) -> None:
    running.record_signal("sig-2", "turtle", samples.signal(2))
    running.record_phantom("sig-2", "turtle", samples.outcome(samples.signal(2), "sig-9"))
    with pytest.raises(JournalError, match=r"'phantoms'.*signal 'sig-2'.*of signal 'sig-9'"):
        running.flush()
    with pytest.raises(JournalError):  # finishing discards the batch and marks the run failed
        running.finish_run(status="completed", finished_ms=T0, summary={})


def test_columns_hold_plain_sql_values(running: Journal, journal_path: Path, samples) -> None:
    running.record_signal("sig-0", "turtle", samples.signal(0))
    running.record_event(samples.event())
    running.flush()
    with sqlite3.connect(journal_path) as other:
        side, kind, features, bracket, ts = other.execute(
            "SELECT side, kind, features, bracket_from_fill, ts FROM signals"
        ).fetchone()
        level, data = other.execute("SELECT level, data FROM events").fetchone()
        assert other.execute("SELECT json_extract(features, '$.atr') FROM signals").fetchone() == (
            1.25,
        )
    assert (side, kind, bracket) == ("long", "entry", 0)
    assert isinstance(ts, int)
    assert features == '{"atr":1.25,"rsi":55.5,"neg":-3.0}'
    assert level == "warning"
    assert data.startswith('{"symbol":"ETHUSDT"')


def test_nan_and_numpy_values_survive(running: Journal, samples) -> None:
    signal = samples.signal(
        0, ts=np.int64(T0), entry=float("nan"), features={"warmup": float("nan")}
    )
    running.record_signal("sig-nan", "turtle", signal)
    running.record_equity(np.int64(T0), np.float64(1.5), 2.5, np.int64(0))
    running.flush()
    (back,) = running.signals(running.run_id)
    assert back.signal.ts == T0
    assert type(back.signal.ts) is int
    assert math.isnan(back.signal.entry)
    assert math.isnan(back.signal.features["warmup"])
    assert running.equity(running.run_id) == [(T0, 2.5)]


def test_record_is_buffered_until_commit_intent(
    running: Journal, journal_path: Path, samples
) -> None:
    running.record_signal("sig-0", "turtle", samples.signal(0))
    running.record_veto("intent-0", samples.veto())
    running.record_event(samples.event())
    assert running.pending == 3
    assert _count(journal_path, "signals") == 0

    running.commit_intent(samples.intent(0), False)

    assert running.pending == 0
    for table in ("signals", "vetoes", "events", "intents"):
        assert _count(journal_path, table) == 1, table


def test_flush_commits_buffered_rows(running: Journal, journal_path: Path, samples) -> None:
    running.flush()  # nothing buffered: a no-op
    running.record_trade(samples.trade())
    running.record_equity(T0, 1.0, 1.0, 0)
    assert _count(journal_path, "trades") == 0
    running.flush()
    assert _count(journal_path, "trades") == 1
    assert _count(journal_path, "equity") == 1
    assert running.pending == 0


def test_record_intent_is_buffered_for_replay(
    running: Journal, journal_path: Path, samples
) -> None:
    running.record_intent(samples.intent(3), True)
    assert _count(journal_path, "intents") == 0
    running.flush()
    assert running.intents(running.run_id) == [IntentRecord(samples.intent(3), True)]


def test_duplicate_intent_is_refused(running: Journal, samples) -> None:
    running.commit_intent(samples.intent(0), True)
    with pytest.raises(JournalError, match="intent 'intent-0' is already in run"):
        running.commit_intent(samples.intent(0), True)


def test_failed_flush_rolls_back_and_keeps_rows(
    running: Journal, journal_path: Path, samples
) -> None:
    running.record_trade(samples.trade())
    running.record_signal("dup", "turtle", samples.signal(0))
    running.record_signal("dup", "turtle", samples.signal(1))
    with pytest.raises(JournalError, match="'signals'"):
        running.flush()
    assert running.pending == 3
    assert _count(journal_path, "trades") == 0
    with pytest.raises(JournalError):  # finishing discards the batch and marks the run failed
        running.finish_run(status="completed", finished_ms=T0, summary={})


def test_finish_run_after_failed_flush_marks_run_failed(running: Journal, samples) -> None:
    running.record_signal("dup", "turtle", samples.signal(0))
    running.record_signal("dup", "turtle", samples.signal(1))
    with pytest.raises(JournalError, match="'signals'"):
        running.finish_run(status="completed", finished_ms=T0 + 1, summary={"trades": 0})
    run = running.run(running.run_id)
    assert run["status"] == "failed"
    assert "UNIQUE" in run["summary"]["journal_error"]
    assert running.pending == 0


def test_two_runs_in_one_file_keep_both(journal: Journal, journal_path: Path, samples) -> None:
    first = journal.start_run(profile_name="a", mode="replay", profile_toml="x", started_ms=T0)
    journal.record_trade(samples.trade(0))
    journal.finish_run(status="completed", finished_ms=T0 + 5, summary={"trades": 1, "pnl": 1.5})
    second = journal.start_run(profile_name="b", mode="paper", profile_toml="y", started_ms=T0 + 10)
    journal.record_trade(samples.trade(0))  # same trade id, another run: allowed
    journal.close()

    assert first != second
    reopened = Journal.open(journal_path)
    try:
        runs = reopened.runs()
        assert [r["id"] for r in runs] == [first, second]
        assert runs[0]["status"] == "completed"
        assert runs[0]["summary"] == {"trades": 1, "pnl": 1.5}
        assert runs[0]["finished_ms"] == T0 + 5
        assert runs[0]["profile_toml"] == "x"
        assert runs[1]["status"] == "running"  # close() flushes but does not finish
        assert runs[1]["mode"] == "paper"
        assert reopened.trades(first) == reopened.trades(second) == [samples.trade(0)]
        assert reopened.count("trades") == 2
        assert reopened.count("trades", first) == 1
        assert reopened.count("runs", second) == 1
    finally:
        reopened.close()


def test_run_ids_sort_by_start_and_look_like_stamps(journal: Journal) -> None:
    ids = []
    for k in range(3):
        ids.append(
            journal.start_run(
                profile_name="p", mode="replay", profile_toml="", started_ms=T0 + k * 1000
            )
        )
        journal.finish_run(status="interrupted", finished_ms=T0, summary={})
    assert ids == sorted(ids)
    assert ids[0].startswith("20251121T134512-")
    assert len(set(ids)) == 3


def test_recording_without_a_run_fails_at_commit(journal_path: Path, samples) -> None:
    journal = Journal.open(journal_path)
    with pytest.raises(JournalError, match="no run started"):
        _ = journal.run_id
    journal.record_signal("s", "t", samples.signal())
    with pytest.raises(JournalError, match="no run started"):
        journal.flush()
    with pytest.raises(JournalError, match="no run started"):
        journal.close()
    with pytest.raises(JournalError, match="is closed"):
        journal.kv("plugin")  # closed all the same


def test_run_lifecycle_errors(journal: Journal, samples) -> None:
    with pytest.raises(JournalError, match="mode must be one of replay, paper, live"):
        journal.start_run(profile_name="p", mode="backtest", profile_toml="", started_ms=T0)
    with pytest.raises(JournalError, match="profile_name"):
        journal.start_run(profile_name="", mode="replay", profile_toml="", started_ms=T0)
    journal.start_run(profile_name="p", mode="replay", profile_toml="", started_ms=T0)
    with pytest.raises(JournalError, match="still open"):
        journal.start_run(profile_name="p", mode="replay", profile_toml="", started_ms=T0)
    with pytest.raises(JournalError, match="status must be one of completed"):
        journal.finish_run(status="done", finished_ms=T0, summary={})
    with pytest.raises(JournalError, match="summary is not JSON-serialisable"):
        journal.finish_run(status="completed", finished_ms=T0, summary={"x": object()})
    journal.finish_run(status="completed", finished_ms=T0, summary={"n": np.int64(3)})
    assert journal.run(journal.run_id)["summary"] == {"n": 3}
    with pytest.raises(JournalError, match="is finished"):
        journal.commit_intent(samples.intent(), True)
    with pytest.raises(JournalError, match="no run 'nope'"):
        journal.run("nope")


def test_bad_record_arguments_are_named(running: Journal, samples) -> None:
    with pytest.raises(JournalError, match="action must be open, close or update, got 'opened'"):
        running.record_position(T0, "opened", samples.position())
    with pytest.raises(JournalError, match="mode must be gate or shadow, got 'strict'"):
        running.record_score("s", "river", samples.score(), "strict", True)
    with pytest.raises(JournalError, match="no journal table 'signal'"):
        running.count("signal")
    with pytest.raises(JournalError, match="not per run"):
        running.count("candles", running.run_id)


def test_closed_journal_refuses_work(journal_path: Path) -> None:
    journal = Journal.open(journal_path)
    journal.close()
    journal.close()  # idempotent
    with pytest.raises(JournalError, match="is closed"):
        journal.kv("plugin")


def test_context_manager_flushes_on_exit(journal_path: Path, samples) -> None:
    with Journal.open(journal_path) as journal:
        journal.start_run(profile_name="p", mode="live", profile_toml="", started_ms=T0)
        journal.record_fill(samples.fill())
    assert _count(journal_path, "fills") == 1


def test_hundred_thousand_buffered_signals_flush(running: Journal, journal_path: Path) -> None:
    # A micro check of the hot path's shape, not a benchmark: no timing asserted.
    from garrison_api import Signal

    signals = [
        Signal(symbol="BTCUSDT", ts=T0 + i, side=Side.LONG, entry=1.0, features={"i": float(i)})
        for i in range(100_000)
    ]
    record = running.record_signal
    for i, signal in enumerate(signals):
        record(f"s{i}", "turtle", signal)
    assert running.pending == 100_000
    assert _count(journal_path, "signals") == 0
    running.flush()
    assert _count(journal_path, "signals") == 100_000
    assert running.count("signals", running.run_id) == 100_000


def test_a_status_change_before_the_commit_replaces_the_row_and_after_it_adds_one(
    running: Journal, samples
) -> None:
    order = samples.order()
    # Opened and filled between two commits: one row, with the end status.
    running.record_order(order)
    running.record_order_status(order, OrderStatus.FILLED, 101.5, "")
    running.flush()
    rows = running.orders(running.run_id)
    assert [(o.status, o.price) for o in rows] == [(OrderStatus.FILLED, 101.5)]
    # Committed open, then canceled: the history keeps both.
    later = attrs.evolve(order, id="order-2")
    running.record_order(later)
    running.flush()
    running.record_order_status(later, OrderStatus.CANCELED, None, "the data ended")
    running.flush()
    rows = running.orders(running.run_id)
    assert [(o.id, o.status, o.reason) for o in rows] == [
        ("order-1", OrderStatus.FILLED, ""),
        ("order-2", OrderStatus.OPEN, ""),
        ("order-2", OrderStatus.CANCELED, "the data ended"),
    ]
