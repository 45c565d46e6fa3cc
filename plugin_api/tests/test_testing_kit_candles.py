"""candles_from_csv on real files and on every kind of bad file."""

from __future__ import annotations

import gzip
import itertools
import shutil
from itertools import pairwise
from pathlib import Path

import pytest
from garrison_api import Candle
from garrison_api.testing import candles_from_csv

BYBIT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "candles" / "bybit_linear"
BTC_4H = BYBIT / "bybit_BTCUSDT_4h.csv"
HEADER = "timestamp_ms,open,high,low,close,volume\n"

needs_data = pytest.mark.skipif(
    not BTC_4H.exists(), reason=f"real candles not found at {BTC_4H} (../shared/data)"
)


def write(tmp_path: Path, body: str, name: str = "bybit_TESTUSDT_5m.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


@needs_data
def test_reads_a_real_file_and_names_from_the_file_name() -> None:
    candles = candles_from_csv(BTC_4H)
    assert len(candles) == 1_804
    first = candles[0]
    assert isinstance(first, Candle)
    assert (first.symbol, first.timeframe) == ("BTCUSDT", "4h")
    assert all(b.ts - a.ts == 14_400_000 for a, b in pairwise(candles))


@needs_data
def test_reads_gzip_the_same(tmp_path: Path) -> None:
    packed = tmp_path / "bybit_BTCUSDT_4h.csv.gz"
    with BTC_4H.open("rb") as source, gzip.open(packed, "wb") as target:
        shutil.copyfileobj(source, target)
    assert candles_from_csv(packed) == candles_from_csv(BTC_4H)


def test_symbol_and_timeframe_arguments_win(tmp_path: Path) -> None:
    path = write(tmp_path, "0,1,2,0.5,1.5,10\n300000,1.5,2,1,1,0\n")
    (first, second) = candles_from_csv(path, symbol="XYZUSDT", timeframe="1h")
    assert first == Candle("XYZUSDT", "1h", 0, 1.0, 2.0, 0.5, 1.5, 10.0)
    assert second.ts == 300_000


def test_trailing_blank_line_is_fine(tmp_path: Path) -> None:
    assert len(candles_from_csv(write(tmp_path, "0,1,2,0.5,1.5,10\n\n"))) == 1


def test_a_file_name_without_symbol_needs_arguments(tmp_path: Path) -> None:
    path = write(tmp_path, "0,1,2,0.5,1.5,10\n", name="candles.csv")
    with pytest.raises(ValueError, match=r"candles.csv: cannot tell the symbol and timeframe"):
        candles_from_csv(path)
    assert candles_from_csv(path, symbol="BTCUSDT", timeframe="5m")[0].symbol == "BTCUSDT"


def test_a_bad_timeframe_in_the_name_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "0,1,2,0.5,1.5,10\n", name="bybit_BTCUSDT_5x.csv")
    with pytest.raises(ValueError, match=r"bybit_BTCUSDT_5x.csv: timeframe '5x'"):
        candles_from_csv(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("0,1,2,0.5,1.5\n", r":2: expected 6 fields, got 5"),
        ("0,1,2,0.5,1.5,10\nabc,1,2,0.5,1.5,10\n", r":3: timestamp_ms 'abc' is not an integer"),
        ("0,1,two,0.5,1.5,10\n", r":2: high 'two' is not a number"),
        ("0,1,2,0.5,nan,10\n", r":2: close is 'nan'; candles must be finite numbers"),
        ("0,1,inf,0.5,1.5,10\n", r":2: high is 'inf'"),
        ("0,1,2,0.5,1.5,10\n0,1,2,0.5,1.5,10\n", r":3: timestamp_ms 0 does not increase"),
        ("600,1,2,0.5,1.5,10\n300,1,2,0.5,1.5,10\n", r":3: timestamp_ms 300 does not increase"),
        ("0,1,1.2,0.5,1.5,10\n", r":2: inconsistent bar"),
        ("0,1,2,1.1,1.5,10\n", r":2: inconsistent bar"),
        ("0,1,2,0.5,1.5,-1\n", r":2: volume -1.0 is negative"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ValueError, match=r"bybit_TESTUSDT_5m\.csv" + message):
        candles_from_csv(path)


def test_bad_header_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "bybit_TESTUSDT_5m.csv"
    path.write_text("ts,o,h,l,c,v\n0,1,2,0.5,1.5,10\n")
    with pytest.raises(ValueError, match=r":1: header is 'ts,o,h,l,c,v', expected"):
        candles_from_csv(path)
    path.write_text("")
    with pytest.raises(ValueError, match="empty file"):
        candles_from_csv(path)


def test_random_walk_is_seeded_and_well_formed() -> None:
    from garrison_api.testing import random_walk

    first, again, other = (
        random_walk("XUSDT", 500, 7),
        random_walk("XUSDT", 500, 7),
        random_walk("XUSDT", 500, 8),
    )
    assert first == again
    assert first != other
    assert [c.ts for c in first[:3]] == [0, 300_000, 600_000]
    for before, candle in itertools.pairwise(first):
        assert candle.open == before.close
    assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in first)
    hourly = random_walk("XUSDT", 3, 7, timeframe="1h", start=50.0)
    assert [c.ts for c in hourly] == [0, 3_600_000, 7_200_000]
    assert hourly[0].open == 50.0
    assert hourly[0].timeframe == "1h"
