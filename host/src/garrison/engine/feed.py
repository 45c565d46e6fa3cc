"""Recorded candles for replays: discovery, loading, validation and the merged timeline.

Candle files are named ``<exchange>_<SYMBOL>_<timeframe>.csv`` (optionally
``.gz``) with the header ``timestamp_ms,open,high,low,close,volume``, the
timestamp being the bar's OPEN time in UTC milliseconds (the format of
freqtrade's downloads and of the bundled data). Bad data is refused with the
file and line at fault rather than replayed: NaN or non-positive prices, a
high below the open or close, timestamps that go backwards or repeat.
"""

from __future__ import annotations

import glob
import gzip
import io
import re
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt

from garrison.engine.cache import CandleCache
from garrison.profile.timeframes import timeframe_ms

FILE_NAME = re.compile(
    r"^(?P<exchange>[A-Za-z0-9]+)_(?P<symbol>[A-Z0-9]+)_(?P<timeframe>\d+[mhdw])\.csv(?:\.gz)?$"
)
HEADER = "timestamp_ms,open,high,low,close,volume"

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class FeedError(ValueError):
    """Candle data that cannot be replayed; the message names the file and line."""


@attrs.frozen
class CandleFile:
    """A candle file and what its name says it holds."""

    path: Path
    exchange: str
    symbol: str
    timeframe: str


@attrs.frozen(eq=False)
class Series:
    """All candles of one symbol and timeframe, as columns sorted by open time."""

    symbol: str
    timeframe: str
    ts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    source: str = ""

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @property
    def columns(self) -> dict[str, FloatArray]:
        """Time, price and volume columns by name, as indicator computations expect.

        ``ts`` is the bar open time in UTC ms as float64 (exact: ms timestamps
        are far below 2**53); session indicators such as ``Vwap`` read it.
        """
        return {
            "ts": self.ts.astype(np.float64),
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
        }

    def between(self, start_ms: int | None, end_ms: int | None) -> Series:
        """Bars whose open time is in [start_ms, end_ms)."""
        lo = 0 if start_ms is None else int(np.searchsorted(self.ts, start_ms, "left"))
        hi = len(self) if end_ms is None else int(np.searchsorted(self.ts, end_ms, "left"))
        if lo == 0 and hi == len(self):
            return self
        sl = slice(lo, hi)
        return Series(
            self.symbol,
            self.timeframe,
            self.ts[sl],
            self.open[sl],
            self.high[sl],
            self.low[sl],
            self.close[sl],
            self.volume[sl],
            self.source,
        )


def parse_file_name(path: Path) -> CandleFile:
    """What a candle file's name says; FeedError when the name does not follow the pattern."""
    match = FILE_NAME.match(path.name)
    if match is None:
        raise FeedError(
            f"{path}: cannot tell symbol and timeframe from the file name; expected "
            "<exchange>_<SYMBOL>_<timeframe>.csv[.gz], e.g. bybit_BTCUSDT_5m.csv"
        )
    tf = match["timeframe"]
    try:
        timeframe_ms(tf)
    except ValueError as exc:
        raise FeedError(f"{path}: {exc}") from None
    return CandleFile(path, match["exchange"].lower(), match["symbol"], tf)


def discover(patterns: Iterable[str], base_dir: Path | None = None) -> list[CandleFile]:
    """Candle files matching glob patterns (relative ones resolved against ``base_dir``)."""
    found: dict[Path, CandleFile] = {}
    for pattern in patterns:
        expanded = Path(pattern).expanduser()
        if not expanded.is_absolute() and base_dir is not None:
            expanded = base_dir / expanded
        matches = sorted(glob.glob(str(expanded)))
        if not matches:
            raise FeedError(f"no candle file matches {str(expanded)!r}")
        for match in matches:
            path = Path(match)
            if path.is_dir():
                for child in sorted(path.iterdir()):
                    if FILE_NAME.match(child.name):
                        found.setdefault(child.resolve(), parse_file_name(child))
                continue
            found.setdefault(path.resolve(), parse_file_name(path))
    return sorted(found.values(), key=lambda f: (f.symbol, timeframe_ms(f.timeframe), str(f.path)))


def _read_text(path: Path) -> str:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return fh.read()
        return path.read_text(encoding="utf-8")
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        raise FeedError(f"{path}: cannot be read ({exc})") from None


def _locate_bad_line(text: str, path: Path) -> str:
    # Only on the error path: find the first row numpy could not take, for the message.
    for lineno, line in enumerate(text.splitlines()[1:], start=2):
        parts = line.split(",")
        if len(parts) != 6:
            return f"{path}:{lineno}: expected 6 fields, found {len(parts)}: {line[:80]!r}"
        try:
            [float(p) for p in parts]
        except ValueError:
            return f"{path}:{lineno}: not a number in {line[:80]!r}"
    return f"{path}: malformed CSV"


def load_csv(file: CandleFile, cache: CandleCache | None = None) -> Series:
    """Read and validate one candle file, through ``cache`` when given."""
    path = file.path
    if cache is not None:
        cached = cache.get(path)
        if cached is not None:
            return validate(cached, file.symbol, file.timeframe, str(path))
    data = _parse_csv(path)
    series = validate(data, file.symbol, file.timeframe, str(path))
    if cache is not None:
        cache.put(path, data)
    return series


