"""An in-memory :class:`garrison_api.StrategyContext` for tests."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from types import MappingProxyType

from garrison_api.components import Strategy
from garrison_api.indicators import IndicatorSpec
from garrison_api.testing.clock import FakeClock
from garrison_api.testing.incremental import Updater, make_updater
from garrison_api.testing.store import MemoryStore
from garrison_api.testing.timeframes import timeframe_ms
from garrison_api.types import Candle, Event, Market, Position

_NAN = float("nan")


def default_market(symbol: str) -> Market:
    """A permissive market for symbols a test gave no rules for (tiny tick and lot, no minimums)."""
    return Market(symbol=symbol, tick_size=1e-8, lot_step=1e-8, min_qty=1e-8)


class _Series:
    """One (symbol, timeframe) series: indicator values, their running states, recent bars."""

    __slots__ = ("bars", "last_ts", "recent", "updaters", "values", "view")

    def __init__(self, specs: Mapping[str, IndicatorSpec], keep: int) -> None:
        self.updaters: list[tuple[str, Updater]] = [
            (name, make_updater(spec)) for name, spec in specs.items()
        ]
        self.values: dict[str, float] = dict.fromkeys(specs, _NAN)
        self.view: Mapping[str, float] = MappingProxyType(self.values)
        self.bars = 0
        self.last_ts: int | None = None
        self.recent: deque[Candle] = deque(maxlen=keep)

    def update(self, candle: Candle) -> None:
        values = self.values
        for name, updater in self.updaters:
            values[name] = updater.update(candle)
        self.bars += 1
        self.last_ts = candle.ts
        self.recent.append(candle)


class StubContext:
    """A strategy's view of the world, held in memory and driven by the test.

    ``indicators`` are the specs the strategy declared (``strategy.indicators``),
    computed on each of its decision ``timeframes`` (empty: every timeframe
    pushed that is not a context one); ``context_indicators`` maps the other
    timeframes it reads to their specs; ``warmup`` bounds ``candles(..., n)``.
    :meth:`for_strategy` reads all four from a strategy.

    :meth:`push` feeds each closed candle, which updates that candle's series
    (from that candle and earlier ones only) and moves the clock to the
    candle's close; a pushed candle of a decision timeframe becomes the
    candle being decided on (what ``timeframe=None`` means, see
    :meth:`indicators`; :meth:`set_decision_candle` sets it alone). Positions
    and markets are whatever the test sets; emitted events collect in
    :attr:`events`.

    >>> ctx = StubContext.for_strategy(strategy, markets=[btc_market])  # doctest: +SKIP
    >>> ctx.push(candle); strategy.on_candle(candle, ctx)               # doctest: +SKIP
    """

    def __init__(
        self,
        indicators: Mapping[str, IndicatorSpec] | None = None,
        *,
        markets: Mapping[str, Market] | Iterable[Market] | None = None,
        clock: FakeClock | None = None,
        storage: MemoryStore | None = None,
        timeframes: Sequence[str] = (),
        context_indicators: Mapping[str, Mapping[str, IndicatorSpec]] | None = None,
        warmup: int = 0,
    ) -> None:
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"warmup must be an int of 0 or more, got {warmup!r}")
        self._specs: Mapping[str, IndicatorSpec] = dict(indicators or {})
        self._context: dict[str, Mapping[str, IndicatorSpec]] = {
            tf: dict(specs) for tf, specs in (context_indicators or {}).items()
        }
        self._decision: tuple[str, ...] = tuple(timeframes)
        for timeframe in (*self._decision, *self._context):
            timeframe_ms(timeframe)
        both = sorted(set(self._decision) & set(self._context))
        if both:
            raise ValueError(
                f"timeframe {both[0]} is both a decision timeframe and a context one; pick one"
            )
        self._warmup = warmup
        self._keep = max(warmup, 1)
        self._series: dict[tuple[str, str], _Series] = {}
        self._timeframes_of: dict[str, list[str]] = {}
        self._positions: dict[str, Position] = {}
        self._markets: dict[str, Market] = {}
        self._clock = clock if clock is not None else FakeClock()
        self._storage = storage if storage is not None else MemoryStore()
        self._bar_ms: dict[str, int] = {}
        self._not_warm: dict[str, Mapping[str, float]] = {}
        self._current: Candle | None = None
        self._current_view: Mapping[str, float] = MappingProxyType({})
        #: Events the strategy emitted, in order.
        self.events: list[Event] = []
        values = markets.values() if isinstance(markets, Mapping) else (markets or ())
        for market in values:
            self.set_market(market)

    @classmethod
    def for_strategy(
        cls,
        strategy: Strategy,
        *,
        markets: Mapping[str, Market] | Iterable[Market] | None = None,
        clock: FakeClock | None = None,
        storage: MemoryStore | None = None,
        timeframes: Sequence[str] | None = None,
    ) -> StubContext:
        """A context with ``strategy``'s indicators, timeframes, context indicators and warm-up.

        ``timeframes`` replaces ``strategy.timeframes`` (a runner passes the
        decision timeframes it resolved from the candles).
        """
        return cls(
            strategy.indicators,
            markets=markets,
            clock=clock,
            storage=storage,
            timeframes=tuple(strategy.timeframes) if timeframes is None else tuple(timeframes),
            context_indicators=getattr(strategy, "context_indicators", None),
            warmup=strategy.warmup,
        )

    # -- what the test drives ------------------------------------------------

    def push(self, candle: Candle) -> None:
        """Feed the next closed candle of its series; the clock moves to its close."""
        series = self._series.get((candle.symbol, candle.timeframe))
        if series is None:
            series = self._add(candle.symbol, candle.timeframe, "push")
        last = series.last_ts
        if last is not None and candle.ts <= last:
            raise ValueError(
                f"{candle.symbol}: candle at {candle.ts} pushed after one at {last} "
                f"({candle.timeframe}); push each series' candles in time order"
            )
        series.update(candle)
        timeframe = candle.timeframe
        bar_ms = self._bar_ms.get(timeframe)
        if bar_ms is None:
            bar_ms = self._bar_ms[timeframe] = timeframe_ms(timeframe)
        self._clock.set(candle.ts + bar_ms)
        if timeframe not in self._context:
            self._current = candle
            self._current_view = series.view

    def set_decision_candle(self, candle: Candle) -> None:
        """Make ``candle`` the one being decided on (what ``timeframe=None`` refers to)."""
        if candle.timeframe in self._context or self._specs_for(candle.timeframe) is None:
            raise ValueError(
                f"set_decision_candle: {candle.timeframe} is not a decision timeframe "
                f"({self._decision_text()})"
            )
        series = self._series.get((candle.symbol, candle.timeframe))
        if series is None:
            series = self._add(candle.symbol, candle.timeframe, "set_decision_candle")
        self._current = candle
        self._current_view = series.view

    def add_series(self, symbol: str, timeframe: str) -> None:
        """Make a series known before its first candle: reads give nan and no candles until then."""
        if (symbol, timeframe) not in self._series:
            self._add(symbol, timeframe, "add_series")

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

    def bars_seen(self, symbol: str, timeframe: str | None = None) -> int:
        """How many candles of ``symbol`` have been pushed (of ``timeframe``; None: all of them)."""
        if timeframe is not None:
            series = self._series.get((symbol, timeframe))
            return 0 if series is None else series.bars
        return sum(self._series[(symbol, tf)].bars for tf in self._timeframes_of.get(symbol, ()))

    # -- the StrategyContext protocol ----------------------------------------

    @property
    def clock(self) -> FakeClock:
        """The fake clock; :meth:`push` sets it to the pushed candle's close."""
        return self._clock

    @property
    def storage(self) -> MemoryStore:
        """The strategy's in-memory key-value namespace."""
        return self._storage

    def indicators(self, symbol: str, timeframe: str | None = None) -> Mapping[str, float]:
        """Indicator values of ``symbol`` in ``timeframe`` at its last closed bar (nan until warm).

        ``timeframe`` None: the timeframe of the candle being decided on when
        ``symbol`` has a series in it, else the symbol's only decision series
        (ValueError when it has several). A timeframe the strategy neither
        decides on nor reads as context is a KeyError.
        """
        if timeframe is None:
            current = self._current
            if current is not None and current.symbol == symbol:
                return self._current_view
            timeframe = self._default_timeframe(symbol)
            if timeframe is None:
                return self._nan_view(None)
        series = self._series.get((symbol, timeframe))
        if series is not None:
            return series.view
        if self._specs_for(timeframe) is None:
            raise KeyError(self._unread(f"ctx.indicators({symbol!r}, {timeframe!r})", timeframe))
        return self._nan_view(timeframe)

    def candles(self, symbol: str, timeframe: str, n: int) -> Sequence[Candle]:
        """The last ``n`` closed candles of ``symbol`` in ``timeframe``, oldest first.

        Fewer at the start of the data. ``n`` must be from 1 to the strategy's
        ``warmup`` (at least 1), else ValueError; the timeframe must be one the
        strategy reads, else KeyError.
        """
        where = f"ctx.candles({symbol!r}, {timeframe!r}, {n!r})"
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self._keep:
            raise ValueError(
                f"{where}: n must be from 1 to {self._keep}: the host keeps the last "
                f"max(warmup, 1) closed bars of a series, and the strategy's warmup is "
                f"{self._warmup}"
            )
        series = self._series.get((symbol, timeframe))
        if series is None:
            if self._specs_for(timeframe) is None:
                raise KeyError(self._unread(where, timeframe))
            return ()
        recent = series.recent
        if n >= len(recent):
            return tuple(recent)
        return tuple(islice(recent, len(recent) - n, None))

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

    # -- inside --------------------------------------------------------------

    def _specs_for(self, timeframe: str) -> Mapping[str, IndicatorSpec] | None:
        """The specs computed on ``timeframe``, or None when the strategy does not read it."""
        context = self._context.get(timeframe)
        if context is not None:
            return context
        if not self._decision or timeframe in self._decision:
            return self._specs
        return None

    def _add(self, symbol: str, timeframe: str, where: str) -> _Series:
        specs = self._specs_for(timeframe)
        if specs is None:
            raise ValueError(f"{where}: {symbol} {timeframe}: {self._unread_tail(timeframe)}")
        series = self._series[(symbol, timeframe)] = _Series(specs, self._keep)
        self._timeframes_of.setdefault(symbol, []).append(timeframe)
        return series

    def _default_timeframe(self, symbol: str) -> str | None:
        known = self._timeframes_of.get(symbol, ())
        current = self._current
        if current is not None and current.timeframe in known:
            return current.timeframe
        deciding = [tf for tf in known if tf not in self._context]
        if len(deciding) == 1:
            return deciding[0]
        if deciding:
            raise ValueError(
                f"ctx.indicators({symbol!r}): {symbol} has decision series "
                f"{', '.join(sorted(deciding, key=timeframe_ms))}; pass the timeframe"
            )
        if current is not None:
            return current.timeframe
        if len(self._decision) == 1:
            return self._decision[0]
        return None

    def _nan_view(self, timeframe: str | None) -> Mapping[str, float]:
        key = "" if timeframe is None or timeframe not in self._context else timeframe
        view = self._not_warm.get(key)
        if view is None:
            specs = self._specs if not key else self._context[key]
            view = self._not_warm[key] = MappingProxyType(dict.fromkeys(specs, _NAN))
        return view

    def _decision_text(self) -> str:
        if self._decision:
            return f"the strategy decides on {', '.join(self._decision)}"
        return "the strategy decides on every timeframe that is not a context one"

    def _unread_tail(self, timeframe: str) -> str:
        context = ", ".join(self._context) or "none"
        return (
            f"the strategy does not read {timeframe}: {self._decision_text()} (timeframes) "
            f"and reads {context} as context (context_indicators)"
        )

    def _unread(self, where: str, timeframe: str) -> str:
        return f"{where}: {self._unread_tail(timeframe)}"
