"""Candle files: malformed ones refused with file and line, good ones loaded, the parse cache."""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from garrison.engine.cache import CandleCache, default_cache_dir
from garrison.engine.feed import FeedError, discover, load_csv, parse_file_name

HEADER = "timestamp_ms,open,high,low,close,volume"
T0 = 1_759_276_800_000  # 2025-10-01 00:00 UTC, on every grid
BAR = 300_000  # 5 minutes

GOOD_ROWS = [
    f"{T0},100.0,101.0,99.0,100.5,12.0",
    f"{T0 + BAR},100.5,102.0,100.0,101.5,8.5",
    f"{T0 + 2 * BAR},101.5,101.8,100.9,101.0,3.0",
]


def write(folder: Path, body: str, name: str = "bybit_BTCUSDT_5m.csv") -> Path:
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def load(path: Path, cache: CandleCache | None = None) -> object:
    return load_csv(parse_file_name(path), cache)


def with_row(line_no: int, row: str) -> str:
    """The good file with data line ``line_no`` (header is line 1) replaced by ``row``."""
    rows = list(GOOD_ROWS)
    rows[line_no - 2] = row
    return "\n".join([HEADER, *rows]) + "\n"


def assert_refused(path: Path, line: int | None, *words: str) -> None:
    with pytest.raises(FeedError) as caught:
        load(path)
    message = str(caught.value)
    where = str(path) if line is None else f"{path}:{line}:"
    assert where in message, message
    for word in words:
        assert word in message, message


def test_good_file_loads_every_column(tmp_path: Path) -> None:
    path = write(tmp_path, "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    series = load_csv(parse_file_name(path))
    assert (series.symbol, series.timeframe, len(series)) == ("BTCUSDT", "5m", 3)
    assert series.ts.tolist() == [T0, T0 + BAR, T0 + 2 * BAR]
    assert series.ts.dtype == np.int64
    assert series.open.tolist() == [100.0, 100.5, 101.5]
    assert series.high.tolist() == [101.0, 102.0, 101.8]
    assert series.low.tolist() == [99.0, 100.0, 100.9]
    assert series.close.tolist() == [100.5, 101.5, 101.0]
    assert series.volume.tolist() == [12.0, 8.5, 3.0]
    assert series.source == str(path)


@pytest.mark.parametrize(
    ("line", "row", "words"),
    [
        pytest.param(3, f"{T0 + BAR},nan,102.0,100.0,101.5,8.5", ("NaN",), id="nan"),
        pytest.param(3, f"{T0 + BAR},100.5,inf,100.0,101.5,8.5", ("infinite",), id="inf"),
        pytest.param(4, f"{T0 + 2 * BAR},101.5,101.8,0.0,101.0,3.0", ("price <= 0",), id="zero"),
        pytest.param(2, f"{T0},-100.0,101.0,99.0,100.5,12.0", ("price <= 0",), id="negative"),
        pytest.param(
            3, f"{T0 + BAR},100.5,101.0,100.0,101.5,8.5", ("inconsistent",), id="high<close"
        ),
        pytest.param(
            3, f"{T0 + BAR},100.5,102.0,101.0,100.8,8.5", ("inconsistent",), id="low>open"
        ),
        pytest.param(
            3, f"{T0 + BAR},100.5,102.0,100.0,101.5,-1", ("negative volume",), id="volume"
        ),
        pytest.param(3, f"{T0 + BAR},100.5,102.0,100.0,abc,8.5", ("not a number",), id="text"),
        pytest.param(3, f"{T0 + BAR},100.5,102.0,100.0,101.5", ("expected 6 fields",), id="5-cols"),
        pytest.param(
            4, f"{T0 + 2 * BAR},1,2,0.5,1.5,3.0,9", ("expected 6 fields",), id="7-cols-one-row"
        ),
        pytest.param(3, f"{T0 + BAR + 0.5},100.5,102.0,100.0,101.5,8.5", ("whole",), id="ms-frac"),
    ],
)
def test_bad_row_is_refused_with_file_and_line(
    tmp_path: Path, line: int, row: str, words: tuple[str, ...]
) -> None:
    assert_refused(write(tmp_path, with_row(line, row)), line, *words)


def test_out_of_order_timestamp_names_the_line(tmp_path: Path) -> None:
    body = "\n".join([HEADER, GOOD_ROWS[0], GOOD_ROWS[2], GOOD_ROWS[1]]) + "\n"
    assert_refused(write(tmp_path, body), 4, "strictly increase", str(T0 + BAR))


def test_duplicate_timestamp_names_the_line(tmp_path: Path) -> None:
    body = "\n".join([HEADER, GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[1]]) + "\n"
    assert_refused(write(tmp_path, body), 4, "duplicate")


def test_off_grid_timestamp_names_the_line(tmp_path: Path) -> None:
    row = f"{T0 + BAR + 60_000},100.5,102.0,100.0,101.5,8.5"
    assert_refused(write(tmp_path, with_row(3, row)), 3, "5m grid")


def test_a_gap_on_the_grid_is_accepted(tmp_path: Path) -> None:
    # Missing bars are a fact of recorded data; only off-grid times are errors.
    body = "\n".join([HEADER, GOOD_ROWS[0], GOOD_ROWS[2]]) + "\n"
    assert len(load_csv(parse_file_name(write(tmp_path, body)))) == 2


def test_bad_header_is_line_1(tmp_path: Path) -> None:
    body = "\n".join(["ts,o,h,l,c,v", *GOOD_ROWS]) + "\n"
    assert_refused(write(tmp_path, body), 1, "expected header")


def test_empty_file_is_refused(tmp_path: Path) -> None:
    assert_refused(write(tmp_path, ""), 1, "expected header")


def test_header_only_file_is_refused(tmp_path: Path) -> None:
    assert_refused(write(tmp_path, HEADER + "\n"), None, "no candles")


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([row + ",1" for row in GOOD_ROWS], id="7-fields-every-row"),
        pytest.param([f"{T0},100.0,101.0"], id="one-row-of-3-fields"),
    ],
)
def test_wrong_field_count_in_every_row_names_line_2(tmp_path: Path, rows: list[str]) -> None:
    body = "\n".join([HEADER, *rows]) + "\n"
    assert_refused(write(tmp_path, body), 2, "6")


