"""``garrison data download`` as a user runs it, against the fake exchange on 127.0.0.1.

The fake runs in this process (manual clock: 1000 closed bars of the bundled
demo data, the 1001st in progress); ``garrison`` runs as a real subprocess
pointed at it with ``--rest-url``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

import attrs
import numpy as np
import pytest
from garrison.engine.candle_import import series_rows
from garrison.engine.feed import load_csv, parse_file_name
from garrison.fakex.server import FakeExchange, running_fake
from garrison.fakex.tape import MarketTape

REPO = Path(__file__).resolve().parents[2]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
HISTORY = 1000
SINCE = "2025-09-24"  # the demo's first bar


def demo_file(symbol: str) -> Path:
    return REPO / "data" / "demo" / f"bybit_{symbol}_5m.csv.gz"


def demo_rows(symbol: str) -> np.ndarray:
    return series_rows(load_csv(parse_file_name(demo_file(symbol))))


@attrs.frozen
class Done:
    returncode: int
    stdout: str
    stderr: str


def garrison_env(cache: Path) -> dict[str, str]:
    env = {**os.environ, "GARRISON_CACHE_DIR": str(cache), "COLUMNS": "200"}
    env.pop("CI", None)
    return env


async def garrison(cache: Path, *args: str) -> Done:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "garrison.cli.main",
        *args,
        cwd=REPO,
        env=garrison_env(cache),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode(), err.decode())


def download_args(fake: FakeExchange, db: Path, *more: str) -> tuple[str, ...]:
    return (
        "data",
        "download",
        "--exchange",
        fake.exchange,
        "--symbols",
        ",".join(SYMBOLS),
        "--timeframe",
        "5m",
        "--since",
        SINCE,
        "--db",
        str(db),
        "--rest-url",
        fake.rest_url,
        *more,
    )


def stored(db: Path, symbol: str, exchange: str = "bybit") -> np.ndarray:
    """The bars of ``symbol`` in the candle table (none while the file is still being made)."""
    if not db.exists():
        return np.empty((0, 6))
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT ts, open, high, low, close, volume FROM candles "
            "WHERE exchange = ? AND symbol = ? AND timeframe = '5m' ORDER BY ts",
            (exchange, symbol),
        ).fetchall()
    except sqlite3.OperationalError:  # no table yet
        rows = []
    finally:
        conn.close()
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "garrison-cache"


@pytest.mark.slow
@pytest.mark.parametrize("exchange", ["bybit", "binance"])
def test_download_two_symbols_then_again_up_to_date(
    tmp_path: Path, cache: Path, exchange: str
) -> None:
    db = tmp_path / "candles.sqlite"

    async def scenario() -> tuple[Done, Done]:
        tape = MarketTape.from_paths([str(demo_file(s)) for s in SYMBOLS])
        async with running_fake(exchange, tape, speed=None) as fake:
            first = await garrison(cache, *download_args(fake, db, "--page-size", "400"))
            again = await garrison(cache, *download_args(fake, db, "--page-size", "400"))
            return first, again

    first, again = asyncio.run(scenario())
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    for symbol in SYMBOLS:
        assert (
            f"{exchange} {symbol} 5m: 3 page(s), 1,000 closed bars fetched, 1,000 new, "
            "0 replaced; stored 2025-09-24 00:00 UTC to 2025-09-27 11:15 UTC"
        ) in lines, first.stdout
        np.testing.assert_array_equal(stored(db, symbol, exchange), demo_rows(symbol)[:HISTORY])
    assert f"candle table of {db}" in first.stdout
    assert "━" not in first.stdout  # no progress bar: stdout is not a terminal
    assert again.returncode == 0, again.stderr
    for symbol in SYMBOLS:
        assert f"{exchange} {symbol} 5m: up to date; stored 2025-09-24 00:00 UTC" in again.stdout


def test_an_unknown_symbol_exits_non_zero_naming_it(tmp_path: Path, cache: Path) -> None:
    db = tmp_path / "candles.sqlite"

    async def scenario() -> Done:
        tape = MarketTape.from_paths([str(demo_file(s)) for s in SYMBOLS])
        async with running_fake("bybit", tape, speed=None) as fake:
            args = list(download_args(fake, db))
            args[args.index("--symbols") + 1] = "BTCUSDT,NOPEUSDT"
            return await garrison(cache, *args)

    done = asyncio.run(scenario())
    assert done.returncode == 2
    assert "error: unknown symbol NOPEUSDT on bybit" in done.stderr
    assert "resume" not in done.stderr  # nothing was committed, so nothing to resume
    assert len(stored(db, "BTCUSDT")) == 0


@pytest.mark.slow
def test_ctrl_c_keeps_the_committed_pages_and_the_next_run_resumes(
    tmp_path: Path, cache: Path
) -> None:
    db = tmp_path / "candles.sqlite"

    async def scenario() -> tuple[int, str, int, Done]:
        tape = MarketTape.from_paths([str(demo_file(s)) for s in SYMBOLS])
        async with running_fake("bybit", tape, speed=None) as fake:
            # One bar a page: slow enough to be interrupted in the middle.
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "garrison.cli.main",
                *download_args(fake, db, "--page-size", "1"),
                cwd=REPO,
                env=garrison_env(cache),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(600):
                await asyncio.sleep(0.05)
                if len(stored(db, "BTCUSDT")) >= 20:
                    break
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode is not None
            kept = len(stored(db, "BTCUSDT"))
            resumed = await garrison(cache, *download_args(fake, db))
            return proc.returncode, err.decode(), kept, resumed

    returncode, err, kept, resumed = asyncio.run(scenario())
    assert returncode == 130, err
    assert "interrupted: every page committed so far is stored" in err
    assert 20 <= kept < HISTORY
    assert resumed.returncode == 0, resumed.stderr
    assert f"bybit BTCUSDT 5m: 1 page(s), {HISTORY - kept:,} closed bars fetched" in resumed.stdout
    for symbol in SYMBOLS:
        np.testing.assert_array_equal(stored(db, symbol), demo_rows(symbol)[:HISTORY])


def test_download_help_states_the_resume_and_closed_bar_rules(tmp_path: Path, cache: Path) -> None:
    done = asyncio.run(garrison(cache, "data", "download", "--help"))
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    for words in (
        "the download starts after the newest stored bar (or at --since if that is later)",
        "if --since is before the oldest stored bar, the bars from --since up to it are "
        "fetched first",
        "The bar still in progress",
        "is never stored",
        "Ctrl-C loses at most the page in flight",
        "--rest-url URL",
        "--network [mainnet|testnet|demo]",
    ):
        assert words in text, f"{words!r} missing from:\n{done.stdout}"
    listed = asyncio.run(garrison(cache, "--help"))
    assert "\n  data " in listed.stdout
