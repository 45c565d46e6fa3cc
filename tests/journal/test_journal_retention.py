"""Retention: rows of old finished runs go; trades, runs, candles, kv and blobs stay."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from garrison.journal import Journal, JournalError

T0 = 1_763_732_712_000
DAY = 86_400_000


def _fill_run(journal: Journal, samples, started_ms: int) -> str:
    run = journal.start_run(profile_name="p", mode="replay", profile_toml="", started_ms=started_ms)
    journal.record_signal("sig-0", "turtle", samples.signal(0))
    journal.record_score("sig-0", "river", samples.score(), "gate", True)
    journal.record_event(samples.event())
    journal.record_equity(started_ms, 1.0, 1.0, 0)
    journal.record_trade(samples.trade())
    journal.record_checkpoint(started_ms, {"step": 1})
    journal.commit_intent(samples.intent(0), True)
    return run


def test_retention_deletes_only_old_finished_runs(
    journal: Journal, samples, make_candles: Callable[..., np.ndarray]
) -> None:
    old = _fill_run(journal, samples, T0)
    journal.finish_run(status="completed", finished_ms=T0 + DAY, summary={})
    recent = _fill_run(journal, samples, T0 + 35 * DAY)
    journal.finish_run(status="failed", finished_ms=T0 + 36 * DAY, summary={})
    current = _fill_run(journal, samples, T0 + 40 * DAY)
    journal.flush()
    journal.write_candles("bybit", "BTCUSDT", "5m", make_candles(3))
    journal.kv("river").set("w", 1)
    journal.blobs("river").put("m", b"x")

    deleted = journal.retention(30, now_ms=T0 + 40 * DAY)

    assert deleted == 6  # signal, score, event, equity, checkpoint, intent of the old run
    for table in ("signals", "scores", "events", "equity", "checkpoints", "intents"):
        assert journal.count(table, old) == 0, table
        assert journal.count(table, recent) == 1, table
        assert journal.count(table, current) == 1, table
    assert journal.trades(old) == [samples.trade()]
    assert [r["id"] for r in journal.runs()] == [old, recent, current]
    assert journal.count("candles") == 3
    assert journal.kv("river").get("w") == 1
    assert journal.blobs("river").get("m") == b"x"
    assert journal.last_checkpoint(old) is None
    assert journal.last_checkpoint(recent) == (T0 + 35 * DAY, {"step": 1})
    assert journal.retention(30, now_ms=T0 + 40 * DAY) == 0


def test_running_runs_are_never_trimmed(journal: Journal, samples) -> None:
    run = _fill_run(journal, samples, T0)
    assert journal.retention(0, now_ms=T0 + 400 * DAY) == 0
    assert journal.count("signals", run) == 1
    assert journal.last_checkpoint(run) == (T0, {"step": 1})


def test_a_resumed_run_is_running_again_and_kept(journal: Journal, samples) -> None:
    run = _fill_run(journal, samples, T0)
    journal.finish_run(status="interrupted", finished_ms=T0 + DAY, summary={})
    journal.resume_run(run)
    assert journal.retention(0, now_ms=T0 + 400 * DAY) == 0
    assert journal.last_checkpoint(run) == (T0, {"step": 1})
    journal.finish_run(status="completed", finished_ms=T0 + 2 * DAY, summary={})
    assert journal.retention(1, now_ms=T0 + 400 * DAY) == 6


def test_every_delete_finds_its_rows_through_a_run_id_index(journal: Journal) -> None:
    # Retention runs at every run start: on a big journal it must seek each old
    # run's rows, never scan a table. SQLite's plan says which it does.
    from garrison.journal.journal import OLD_RUNS_SQL
    from garrison.journal.schema import TABLES

    for spec in TABLES.values():
        if not spec.per_run or spec.name in ("runs", "trades"):
            continue
        plan = journal._conn.execute(
            f"EXPLAIN QUERY PLAN DELETE FROM {spec.name} WHERE run_id IN ({OLD_RUNS_SQL})", (0,)
        ).fetchall()
        steps = [row[-1] for row in plan]
        target = [step for step in steps if f" {spec.name} " in f" {step} "]
        assert target, (spec.name, steps)
        assert all("USING" in step and "(run_id=?" in step for step in target), (
            spec.name,
            steps,
        )


@pytest.mark.parametrize("days", [-1, 1.5, True])
def test_bad_days_are_named(journal: Journal, days: object) -> None:
    with pytest.raises(JournalError, match="days must be a whole number"):
        journal.retention(days, now_ms=T0)  # type: ignore[arg-type]
