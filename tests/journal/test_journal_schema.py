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
}


def test_new_file_has_every_table_typed_and_wal(journal: Journal, journal_path: Path) -> None:
    db = sqlite_utils.Database(journal_path)
    try:
        assert set(db.table_names()) == PER_RUN | {"runs", "candles", "kv", "schema_version"}
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
