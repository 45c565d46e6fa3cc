"""An in-memory :class:`garrison_api.StrategyContext` for tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from garrison_api.indicators import IndicatorSpec
from garrison_api.testing.clock import FakeClock
from garrison_api.testing.incremental import Updater, make_updater
from garrison_api.testing.store import MemoryStore
from garrison_api.testing.timeframes import timeframe_ms
from garrison_api.types import Candle, Event, Market, Position


def default_market(symbol: str) -> Market:
    """A permissive market for symbols a test gave no rules for (tiny tick and lot, no minimums)."""
    return Market(symbol=symbol, tick_size=1e-8, lot_step=1e-8, min_qty=1e-8)


class _SymbolIndicators:
    """One symbol's indicator values and the running states that produce them."""

    def __init__(self, specs: Mapping[str, IndicatorSpec]) -> None:
        self.updaters: list[tuple[str, Updater]] = [
            (name, make_updater(spec)) for name, spec in specs.items()
        ]
        self.values: dict[str, float] = dict.fromkeys(specs, float("nan"))
        self.view: Mapping[str, float] = MappingProxyType(self.values)
        self.bars = 0

    def update(self, candle: Candle) -> None:
        for name, updater in self.updaters:
            self.values[name] = updater.update(candle)
        self.bars += 1


class StubContext:
    """A strategy's view of the world, held in memory and driven by the test.

    ``indicators`` are the specs the strategy declared (``strategy.indicators``);
    :meth:`push` feeds each closed candle, which updates that symbol's
    indicators (from that candle and earlier ones only) and moves the clock to
    the candle's close. Positions and markets are whatever the test sets;
    emitted events collect in :attr:`events`.

    >>> ctx = StubContext(strategy.indicators, markets=[btc_market])  # doctest: +SKIP
    >>> ctx.push(candle); strategy.on_candle(candle, ctx)             # doctest: +SKIP
    """

    def __init__(
        self,
        indicators: Mapping[str, IndicatorSpec] | None = None,
        *,
        markets: Mapping[str, Market] | Iterable[Market] | None = None,
        clock: FakeClock | None = None,
        storage: MemoryStore | None = None,
    ) -> None:
        self._specs: Mapping[str, IndicatorSpec] = dict(indicators or {})
        self._by_symbol: dict[str, _SymbolIndicators] = {}
        self._positions: dict[str, Position] = {}
        self._markets: dict[str, Market] = {}
        self._clock = clock if clock is not None else FakeClock()
        self._storage = storage if storage is not None else MemoryStore()
        self._last_ts: dict[str, int] = {}
        self._bar_ms: dict[str, int] = {}
        self._not_warm: Mapping[str, float] = MappingProxyType(
            dict.fromkeys(self._specs, float("nan"))
        )
        #: Events the strategy emitted, in order.
        self.events: list[Event] = []
        values = markets.values() if isinstance(markets, Mapping) else (markets or ())
        for market in values:
            self.set_market(market)

    # -- what the test drives ------------------------------------------------

    def push(self, candle: Candle) -> None:
        """Feed the next closed candle of ``candle.symbol``; the clock moves to its close."""
        last = self._last_ts.get(candle.symbol)
        if last is not None and candle.ts <= last:
            raise ValueError(
                f"{candle.symbol}: candle at {candle.ts} pushed after one at {last}; "
                "push each symbol's candles in time order"
            )
        self._last_ts[candle.symbol] = candle.ts
        state = self._by_symbol.get(candle.symbol)
        if state is None:
            state = self._by_symbol[candle.symbol] = _SymbolIndicators(self._specs)
        state.update(candle)
        bar_ms = self._bar_ms.get(candle.timeframe)
        if bar_ms is None:
            bar_ms = self._bar_ms[candle.timeframe] = timeframe_ms(candle.timeframe)
        self._clock.set(candle.ts + bar_ms)

    def set_position(self, symbol: str, position: Position | None) -> None:
        """Make ``position`` the open position in ``symbol`` (None: flat)."""
        if position is None:
            self._positions.pop(symbol, None)
        elif position.symbol != symbol:
            raise ValueError(f"position for {position.symbol} set under symbol {symbol}")
        else:
            self._positions[symbol] = position

    def set_market(self, market: Market) -> None:
        """Give ``market.symbol`` these trading rules."""
        self._markets[market.symbol] = market

    def bars_seen(self, symbol: str) -> int:
        """How many candles of ``symbol`` have been pushed."""
        state = self._by_symbol.get(symbol)
        return 0 if state is None else state.bars

    # -- the StrategyContext protocol ----------------------------------------

    @property
    def clock(self) -> FakeClock:
        """The fake clock; :meth:`push` sets it to the pushed candle's close."""
        return self._clock

    @property
    def storage(self) -> MemoryStore:
        """The strategy's in-memory key-value namespace."""
        return self._storage

    def indicators(self, symbol: str) -> Mapping[str, float]:
        """Current indicator values of ``symbol`` (all ``nan`` before its first candle)."""
        state = self._by_symbol.get(symbol)
        return self._not_warm if state is None else state.view

    def position(self, symbol: str) -> Position | None:
        """The position set for ``symbol``, or None when flat."""
        return self._positions.get(symbol)

    def market(self, symbol: str) -> Market:
        """Trading rules of ``symbol``: the ones given, else :func:`default_market`."""
        market = self._markets.get(symbol)
        return default_market(symbol) if market is None else market

    def emit(self, event: Event) -> None:
        """Record ``event`` in :attr:`events`."""
        if not isinstance(event, Event):
            raise TypeError(f"emit() takes a garrison_api.Event, got {event!r}")
        self.events.append(event)
