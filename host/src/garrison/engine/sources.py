"""Where a replay's candles come from: the profile's ``[data]``, or ``--data`` on the CLI."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from garrison.engine.cache import CandleCache
from garrison.engine.feed import FeedError, Series, discover, load_csv, validate
from garrison.journal import Journal
from garrison.profile.dates import iso_to_ms
from garrison.profile.model import DataConfig


@attrs.frozen
class DataSelection:
    """What to replay: explicit CSV globs (override the profile) and a time window."""

    paths: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None


def _window(config: DataConfig, selection: DataSelection) -> tuple[int | None, int | None]:
    start = selection.start or config.start
    end = selection.end or config.end
    start_ms = iso_to_ms(start) if start else None
    end_ms = iso_to_ms(end) if end else None
    if start_ms is not None and end_ms is not None and start_ms >= end_ms:
        raise FeedError(f"the replay window is empty: start {start} is not before end {end}")
    return start_ms, end_ms


def _keep(series: Series, config: DataConfig, use_filters: bool) -> bool:
    if not use_filters:
        return True
    if config.symbols and series.symbol not in config.symbols:
        return False
    return not config.timeframe or series.timeframe == config.timeframe


def load_series(
    config: DataConfig,
    base_dir: Path,
    selection: DataSelection | None = None,
    *,
    on_file: Callable[[str], None] | None = None,
    cache: CandleCache | None = None,
) -> list[Series]:
    """Load, validate and window every series the profile (or the selection) names.

    With ``selection.paths`` the profile's source is ignored but its symbol and
    timeframe filters still apply. Raises FeedError naming the file at fault.
    """
    selection = selection or DataSelection()
    start_ms, end_ms = _window(config, selection)
    loaded: list[Series] = []
    if selection.paths or config.source == "csv":
        patterns: Sequence[str] = selection.paths or config.paths
        if not patterns:
            raise FeedError("no candle files: set [data] paths in the profile or pass --data")
        cwd_relative = bool(selection.paths)
        files = discover(patterns, None if cwd_relative else base_dir)
        for file in files:
            if config.symbols and file.symbol not in config.symbols:
                continue
            if config.timeframe and file.timeframe != config.timeframe:
                continue
            if on_file is not None:
                on_file(file.path.name)
            loaded.append(load_csv(file, cache))
    else:
        if not config.sqlite:
            raise FeedError("[data] source = 'sqlite' needs [data] sqlite = <journal path>")
        path = Path(config.sqlite).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        if not path.exists():
            raise FeedError(f"candle database {path} does not exist")
        journal = Journal.open(path)
        try:
            tables = journal.read_candles(
                symbols=config.symbols, timeframe=config.timeframe, start_ms=start_ms, end_ms=end_ms
            )
        finally:
            journal.close()
        for (symbol, timeframe), rows in sorted(tables.items()):
            loaded.append(validate(rows, symbol, timeframe, f"{path} candles {symbol} {timeframe}"))
    windowed = [s.between(start_ms, end_ms) for s in loaded if _keep(s, config, True)]
    windowed = [s for s in windowed if len(s)]
    if not windowed:
        raise FeedError("no candles left to replay after the symbol, timeframe and date filters")
    seen: dict[tuple[str, str], str] = {}
    for s in windowed:
        key = (s.symbol, s.timeframe)
        if key in seen:
            raise FeedError(
                f"{s.symbol} {s.timeframe} comes from two sources: {seen[key]} and {s.source}"
            )
        seen[key] = s.source
    return windowed
