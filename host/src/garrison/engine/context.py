"""The ``ctx`` a strategy or scorer sees: a read-only window on the host."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from garrison_api import Clock, Event, KeyValueStore, Market, Position


class HostContext:
    """One per component use. Lookups are plain dict reads: this sits on the hot path.

    ``views`` maps a symbol to a read-only view of the live indicator values of
    the series being processed; the engine swaps them as candles arrive.
    """

    __slots__ = ("_clock", "_emit", "_markets", "_positions", "_storage", "views")

    def __init__(
        self,
        *,
        clock: Clock,
        storage: KeyValueStore,
        positions: Mapping[str, Position],
        markets: Mapping[str, Market],
        emit: Callable[[Event], None],
    ) -> None:
        self._clock = clock
        self._storage = storage
        self._positions = positions
        self._markets = markets
        self._emit = emit
        self.views: dict[str, Mapping[str, float]] = {}

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def storage(self) -> KeyValueStore:
        return self._storage

    def indicators(self, symbol: str) -> Mapping[str, float]:
        try:
            return self.views[symbol]
        except KeyError:
            raise KeyError(f"no indicators for {symbol!r}: this strategy does not see it") from None

    def position(self, symbol: str) -> Position | None:
        return self._positions.get(symbol)

    def market(self, symbol: str) -> Market:
        try:
            return self._markets[symbol]
        except KeyError:
            raise KeyError(f"no market rules for {symbol!r}") from None

    def emit(self, event: Event) -> None:
        self._emit(event)
