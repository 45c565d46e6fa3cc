"""Where a replay's candles come from: the profile's ``[data]``, or ``--data`` on the CLI."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt

from garrison.engine.cache import CandleCache
from garrison.engine.feed import FeedError, Series, discover, load_csv, validate
from garrison.journal import Journal, JournalReader
from garrison.journal.errors import JournalError
from garrison.profile.dates import iso_to_ms
from garrison.profile.model import DataConfig


@attrs.frozen
class DataSelection:
    """What to replay: explicit CSV globs (override the profile) and a time window."""

    paths: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None

    def describe(self) -> dict[str, object]:
        """What the user asked for, as the journal records it with the run."""
        return {"paths": list(self.paths), "from": self.start, "to": self.end}


#: Bars of history wanted before the window, for a (symbol, timeframe).
HistoryWanted = Callable[[str, str], int]


@attrs.frozen
class Window:
    """The series to replay, each with the warm-up history kept before its window.

    ``first_rows[i]`` is the index of the first bar of ``series[i]`` inside
    the window; the bars before it are history: indicators and
    ``ctx.candles`` read them, but they are not replayed.
    """

    series: tuple[Series, ...]
    first_rows: tuple[int, ...]


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


def _read_candle_tables(
    path: Path, config: DataConfig, start_ms: int | None, end_ms: int | None
) -> dict[tuple[str, str], npt.NDArray[np.float64]]:
    """The candle table of the journal at ``path``; read-only when its schema is current.

    Read-only, so reading candles never touches the runs of that file (a
    writer marks runs left by dead processes). An older file is opened for
    writing once, which migrates it.
    """
    try:
        reader = JournalReader.open_readonly(path)
    except JournalError:
        journal = Journal.open(path)
        try:
            return journal.read_candles(
                symbols=config.symbols, timeframe=config.timeframe, start_ms=start_ms, end_ms=end_ms
            )
        finally:
            journal.close()
    try:
        return reader.read_candles(
            symbols=config.symbols, timeframe=config.timeframe, start_ms=start_ms, end_ms=end_ms
        )
    finally:
        reader.close_reader()


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
    window = load_window(config, base_dir, selection, on_file=on_file, cache=cache)
    return [
        s.between(int(s.ts[first]), None) if first else s
        for s, first in zip(window.series, window.first_rows, strict=True)
    ]


def load_window(
    config: DataConfig,
    base_dir: Path,
    selection: DataSelection | None = None,
    *,
    history: HistoryWanted | None = None,
    on_file: Callable[[str], None] | None = None,
    cache: CandleCache | None = None,
) -> Window:
    """Like :func:`load_series`, keeping ``history(symbol, timeframe)`` bars before the window.

    A replay that starts at a date loads the strategies' warm-up bars before
    it (as freqtrade's startup candles), so indicators are warm on the first
    bar of the window instead of starting cold there.
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
        tables = _read_candle_tables(
            path, config, None if history is not None else start_ms, end_ms
        )
        for (symbol, timeframe), rows in sorted(tables.items()):
            loaded.append(validate(rows, symbol, timeframe, f"{path} candles {symbol} {timeframe}"))
    kept: list[Series] = []
    first_rows: list[int] = []
    for s in loaded:
        if not _keep(s, config, True):
            continue
        inside = s.between(start_ms, end_ms)
        if not len(inside):
            continue
        if start_ms is None or history is None:
            kept.append(inside)
            first_rows.append(0)
            continue
        wanted = max(0, int(history(s.symbol, s.timeframe)))
        first = int(np.searchsorted(s.ts, start_ms, "left"))
        lead = min(wanted, first)
        kept.append(s.between(int(s.ts[first - lead]), end_ms) if lead else inside)
        first_rows.append(lead)
    if not kept:
        raise FeedError("no candles left to replay after the symbol, timeframe and date filters")
    seen: dict[tuple[str, str], str] = {}
    for s in kept:
        key = (s.symbol, s.timeframe)
        if key in seen:
            raise FeedError(
                f"{s.symbol} {s.timeframe} comes from two sources: {seen[key]} and {s.source}"
            )
        seen[key] = s.source
    return Window(tuple(kept), tuple(first_rows))
