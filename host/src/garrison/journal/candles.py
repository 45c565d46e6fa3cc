"""Candles in the journal file: recorded live data, and the source of SQLite replays.

Candles are not per run: a bar is stored once per (exchange, symbol,
timeframe, open time). Writing it again is ignored, unless the writer asks
to replace it (``garrison data import`` and ``download`` do: the newer copy
of a corrected bar wins). Arrays are
``(n, 6)`` float64 with columns ts, open, high, low, close, volume; ``ts`` is
the bar's open time in epoch ms (exact in float64 for any real date).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
from sqlite_utils import Database

from garrison.journal.errors import JournalError
from garrison.journal.schema import CANDLES

CandleArray = npt.NDArray[np.float64]

_INSERT = CANDLES.insert_sql("INSERT OR IGNORE")
_VALUES = "ts, open, high, low, close, volume"
# Run after _INSERT in the same transaction: only bars stored before with
# other values change, so its change count is the number replaced.
_REPLACE = (
    "UPDATE candles SET open = ?, high = ?, low = ?, close = ?, volume = ? "
    "WHERE exchange = ? AND symbol = ? AND timeframe = ? AND ts = ? "
    "AND (open IS NOT ? OR high IS NOT ? OR low IS NOT ? OR close IS NOT ? OR volume IS NOT ?)"
)


@attrs.frozen
class CandleCounts:
    """What a write did: bars added, and stored bars overwritten with other values."""

    new: int
    replaced: int = 0


def _as_candle_array(rows: npt.ArrayLike, what: str) -> CandleArray:
    try:
        array = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise JournalError(f"{what}: rows are not numeric: {exc}") from exc
    if array.ndim != 2 or array.shape[1] != 6:
        raise JournalError(
            f"{what}: rows must have shape (n, 6) (ts, open, high, low, close, volume), "
            f"got {array.shape}"
        )
    finite = np.isfinite(array).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise JournalError(f"{what}: row {bad} has a NaN or infinite value: {array[bad]}")
    fractional = array[:, 0] != np.floor(array[:, 0])
    if fractional.any():
        bad = int(np.flatnonzero(fractional)[0])
        raise JournalError(f"{what}: row {bad} has a non-integer ts {array[bad, 0]!r}")
    return array


def write_candles(
    db: Database,
    exchange: str,
    symbol: str,
    timeframe: str,
    rows: npt.ArrayLike,
    *,
    replace: bool = False,
) -> int:
    """Insert candles; commit; return how many bars were written.

    A bar already stored is left as it is, unless ``replace`` is true and its
    stored values differ: then it is overwritten (and counted). See
    :func:`store_candles` for the new and replaced counts apart.
    """
    counts = store_candles(db, exchange, symbol, timeframe, rows, replace=replace)
    return counts.new + counts.replaced


def store_candles(
    db: Database,
    exchange: str,
    symbol: str,
    timeframe: str,
    rows: npt.ArrayLike,
    *,
    replace: bool = False,
) -> CandleCounts:
    """Like :func:`write_candles`, counting new and replaced bars apart (one transaction)."""
    what = f"candles {exchange!r} {symbol!r} {timeframe!r}"
    for name, value in (("exchange", exchange), ("symbol", symbol), ("timeframe", timeframe)):
        if not isinstance(value, str) or not value:
            raise JournalError(f"{what}: {name} must be a non-empty string, got {value!r}")
    array = _as_candle_array(rows, what)
    if len(array) == 0:
        return CandleCounts(0)
    columns = [array[:, i].tolist() for i in range(1, 6)]
    ts = array[:, 0].astype(np.int64).tolist()
    params = zip(repeat(exchange), repeat(symbol), repeat(timeframe), ts, *columns, strict=False)
    conn = db.conn
    with db.atomic():
        before = conn.total_changes
        conn.executemany(_INSERT, params)
        new = conn.total_changes - before
        replaced = 0
        if replace and new < len(ts):
            values = list(zip(*columns, strict=True))
            updates = (
                (*v, exchange, symbol, timeframe, t, *v) for t, v in zip(ts, values, strict=True)
            )
            before = conn.total_changes
            conn.executemany(_REPLACE, updates)
            replaced = conn.total_changes - before
    return CandleCounts(new, replaced)


def candle_span(
    conn: sqlite3.Connection, exchange: str, symbol: str, timeframe: str
) -> tuple[int, int] | None:
    """Open times of the oldest and newest stored bar of one series; None when it has none."""
    first, last = conn.execute(
        "SELECT MIN(ts), MAX(ts) FROM candles WHERE exchange = ? AND symbol = ? AND timeframe = ?",
        (exchange, symbol, timeframe),
    ).fetchone()
    if first is None:
        return None
    return int(first), int(last)


def read_candles(
    conn: sqlite3.Connection,
    *,
    exchange: str | None = None,
    symbols: Sequence[str] = (),
    timeframe: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> dict[tuple[str, str], CandleArray]:
    """Stored candles keyed by (symbol, timeframe), each sorted by ts.

    Filters: ``exchange`` (None: any), ``symbols`` (empty: all), ``timeframe``
    (None: all), ``start_ms`` inclusive, ``end_ms`` exclusive. When no exchange
    is given and two exchanges hold the same symbol and timeframe, the keys
    would clash, so that is an error naming them.
    """
    if isinstance(symbols, str):
        raise JournalError(f"read_candles: symbols must be a sequence of names, got {symbols!r}")
    where: list[str] = []
    params: list[Any] = []
    if exchange is not None:
        where.append("exchange = ?")
        params.append(exchange)
    if symbols:
        where.append(f"symbol IN ({', '.join('?' for _ in symbols)})")
        params.extend(symbols)
    if timeframe is not None:
        where.append("timeframe = ?")
        params.append(timeframe)
    if start_ms is not None:
        where.append("ts >= ?")
        params.append(int(start_ms))
    if end_ms is not None:
        where.append("ts < ?")
        params.append(int(end_ms))
    clause = f" WHERE {' AND '.join(where)}" if where else ""

    keys = conn.execute(
        f"SELECT DISTINCT exchange, symbol, timeframe FROM candles{clause} "
        "ORDER BY symbol, timeframe, exchange",
        params,
    ).fetchall()
    _refuse_clashes(keys)
    result: dict[tuple[str, str], CandleArray] = {}
    for key_exchange, symbol, key_timeframe in keys:
        series_clause = " AND ".join([*where, "exchange = ?", "symbol = ?", "timeframe = ?"])
        rows = conn.execute(
            f"SELECT {_VALUES} FROM candles WHERE {series_clause} ORDER BY ts",
            [*params, key_exchange, symbol, key_timeframe],
        ).fetchall()
        result[(symbol, key_timeframe)] = np.array(rows, dtype=np.float64).reshape(-1, 6)
    return result


def _refuse_clashes(keys: list[tuple[str, str, str]]) -> None:
    exchanges: dict[tuple[str, str], list[str]] = {}
    for exchange, symbol, timeframe in keys:
        exchanges.setdefault((symbol, timeframe), []).append(exchange)
    for (symbol, timeframe), names in exchanges.items():
        if len(names) > 1:
            raise JournalError(
                f"candles for {symbol} {timeframe} come from several exchanges "
                f"({', '.join(sorted(names))}); pass exchange= to choose one"
            )
