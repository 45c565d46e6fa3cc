"""The journal file: schema, WAL, synchronous, versions and migrations, read-only access."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import MappingProxyType

import pytest
import sqlite_utils
from garrison.journal import SCHEMA_VERSION, Journal, JournalError, JournalReader, schema

T0 = 1_763_732_712_000

PER_RUN = {
    "signals",
    "scores",
    "vetoes",
    "intents",
    "orders",
    "fills",
    "positions",
    "trades",
    "phantoms",
    "equity",
    "events",
    "checkpoints",
}


def test_new_file_has_every_table_typed_and_wal(journal: Journal, journal_path: Path) -> None:
    db = sqlite_utils.Database(journal_path)
    try:
        assert set(db.table_names()) == PER_RUN | {
            "runs",
            "candles",
            "kv",
            "blobs",
            "schema_version",
        }
        assert db.journal_mode == "wal"
        for table in PER_RUN:
            assert "run_id" in db.table(table).columns_dict, table
        signals = {c.name: c.type for c in db.table("signals").columns}
        assert signals["ts"] == "INTEGER"
        assert signals["entry"] == "REAL"
        assert signals["features"] == "TEXT"
        assert db.table("signals").pks == ["run_id", "id"]
        assert db.table("candles").pks == ["exchange", "symbol", "timeframe", "ts"]
        assert db.table("scores").pks == ["seq"]
        assert {tuple(i.columns) for i in db.table("scores").indexes} == {("run_id", "signal_id")}
        assert {tuple(i.columns) for i in db.table("checkpoints").indexes} == {("run_id",)}
        assert db.table("blobs").pks == ["namespace", "name"]
        assert {c.name: c.type for c in db.table("blobs").columns}["data"] == "BLOB"
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    finally:
        db.close()


@pytest.mark.parametrize("level", ["normal", "full"])
def test_synchronous_comes_from_the_argument(tmp_path: Path, level: str) -> None:
    with Journal.open(tmp_path / "j.sqlite", synchronous=level) as journal:
        assert journal.synchronous == level


def test_bad_synchronous_is_named(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="synchronous must be one of normal, full, got 'off'"):
        Journal.open(tmp_path / "j.sqlite", synchronous="off")


def test_reopening_keeps_data_and_creates_parents(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "j.sqlite"
    with Journal.open(path) as journal:
        journal.kv("p").set("k", [1, 2])
    with Journal.open(path) as journal:
        assert journal.kv("p").get("k") == [1, 2]


def test_newer_schema_is_refused(journal_path: Path) -> None:
    Journal.open(journal_path).close()
    with sqlite3.connect(journal_path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(JournalError, match=f"newer Garrison.*v{SCHEMA_VERSION + 1}"):
        Journal.open(journal_path)


def test_foreign_sqlite_file_is_refused(journal_path: Path) -> None:
    with sqlite3.connect(journal_path) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    with pytest.raises(JournalError, match=r"not a Garrison journal.*notes"):
        Journal.open(journal_path)


def test_non_sqlite_file_is_refused(journal_path: Path) -> None:
    journal_path.write_text("this is not a database, " * 100)
    with pytest.raises(JournalError, match=f"cannot open journal {journal_path}"):
        Journal.open(journal_path)


def test_directory_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="is not a file"):
        Journal.open(tmp_path)


def test_older_schema_is_migrated(journal_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Journal.open(journal_path).close()

    def add_note_column(db: sqlite_utils.Database) -> None:
        db.table("runs").add_column("note", str)

    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(schema, "MIGRATIONS", MappingProxyType({SCHEMA_VERSION: add_note_column}))
    Journal.open(journal_path).close()

    with sqlite3.connect(journal_path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
        columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
    assert versions == [SCHEMA_VERSION, SCHEMA_VERSION + 1]
    assert "note" in columns


def test_older_schema_without_migration_is_refused(
    journal_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Journal.open(journal_path).close()
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(JournalError, match=f"v{SCHEMA_VERSION}, which cannot be migrated"):
        Journal.open(journal_path)


def test_missing_table_is_named(journal_path: Path) -> None:
    Journal.open(journal_path).close()
    with sqlite3.connect(journal_path) as conn:
        conn.execute("DROP TABLE phantoms")
    with pytest.raises(JournalError, match="lacks tables: phantoms"):
        Journal.open(journal_path)


def test_readonly_reader_sees_committed_rows_of_a_live_journal(
    running: Journal, journal_path: Path, samples
) -> None:
    running.record_trade(samples.trade())
    running.flush()
    reader = JournalReader.open_readonly(journal_path)
    try:
        assert reader.trades(running.run_id) == [samples.trade()]
        assert [r["id"] for r in reader.runs()] == [running.run_id]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader._conn.execute("DELETE FROM trades")
    finally:
        reader.close_reader()


def test_readonly_reader_refuses_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no journal at"):
        JournalReader.open_readonly(tmp_path / "missing.sqlite")
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x TEXT)")
    with pytest.raises(JournalError, match="not a Garrison journal"):
        JournalReader.open_readonly(other)


# --- v1 -> v2 -----------------------------------------------------------------------------

V1_DDL = (Path(__file__).parent / "schema_v1.sql").read_text(encoding="utf-8")


def _make_v1(path: Path) -> None:
    """A journal as garrison 0.1.0 left it: v1 tables, a finished run and one left running."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(V1_DDL)
        conn.executescript(
            f"""
            INSERT INTO schema_version VALUES (1, {T0});
            INSERT INTO runs (id, profile_name, mode, status, started_ms, finished_ms,
                              profile_toml, summary)
            VALUES ('old-done', 'demo', 'replay', 'completed', {T0}, {T0 + 5}, 'toml',
                    '{{"trades":1}}'),
                   ('old-left', 'demo', 'replay', 'running', {T0 + 10}, NULL, 'toml', NULL);
            INSERT INTO signals VALUES ('old-done', 's1', 'turtle', 'BTCUSDT', {T0}, 'long',
                                        'entry', 100.5, 99.0, NULL, 'breakout', '{{"atr":1.5}}', 0);
            INSERT INTO orders (run_id, id, intent_id, client_order_id, ts, symbol, side,
                                reduce_only, qty, order_type, status, price)
            VALUES ('old-done', 'o1', 'i1', 'g-i1', {T0}, 'BTCUSDT', 'long', 0, 0.5, 'market',
                    'filled', NULL);
            INSERT INTO positions (run_id, ts, action, symbol, side, qty, entry_price, entry_ts,
                                   stop, take_profit, strategy, intent_id)
            VALUES ('old-done', {T0}, 'open', 'BTCUSDT', 'long', 0.5, 100.5, {T0}, 99.0, NULL,
                    'turtle', 'i1');
            INSERT INTO phantoms (run_id, signal_id, strategy, symbol, side, signal_ts,
                                  r_multiple, exit_reason, closed_ts, phantom)
            VALUES ('old-done', 's1', 'turtle', 'BTCUSDT', 'long', {T0}, 2.0, 'take_profit',
                    {T0 + 60000}, 1);
            INSERT INTO trades VALUES ('old-done', 't1', 'BTCUSDT', 'long', 0.5, {T0}, 100.5,
                                       {T0 + 60000}, 102.5, 'take_profit', 0.9, 0.1, 1.2, 'turtle');
            INSERT INTO kv VALUES ('turtle', 'state', '[1,2]');
            """
        )
        conn.commit()
    finally:
        conn.close()


