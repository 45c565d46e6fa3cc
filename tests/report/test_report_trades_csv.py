"""write_trades_csv: exact header and row format, atomic replace; paths that must not be written."""

from __future__ import annotations

import csv
import os
import sqlite3
from pathlib import Path

import pytest
from garrison.journal import Journal
from garrison.report import TradesCsvError, check_trades_csv_target, write_trades_csv
from garrison_api.types import ExitReason, Side, Trade


def make_trade(
    symbol: str, side: Side, reason: ExitReason, entry: float, exit_: float, ident: str = "t"
) -> Trade:
    return Trade(
        id=ident,
        symbol=symbol,
        side=side,
        qty=1.0,
        entry_ts=1_760_131_800_000,
        entry_price=entry,
        exit_ts=1_760_132_100_000,
        exit_price=exit_,
        exit_reason=reason,
        pnl=0.0,
    )


def test_exact_header_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    trades = [
        make_trade("BTCUSDT", Side.LONG, ExitReason.SIGNAL, 121_500.5, 0.1 + 0.2),
        make_trade("SOLUSDT", Side.SHORT, ExitReason.STOP, 1e-07, 3.0),
        make_trade("ETHUSDT", Side.LONG, ExitReason.TAKE_PROFIT, 4321.0, 4400.25),
    ]
    write_trades_csv(path, trades)
    assert path.read_bytes().decode() == (
        "symbol,side,entry_ts,entry_price,exit_ts,exit_price,exit_reason\n"
        "BTCUSDT,long,1760131800000,121500.5,1760132100000,0.30000000000000004,signal\n"
        "SOLUSDT,short,1760131800000,1e-07,1760132100000,3.0,stop\n"
        "ETHUSDT,long,1760131800000,4321.0,1760132100000,4400.25,take_profit\n"
    )


def test_prices_read_back_bit_exact(tmp_path: Path) -> None:
    price = 0.000123456789012345678
    path = tmp_path / "trades.csv"
    write_trades_csv(path, [make_trade("PEPEUSDT", Side.LONG, ExitReason.STOP, price, price / 3)])
    with path.open(newline="") as handle:
        row = next(csv.DictReader(handle))
    assert float(row["entry_price"]) == price
    assert float(row["exit_price"]) == price / 3
    assert int(row["entry_ts"]) == 1_760_131_800_000


def test_no_trades_writes_only_the_header(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    write_trades_csv(path, [])
    assert path.read_text() == "symbol,side,entry_ts,entry_price,exit_ts,exit_price,exit_reason\n"


def test_replaces_existing_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text("old contents\n")
    write_trades_csv(path, [make_trade("BTCUSDT", Side.LONG, ExitReason.SIGNAL, 1.0, 2.0)])
    assert path.read_text().startswith("symbol,side,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trades.csv"]


def test_failure_keeps_old_file_and_removes_temp(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text("old contents\n")

    def broken() -> list[Trade]:
        good = make_trade("BTCUSDT", Side.LONG, ExitReason.SIGNAL, 1.0, 2.0)
        return [good, "not a trade"]  # type: ignore[list-item]

    with pytest.raises(AttributeError):
        write_trades_csv(path, broken())
    assert path.read_text() == "old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trades.csv"]


def test_missing_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "trades.csv"
    with pytest.raises(FileNotFoundError, match="nope"):
        write_trades_csv(missing, [])


def test_accepts_str_path(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_trades_csv(str(path), [])
    assert path.exists()


# --- refused paths -------------------------------------------------------------------------


@pytest.fixture
def journal_file(tmp_path: Path) -> Path:
    """Where the tests put a journal (a folder of its own, for the ``..`` detour)."""
    return tmp_path / "runs" / "j.sqlite"


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
def test_the_journal_and_its_side_files_are_refused(journal_file: Path, suffix: str) -> None:
    with Journal.open(journal_file) as journal:
        journal.kv("p").set("k", 1)  # the WAL files exist while it is open
        target = Path(f"{journal_file}{suffix}")
        with pytest.raises(TradesCsvError, match="it is the run's journal"):
            check_trades_csv_target(target, journal=journal_file)
        # Spelled another way: relative to another folder, or through a symlink.
        detour = journal_file.parent / ".." / "runs" / target.name
        with pytest.raises(TradesCsvError, match="it is the run's journal"):
            check_trades_csv_target(detour, journal=journal_file)
    link = journal_file.parent / "link.sqlite"
    link.symlink_to(journal_file)
    with pytest.raises(TradesCsvError, match="it is the run's journal"):
        check_trades_csv_target(link, journal=journal_file)
    with pytest.raises(TradesCsvError, match="it is the run's journal"):
        check_trades_csv_target(journal_file, journal=link)


def test_a_hard_link_to_the_journal_is_refused(journal_file: Path) -> None:
    Journal.open(journal_file).close()
    other = journal_file.parent / "other-name.csv"
    os.link(journal_file, other)
    with pytest.raises(TradesCsvError, match="it is the run's journal"):
        check_trades_csv_target(other, journal=journal_file)


def test_any_sqlite_database_is_refused(tmp_path: Path) -> None:
    database = tmp_path / "notes.csv"  # the name does not matter, the content does
    with sqlite3.connect(database) as conn:
        conn.execute("CREATE TABLE t (x)")
    before = database.read_bytes()
    with pytest.raises(TradesCsvError, match=f"{database}: the file is a SQLite database"):
        check_trades_csv_target(database, journal=tmp_path / "j.sqlite")
    with pytest.raises(TradesCsvError, match="is a SQLite database"):
        write_trades_csv(database, [])
    assert database.read_bytes() == before


def test_protected_files_folders_and_directories_are_refused(tmp_path: Path) -> None:
    profile = tmp_path / "demo.toml"
    profile.write_text("[profile]\n", encoding="utf-8")
    with pytest.raises(TradesCsvError, match=f"it is {profile}"):
        check_trades_csv_target(profile, protected=(profile,))
    with pytest.raises(TradesCsvError, match="is a directory"):
        check_trades_csv_target(tmp_path)
    with pytest.raises(TradesCsvError, match=r"folder .*absent does not exist"):
        check_trades_csv_target(tmp_path / "absent" / "t.csv")


def test_ordinary_paths_pass(tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    Journal.open(journal).close()
    check_trades_csv_target(tmp_path / "trades.csv", journal=journal)  # new file
    old = tmp_path / "old.csv"
    write_trades_csv(old, [])
    check_trades_csv_target(old, journal=journal)  # an earlier CSV is replaced
    check_trades_csv_target(tmp_path / "j.sqlite.csv", journal=journal)