def _parse_csv(path: Path) -> FloatArray:
    text = _read_text(path)
    first_newline = text.find("\n")
    header = (text if first_newline < 0 else text[:first_newline]).strip().lower()
    if header != HEADER:
        raise FeedError(f"{path}:1: expected header {HEADER!r}, found {header[:80]!r}")
    body = "" if first_newline < 0 else text[first_newline + 1 :]
    if not body.strip():
        raise FeedError(f"{path}: no candles after the header")
    try:
        data = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError:
        raise FeedError(_locate_bad_line(text, path)) from None
    if data.shape[1] != 6:
        # Every row has the same wrong width (numpy accepted it), so line 2 is at fault too.
        raise FeedError(f"{path}:2: expected 6 fields, found {data.shape[1]}")
    # Column-major: each column is contiguous, so the Series' columns are
    # views, not copies, here and when the array comes back from the cache.
    return np.asfortranarray(data)


def validate(data: FloatArray, symbol: str, timeframe: str, source: str) -> Series:
    """Check an (n, 6) array of ts, o, h, l, c, v and turn it into a Series.

    Errors name ``source`` and the 1-based data line (header is line 1).
    """

    def where(row: int) -> str:
        return f"{source}:{row + 2}"

    ts_f = data[:, 0]
    prices = data[:, 1:5]
    # Whole-array checks first, each row looked at only once one has failed:
    # a reduction along rows of six values costs more than all the rest.
    if not np.isfinite(data).all():
        row = int(np.argmax(~np.isfinite(data).all(axis=1)))
        raise FeedError(f"{where(row)}: NaN or infinite value in {data[row].tolist()}")
    if (prices <= 0).any():
        row = int(np.argmax((prices <= 0).any(axis=1)))
        raise FeedError(f"{where(row)}: price <= 0 in {data[row].tolist()}")
    if (data[:, 5] < 0).any():
        row = int(np.argmax(data[:, 5] < 0))
        raise FeedError(f"{where(row)}: negative volume {data[row, 5]}")
    if (ts_f != np.floor(ts_f)).any():
        row = int(np.argmax(ts_f != np.floor(ts_f)))
        raise FeedError(f"{where(row)}: timestamp {ts_f[row]!r} is not whole milliseconds")
    ts = ts_f.astype(np.int64)
    steps = np.diff(ts)
    if (steps <= 0).any():
        row = int(np.argmax(steps <= 0)) + 1
        raise FeedError(
            f"{where(row)}: timestamps must strictly increase; {ts[row]} follows {ts[row - 1]} "
            "(out-of-order or duplicate candle)"
        )
    tf = timeframe_ms(timeframe)
    off_grid = steps % tf != 0
    if off_grid.any():
        row = int(np.argmax(off_grid)) + 1
        raise FeedError(
            f"{where(row)}: timestamp {ts[row]} is not on the {timeframe} grid "
            f"(previous {ts[row - 1]})"
        )
    o, h, lo, c = prices[:, 0], prices[:, 1], prices[:, 2], prices[:, 3]
    broken = (h < np.maximum(o, c)) | (lo > np.minimum(o, c)) | (h < lo)
    if broken.any():
        row = int(np.argmax(broken))
        raise FeedError(
            f"{where(row)}: inconsistent bar (high must be >= open, close and low; "
            f"low <= open, close): {data[row].tolist()}"
        )
    return Series(
        symbol,
        timeframe,
        ts,
        np.ascontiguousarray(o),
        np.ascontiguousarray(h),
        np.ascontiguousarray(lo),
        np.ascontiguousarray(c),
        np.ascontiguousarray(data[:, 5]),
        source,
    )


def gaps(series: Series) -> list[tuple[int, int]]:
    """(last ts before, first ts after) for every hole in the timeframe grid."""
    tf = timeframe_ms(series.timeframe)
    steps = np.diff(series.ts)
    idx = np.nonzero(steps != tf)[0]
    return [(int(series.ts[i]), int(series.ts[i + 1])) for i in idx]


@attrs.frozen(eq=False)
class Timeline:
    """The order in which candles of many series are replayed.

    Candles are replayed by close time, so that at any moment every strategy
    has seen exactly the bars that have closed. Candles closing at one
    instant form a *step*; inside a step they come longer timeframes first,
    then by symbol, then in series order, which is the order strategies
    decide in (DESIGN.md's step semantics).
    """

    series_index: IntArray
    row_index: IntArray
    #: Close time (UTC ms) of each candle, in replay order.
    close_ms: IntArray

    def __len__(self) -> int:
        return int(self.series_index.shape[0])

    def step_starts(self) -> BoolArray:
        """Per candle: does its close time differ from the one before (a new step begins)?"""
        starts = np.ones(self.close_ms.shape[0], dtype=np.bool_)
        starts[1:] = self.close_ms[1:] != self.close_ms[:-1]
        return starts


def merge(series: Sequence[Series], first_rows: Sequence[int] | None = None) -> Timeline:
    """Interleave series into one replay order (see :class:`Timeline`).

    ``first_rows[i]`` skips the first rows of series ``i``: they are history
    (warm-up bars before the replay window), read by indicators but not replayed.
    """
    if not series:
        return Timeline(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    symbol_rank = {symbol: rank for rank, symbol in enumerate(sorted({s.symbol for s in series}))}
    close_times = []
    tf_keys = []
    ranks = []
    sidx = []
    ridx = []
    for i, s in enumerate(series):
        tf = timeframe_ms(s.timeframe)
        first = 0 if first_rows is None else int(first_rows[i])
        n = len(s) - first
        close_times.append(s.ts[first:] + tf)
        tf_keys.append(np.full(n, -tf, np.int64))
        ranks.append(np.full(n, symbol_rank[s.symbol], np.int64))
        sidx.append(np.full(n, i, np.int64))
        ridx.append(np.arange(first, len(s), dtype=np.int64))
    close = np.concatenate(close_times)
    si = np.concatenate(sidx)
    order = np.lexsort((si, np.concatenate(ranks), np.concatenate(tf_keys), close))
    return Timeline(si[order], np.concatenate(ridx)[order], close[order])
