"""Candles in the journal file: recorded live data, and the source of SQLite replays.

Candles are not per run: a bar is stored once per (exchange, symbol,
timeframe, open time), and writing it again is ignored. Arrays are
``(n, 6)`` float64 with columns ts, open, high, low, close, volume; ``ts`` is
the bar's open time in epoch ms (exact in float64 for any real date).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlite_utils import Database

from garrison.journal.errors import JournalError
from garrison.journal.schema import CANDLES

CandleArray = npt.NDArray[np.float64]

_INSERT = CANDLES.insert_sql("INSERT OR IGNORE")
_VALUES = "ts, open, high, low, close, volume"


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
    db: Database, exchange: str, symbol: str, timeframe: str, rows: npt.ArrayLike
) -> int:
    """Insert candles, ignoring bars already stored; commit; return how many were new."""
    what = f"candles {exchange!r} {symbol!r} {timeframe!r}"
    for name, value in (("exchange", exchange), ("symbol", symbol), ("timeframe", timeframe)):
        if not isinstance(value, str) or not value:
            raise JournalError(f"{what}: {name} must be a non-empty string, got {value!r}")
    array = _as_candle_array(rows, what)
    if len(array) == 0:
        return 0
    columns = [array[:, i].tolist() for i in range(1, 6)]
    ts = array[:, 0].astype(np.int64).tolist()
    params = zip(repeat(exchange), repeat(symbol), repeat(timeframe), ts, *columns, strict=False)
    before = db.conn.total_changes
    with db.atomic():
        db.conn.executemany(_INSERT, params)
    return db.conn.total_changes - before


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
