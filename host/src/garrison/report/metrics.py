"""Backtest metrics: a :class:`Report` computed from closed trades and the equity curve.

Conventions, chosen once here so every consumer reads the same numbers:

- A trade wins when ``pnl > 0`` and loses when ``pnl < 0``; a trade at exactly
  zero is neither (it still counts in ``trades`` and in the win-rate denominator).
- ``gross_loss`` is a positive amount; ``avg_loss`` is negative.
- ``profit_factor`` is gross profit / gross loss, and ``None`` whenever there
  is no losing trade: the ratio is then infinite or 0/0, and ``None`` keeps the
  report JSON-safe and stops sorts from crowning a one-trade winner.
- Ratios over no trades (win rate, averages, expectancy) are ``None``, not 0.
- ``max_drawdown`` is a fraction of the running peak and ``max_drawdown_usdt``
  an amount; each is its own maximum over the curve (they can fall on
  different points). The starting balance is the first peak. The curve's
  points are sparse (hourly and at trade exits); a run that kept its deepest
  drawdown on every close (``marked_drawdown``) reports the deeper of the two.
- ``sharpe`` is annualised with sqrt(365) from DAILY returns: the curve is
  resampled to the last equity of each UTC day (days without points carry the
  previous day's equity), the starting balance opens the first day, and the
  risk-free rate is 0. ``None`` with fewer than 2 days or flat equity.
- With an empty equity curve, the realised curve (starting balance plus
  cumulative pnl at each exit) stands in for it.
- ``ending_equity`` is the last point of the equity curve (open positions
  marked to market); ``ending_balance`` is realised: the starting balance
  plus the pnl of the closed trades (net of their fees). They differ by the
  open positions' unrealised pnl. ``return_pct`` is on equity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt
from garrison_api.types import Side, Trade

_DAY_MS = 86_400_000
_DAYS_PER_YEAR = 365


@attrs.frozen
class SymbolStats:
    """Per-symbol slice of a :class:`Report` (same conventions)."""

    symbol: str
    trades: int
    wins: int
    losses: int
    win_rate: float | None
    net_pnl: float
    profit_factor: float | None
    expectancy_r: float | None


@attrs.frozen
class Report:
    """Summary of a backtest (or of any closed run). Amounts in USDT, times in UTC epoch ms."""

    starting_balance: float
    #: Realised: starting balance plus the closed trades' pnl.
    ending_balance: float
    #: The last equity point: balance plus the open positions' unrealised pnl.
    ending_equity: float
    #: Percent of equity, e.g. 12.5 for +12.5 %.
    return_pct: float
    start_ts: int | None
    end_ts: int | None
    trades: int
    wins: int
    losses: int
    longs: int
    shorts: int
    win_rate: float | None
    gross_profit: float
    gross_loss: float
    net_pnl: float
    fees: float
    profit_factor: float | None
    expectancy_r: float | None
    avg_win: float | None
    avg_loss: float | None
    largest_win: float | None
    largest_loss: float | None
    #: Fraction of the running peak, 0.25 for a 25 % drawdown.
    max_drawdown: float
    max_drawdown_usdt: float
    sharpe: float | None
    #: Fraction of the run's span with at least one position open.
    exposure: float | None
    avg_duration_ms: float | None
    max_duration_ms: int | None
    per_symbol: tuple[SymbolStats, ...]
    #: Positions still open when the run ended (not trades), when the caller said.
    open_positions: int | None = None


@attrs.frozen
class _TradeStats:
    trades: int
    wins: int
    losses: int
    win_rate: float | None
    gross_profit: float
    gross_loss: float
    net_pnl: float
    profit_factor: float | None
    expectancy_r: float | None
    avg_win: float | None
    avg_loss: float | None
    largest_win: float | None
    largest_loss: float | None


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _trade_stats(trades: Sequence[Trade]) -> _TradeStats:
    pnls = [t.pnl for t in trades]
    won = [p for p in pnls if p > 0]
    lost = [p for p in pnls if p < 0]
    gross_profit = math.fsum(won)
    gross_loss = 0.0 - math.fsum(lost)  # 0.0, not -0.0, without losses
    r_multiples = [t.r_multiple for t in trades if t.r_multiple is not None]
    return _TradeStats(
        trades=len(trades),
        wins=len(won),
        losses=len(lost),
        win_rate=len(won) / len(trades) if trades else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        net_pnl=math.fsum(pnls),
        profit_factor=gross_profit / gross_loss if lost else None,
        expectancy_r=_mean(r_multiples),
        avg_win=_mean(won),
        avg_loss=_mean(lost),
        largest_win=max(won) if won else None,
        largest_loss=min(lost) if lost else None,
    )


def _check_trades(trades: Sequence[Trade]) -> None:
    for trade in trades:
        if not math.isfinite(trade.pnl):
            raise ValueError(f"trade {trade.id!r} ({trade.symbol}): pnl is {trade.pnl!r}")
        if trade.exit_ts < trade.entry_ts:
            raise ValueError(
                f"trade {trade.id!r} ({trade.symbol}): exit_ts={trade.exit_ts} is before "
                f"entry_ts={trade.entry_ts}"
            )


def _equity_arrays(
    equity: Sequence[tuple[int, float]], trades: Sequence[Trade], starting_balance: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    if not equity:
        closed = sorted(trades, key=lambda t: t.exit_ts)
        ts = np.array([t.exit_ts for t in closed], dtype=np.int64)
        values = starting_balance + np.cumsum([t.pnl for t in closed], dtype=np.float64)
        return ts, values.astype(np.float64)
    ts = np.array([point[0] for point in equity], dtype=np.int64)
    values = np.array([point[1] for point in equity], dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"equity point {i} (ts={int(ts[i])}) has value {values[i]!r}")
    back = np.flatnonzero(np.diff(ts) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise ValueError(
            f"equity point {i} (ts={int(ts[i])}) is earlier than point {i - 1} "
            f"(ts={int(ts[i - 1])}); the curve must be in time order"
        )
    return ts, values


def _max_drawdown(values: npt.NDArray[np.float64], starting_balance: float) -> tuple[float, float]:
    if values.size == 0:
        return 0.0, 0.0
    curve = np.concatenate(([starting_balance], values))
    peak = np.maximum.accumulate(curve)
    drop = peak - curve
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(peak > 0, drop / peak, 0.0)
    return float(fraction.max()), float(drop.max())


def _sharpe(
    ts: npt.NDArray[np.int64], values: npt.NDArray[np.float64], starting_balance: float
) -> float | None:
    if ts.size == 0:
        return None
    days = ts // _DAY_MS
    all_days = np.arange(days[0], days[-1] + 1)
    if all_days.size < 2:
        return None
    # Last point at or before the end of each day: gaps carry the previous close.
    closes = values[np.searchsorted(days, all_days, side="right") - 1]
    closes = np.concatenate(([starting_balance], closes))
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = closes[1:] / closes[:-1] - 1.0
    if not np.all(np.isfinite(returns)):
        return None
    std = float(np.std(returns, ddof=1))
    if std == 0.0 or not math.isfinite(std):
        return None
    return float(np.mean(returns)) / std * math.sqrt(_DAYS_PER_YEAR)


def _open_time_ms(trades: Sequence[Trade]) -> int:
    # Length of the union of [entry, exit] intervals: overlapping positions count once.
    total = 0
    cur_start: int | None = None
    cur_end = 0
    for trade in sorted(trades, key=lambda t: t.entry_ts):
        if cur_start is None or trade.entry_ts > cur_end:
            if cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = trade.entry_ts, trade.exit_ts
        else:
            cur_end = max(cur_end, trade.exit_ts)
    if cur_start is not None:
        total += cur_end - cur_start
    return total


def compute_report(
    trades: Sequence[Trade],
    equity: Sequence[tuple[int, float]],
    *,
    starting_balance: float,
    open_positions: int | None = None,
    marked_drawdown: tuple[float, float] | None = None,
) -> Report:
    """Compute the :class:`Report` of a run (conventions in the module docstring).

    ``equity`` is ``(ts, equity)`` points in time order, ideally with a point at
    every trade close. ``open_positions`` is how many positions were still
    open at the end, when known. ``marked_drawdown`` is ``(fraction, amount)``
    of the deepest drawdown the engine saw on every close, when known.
    Raises ``ValueError`` naming the trade or point at fault for a
    non-positive starting balance, a non-finite pnl or equity, an exit before
    its entry, an equity curve out of time order, a negative
    ``open_positions`` or a ``marked_drawdown`` out of range.
    """
    if not (math.isfinite(starting_balance) and starting_balance > 0):
        raise ValueError(f"starting_balance must be a positive number, got {starting_balance!r}")
    whole = isinstance(open_positions, int) and not isinstance(open_positions, bool)
    if open_positions is not None and not (whole and open_positions >= 0):
        raise ValueError(f"open_positions must be a whole number >= 0, got {open_positions!r}")
    _check_trades(trades)
    ts, values = _equity_arrays(equity, trades, starting_balance)
    totals = _trade_stats(trades)
    balance = starting_balance + totals.net_pnl
    ending = float(values[-1]) if values.size else balance
    max_dd, max_dd_usdt = _max_drawdown(values, starting_balance)
    if marked_drawdown is not None:
        marked, marked_usdt = (float(x) for x in marked_drawdown)
        if not (0.0 <= marked <= 1.0 and math.isfinite(marked_usdt) and marked_usdt >= 0.0):
            raise ValueError(
                "marked_drawdown must be (fraction in [0, 1], amount >= 0), "
                f"got {marked_drawdown!r}"
            )
        max_dd, max_dd_usdt = max(max_dd, marked), max(max_dd_usdt, marked_usdt)

    bounds = [int(x) for x in ts[[0, -1]]] if ts.size else []
    bounds += [t.entry_ts for t in trades] + [t.exit_ts for t in trades]
    start_ts = min(bounds) if bounds else None
    end_ts = max(bounds) if bounds else None
    span = (end_ts - start_ts) if start_ts is not None and end_ts is not None else 0
    durations = [t.exit_ts - t.entry_ts for t in trades]

    by_symbol: dict[str, list[Trade]] = {}
    for trade in trades:
        by_symbol.setdefault(trade.symbol, []).append(trade)
    per_symbol = tuple(_symbol_stats(symbol, group) for symbol, group in sorted(by_symbol.items()))

    return Report(
        starting_balance=starting_balance,
        ending_balance=balance,
        ending_equity=ending,
        return_pct=(ending / starting_balance - 1.0) * 100.0,
        start_ts=start_ts,
        end_ts=end_ts,
        trades=totals.trades,
        wins=totals.wins,
        losses=totals.losses,
        longs=sum(1 for t in trades if t.side is Side.LONG),
        shorts=sum(1 for t in trades if t.side is Side.SHORT),
        win_rate=totals.win_rate,
        gross_profit=totals.gross_profit,
        gross_loss=totals.gross_loss,
        net_pnl=totals.net_pnl,
        fees=math.fsum(t.fees for t in trades),
        profit_factor=totals.profit_factor,
        expectancy_r=totals.expectancy_r,
        avg_win=totals.avg_win,
        avg_loss=totals.avg_loss,
        largest_win=totals.largest_win,
        largest_loss=totals.largest_loss,
        max_drawdown=max_dd,
        max_drawdown_usdt=max_dd_usdt,
        sharpe=_sharpe(ts, values, starting_balance),
        exposure=_open_time_ms(trades) / span if span > 0 else None,
        avg_duration_ms=_mean([float(d) for d in durations]),
        max_duration_ms=max(durations) if durations else None,
        per_symbol=per_symbol,
        open_positions=open_positions,
    )


def _symbol_stats(symbol: str, trades: Sequence[Trade]) -> SymbolStats:
    stats = _trade_stats(trades)
    return SymbolStats(
        symbol=symbol,
        trades=stats.trades,
        wins=stats.wins,
        losses=stats.losses,
        win_rate=stats.win_rate,
        net_pnl=stats.net_pnl,
        profit_factor=stats.profit_factor,
        expectancy_r=stats.expectancy_r,
    )
