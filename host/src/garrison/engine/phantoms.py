"""Phantom trades: every signal followed to the outcome it would have had.

Scorers learn from outcomes, and most signals are never traded (gated,
vetoed, too small), so each entry signal with a stop becomes a phantom: it
"fills" at the next bar's open like a real order, then resolves on its stop
or target (the broker's intrabar rules, stop first), on the strategy's exit
signal for that symbol and side, or after ``max_bars`` bars at the close.
A phantom whose signal really gets filled is dropped: the trade is its outcome.
"""

from __future__ import annotations

import math

import attrs
from garrison_api import ExitReason, Outcome, Side, Signal

_LONG = Side.LONG


@attrs.define
class Phantom:
    signal_id: str
    strategy: str
    signal: Signal
    entry: float = math.nan
    stop: float = math.nan
    take_profit: float | None = None
    bars: int = 0


class PhantomTracker:
    """Open phantoms by symbol. Used from the engine's thread only."""

    def __init__(self, *, max_bars: int, stop_first: bool = True) -> None:
        self._max_bars = max_bars
        self._stop_first = stop_first
        self.by_symbol: dict[str, list[Phantom]] = {}

    def open_list(self, symbol: str) -> list[Phantom]:
        """The (live, updated in place) list of open phantoms of ``symbol``."""
        return self.by_symbol.setdefault(symbol, [])

    def open(self, signal_id: str, strategy: str, signal: Signal) -> None:
        """Start following an entry signal; signals without a stop have no R and are skipped."""
        if signal.stop is None or math.isnan(signal.entry):
            return
        self.by_symbol.setdefault(signal.symbol, []).append(Phantom(signal_id, strategy, signal))

    def drop(self, symbol: str, signal_id: str) -> None:
        """Forget a phantom whose signal became a real position."""
        phantoms = self.by_symbol.get(symbol)
        if not phantoms:
            return
        # Signal ids are unique: there is at most one to remove.
        for at, p in enumerate(phantoms):
            if p.signal_id == signal_id:
                del phantoms[at]
                return

    def exit_signal(
        self, symbol: str, strategy: str, side: Side, price: float, ts: int
    ) -> list[tuple[str, Outcome]]:
        """The strategy asked to exit ``side`` in ``symbol``: its phantoms there close at ``price``.

        ``price`` is the close the exit was decided at (phantoms do not wait for the next open).
        """
        phantoms = self.by_symbol.get(symbol)
        if not phantoms:
            return []
        done: list[tuple[str, Outcome]] = []
        keep: list[Phantom] = []
        for p in phantoms:
            if p.strategy == strategy and p.signal.side is side and p.bars > 0:
                done.append((p.signal_id, self._outcome(p, price, ExitReason.SIGNAL, ts)))
            else:
                keep.append(p)
        phantoms[:] = keep
        return done

    def on_bar(
        self, symbol: str, ts: int, open_: float, high: float, low: float, close: float
    ) -> list[tuple[str, Outcome]]:
        """Advance the phantoms of ``symbol`` by one bar; returns those that resolved."""
        phantoms = self.by_symbol.get(symbol)
        if not phantoms:
            return []
        done: list[tuple[str, Outcome]] = []
        keep: list[Phantom] = []
        for p in phantoms:
            outcome = self._advance(p, ts, open_, high, low, close)
            if outcome is None:
                keep.append(p)
            else:
                done.append((p.signal_id, outcome))
        phantoms[:] = keep
        return done

    def _advance(
        self, p: Phantom, ts: int, open_: float, high: float, low: float, close: float
    ) -> Outcome | None:
        s = p.signal
        long = s.side is _LONG
        if p.bars == 0:
            p.entry = open_
            shift = open_ - s.entry if s.bracket_from_fill else 0.0
            assert s.stop is not None
            p.stop = s.stop + shift
            p.take_profit = None if s.take_profit is None else s.take_profit + shift
        p.bars += 1
        stop_hit = low <= p.stop if long else high >= p.stop
        tp = p.take_profit
        tp_hit = tp is not None and (high >= tp if long else low <= tp)
        if stop_hit and (not tp_hit or self._stop_first):
            level = min(open_, p.stop) if long else max(open_, p.stop)
            return self._outcome(p, level, ExitReason.STOP, ts)
        if tp_hit:
            assert tp is not None
            level = max(open_, tp) if long else min(open_, tp)
            return self._outcome(p, level, ExitReason.TAKE_PROFIT, ts)
        if p.bars >= self._max_bars:
            return self._outcome(p, close, ExitReason.HORIZON, ts)
        return None

    @staticmethod
    def _outcome(p: Phantom, price: float, reason: ExitReason, ts: int) -> Outcome:
        risk = abs(p.entry - p.stop)
        move = (price - p.entry) * p.signal.side.sign
        r = move / risk if risk > 0 else 0.0
        return Outcome(
            signal=p.signal,
            strategy=p.strategy,
            r_multiple=r,
            exit_reason=reason,
            closed_ts=ts,
            phantom=True,
        )
