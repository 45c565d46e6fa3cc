"""The ``ctx`` a strategy or scorer sees: a read-only window on the host."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from garrison_api import Candle, Clock, Event, KeyValueStore, Market, Position


class CandleHistory(Protocol):
    """The closed candles of one series that the host keeps (replay: the arrays; live: a ring)."""

    def recent(self, n: int) -> list[Candle]:
        """The last ``n`` closed candles, oldest first (fewer at the start of the data)."""
        ...


class HostContext:
    """One per strategy use. Lookups are plain dict reads: this sits on the hot path.

    ``views`` maps a symbol the strategy decides on in ONE timeframe to the
    view of that series' indicators (what ``indicators(symbol)`` returns);
    ``tf_views`` maps every (symbol, timeframe) the strategy reads, decision
    and context timeframes alike. ``current_tf`` is the timeframe of the
    candle being decided on: ``indicators(symbol)`` of a symbol the strategy
    decides on in several timeframes reads that one. The engine fills these
    in; views read the indicator values of their series' last closed bar.
    """

    __slots__ = (
        "_clock",
        "_emit",
        "_markets",
        "_positions",
        "_storage",
        "current_tf",
        "history",
        "history_limit",
        "tf_views",
        "views",
    )

    def __init__(
        self,
        *,
        clock: Clock,
        storage: KeyValueStore,
        positions: Mapping[str, Position],
        markets: Mapping[str, Market],
        emit: Callable[[Event], None],
        history_limit: int = 1,
    ) -> None:
        self._clock = clock
        self._storage = storage
        self._positions = positions
        self._markets = markets
        self._emit = emit
        self.views: dict[str, Mapping[str, float]] = {}
        self.tf_views: dict[tuple[str, str], Mapping[str, float]] = {}
        self.history: dict[tuple[str, str], CandleHistory] = {}
        #: Most candles ``candles()`` hands out: the strategy's warm-up (at least 1).
        self.history_limit = max(1, history_limit)
        self.current_tf = ""

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def storage(self) -> KeyValueStore:
        return self._storage

    def indicators(self, symbol: str, timeframe: str | None = None) -> Mapping[str, float]:
        if timeframe is None:
            view = self.views.get(symbol)
            if view is not None:
                return view
            timeframe = self.current_tf
        try:
            return self.tf_views[(symbol, timeframe)]
        except KeyError:
            raise KeyError(self._unknown(symbol, timeframe, "indicators")) from None

    def candles(self, symbol: str, timeframe: str, n: int) -> Sequence[Candle]:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(
                f"candles({symbol!r}, {timeframe!r}, n): n must be an int >= 1, got {n!r}"
            )
        if n > self.history_limit:
            raise ValueError(
                f"candles({symbol!r}, {timeframe!r}, {n}): the host keeps the last "
                f"{self.history_limit} closed candles of each series (the strategy's warmup); "
                f"declare warmup >= {n} to read {n}"
            )
        try:
            history = self.history[(symbol, timeframe)]
        except KeyError:
            raise KeyError(self._unknown(symbol, timeframe, "candles")) from None
        return history.recent(n)

    def _unknown(self, symbol: str, timeframe: str, what: str) -> str:
        known = sorted({tf for (s, tf) in self.tf_views if s == symbol})
        if not known:
            return f"no {what} for {symbol!r}: this strategy does not see it"
        return (
            f"no {what} for {symbol!r} in {timeframe!r}: this strategy reads {symbol} in "
            f"{', '.join(known)} (add the timeframe to timeframes or context_indicators)"
        )

    def position(self, symbol: str) -> Position | None:
        return self._positions.get(symbol)

    def market(self, symbol: str) -> Market:
        try:
            return self._markets[symbol]
        except KeyError:
            raise KeyError(f"no market rules for {symbol!r}") from None

    def emit(self, event: Event) -> None:
        self._emit(event)


class ScorerContext:
    """What a scorer sees while rating a signal: the strategy's window, its own storage.

    Indicators, candles, positions, markets, the clock and ``emit`` are the
    deciding strategy's (a scorer reads what the strategy read); ``storage``
    is the scorer's own key-value store, so a scorer can never write into a
    strategy's state.
    """

    __slots__ = ("_ctx", "_storage")

    def __init__(self, ctx: HostContext, storage: KeyValueStore) -> None:
        self._ctx = ctx
        self._storage = storage

    @property
    def clock(self) -> Clock:
        return self._ctx.clock

    @property
    def storage(self) -> KeyValueStore:
        return self._storage

    def indicators(self, symbol: str, timeframe: str | None = None) -> Mapping[str, float]:
        return self._ctx.indicators(symbol, timeframe)

    def candles(self, symbol: str, timeframe: str, n: int) -> Sequence[Candle]:
        return self._ctx.candles(symbol, timeframe, n)

    def position(self, symbol: str) -> Position | None:
        return self._ctx.position(symbol)

    def market(self, symbol: str) -> Market:
        return self._ctx.market(symbol)

    def emit(self, event: Event) -> None:
        self._ctx.emit(event)
