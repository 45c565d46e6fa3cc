"""``garrison data import``: the bundled demo CSVs into a candle table, replayed from SQLite."""

from __future__ import annotations

import csv
import gzip
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from garrison.journal import JournalReader

Garrison = Callable[..., subprocess.CompletedProcess[str]]

REPO = Path(__file__).resolve().parents[2]
SYMBOLS = ("ADAUSDT", "AVAXUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT")
BARS = 26_496  # 5-minute bars in each bundled demo file
FROM, TO = "2025-10-01", "2025-10-15"
HEADER = "timestamp_ms,open,high,low,close,volume"
SUMMARY = (
    "SELECT exchange, symbol, timeframe, COUNT(*), MIN(ts), MAX(ts), "
    "SUM(open + high + low + close + volume) FROM candles "
    "GROUP BY exchange, symbol, timeframe ORDER BY symbol"
)


def summary(db: Path) -> list[tuple[object, ...]]:
    """Per series of the candle table: exchange, symbol, timeframe, count, span, a checksum."""
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [tuple(row) for row in conn.execute(SUMMARY).fetchall()]
    finally:
        conn.close()


def demo_rows(symbol: str) -> list[list[str]]:
    with gzip.open(REPO / "data" / "demo" / f"bybit_{symbol}_5m.csv.gz", "rt") as fh:
        rows = list(csv.reader(fh))
    assert ",".join(rows[0]) == HEADER
    return rows[1:]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
    return path


@attrs.frozen
class Imported:
    """The demo imported twice into one candle table, with the table after each import."""

    db: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    after_first: list[tuple[object, ...]]
    after_second: list[tuple[object, ...]]


