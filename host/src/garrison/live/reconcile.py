"""Reconciliation: the journal's view of the account against the exchange's.

Run at start and every ``[exchange] reconcile_s`` seconds (at a step's
start, so nothing of the host's is in flight). Every difference is an event
(``reconcile.difference``) and is acted on:

- a position the exchange holds and the host does not know: taken over and
  protected (``unknown_positions = "adopt"``, see
  :meth:`ExchangeVenue.adopt_unknown`), closed at market (``"flatten"``) or
  trading halts (``"halt"``);
- a position the host holds without its stop on the exchange: the stop is
  placed again (the venue flattens it if that fails);
- a position the host holds that the exchange does not (or smaller): booked
  at the next sync, reported here when it is not;
- a position the exchange holds on the other side than the journal's: no
  fill explains it, so trading halts (``halt``) for an operator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import ccxt.async_support as ccxt

from garrison.engine.ledger import Ledger
from garrison.live.orders import ExchangeVenue, VenueEvent


class Reconciler:
    """Compares and repairs; see the module docstring."""

    def __init__(
        self,
        *,
        client: Any,
        venue: ExchangeVenue,
        ccxt_symbols: Mapping[str, str],
        unknown_positions: str,
        on_event: VenueEvent,
        halt: Callable[[str], None] | None = None,
        adopt_stop_pct: float = 2.0,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self._client = client
        self._venue = venue
        self._ccxt = dict(ccxt_symbols)
        self._policy = unknown_positions
        self._emit = on_event
        self.halt = halt
        self._adopt_stop_pct = adopt_stop_pct
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self.runs = 0
        self.differences = 0
        #: True after the last run found the journal equal to the exchange.
        self.equal = False

    def _difference(self, symbol: str, message: str, data: dict[str, Any]) -> None:
        self.differences += 1
        self._emit(
            "reconcile.difference", "warning", f"{symbol}: {message}", {"symbol": symbol, **data}
        )

    async def run(self, ledger: Ledger) -> bool:
        """One comparison (and its repairs); True when nothing differed."""
        self.runs += 1
        before = self.differences
        on_exchange = await self._venue.open_positions()
        venue = self._venue
        # A symbol with an order in flight is in motion: the exchange may be ahead of
        # the journal by that order's fill. It is compared at a later run.
        busy = venue.busy()
        for symbol, (side, contracts, position) in on_exchange.items():
            if symbol in busy:
                continue
            mine = ledger.positions.get(symbol)
            if mine is None and symbol not in venue.held:
                await self._unknown(symbol, side, contracts, position)
                continue
            if mine is not None and mine.side.value != side:
                # Not a late fill: the journal's position is gone and another
                # one is there. Neither can be booked safely; stop trading.
                self._difference(
                    symbol,
                    f"the journal holds {mine.side.value} {mine.qty:g}, the exchange {side} "
                    f"{contracts:g}; trading halts for an operator",
                    {"journal": mine.qty, "exchange": contracts, "side": side},
                )
                if self.halt is not None:
                    self.halt(
                        f"{symbol}: the journal holds a {mine.side.value} position, the "
                        f"exchange a {side} one"
                    )
                continue
            if mine is not None and abs(mine.qty - contracts) > 1e-9 * max(1.0, contracts):
                self._difference(
                    symbol,
                    f"the journal holds {mine.qty:g}, the exchange {contracts:g}",
                    {"journal": mine.qty, "exchange": contracts},
                )
        for symbol, mine in list(ledger.positions.items()):
            if symbol not in on_exchange and symbol not in busy:
                venue.adopt(mine)
                venue.request_full_sync()
                self._difference(
                    symbol,
                    f"the journal holds {mine.side.value} {mine.qty:g}, the exchange nothing "
                    "(booked at the next sync)",
                    {"journal": mine.qty, "exchange": 0.0},
                )
        await self._check_protection(on_exchange, busy)
        self.equal = self.differences == before
        return self.equal

    async def _unknown(
        self, symbol: str, side: str, contracts: float, position: Mapping[str, Any]
    ) -> None:
        self._difference(
            symbol,
            f"the exchange holds a {side} position of {contracts:g} the host did not open; "
            f"policy: {self._policy}",
            {"exchange": contracts, "side": side, "policy": self._policy},
        )
        if self._policy == "adopt" and symbol in self._ccxt:
            await self._venue.adopt_unknown(
                symbol, side, contracts, position, self._adopt_stop_pct, self._now_ms()
            )
        elif self._policy == "flatten" and symbol in self._ccxt:
            close_side = "sell" if side == "long" else "buy"
            try:
                await self._client.create_order(
                    self._ccxt[symbol], "market", close_side, contracts, None, {"reduceOnly": True}
                )
            except ccxt.BaseError as exc:
                self._emit(
                    "reconcile.flatten_failed",
                    "critical",
                    f"{symbol}: closing the unknown position failed: {exc}",
                    {"symbol": symbol},
                )
        elif self.halt is not None:
            self.halt(f"the exchange holds an unknown {side} position in {symbol}")

    async def _check_protection(
        self, on_exchange: Mapping[str, tuple[str, float, Mapping[str, Any]]], busy: set[str]
    ) -> None:
        venue = self._venue
        for symbol, held in list(venue.held.items()):
            if held.stop is None or symbol not in on_exchange or symbol in busy:
                continue
            if await venue.has_stop(symbol, on_exchange[symbol][2]):
                continue
            self._difference(
                symbol,
                f"no stop on the exchange for the {held.side.value} position; placing it again",
                {"stop": held.stop},
            )
            await venue.reprotect(symbol)
