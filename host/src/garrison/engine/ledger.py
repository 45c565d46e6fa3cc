"""The host's own books: balance, positions, trades and the trading state.

The ledger is built from fills only, the way it will be live, where the
exchange is the other party and the two are reconciled. It marks open
positions at the last close it was told about.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs
from garrison_api import (
    AccountState,
    ExitReason,
    Fill,
    Position,
    Side,
    Trade,
    TradingState,
)

DAY_MS = 86_400_000
# A module constant: reading Side.LONG goes through a descriptor in Python 3.11.
_LONG = Side.LONG


class MarkSource(Protocol):
    """Where a symbol's latest close can be read when it is needed, instead of pushed every bar.

    The replay's series state is one: ``closes[pos]`` is the close of the bar
    it is on (``pos`` is -1 before its first bar).
    """

    @property
    def closes(self) -> Sequence[float]: ...

    @property
    def pos(self) -> int: ...


@attrs.define
class _OpenBook:
    """What the ledger remembers about an open position beyond the Position value."""

    entry_fee: float
    initial_risk: float | None
    signal_id: str | None


class Ledger:
    """Balance, positions and state of one account in one run. Used from one thread."""

    def __init__(self, *, starting_balance: float, leverage: float, start_ms: int) -> None:
        self.balance = starting_balance
        self.leverage = leverage
        self.positions: dict[str, Position] = {}
        self.marks: dict[str, float] = {}
        #: Symbols whose mark is read from a source (the replay's one series of
        #: the symbol) rather than taken from ``marks``.
        self.mark_sources: dict[str, MarkSource] = {}
        self.peak_equity = starting_balance
        self.day_start_equity = starting_balance
        self._day = start_ms // DAY_MS
        self.state = TradingState.RUNNING
        self.halted_until: int | None = None
        self._books: dict[str, _OpenBook] = {}
        self._trade_seq = 0

    # -- marking -------------------------------------------------------------

    def _valued(self) -> tuple[float, float]:
        """Unrealised profit and used margin (before leverage), in one pass over the positions."""
        unrealised = 0.0
        exposure = 0.0
        marks = self.marks
        sources = self.mark_sources
        for symbol, pos in self.positions.items():
            source = sources.get(symbol)
            if source is None:
                price = marks.get(symbol, pos.entry_price)
            else:
                at = source.pos
                price = source.closes[at] if at >= 0 else pos.entry_price
            qty = pos.qty
            move = (price - pos.entry_price) * qty
            unrealised += move if pos.side is _LONG else -move
            exposure += qty * price
        return unrealised, exposure

    def unrealised(self) -> float:
        return self._valued()[0]

    def equity(self) -> float:
        return self.balance + self._valued()[0]

    def used_margin(self) -> float:
        return self._valued()[1] / self.leverage

    def _mark_equity(self, ts: int, equity: float) -> None:
        day = ts // DAY_MS
        if day != self._day:
            self._day = day
            self.day_start_equity = equity
        if equity > self.peak_equity:
            self.peak_equity = equity
        if self.halted_until is not None and ts >= self.halted_until:
            self.halted_until = None
            self.state = TradingState.RUNNING

    def mark(self, ts: int) -> float:
        """Update peak and day-start equity at ``ts``; lift an expired timed halt.

        Returns the equity.
        """
        equity = self.equity()
        self._mark_equity(ts, equity)
        return equity

    def snapshot(self, ts: int) -> AccountState:
        """The account at ``ts``, marked as :meth:`mark` does."""
        unrealised, exposure = self._valued()
        equity = self.balance + unrealised
        self._mark_equity(ts, equity)
        return AccountState(
            ts,
            self.balance,
            equity,
            self.peak_equity,
            self.day_start_equity,
            exposure / self.leverage,
            tuple(self.positions.values()),
            self.state,
            self.leverage,
        )

    # -- state ---------------------------------------------------------------

    def halt(self, until: int | None) -> bool:
        """Halt trading (until ``until`` ms, or until resumed). True if this changed anything.

        An indefinite halt outranks a timed one; a later timed halt extends an earlier one.
        """
        if self.state is TradingState.HALTED:
            if self.halted_until is None:
                return False
            if until is not None and until <= self.halted_until:
                return False
        self.state = TradingState.HALTED
        self.halted_until = until
        return True

    def resume(self) -> None:
        """Back to running (an operator's decision)."""
        self.state = TradingState.RUNNING
        self.halted_until = None

    # -- fills ---------------------------------------------------------------

    def open_position(
        self,
        fill: Fill,
        *,
        stop: float | None,
        take_profit: float | None,
        strategy: str,
        signal_id: str | None,
    ) -> Position:
        """Book an entry fill; the symbol must be flat (one position per symbol)."""
        if fill.symbol in self.positions:
            raise RuntimeError(f"entry fill for {fill.symbol} while a position is open")
        symbol, price, qty = fill.symbol, fill.price, fill.qty
        # Positional, in Position's field order: built for every entry.
        pos = Position(
            symbol, fill.side, qty, price, fill.ts, stop, take_profit, strategy, fill.intent_id
        )
        self.positions[symbol] = pos
        self.marks[symbol] = price
        risk = abs(price - stop) * qty if stop is not None else None
        self._books[symbol] = _OpenBook(fill.fee, risk, signal_id)
        self.balance -= fill.fee
        return pos

    def close_position(self, fill: Fill, reason: ExitReason) -> tuple[Trade, str | None]:
        """Book an exit fill of the whole position; returns the trade and its signal id."""
        pos = self.positions.pop(fill.symbol)
        book = self._books.pop(fill.symbol)
        self.marks.pop(fill.symbol, None)
        sign = 1 if pos.side is _LONG else -1
        gross = (fill.price - pos.entry_price) * pos.qty * sign
        fees = book.entry_fee + fill.fee
        self.balance += gross - fill.fee
        pnl = gross - fees
        self._trade_seq += 1
        r = pnl / book.initial_risk if book.initial_risk else None
        trade = Trade(  # positional, in Trade's field order
            str(self._trade_seq),
            pos.symbol,
            pos.side,
            pos.qty,
            pos.entry_ts,
            pos.entry_price,
            fill.ts,
            fill.price,
            reason,
            pnl,
            fees,
            r,
            pos.strategy,
        )
        return trade, book.signal_id
