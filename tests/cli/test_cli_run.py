"""``garrison run`` and ``garrison backtest`` as a user runs them: report, journal, errors."""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

Garrison = Callable[..., subprocess.CompletedProcess[str]]
ReadJournal = Callable[..., list[sqlite3.Row]]

SYMBOLS = ("ADAUSDT", "AVAXUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT")
REPORT_LINES = ("Trades", "Win rate", "Profit factor", "Expectancy", "Max drawdown", "Sharpe")
FROM, TO = "2025-10-01", "2025-10-15"


def flat(text: str) -> str:
    return " ".join(text.split())


def run_id_of(stdout: str) -> str:
    match = re.search(r"^run (\S+) ·", stdout, re.MULTILINE)
    assert match is not None, stdout
    return match.group(1)


def reported_trades(stdout: str) -> int:
    match = re.search(r"│ Trades\s+│\s+([\d,]+)", stdout)
    assert match is not None, stdout
    return int(match.group(1).replace(",", ""))


@attrs.frozen
class TwoRuns:
    """``garrison run`` of the demo, then a narrowed ``garrison backtest``, into one journal."""

    journal: Path
    run: subprocess.CompletedProcess[str]
    backtest: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def two_runs(garrison_in: Garrison, tmp_path_factory: pytest.TempPathFactory) -> TwoRuns:
    journal = tmp_path_factory.mktemp("demo") / "j.sqlite"
    run = garrison_in("run", "configs/demo.toml", "--journal", str(journal), "--no-progress")
    backtest = garrison_in(
        "backtest",
        "configs/demo.toml",
        "--journal",
        str(journal),
        "--from",
        FROM,
        "--to",
        TO,
        "--no-progress",
    )
    return TwoRuns(journal, run, backtest)


def test_run_demo_prints_the_report(two_runs: TwoRuns) -> None:
    proc = two_runs.run
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Run report" in out
    for line in REPORT_LINES:
        assert re.search(rf"│ {line}\b", out), f"no {line!r} row in the report:\n{out}"
    per_symbol = re.findall(r"^│ ([A-Z]+USDT) +│ +(\d+) +│", out, re.MULTILINE)
    assert [symbol for symbol, _ in per_symbol] == list(SYMBOLS)
    assert sum(int(n) for _, n in per_symbol) == reported_trades(out)
    assert f"candles of {len(SYMBOLS)} symbols" in flat(out)
    assert f"journal: {two_runs.journal}" in flat(out)


def test_run_demo_writes_a_completed_runs_row_with_the_reported_trades(
    two_runs: TwoRuns, read_journal: ReadJournal
) -> None:
    run_id = run_id_of(two_runs.run.stdout)
    (row,) = read_journal(two_runs.journal, "SELECT * FROM runs WHERE id = ?", (run_id,))
    assert (row["status"], row["profile_name"], row["mode"]) == ("completed", "demo", "replay")
    assert row["finished_ms"] >= row["started_ms"]
    (count,) = read_journal(
        two_runs.journal, "SELECT COUNT(*) AS n FROM trades WHERE run_id = ?", (run_id,)
    )
    assert count["n"] == reported_trades(two_runs.run.stdout) > 0


def test_two_runs_into_one_journal_keep_both(two_runs: TwoRuns, read_journal: ReadJournal) -> None:
    assert two_runs.backtest.returncode == 0, two_runs.backtest.stderr
    ids = [run_id_of(two_runs.run.stdout), run_id_of(two_runs.backtest.stdout)]
    assert ids[0] != ids[1]
    rows = read_journal(two_runs.journal, "SELECT id, status FROM runs ORDER BY started_ms")
    assert [(r["id"], r["status"]) for r in rows] == [(ids[0], "completed"), (ids[1], "completed")]
    for run_id, proc in zip(ids, (two_runs.run, two_runs.backtest), strict=True):
        (count,) = read_journal(
            two_runs.journal, "SELECT COUNT(*) AS n FROM trades WHERE run_id = ?", (run_id,)
        )
        assert count["n"] == reported_trades(proc.stdout)


def test_backtest_from_to_narrows_the_replay(two_runs: TwoRuns, read_journal: ReadJournal) -> None:
    out = two_runs.backtest.stdout
    assert "Backtest report" in out
    assert f"{14 * 288 * len(SYMBOLS):,} candles of {len(SYMBOLS)} symbols" in flat(out)
    assert re.search(r"Period\s+│\s+2025-10-01 00:05 → 2025-10-15 00:00", out), out
    run_id = run_id_of(out)
    (span,) = read_journal(
        two_runs.journal,
        "SELECT MIN(entry_ts) AS first, MAX(exit_ts) AS last FROM trades WHERE run_id = ?",
        (run_id,),
    )
    assert span["first"] >= 1_759_276_800_000  # 2025-10-01
    assert span["last"] < 1_760_486_400_000  # 2025-10-15


def test_run_and_backtest_print_no_python_warnings(two_runs: TwoRuns) -> None:
    for proc in (two_runs.run, two_runs.backtest):
        assert "Warning" not in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr


# --- refusals ------------------------------------------------------------------------------


def test_bad_from_value_exits_2_with_a_message(garrison: Garrison, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    proc = garrison(
        "backtest", "configs/demo.toml", "--from", "2025-13-45", "--journal", str(journal)
    )
    assert proc.returncode == 2
    assert "Invalid value for '--from'" in proc.stderr
    assert "2025-13-45" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not journal.exists()


def test_from_after_to_exits_2(garrison: Garrison, tmp_path: Path) -> None:
    proc = garrison(
        "backtest",
        "configs/demo.toml",
        "--from",
        "2025-11-01",
        "--to",
        "2025-10-01",
        "--journal",
        str(tmp_path / "j.sqlite"),
    )
    assert proc.returncode == 2
    assert "window is empty" in flat(proc.stderr)
    assert "Traceback" not in proc.stderr


def test_data_glob_that_matches_nothing_exits_2(garrison: Garrison, tmp_path: Path) -> None:
    pattern = str(tmp_path / "nowhere" / "bybit_*_5m.csv")
    proc = garrison(
        "backtest", "configs/demo.toml", "--data", pattern, "--journal", str(tmp_path / "j.sqlite")
    )
    assert proc.returncode == 2
    assert pattern in flat(proc.stderr)
    assert "Traceback" not in proc.stderr


def test_unknown_strategy_exits_2_naming_file_and_path(
    garrison: Garrison, repo: Path, tmp_path: Path
) -> None:
    text = (repo / "configs" / "demo.toml").read_text(encoding="utf-8")
    assert 'use = "turtle"' in text
    text = text.replace('use = "turtle"', 'use = "no_such_strategy"')
    text = text.replace('path = "../var/demo.sqlite"', 'path = "journal.sqlite"')
    profile = tmp_path / "unknown.toml"
    profile.write_text(text, encoding="utf-8")
    proc = garrison("run", str(profile))
    assert proc.returncode == 2
    message = flat(proc.stderr)
    assert str(profile) in message
    assert "strategies[0].use" in message
    assert "no_such_strategy" in message
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "journal.sqlite").exists()
    assert proc.stdout == ""


def test_missing_profile_file_exits_2(garrison: Garrison, tmp_path: Path) -> None:
    proc = garrison("run", str(tmp_path / "absent.toml"))
    assert proc.returncode == 2
    assert "absent.toml" in proc.stderr
