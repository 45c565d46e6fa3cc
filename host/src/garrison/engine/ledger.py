"""The host's own books: balance, positions, trades and the trading state.

The ledger is built from fills only, the way it will be live, where the
exchange is the other party and the two are reconciled. It marks open
positions at the last close it was told about.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import attrs
from garrison_api import (
    AccountState,
    ExitReason,
    Fill,
    OrderIntent,
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
    """What the ledger remembers about an open position beyond the Position value.

    Partial exits realise their profit as they come; the trade closes when
    the quantity reaches zero, with every fee of the round trip in its pnl.
    """

    entry_fee: float
    initial_risk: float | None
    signal_id: str | None
    #: Largest quantity the position reached: the trade's size.
    max_qty: float
    realised: float = 0.0
    exit_fees: float = 0.0
    exit_qty: float = 0.0
    exit_notional: float = 0.0


#: Quantities within this fraction of a position's size count as all of it.
_QTY_TOL = 1e-9


class Ledger:
    """Balance, positions and state of one account in one run. Used from one thread.

    Built from fills only, as execution reports deliver them, partial fills
    included: an entry fill opens a position or adds to it at the
    quantity-weighted price; a reducing fill realises profit on its quantity
    and closes the trade when nothing is left.
    """

    def __init__(self, *, starting_balance: float, leverage: float, start_ms: int) -> None:
        self.balance = starting_balance
        self.leverage = leverage
        self.positions: dict[str, Position] = {}
        self.marks: dict[str, float] = {}
        #: Symbols whose mark is read from a source (the replay's execution
        #: series of the symbol) rather than taken from ``marks``.
        self.mark_sources: dict[str, MarkSource] = {}
        self.peak_equity = starting_balance
        #: Deepest fall from the running peak seen on a mark: as a fraction of
        #: that peak, and in account currency (each its own deepest).
        self.max_drawdown = 0.0
        self.max_drawdown_usdt = 0.0
        self.day_start_equity = starting_balance
        self._day = start_ms // DAY_MS
        self.state = TradingState.RUNNING
        self.halted_until: int | None = None
        self._books: dict[str, _OpenBook] = {}
        self._trade_seq = 0
        # (mark source, symbol, signed quantity, entry price) per position: what
        # mark() reads on every step, changed only when a position changes.
        self._valuation: dict[str, tuple[MarkSource | None, str, float, float]] = {}

    # -- marking -------------------------------------------------------------

    def _revalue(self, symbol: str) -> None:
        pos = self.positions.get(symbol)
        if pos is None:
            self._valuation.pop(symbol, None)
            return
        signed = pos.qty if pos.side is _LONG else -pos.qty
        self._valuation[symbol] = (self.mark_sources.get(symbol), symbol, signed, pos.entry_price)

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

    def detach_sources(self) -> None:
        """Keep the marks the sources give now, and let go of the sources.

        A replay's series (the sources) are large: once the replay is over,
        the ledger keeps their last closes and nothing else of them.
        """
        for symbol, source in self.mark_sources.items():
            if source.pos >= 0:
                self.marks[symbol] = source.closes[source.pos]
        self.mark_sources = {}
        for symbol in list(self._valuation):
            self._revalue(symbol)

    def mark_price(self, symbol: str) -> float | None:
        """The price ``symbol`` is marked at now (its last close), None if never marked."""
        source = self.mark_sources.get(symbol)
        if source is not None:
            return source.closes[source.pos] if source.pos >= 0 else None
        price = self.marks.get(symbol)
        if price is None:
            held = self.positions.get(symbol)
            return None if held is None else held.entry_price
        return price

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
        peak = self.peak_equity
        if equity > peak:
            self.peak_equity = equity
        elif equity < peak:
            fall = peak - equity
            if fall > self.max_drawdown_usdt:
                self.max_drawdown_usdt = fall
            if peak > 0 and fall / peak > self.max_drawdown:
                self.max_drawdown = fall / peak
        if self.halted_until is not None and ts >= self.halted_until:
            self.halted_until = None
            self.state = TradingState.RUNNING

    def mark(self, ts: int) -> float:
        """Update peak and day-start equity at ``ts``; lift an expired timed halt.

        Returns the equity. The step processor calls it on every step with a
        position open (the kill switches judge its answer), so it reads the
        prepared valuation rows rather than the positions.
        """
        unrealised = 0.0
        marks = self.marks
        for source, symbol, signed_qty, entry in self._valuation.values():
            if source is None:
                price = marks.get(symbol, entry)
            else:
                at = source.pos
                price = source.closes[at] if at >= 0 else entry
            unrealised += signed_qty * (price - entry)
        equity = self.balance + unrealised
        self._mark_equity(ts, equity)
        return equity

    def snapshot(self, ts: int, pending: tuple[OrderIntent, ...] = ()) -> AccountState:
        """The account at ``ts``, marked as :meth:`mark` does, with ``pending`` orders."""
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
            pending,
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
        """Book an entry fill: a new position, or more of the same side's (partial fills).

        Refuses (RuntimeError) an entry fill against a position of the other
        side: the host never sends one, so it is a venue or host error.
        """
        symbol, price, qty = fill.symbol, fill.price, fill.qty
        held = self.positions.get(symbol)
        self.balance -= fill.fee
        if held is None:
            # Positional, in Position's field order: built for every entry.
            pos = Position(
                symbol,
                fill.side,
                qty,
                price,
                fill.ts,
                stop,
                take_profit,
                strategy,
                fill.intent_id,
                signal_id,
            )
            self.positions[symbol] = pos
            self.marks[symbol] = price
            risk = abs(price - stop) * qty if stop is not None else None
            self._books[symbol] = _OpenBook(fill.fee, risk, signal_id, qty)
            self._revalue(symbol)
            return pos
        if held.side is not fill.side:
            raise RuntimeError(
                f"entry fill {fill.side.value} {qty:g} {symbol} against a held "
                f"{held.side.value} position: the host never sends one"
            )
        book = self._books[symbol]
        total = held.qty + qty
        average = (held.qty * held.entry_price + qty * price) / total
        stop = held.stop if stop is None else stop
        take_profit = held.take_profit if take_profit is None else take_profit
        pos = attrs.evolve(held, qty=total, entry_price=average, stop=stop, take_profit=take_profit)
        self.positions[symbol] = pos
        book.entry_fee += fill.fee
        book.max_qty = max(book.max_qty, total)
        book.initial_risk = abs(average - stop) * total if stop is not None else None
        self._revalue(symbol)
        return pos

    def reduce_position(
        self, fill: Fill, reason: ExitReason
    ) -> tuple[Position, Trade | None, str | None]:
        """Book a reducing fill; returns the position after it, the trade if it closed, its signal.

        A fill larger than the position closes it (the excess is a venue
        error the caller reports; nothing is opened the other way).
        """
        pos = self.positions[fill.symbol]
        book = self._books[fill.symbol]
        qty = min(fill.qty, pos.qty)
        sign = 1 if pos.side is _LONG else -1
        gross = (fill.price - pos.entry_price) * qty * sign
        self.balance += gross - fill.fee
        first_exit = book.exit_qty == 0.0
        if first_exit:
            # Assigned, not added to 0.0: a single exit keeps the exact floats
            # (0.0 + -0.0 would turn a -0.0 pnl into 0.0).
            book.realised, book.exit_fees = gross, fill.fee
            book.exit_qty, book.exit_notional = qty, qty * fill.price
        else:
            book.realised += gross
            book.exit_fees += fill.fee
            book.exit_qty += qty
            book.exit_notional += qty * fill.price
        left = pos.qty - qty
        if left > _QTY_TOL * book.max_qty:
            pos = attrs.evolve(pos, qty=left)
            self.positions[fill.symbol] = pos
            self._revalue(fill.symbol)
            return pos, None, book.signal_id
        del self.positions[fill.symbol]
        del self._books[fill.symbol]
        self.marks.pop(fill.symbol, None)
        self._valuation.pop(fill.symbol, None)
        fees = book.entry_fee + book.exit_fees
        pnl = book.realised - fees
        exit_price = fill.price if first_exit else book.exit_notional / book.exit_qty
        self._trade_seq += 1
        r = pnl / book.initial_risk if book.initial_risk else None
        trade = Trade(  # positional, in Trade's field order
            str(self._trade_seq),
            pos.symbol,
            pos.side,
            book.max_qty,
            pos.entry_ts,
            pos.entry_price,
            fill.ts,
            exit_price,
            reason,
            pnl,
            fees,
            r,
            pos.strategy,
        )
        return pos, trade, book.signal_id

    def close_position(self, fill: Fill, reason: ExitReason) -> tuple[Trade, str | None]:
        """Book an exit fill of the whole position; returns the trade and its signal id."""
        pos = self.positions[fill.symbol]
        if fill.qty < pos.qty * (1.0 - _QTY_TOL):
            raise ValueError(
                f"close_position: fill of {fill.qty:g} does not close {pos.qty:g} {fill.symbol}; "
                "use reduce_position for partial exits"
            )
        _, trade, signal_id = self.reduce_position(fill, reason)
        assert trade is not None
        return trade, signal_id

    # -- restart state ---------------------------------------------------------

    def snapshot_state(self) -> dict[str, Any]:
        """Everything a restart needs to carry on these books (JSON-able)."""
        return {
            "balance": self.balance,
            "peak_equity": self.peak_equity,
            "max_drawdown": self.max_drawdown,
            "max_drawdown_usdt": self.max_drawdown_usdt,
            "day_start_equity": self.day_start_equity,
            "day": self._day,
            "state": self.state.value,
            "halted_until": self.halted_until,
            "trade_seq": self._trade_seq,
            "positions": {
                symbol: {"position": pos, "book": attrs.asdict(self._books[symbol])}
                for symbol, pos in self.positions.items()
            },
        }

    def restore_state(self, state: dict[str, Any], positions: dict[str, Position]) -> None:
        """Put back what :meth:`snapshot_state` saved (positions already structured)."""
        self.balance = float(state["balance"])
        self.peak_equity = float(state["peak_equity"])
        # Checkpoints written before the drawdown was kept start it afresh.
        self.max_drawdown = float(state.get("max_drawdown", 0.0))
        self.max_drawdown_usdt = float(state.get("max_drawdown_usdt", 0.0))
        self.day_start_equity = float(state["day_start_equity"])
        self._day = int(state["day"])
        self.state = TradingState(state["state"])
        self.halted_until = state["halted_until"]
        self._trade_seq = int(state["trade_seq"])
        # In place: strategy contexts hold this very dict.
        self.positions.clear()
        self._books.clear()
        for symbol, saved in state["positions"].items():
            self.positions[symbol] = positions[symbol]
            self.marks[symbol] = positions[symbol].entry_price
            self._books[symbol] = _OpenBook(**saved["book"])
        self._valuation = {}
        for symbol in self.positions:
            self._revalue(symbol)