@pytest.fixture(scope="module")
def imported(garrison_in: Garrison, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    db = tmp_path_factory.mktemp("candles") / "candles.sqlite"
    first = garrison_in("data", "import", "data/demo/*.csv.gz", "--db", str(db))
    after_first = summary(db)
    second = garrison_in("data", "import", "data/demo", "--db", str(db))
    return Imported(db, first, second, after_first, summary(db))


def test_import_reports_rows_read_new_and_replaced_per_file(imported: Imported) -> None:
    proc = imported.first
    assert proc.returncode == 0, proc.stderr
    for symbol in SYMBOLS:
        line = (
            f"data/demo/bybit_{symbol}_5m.csv.gz: bybit {symbol} 5m: {BARS:,} rows read, "
            f"{BARS:,} new, 0 replaced"
        )
        assert line in proc.stdout.splitlines(), proc.stdout
    total = 5 * BARS
    assert f"5 file(s), {total:,} rows read, {total:,} new, 0 replaced" in proc.stdout
    assert [(e, s, tf, n) for e, s, tf, n, *_ in imported.after_first] == [
        ("bybit", symbol, "5m", BARS) for symbol in SYMBOLS
    ]


def test_reimport_is_idempotent(imported: Imported) -> None:
    proc = imported.second
    assert proc.returncode == 0, proc.stderr
    for symbol in SYMBOLS:
        assert f"bybit {symbol} 5m: {BARS:,} rows read, 0 new, 0 replaced" in proc.stdout
    assert imported.after_second == imported.after_first


@pytest.mark.slow
def test_a_sqlite_profile_replays_the_imported_candles_as_the_csv_profile_does(
    imported: Imported, garrison: Garrison, tmp_path: Path
) -> None:
    demo = (REPO / "configs" / "demo.toml").read_text(encoding="utf-8")
    csv_source = 'source = "csv"\npaths = ["../data/demo/bybit_*_5m.csv.gz"]'
    assert csv_source in demo
    sqlite_source = f'source = "sqlite"\nsqlite = "{imported.db.as_posix()}"'
    profile = tmp_path / "from_sqlite.toml"
    profile.write_text(demo.replace(csv_source, sqlite_source), encoding="utf-8")

    def backtest(path: Path, name: str) -> tuple[subprocess.CompletedProcess[str], str]:
        trades = tmp_path / f"{name}.csv"
        proc = garrison(
            "backtest",
            str(path),
            "--journal",
            str(tmp_path / f"{name}.sqlite"),
            "--from",
            FROM,
            "--to",
            TO,
            "--trades-csv",
            str(trades),
            "--no-progress",
            "--no-cache",
        )
        assert proc.returncode == 0, proc.stderr
        return proc, trades.read_text(encoding="utf-8")

    from_sqlite, sqlite_trades = backtest(profile, "sqlite")
    _, csv_trades = backtest(REPO / "configs" / "demo.toml", "csv")
    assert "candles of 5 symbols" in from_sqlite.stdout
    assert len(sqlite_trades.splitlines()) > 10  # trades in the window: a real comparison
    assert sqlite_trades == csv_trades


def test_a_changed_bar_is_replaced(garrison: Garrison, tmp_path: Path) -> None:
    db = tmp_path / "candles.sqlite"
    rows = demo_rows("BTCUSDT")[:500]
    original = write_csv(tmp_path / "v1" / "bybit_BTCUSDT_5m.csv", rows)
    first = garrison("data", "import", str(original), "--db", str(db))
    assert first.returncode == 0, first.stderr
    assert "500 rows read, 500 new, 0 replaced" in first.stdout

    ts, o, h, low, close, v = rows[123]
    changed_close = (float(h) + float(low)) / 2  # inside the bar: still a valid candle
    assert changed_close != float(close)
    changed = [*rows[:123], [ts, o, h, low, repr(changed_close), v], *rows[124:]]
    extended = [*changed, *demo_rows("BTCUSDT")[500:510]]
    corrected = write_csv(tmp_path / "v2" / "bybit_BTCUSDT_5m.csv", extended)
    second = garrison("data", "import", str(corrected), "--db", str(db))
    assert second.returncode == 0, second.stderr
    assert "510 rows read, 10 new, 1 replaced" in second.stdout

    reader = JournalReader.open_readonly(db)
    try:
        stored = reader.read_candles(exchange="bybit")[("BTCUSDT", "5m")]
    finally:
        reader.close_reader()
    assert len(stored) == 510
    assert stored[123, 0] == int(ts)
    assert stored[123, 4] == changed_close
    assert stored[122, 4] == float(rows[122][4])


def test_exchange_comes_from_the_file_name_or_from_exchange(
    garrison: Garrison, tmp_path: Path
) -> None:
    db = tmp_path / "candles.sqlite"
    rows = demo_rows("ETHUSDT")[:50]
    other_tool = write_csv(tmp_path / "in" / "export_ETHUSDT_5m.csv", rows)
    refused = garrison("data", "import", str(other_tool), "--db", str(db))
    assert refused.returncode == 2
    assert f"{other_tool}: the file name says exchange 'export'" in refused.stderr
    assert "pass --exchange" in refused.stderr

    stored = garrison("data", "import", str(other_tool), "--db", str(db), "--exchange", "binance")
    assert stored.returncode == 0, stored.stderr
    assert "binance ETHUSDT 5m: 50 rows read, 50 new, 0 replaced" in stored.stdout

    bybit_file = write_csv(tmp_path / "in" / "bybit_ETHUSDT_5m.csv", rows)
    mismatch = garrison("data", "import", str(bybit_file), "--db", str(db), "--exchange", "binance")
    assert mismatch.returncode == 2
    assert "file name says exchange 'bybit' but --exchange is 'binance'" in mismatch.stderr
    assert [(e, s, n) for e, s, _, n, *_ in summary(db)] == [("binance", "ETHUSDT", 50)]


def test_a_bad_file_is_refused_by_file_and_line_and_the_files_before_it_are_kept(
    garrison: Garrison, tmp_path: Path
) -> None:
    db = tmp_path / "candles.sqlite"
    write_csv(tmp_path / "in" / "bybit_ADAUSDT_5m.csv", demo_rows("ADAUSDT")[:20])
    bad_rows = demo_rows("BTCUSDT")[:20]
    bad_rows[6] = [bad_rows[6][0], "nan", *bad_rows[6][2:]]
    bad = write_csv(tmp_path / "in" / "bybit_BTCUSDT_5m.csv", bad_rows)
    proc = garrison("data", "import", str(tmp_path / "in"), "--db", str(db))
    assert proc.returncode == 2
    assert f"{bad}:8: NaN or infinite value" in proc.stderr
    assert "bybit ADAUSDT 5m: 20 rows read, 20 new, 0 replaced" in proc.stdout
    assert [(s, n) for _, s, _, n, *_ in summary(db)] == [("ADAUSDT", 20)]


def test_no_matching_file_is_an_error(garrison: Garrison, tmp_path: Path) -> None:
    proc = garrison("data", "import", str(tmp_path / "nothing_*.csv"), "--db", str(tmp_path / "c"))
    assert proc.returncode == 2
    assert "no candle file matches" in proc.stderr
