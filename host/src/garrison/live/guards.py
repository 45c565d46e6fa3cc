"""Host rules of live and paper trading: no entry on a stale or halted symbol.

The feed marks a symbol stale when its candles stop coming; the venue halts
a symbol whose position it could not protect. Both refuse entries only:
exits always pass, a position must stay closable.
"""

from __future__ import annotations

from collections.abc import Set
from typing import ClassVar

import attrs
from garrison_api import AccountState, OrderIntent, Veto


@attrs.frozen
class SymbolGuardParams:
    """Nothing to set: the sets are the feed's and the venue's."""


class SymbolGuard:
    """Refuses entries on symbols in ``stale`` or ``halted`` (live views, read at each check)."""

    Params: ClassVar[type] = SymbolGuardParams
    judges_exits: ClassVar[bool] = False

    def __init__(self, stale: Set[str], halted: Set[str]) -> None:
        self.params = SymbolGuardParams()
        self._stale = stale
        self._halted = halted

    def check(self, intent: OrderIntent, account: AccountState) -> Veto | None:
        if intent.reduce_only:
            return None
        symbol = intent.symbol
        if symbol in self._halted:
            return Veto(
                "symbol_guard",
                f"{symbol} is halted: a position there could not be protected by a stop",
            )
        if symbol in self._stale:
            return Veto(
                "symbol_guard",
                f"{symbol} is stale: no closed candle for too long, entries wait for fresh data",
            )
        return None