def _shape(path: Path) -> dict[str, object]:
    """Every table's columns (name, type, not null, pk) and indexes (columns, unique)."""
    conn = sqlite3.connect(path)
    try:
        shape: dict[str, object] = {}
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in sorted(tables):
            columns = [row[1:6:] for row in conn.execute(f"PRAGMA table_info({table})")]
            indexes = sorted(
                (
                    tuple(c[2] for c in conn.execute(f"PRAGMA index_info('{name}')")),
                    unique,
                )
                for _, name, unique, *_ in conn.execute(f"PRAGMA index_list({table})")
            )
            shape[table] = (columns, indexes)
        return shape
    finally:
        conn.close()


def test_a_v1_journal_is_migrated_with_its_rows_intact(tmp_path: Path) -> None:
    from garrison_api import ExitReason, OrderStatus, Side

    old = tmp_path / "old.sqlite"
    _make_v1(old)
    with Journal.open(old) as journal:
        # The run v1 left running names no process: abandoned, whoever left it.
        assert journal.abandoned_runs == ("old-left",)
        runs = {r.id: r for r in (journal.run_row("old-done"), journal.run_row("old-left"))}
        signals = journal.signals("old-done")
        orders = journal.orders("old-done")
        positions = journal.positions("old-done")
        phantoms = journal.phantoms("old-done")
        trades = journal.trades("old-done")
        kv = journal.kv("turtle").get("state")
    fresh = tmp_path / "fresh.sqlite"
    Journal.open(fresh).close()

    # A migrated file is a current file, column for column.
    assert _shape(old) == _shape(fresh)
    with sqlite3.connect(old) as conn:
        assert [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY 1")] == [
            1,
            2,
            3,
        ]
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    done = runs["old-done"]
    assert (done.status, done.finished_ms, done.summary) == ("completed", T0 + 5, {"trades": 1})
    assert (done.pid, done.hostname, done.selection, done.resumed_ms) == (None, None, None, None)
    assert runs["old-left"].status == "interrupted"
    assert runs["old-left"].summary is not None
    assert "journal schema v1" in runs["old-left"].summary["message"]

    (signal,) = signals
    assert (signal.signal_id, signal.signal.entry) == ("s1", 100.5)
    assert signal.signal.features == {"atr": 1.5}
    assert (signal.signal.execute, signal.signal.horizon_ms) == (True, None)
    (order,) = orders
    assert (order.id, order.status, order.reason) == ("o1", OrderStatus.FILLED, "")
    (position,) = positions
    assert (position.position.side, position.position.signal_id) == (Side.LONG, None)
    (phantom,) = phantoms
    outcome = phantom.outcome
    assert (outcome.r_multiple, outcome.exit_reason) == (2.0, ExitReason.TAKE_PROFIT)
    assert (outcome.signal_id, outcome.score) == ("s1", None)
    (trade,) = trades
    assert (trade.id, trade.pnl, trade.r_multiple) == ("t1", 0.9, 1.2)
    assert kv == [1, 2]


def test_a_v1_journal_opens_read_only_only_after_migration(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    _make_v1(old)
    with pytest.raises(JournalError, match=r"schema v1.*open it for writing once"):
        JournalReader.open_readonly(old)
    Journal.open(old).close()
    reader = JournalReader.open_readonly(old)
    try:
        assert [r["id"] for r in reader.runs()] == ["old-done", "old-left"]
    finally:
        reader.close_reader()


def test_a_failed_migration_leaves_the_v1_file_as_it_was(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite"
    _make_v1(old)
    with sqlite3.connect(old) as conn:
        conn.execute("DROP TABLE phantoms")  # the step fails half-way, at ALTER TABLE phantoms
    with pytest.raises(JournalError, match=f"cannot open journal {old}.*phantoms"):
        Journal.open(old)
    with sqlite3.connect(old) as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone() == (1,)
        columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "pid" not in columns  # the columns added before the failure were rolled back
    assert "blobs" not in tables