@pytest.mark.parametrize(
    "name",
    [
        "BTCUSDT_5m.csv",
        "bybit_btcusdt_5m.csv",
        "bybit_BTCUSDT_5x.csv",
        "bybit_BTCUSDT_5m.txt",
        "bybit_BTCUSDT_7m.csv",
    ],
)
def test_bad_file_name_is_refused_naming_the_file(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, "\n".join([HEADER, *GOOD_ROWS]) + "\n", name=name)
    with pytest.raises(FeedError, match=re.escape(str(path))):
        parse_file_name(path)


def test_file_name_says_exchange_symbol_and_timeframe(tmp_path: Path) -> None:
    file = parse_file_name(tmp_path / "Binance_ETHUSDT_4h.csv.gz")
    assert (file.exchange, file.symbol, file.timeframe) == ("binance", "ETHUSDT", "4h")


def test_gzip_file_loads_like_the_plain_one(tmp_path: Path) -> None:
    text = "\n".join([HEADER, *GOOD_ROWS]) + "\n"
    plain = write(tmp_path, text)
    packed = tmp_path / "gz" / "bybit_BTCUSDT_5m.csv.gz"
    packed.parent.mkdir()
    with gzip.open(packed, "wt", encoding="utf-8") as fh:
        fh.write(text)
    a, b = load_csv(parse_file_name(plain)), load_csv(parse_file_name(packed))
    for column in ("ts", "open", "high", "low", "close", "volume"):
        assert getattr(a, column).tolist() == getattr(b, column).tolist()


def test_file_that_is_not_gzip_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bybit_BTCUSDT_5m.csv.gz"
    path.write_text("\n".join([HEADER, *GOOD_ROWS]) + "\n")
    with pytest.raises(FeedError, match=re.escape(str(path))):
        load(path)


def test_truncated_gzip_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bybit_BTCUSDT_5m.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([HEADER, *GOOD_ROWS]) + "\n").encode())[:-12])
    with pytest.raises(FeedError, match=re.escape(str(path))):
        load(path)


def test_damaged_gzip_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bybit_BTCUSDT_5m.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    with pytest.raises(FeedError, match=re.escape(str(path))):
        load(path)


def test_glob_with_no_match_is_refused(tmp_path: Path) -> None:
    pattern = str(tmp_path / "nothing_*_5m.csv")
    with pytest.raises(FeedError, match=re.escape(pattern)):
        discover([pattern])


def test_discover_expands_folders_and_globs_once_each(tmp_path: Path) -> None:
    text = "\n".join([HEADER, *GOOD_ROWS]) + "\n"
    for symbol in ("ETHUSDT", "BTCUSDT"):
        write(tmp_path, text, name=f"bybit_{symbol}_5m.csv")
    write(tmp_path, "not candles", name="README.md")
    found = discover([str(tmp_path), str(tmp_path / "bybit_*_5m.csv")])
    assert [f.symbol for f in found] == ["BTCUSDT", "ETHUSDT"]


