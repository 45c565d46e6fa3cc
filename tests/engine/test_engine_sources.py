"""What a replay loads: the profile's [data] or --data, filtered and windowed; market rules."""

from __future__ import annotations

import asyncio
import gzip
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from garrison.engine.feed import FeedError
from garrison.engine.run import RunError, replay
from garrison.engine.sources import DataSelection, load_series
from garrison.plugins import PluginSet
from garrison.profile.load import load_profile
from garrison.profile.model import DataConfig

T0 = 1_759_276_800_000  # 2025-10-01 00:00 UTC
BAR = 300_000
DAY = 86_400_000

Row = tuple[int, float, float, float, float, float]


def bars(n: int, start: int = T0, step: int = BAR) -> list[Row]:
    return [(start + i * step, 10.0, 11.0, 9.0, 10.5, 1.0) for i in range(n)]


@pytest.fixture
def folder(write_candles: Callable[..., Path]) -> Path:
    """Two days of 5m bars for BTC and ETH, and of 1h bars for BTC."""
    write_candles(bars(576), "BTCUSDT", "5m")
    write_candles(bars(576), "ETHUSDT", "5m")
    return write_candles(bars(48, step=12 * BAR), "BTCUSDT", "1h").parent


def test_profile_paths_resolve_against_the_profile_folder(folder: Path) -> None:
    loaded = load_series(DataConfig(paths=("candles/*.csv",)), folder.parent)
    assert sorted((s.symbol, s.timeframe, len(s)) for s in loaded) == [
        ("BTCUSDT", "1h", 48),
        ("BTCUSDT", "5m", 576),
        ("ETHUSDT", "5m", 576),
    ]


def test_symbol_and_timeframe_filters_apply_to_data_paths_too(folder: Path) -> None:
    config = DataConfig(paths=("elsewhere/*.csv",), symbols=("BTCUSDT",), timeframe="5m")
    selection = DataSelection(paths=(str(folder / "*.csv"),))
    loaded = load_series(config, Path("/nonexistent"), selection)
    assert [(s.symbol, s.timeframe) for s in loaded] == [("BTCUSDT", "5m")]


def test_window_keeps_bars_opening_in_start_to_end(folder: Path) -> None:
    selection = DataSelection(
        paths=(str(folder / "bybit_BTCUSDT_5m.csv"),),
        start="2025-10-01T12:00:00Z",
        end="2025-10-02",
    )
    (series,) = load_series(DataConfig(), folder, selection)
    assert series.ts[0] == T0 + DAY // 2
    assert series.ts[-1] == T0 + DAY - BAR
    assert len(series) == 144


def test_selection_window_overrides_the_profile_window(folder: Path) -> None:
    # Each bound is overridden on its own: --from replaces start, the profile's end stays.
    config = DataConfig(paths=("bybit_ETHUSDT_5m.csv",), start="2025-10-01", end="2025-10-02")
    (series,) = load_series(config, folder, DataSelection(start="2025-10-01T23:00:00"))
    assert (series.ts[0], len(series)) == (T0 + DAY - 12 * BAR, 12)
    (series,) = load_series(config, folder, DataSelection(end="2025-10-03"))
    assert (series.ts[0], len(series)) == (T0, 576)


def test_empty_window_is_refused(folder: Path) -> None:
    selection = DataSelection(start="2025-10-02", end="2025-10-01")
    with pytest.raises(FeedError, match="window is empty"):
        load_series(DataConfig(paths=("*.csv",)), folder, selection)


def test_window_outside_the_data_is_refused(folder: Path) -> None:
    selection = DataSelection(start="2026-01-01")
    with pytest.raises(FeedError, match="no candles left"):
        load_series(DataConfig(paths=("*.csv",)), folder, selection)


def test_same_series_from_two_files_is_refused(folder: Path) -> None:
    plain = folder / "bybit_ETHUSDT_5m.csv"
    packed = folder.parent / "packed" / "bybit_ETHUSDT_5m.csv.gz"
    packed.parent.mkdir()
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    selection = DataSelection(paths=(str(plain), str(packed)))
    with pytest.raises(FeedError, match=re.escape(str(packed))) as caught:
        load_series(DataConfig(), folder, selection)
    assert str(plain) in str(caught.value)


def test_no_paths_at_all_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="--data"):
        load_series(DataConfig(), tmp_path)


def test_bad_file_stops_the_load_naming_it(folder: Path) -> None:
    broken = folder / "bybit_SOLUSDT_5m.csv"
    header = "timestamp_ms,open,high,low,close,volume"
    broken.write_text(f"{header}\n{T0},1,2,0.5,1.5,3\n{T0 + BAR},2,3\n", encoding="utf-8")
    with pytest.raises(FeedError, match=re.escape(f"{broken}:3:")):
        load_series(DataConfig(paths=("*.csv",)), folder)


PROFILE = """
[profile]
name = "sources"
mode = "{mode}"

[data]
source = "csv"
paths = ["candles/bybit_{symbol}_5m.csv"]

[markets]
snapshot = "bybit_linear"
{overrides}

[journal]
path = "journal.sqlite"

[[strategies]]
use = "turtle"

[sizer]
use = "fixed_risk"
"""


def test_symbol_without_market_rules_is_refused_before_the_run(
    tmp_path: Path,
    write_candles: Callable[..., Path],
    write_profile: Callable[..., Path],
    plugins: PluginSet,
) -> None:
    write_candles(bars(50), "NOSUCHUSDT", "5m")
    path = write_profile(PROFILE.format(mode="replay", symbol="NOSUCHUSDT", overrides=""))
    profile = load_profile(path, plugins.registry)
    with pytest.raises(RunError, match=r"NOSUCHUSDT.*markets\.overrides\.NOSUCHUSDT"):
        asyncio.run(replay(profile, plugins))
    assert not (tmp_path / "journal.sqlite").exists()


def test_market_overrides_make_a_new_symbol_tradable(
    tmp_path: Path,
    write_candles: Callable[..., Path],
    write_profile: Callable[..., Path],
    plugins: PluginSet,
) -> None:
    write_candles(bars(50), "NOSUCHUSDT", "5m")
    overrides = "[markets.overrides.NOSUCHUSDT]\ntick_size = 0.01\nlot_step = 0.1\nmin_qty = 0.1\n"
    path = write_profile(PROFILE.format(mode="replay", symbol="NOSUCHUSDT", overrides=overrides))
    result = asyncio.run(replay(load_profile(path, plugins.registry), plugins))
    assert result.symbols == ("NOSUCHUSDT",)
    assert result.journal_path == tmp_path / "journal.sqlite"
    assert result.stats.candles == 50


def test_paper_profile_is_refused_by_replay_but_replayed_by_backtest(
    write_candles: Callable[..., Path], write_profile: Callable[..., Path], plugins: PluginSet
) -> None:
    # `garrison run` trades a paper profile on the exchange; only a backtest replays it.
    write_candles(bars(30), "BTCUSDT", "5m")
    text = PROFILE.format(mode="paper", symbol="BTCUSDT", overrides="")
    path = write_profile(text + '\n[exchange]\nsymbols = ["BTCUSDT"]\n')
    profile = load_profile(path, plugins.registry)
    with pytest.raises(RunError, match="paper"):
        asyncio.run(replay(profile, plugins))
    assert asyncio.run(replay(profile, plugins, any_mode=True)).stats.candles == 30
