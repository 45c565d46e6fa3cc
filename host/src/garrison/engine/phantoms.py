"""Phantom trades: every signal followed to the outcome it would have had.

Scorers learn from outcomes, and most signals are never traded (gated,
vetoed, too small), so each entry signal with a stop becomes a phantom: it
"fills" at the next bar's open like a real order, then resolves on its stop
or target (the broker's intrabar rules, stop first), on the strategy's exit
signal for that symbol and side, or at the close of the bar where its
horizon runs out: the signal's ``horizon_ms`` of market time after the
phantom's fill when it sets one, else ``max_bars`` bars of the symbol's
execution series. Phantoms advance only on execution bars (the finest
timeframe of each symbol); a coarser bar would stop them out before they
were opened. A phantom whose signal really gets filled stops resolving on
its own: the trade is its outcome. It moves to :attr:`PhantomTracker.taken`
(one per symbol) until the trade closes, and the trade's excursions come from
the highest high and lowest low of the symbol's execution bars from the fill's
bar to the one before the exit (:meth:`PhantomTracker.take`,
:meth:`PhantomTracker.release`): the step driver widens them bar by bar
(:meth:`PhantomTracker.mark`); the replay driver, which holds every bar, looks
the range up once when the trade closes (:attr:`PhantomTracker.history`).
Signals marked ``execute=False`` are phantoms and nothing more.

A phantom pays what its trade would at the simulated broker: its entry and
its market exits (stop, horizon, exit signal) move against it by the
slippage and pay the taker fee, a take-profit pays the maker fee, and its R
is net of both fees, as a trade's is.

Every outcome carries its maximum favourable and adverse excursion in R
(``mfe_r``, ``mae_r``): from the bars the phantom was open, and on the bar
that resolves it only what the intrabar rules say came before the exit (a
stop-out, judged stop first, takes no favourable move of its bar).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

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
    #: The score the signal got (see ``Outcome.score``).
    score: float | None = None
    #: Close time (ms) of the bar at which the horizon runs out; set at the fill.
    deadline_ms: int | None = None
    #: The most favourable and most adverse prices seen since the fill (NaN before it).
    best: float = math.nan
    worst: float = math.nan
    #: The signal became a real position: the drivers keep the bars' extremes
    #: (``high``, ``low``) until its trade closes; it never resolves on its own.
    taken: bool = False
    high: float = -math.inf
    low: float = math.inf
    #: Open time (ms) of the bar the taken signal's position was filled in.
    filled_ts: int | None = None

    def excursions(self, entry: float, exit_price: float) -> tuple[float, float] | None:
        """(mfe_r, mae_r) of a trade entered at ``entry`` and left at ``exit_price``.

        In units of the initial risk, ``entry`` to the stop; the extremes seen
        so far and the exit price count (a trade closed on the bar it opened
        on has no bar of its own yet). None without risk.
        """
        s = self.signal
        long = s.side is _LONG
        if self.taken:
            assert s.stop is not None
            stop = s.stop + (entry - s.entry if s.bracket_from_fill else 0.0)
            high = self.high if self.high > entry else entry
            low = self.low if self.low < entry else entry
            best, worst = (high, low) if long else (low, high)
        else:
            stop, best, worst = self.stop, self.best, self.worst
        risk = abs(entry - stop)
        if not risk > 0:
            return None
        # Plain comparisons, not max() and min(): this runs for every outcome.
        if long:
            if exit_price > best:
                best = exit_price
            if exit_price < worst:
                worst = exit_price
            up, down = best - entry, entry - worst
        else:
            if exit_price < best:
                best = exit_price
            if exit_price > worst:
                worst = exit_price
            up, down = entry - best, worst - entry
        return (up / risk if up > 0.0 else 0.0, down / risk if down > 0.0 else 0.0)


class PhantomTracker:
    """Open phantoms by symbol. Used from the engine's thread only."""

    def __init__(
        self,
        *,
        max_bars: int,
        stop_first: bool = True,
        slippage_bps: float = 0.0,
        taker_fee: float = 0.0,
        maker_fee: float = 0.0,
    ) -> None:
        self._max_bars = max_bars
        self._stop_first = stop_first
        # The simulated broker's costs, so a phantom's R is what its trade's would be:
        # market fills (the entry, a stop, a horizon or exit signal) move against the
        # trader by the slippage and pay the taker fee; a take-profit pays the maker fee.
        self._slip = slippage_bps / 10_000.0
        self._taker = taker_fee
        self._maker = maker_fee
        self.by_symbol: dict[str, list[Phantom]] = {}
        #: The phantom of each symbol's open position, keeping its bars' extremes.
        self.taken: dict[str, Phantom] = {}
        #: ``history(symbol, since_ts)``: the (highest high, lowest low) of the
        #: symbol's execution bars from ``since_ts`` to the one before the
        #: current bar, or None when there are none. A driver that holds the
        #: bars sets it and does not call :meth:`mark`.
        self.history: Callable[[str, int], tuple[float, float] | None] | None = None
        #: Bar length (ms) of each symbol's execution series, for ``horizon_ms``.
        self.bar_ms: dict[str, int] = {}

    def open_list(self, symbol: str) -> list[Phantom]:
        """The (live, updated in place) list of open phantoms of ``symbol``."""
        return self.by_symbol.setdefault(symbol, [])

    def open(
        self, signal_id: str, strategy: str, signal: Signal, score: float | None = None
    ) -> None:
        """Start following an entry signal; signals without a stop have no R and are skipped."""
        if signal.stop is None or math.isnan(signal.entry):
            return
        self.by_symbol.setdefault(signal.symbol, []).append(
            Phantom(signal_id, strategy, signal, score=score)
        )

    def drop(self, symbol: str, signal_id: str) -> Phantom | None:
        """Forget the phantom of ``signal_id``; return it (None when there is none)."""
        phantoms = self.by_symbol.get(symbol)
        if not phantoms:
            return None
        # Signal ids are unique: there is at most one to remove.
        for at, p in enumerate(phantoms):
            if p.signal_id == signal_id:
                del phantoms[at]
                return p
        return None

    def take(self, symbol: str, signal_id: str, filled_ts: int) -> bool:
        """The signal became ``symbol``'s position, filled in the bar opening at ``filled_ts``.

        Its phantom moves to :attr:`taken`; the trade's close gives the
        outcome (see :meth:`release`). False when the signal has no open
        phantom (no stop, or already resolved).
        """
        p = self.drop(symbol, signal_id)
        if p is None:
            return False
        p.taken = True
        p.filled_ts = filled_ts
        self.taken[symbol] = p
        return True

    def mark(self, symbol: str, high: float, low: float) -> None:
        """One execution bar of ``symbol``: widen its taken phantom's extremes, if it has one.

        The replay driver does the same inline.
        """
        p = self.taken.get(symbol)
        if p is not None:
            if high > p.high:
                p.high = high
            if low < p.low:
                p.low = low

    def release(self, symbol: str, signal_id: str) -> Phantom | None:
        """The trade of a taken signal closed: stop following it and return its phantom.

        The phantom then holds the extremes of the trade's bars before the
        exit's (see :attr:`history`).
        """
        p = self.taken.get(symbol)
        if p is None or p.signal_id != signal_id:
            return self.drop(symbol, signal_id)
        del self.taken[symbol]
        history = self.history
        if history is not None and p.filled_ts is not None:
            extremes = history(symbol, p.filled_ts)
            if extremes is not None:
                high, low = extremes
                if high > p.high:
                    p.high = high
                if low < p.low:
                    p.low = low
        return p

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
                exit_price = self._against(p, price)
                done.append(
                    (p.signal_id, self._outcome(p, exit_price, ExitReason.SIGNAL, ts, self._taker))
                )
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
            slip = self._slip
            entry = open_ * (1.0 + slip) if long else open_ * (1.0 - slip)
            p.entry = p.best = p.worst = entry
            shift = entry - s.entry if s.bracket_from_fill else 0.0
            assert s.stop is not None
            p.stop = s.stop + shift
            p.take_profit = None if s.take_profit is None else s.take_profit + shift
            if s.horizon_ms is not None:
                p.deadline_ms = ts + int(s.horizon_ms)
        p.bars += 1
        up, down = (high, low) if long else (low, high)
        stop_hit = low <= p.stop if long else high >= p.stop
        tp = p.take_profit
        tp_hit = tp is not None and (high >= tp if long else low <= tp)
        if stop_hit and (not tp_hit or self._stop_first):
            # Stop first: nothing favourable of this bar happened before it.
            level = min(open_, p.stop) if long else max(open_, p.stop)
            return self._outcome(p, self._against(p, level), ExitReason.STOP, ts, self._taker)
        sign = s.side.sign
        # Every other way out leaves the whole adverse side of the bar before it.
        if (p.worst - down) * sign > 0:
            p.worst = down
        if tp_hit:
            assert tp is not None
            level = max(open_, tp) if long else min(open_, tp)
            return self._outcome(p, level, ExitReason.TAKE_PROFIT, ts, self._maker)
        if (up - p.best) * sign > 0:
            p.best = up
        deadline = p.deadline_ms
        if deadline is None:
            if p.bars >= self._max_bars:
                return self._outcome(
                    p, self._against(p, close), ExitReason.HORIZON, ts, self._taker
                )
        elif ts + self.bar_ms.get(s.symbol, 0) >= deadline:
            return self._outcome(p, self._against(p, close), ExitReason.HORIZON, ts, self._taker)
        return None

    def _against(self, p: Phantom, price: float) -> float:
        """``price`` moved against a market exit of ``p`` by the slippage."""
        slip = self._slip
        if not slip:
            return price
        return price * (1.0 - slip) if p.signal.side is _LONG else price * (1.0 + slip)

    def _outcome(
        self, p: Phantom, price: float, reason: ExitReason, ts: int, exit_fee: float
    ) -> Outcome:
        risk = abs(p.entry - p.stop)
        # Net of both fees, per unit, as a trade's R is.
        move = (price - p.entry) * p.signal.side.sign - self._taker * p.entry - exit_fee * price
        r = move / risk if risk > 0 else 0.0
        excursions = p.excursions(p.entry, price)
        mfe, mae = excursions if excursions is not None else (None, None)
        return Outcome(
            p.signal,
            p.strategy,
            r,
            reason,
            ts,
            True,
            p.signal_id,
            p.score,
            p.entry,
            price,
            mfe,
            mae,
        )

    # -- restart state ---------------------------------------------------------

    def open_phantoms(self) -> list[Phantom]:
        """Every open phantom, by symbol then age, then the taken ones by symbol."""
        followed = [p for symbol in sorted(self.by_symbol) for p in self.by_symbol[symbol]]
        return followed + [self.taken[symbol] for symbol in sorted(self.taken)]

    def restore(self, phantoms: list[Phantom]) -> None:
        """Replace the open phantoms (in place: the replay holds the per-symbol lists)."""
        for items in self.by_symbol.values():
            items.clear()
        self.taken.clear()
        for p in phantoms:
            if p.taken:
                self.taken[p.signal.symbol] = p
            else:
                self.by_symbol.setdefault(p.signal.symbol, []).append(p)


def phantom_fields(p: Phantom) -> dict[str, Any]:
    """The plain fields of a phantom besides its signal (for the restart checkpoint)."""
    return {
        "signal_id": p.signal_id,
        "strategy": p.strategy,
        "entry": p.entry,
        "stop": p.stop,
        "take_profit": p.take_profit,
        "bars": p.bars,
        "score": p.score,
        "deadline_ms": p.deadline_ms,
        "best": p.best,
        "worst": p.worst,
        "taken": p.taken,
        "high": p.high,
        "low": p.low,
        "filled_ts": p.filled_ts,
    }