def test_relative_glob_resolves_against_base_dir(tmp_path: Path) -> None:
    write(tmp_path, "\n".join([HEADER, *GOOD_ROWS]) + "\n")
    found = discover(["bybit_*_5m.csv"], base_dir=tmp_path)
    assert [f.path for f in found] == [tmp_path / "bybit_BTCUSDT_5m.csv"]


# --- the parse cache -----------------------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path) -> CandleCache:
    return CandleCache(tmp_path / "cache")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return write(folder, "\n".join([HEADER, *GOOD_ROWS]) + "\n")


def entries(cache: CandleCache) -> list[Path]:
    return sorted(cache.directory.glob("*.npy"))


def test_cache_dir_follows_the_environment(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_cache_dir() == isolated_cache
    monkeypatch.delenv("GARRISON_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "garrison"


def test_second_load_hits_the_cache(cache: CandleCache, source: Path) -> None:
    first = load_csv(parse_file_name(source), cache)
    assert (cache.hits, cache.misses) == (0, 1)
    assert len(entries(cache)) == 1
    second = load_csv(parse_file_name(source), cache)
    assert (cache.hits, cache.misses) == (1, 1)
    assert second.close.tolist() == first.close.tolist()
    assert second.ts.tolist() == first.ts.tolist()


def test_edited_file_misses_the_cache(cache: CandleCache, source: Path) -> None:
    load_csv(parse_file_name(source), cache)
    extra = f"{T0 + 3 * BAR},101.0,103.0,100.5,102.5,4.0"
    source.write_text("\n".join([HEADER, *GOOD_ROWS, extra]) + "\n", encoding="utf-8")
    series = load_csv(parse_file_name(source), cache)
    assert (cache.hits, cache.misses) == (0, 2)
    assert len(series) == 4


def test_touched_file_of_same_size_misses_the_cache(cache: CandleCache, source: Path) -> None:
    load_csv(parse_file_name(source), cache)
    # Same length, different content, and a different modification time.
    source.write_text(source.read_text().replace("12.0", "13.0"), encoding="utf-8")
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    series = load_csv(parse_file_name(source), cache)
    assert (cache.hits, cache.misses) == (0, 2)
    assert series.volume.tolist()[0] == 13.0


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"definitely not numpy", id="garbage"),
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:60], id="header-only"),
    ],
)
def test_corrupt_cache_entry_is_ignored(
    cache: CandleCache, source: Path, damage: Callable[[bytes], bytes]
) -> None:
    load_csv(parse_file_name(source), cache)
    (entry,) = entries(cache)
    entry.write_bytes(damage(entry.read_bytes()))
    series = load_csv(parse_file_name(source), cache)
    assert cache.hits == 0
    assert series.close.tolist() == [100.5, 101.5, 101.0]


def test_empty_cache_entry_is_ignored(cache: CandleCache, source: Path) -> None:
    load_csv(parse_file_name(source), cache)
    (entry,) = entries(cache)
    entry.write_bytes(b"")
    series = load_csv(parse_file_name(source), cache)
    assert series.close.tolist() == [100.5, 101.5, 101.0]


def test_cache_entry_of_wrong_shape_is_ignored(cache: CandleCache, source: Path) -> None:
    load_csv(parse_file_name(source), cache)
    (entry,) = entries(cache)
    np.save(entry, np.zeros((3, 5)), allow_pickle=False)
    assert len(load_csv(parse_file_name(source), cache)) == 3
    assert cache.hits == 0


def test_cached_data_is_validated_again(cache: CandleCache, source: Path) -> None:
    load_csv(parse_file_name(source), cache)
    (entry,) = entries(cache)
    poisoned = np.load(entry)
    poisoned[1, 4] = np.nan  # close of data line 3
    np.save(entry, poisoned, allow_pickle=False)
    with pytest.raises(FeedError, match=re.escape(f"{source}:3:")):
        load_csv(parse_file_name(source), cache)
    assert cache.hits == 1


def test_unwritable_cache_costs_only_speed(tmp_path: Path, source: Path) -> None:
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the cache folder should be")
    cache = CandleCache(blocker)
    assert len(load_csv(parse_file_name(source), cache)) == 3
    assert len(load_csv(parse_file_name(source), cache)) == 3
    assert cache.hits == 0
