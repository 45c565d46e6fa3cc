"""Read-only control queries the console's charts need: candles, trades, equity history.

Kept apart from :mod:`garrison.control.host` so the command table there
stays small: each function here answers one query from what it is handed
(the engine's candle histories, a reader of the journal's committed rows)
and raises :class:`~garrison.control.host.CommandError` for a bad argument.
None of them changes anything.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from garrison.engine.context import CandleHistory

#: The most candles or equity points one query returns.
MAX_POINTS = 2000

#: Reads committed journal rows: ``read(sql, params)``.
JournalRead = Callable[[str, tuple[Any, ...]], list[sqlite3.Row]]


class QueryError(ValueError):
    """A query argument the host refuses; the message says which and why."""


def _points(args: Mapping[str, Any], key: str, default: int) -> int:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise QueryError(f"{key} must be a whole number >= 1, got {value!r}")
    return min(value, MAX_POINTS)


def _symbol(args: Mapping[str, Any]) -> str:
    value = args.get("symbol")
    if not isinstance(value, str) or not value.strip():
        raise QueryError(f"symbol must be a symbol name such as 'BTCUSDT', got {value!r}")
    return value.strip().upper()


def candles(
    histories: Mapping[tuple[str, str], CandleHistory], args: Mapping[str, Any]
) -> dict[str, Any]:
    """The last ``n`` closed candles of ``symbol`` in ``timeframe`` that the engine holds.

    Without a symbol, the first one held; without a timeframe, the symbol's
    finest one held. A replay holds its whole series up to the current bar;
    a live host a ring of the bars its strategies need.
    """
    symbols = sorted({s for s, _ in histories})
    if not symbols:
        raise QueryError("the host holds no candles yet (no strategy reads any series)")
    symbol = symbols[0] if args.get("symbol") is None else _symbol(args)
    n = _points(args, "n", 120)
    timeframes = sorted({tf for (s, tf) in histories if s == symbol}, key=_timeframe_ms)
    if not timeframes:
        held = ", ".join(symbols) or "none"
        raise QueryError(f"no candles held for {symbol} (symbols held: {held})")
    timeframe = args.get("timeframe") or timeframes[0]
    if timeframe not in timeframes:
        raise QueryError(
            f"no {symbol} candles in timeframe {timeframe!r} (held: {', '.join(timeframes)})"
        )
    rows = histories[(symbol, timeframe)].recent(n)
    return {
        "symbol": symbol,
        "timeframe": timeframe,
        "timeframes": timeframes,
        "symbols": symbols,
        "candles": [[c.ts, c.open, c.high, c.low, c.close, c.volume] for c in rows],
    }


def _timeframe_ms(timeframe: str) -> float:
    units = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
    try:
        return float(timeframe[:-1]) * units[timeframe[-1]]
    except (KeyError, ValueError, IndexError):
        return float("inf")


def trades(read: JournalRead, run_id: str, args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The run's closed trades (newest last), optionally of one symbol and since a time.

    Each has its entry, exit and the stop it was opened with (the journal's
    position row of its opening), so a chart can draw all three.
    """
    limit = _points(args, "limit", 200)
    symbol = _symbol(args) if args.get("symbol") is not None else None
    since = args.get("since_ts", 0)
    if isinstance(since, bool) or not isinstance(since, int):
        raise QueryError(f"since_ts must be a time in ms, got {since!r}")
    where = "t.run_id = ? AND COALESCE(t.exit_ts, t.entry_ts) >= ?"
    params: tuple[Any, ...] = (run_id, since)
    if symbol is not None:
        where += " AND t.symbol = ?"
        params = (*params, symbol)
    rows = read(
        "SELECT t.id, t.symbol, t.side, t.qty, t.entry_ts, t.entry_price, t.exit_ts, "
        "t.exit_price, t.exit_reason, t.pnl, t.fees, t.r_multiple, t.strategy, "
        "(SELECT p.stop FROM positions p WHERE p.run_id = t.run_id AND p.symbol = t.symbol "
        " AND p.entry_ts = t.entry_ts AND p.action = 'open' ORDER BY p.seq LIMIT 1) AS stop "
        f"FROM trades t WHERE {where} ORDER BY t.exit_ts DESC LIMIT ?",
        (*params, limit),
    )
    return [dict(row) for row in reversed(rows)]


def equity_history(read: JournalRead, run_id: str, args: Mapping[str, Any]) -> dict[str, Any]:
    """The journaled equity points of the run, thinned to every k-th to about ``n``, last kept.

    Each point is ``[ts, equity, balance]``; the running peak and the
    drawdown from it are the caller's to compute.
    """
    n = _points(args, "n", 500)
    count = read("SELECT COUNT(*) AS n FROM equity WHERE run_id = ?", (run_id,))[0]["n"]
    step = max(1, -(-int(count) // n))
    rows = read(
        "SELECT ts, equity, balance FROM (SELECT ts, equity, balance, seq, "
        "ROW_NUMBER() OVER (ORDER BY seq) - 1 AS i FROM equity WHERE run_id = ?) "
        "WHERE i % ? = 0 OR i = ? - 1 ORDER BY seq",
        (run_id, step, count),
    )
    return {"points": [[r["ts"], r["equity"], r["balance"]] for r in rows], "total": count}
