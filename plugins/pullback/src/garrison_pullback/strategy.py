"""The pullback strategy: pivot S/R breakout, pullback into the zone, confirmation.

Per symbol, at the close of each bar (bars up to it only): pivots give the
support and resistance levels and the market structure (custom indicators,
:mod:`garrison_pullback.pivots`); the setup state machine
(:mod:`garrison_pullback.machine`) follows a breakout to its pullback and
confirmation; a confirmed setup becomes an entry signal with a hybrid stop and
a take-profit net of costs (:mod:`garrison_pullback.levels`) when the
higher-timeframe levels leave it room (:mod:`garrison_pullback.htf`), carrying
the 34 features of :mod:`garrison_pullback.features`. After a signal the
symbol waits while the trade it opened is open.

The setups (and, with ``htf_source = "base"``, the HTF bars built so far) are
kept in the strategy's storage namespace, so they survive a restart: each is
restored when the symbol's next bar follows the last one it saw, and
discarded (with an event) after a gap or on older data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from garrison_api import (
    Atr,
    Bollinger,
    Candle,
    ComponentServices,
    Ema,
    Event,
    Highest,
    IndicatorSpec,
    KeyValueStore,
    Level,
    Lowest,
    Outcome,
    Rsi,
    Side,
    Signal,
    SignalKind,
    Sma,
    StrategyContext,
)

from garrison_pullback.features import HISTORY_BARS, build_features
from garrison_pullback.htf import HtfBar, HtfBuilder, htf_levels
from garrison_pullback.levels import bracket
from garrison_pullback.machine import (
    BREAKOUT,
    CONFIRMED,
    IN_TRADE,
    NEUTRAL,
    Machine,
    Setup,
)
from garrison_pullback.params import PullbackParams, timeframe_ms
from garrison_pullback.pivots import AtrPercentile, MarketStructure, PivotLevel

_NOTHING: tuple[Signal, ...] = ()
_INDEX_KEY = "books"
_SEEN_KEY = "seen"
_STATE_VERSION = 1


class _Book:
    """Everything the strategy keeps for one (symbol, timeframe)."""

    __slots__ = ("bar_ms", "htf", "last_ts", "setup")

    def __init__(self, bar_ms: int, htf: HtfBuilder | None) -> None:
        self.bar_ms = bar_ms
        self.setup = Setup()
        self.htf = htf
        self.last_ts = -1

    def dump(self) -> dict[str, Any]:
        return {
            "version": _STATE_VERSION,
            "last_ts": self.last_ts,
            "setup": self.setup.dump(),
            "htf": None if self.htf is None else self.htf.dump(),
        }


def _book_key(symbol: str, timeframe: str) -> str:
    return f"book/{symbol}/{timeframe}"


class PullbackStrategy:
    """Pivot market-structure pullback entries with hybrid stops and net-of-fee targets."""

    Params: ClassVar[type[PullbackParams]] = PullbackParams

    def __init__(self, params: PullbackParams | None = None) -> None:
        p = self.params = params if params is not None else PullbackParams()
        left, right = p.left, p.right
        self.indicators: Mapping[str, IndicatorSpec] = {
            "atr": Atr(p.atr_period),
            "atr_percentile": AtrPercentile(p.atr_period, p.atr_percentile_window),
            "resistance": PivotLevel("high", left, right, p.sr_lookback),
            "support": PivotLevel("low", left, right, p.sr_lookback),
            "pivot_high": PivotLevel("high", left, right, p.pivot_lookback),
            "pivot_low": PivotLevel("low", left, right, p.pivot_lookback),
            "highest": Highest("high", p.pivot_lookback),
            "lowest": Lowest("low", p.pivot_lookback),
            "structure": MarketStructure(left, right),
            "ema": Ema("close", p.ema_len),
            "rsi": Rsi(14),
            "bb_upper": Bollinger(20, 2.0, "upper"),
            "bb_lower": Bollinger(20, 2.0, "lower"),
            "sma20": Sma("close", 20),
            "sma50": Sma("close", 50),
            "volume_sma20": Sma("volume", 20),
            "volume_sma5": Sma("volume", 5),
        }
        self.timeframes: tuple[str, ...] = () if p.timeframe is None else (p.timeframe,)
        self._feed_htf = p.htf_source == "feed"
        self.context_indicators: Mapping[str, Mapping[str, IndicatorSpec]] = (
            {p.htf_timeframe: {}} if self._feed_htf else {}
        )
        self.warmup: int = max(
            HISTORY_BARS,
            p.htf_bars if self._feed_htf else 0,
            *(spec.warmup for spec in self.indicators.values()),
        )
        self._htf_ms = timeframe_ms(p.htf_timeframe)
        self._machine = Machine(p.zone_pct, p.confirmation_candles, p.structure_filter, p.use_ema)
        self._books: dict[tuple[str, str], _Book] = {}
        self._bar_ms: dict[str, int] = {}
        self._saved: dict[str, Any] = {}
        self._known: set[str] = set()
        # Per decision timeframe: the open time of the latest bar decided on (this run), and
        # what a previous run saved. A saved setup is used only when the first bar of its
        # series follows the last bar the previous run decided on in that timeframe.
        self._seen: dict[str, int] = {}
        self._saved_seen: dict[str, int] = {}
        self._storage: KeyValueStore | None = None
        self._save_each_change = p.persist == "change"

    # -- lifecycle -----------------------------------------------------------------

    def start(self, services: ComponentServices) -> None:
        """Read the setups a previous run saved; they are applied symbol by symbol."""
        p = self.params
        self._storage = services.storage
        self._save_each_change = p.persist == "change" or (
            p.persist == "auto" and services.mode != "replay"
        )
        index = services.storage.get(_INDEX_KEY, [])
        if not isinstance(index, list):
            raise ValueError(f"pullback: storage key {_INDEX_KEY!r} holds {index!r}, not a list")
        self._known = {str(key) for key in index}
        for key in self._known:
            value = services.storage.get(key)
            if value is not None:
                self._saved[key] = value
        seen = services.storage.get(_SEEN_KEY, {})
        if isinstance(seen, dict):
            self._saved_seen = {
                str(tf): ts for tf, ts in seen.items() if isinstance(ts, int) and ts >= 0
            }

    def stop(self) -> None:
        """Save every setup (the only save in replay with ``persist = "auto"``)."""
        if self._storage is None:
            return
        for (symbol, timeframe), book in self._books.items():
            self._save(symbol, timeframe, book)
        if self._seen:
            self._storage.set(_SEEN_KEY, dict(self._seen))

    # -- decisions -----------------------------------------------------------------

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        """Advance the symbol's setup by this bar; an entry signal when it is confirmed."""
        symbol = candle.symbol
        key = (symbol, candle.timeframe)
        book = self._books.get(key)
        if book is None:
            book = self._open_book(candle, ctx)
        if candle.ts <= book.last_ts:
            return _NOTHING
        book.last_ts = candle.ts
        if candle.ts > self._seen.get(candle.timeframe, -1):
            self._new_step(candle)
        htf = book.htf
        if htf is not None:
            htf.push(candle.ts, candle.ts + book.bar_ms, candle.high, candle.low, candle.close)
        setup = book.setup
        phase = setup.phase
        if phase == IN_TRADE:
            if ctx.position(symbol) is not None:
                return _NOTHING
            # Flat: the trade has closed, or the signal never became a position (vetoed,
            # refused by a scorer, or stopped out in the bar it filled in).
            setup.reset()
            self._changed(candle, book)
            phase = NEUTRAL
        values = ctx.indicators(symbol)
        machine = self._machine
        if phase == NEUTRAL:
            event = machine.neutral(
                setup,
                candle.ts,
                candle.high,
                candle.low,
                candle.close,
                values["resistance"],
                values["support"],
                values["structure"],
                values["ema"],
            )
            if event is BREAKOUT:
                self._remember_breakout(setup, candle, values)
                self._changed(candle, book)
            return _NOTHING
        event = machine.active(
            setup, candle.open, candle.high, candle.low, candle.close, values["structure"]
        )
        if event is None:
            return _NOTHING
        signals = self._signal(candle, ctx, book, values) if event is CONFIRMED else _NOTHING
        self._changed(candle, book)
        return signals

    def on_outcome(self, outcome: Outcome) -> None:
        """The trade (or phantom) of a signal closed: its symbol looks for a new setup."""
        signal = outcome.signal
        for (symbol, timeframe), book in self._books.items():
            setup = book.setup
            if symbol == signal.symbol and setup.phase == IN_TRADE and setup.signal_ts == signal.ts:
                setup.reset()
                if self._save_each_change:
                    self._save(symbol, timeframe, book)

    def setup_phase(self, symbol: str, timeframe: str) -> str:
        """Where the setup of ``symbol`` in ``timeframe`` stands (``neutral`` when unseen).

        One of ``neutral``, ``broken_up``, ``broken_down``, ``pullback_up``,
        ``pullback_down``, ``in_trade``: for tests, logs and consoles.
        """
        book = self._books.get((symbol, timeframe))
        return NEUTRAL if book is None else book.setup.phase

    # -- helpers -------------------------------------------------------------------

    def _open_book(self, candle: Candle, ctx: StrategyContext) -> _Book:
        timeframe = candle.timeframe
        bar_ms = self._bar_ms.get(timeframe)
        if bar_ms is None:
            bar_ms = self._bar_ms[timeframe] = timeframe_ms(timeframe)
        htf = None if self._feed_htf else HtfBuilder(self._htf_ms, self.params.htf_bars)
        book = _Book(bar_ms, htf)
        self._books[(candle.symbol, timeframe)] = book
        saved = self._saved.pop(_book_key(candle.symbol, timeframe), None)
        if saved is None or not self._restore(candle, ctx, book, saved):
            self._prefill_htf(candle, ctx, book)
        return book

    def _prefill_htf(self, candle: Candle, ctx: StrategyContext, book: _Book) -> None:
        """Fold the closed bars the host kept (the warm-up) into the HTF bars: a fresh start
        sees some higher-timeframe history at once instead of none."""
        htf = book.htf
        if htf is None:
            return
        bar_ms = book.bar_ms
        for bar in ctx.candles(candle.symbol, candle.timeframe, max(1, self.warmup)):
            if bar.ts < candle.ts:
                htf.push(bar.ts, bar.ts + bar_ms, bar.high, bar.low, bar.close)

    def _restore(self, candle: Candle, ctx: StrategyContext, book: _Book, saved: Any) -> bool:
        """Apply a saved book when this bar follows its last one; say whether it was applied."""
        where = f"{candle.symbol} {candle.timeframe}"
        reason = ""
        if not isinstance(saved, dict) or saved.get("version") != _STATE_VERSION:
            reason = "it was saved in another format"
        else:
            seen = self._saved_seen.get(candle.timeframe)
            if seen is None or seen + book.bar_ms != candle.ts:
                reason = (
                    f"the last {candle.timeframe} bar it saw opened at {seen!r} and this bar "
                    f"({candle.ts}) does not follow it"
                )
        if not reason:
            try:
                book.setup.load(saved["setup"])
                self._restore_htf(candle, ctx, book, saved)
            except (KeyError, TypeError, ValueError) as exc:
                book.setup.reset()
                book.htf = (
                    None if self._feed_htf else HtfBuilder(self._htf_ms, self.params.htf_bars)
                )
                reason = f"it could not be read: {exc}"
            else:
                return True
        ctx.emit(
            Event(
                ts=candle.ts,
                kind="pullback.state_discarded",
                message=f"pullback: saved setup of {where} not used: {reason}",
                level=Level.INFO,
                source="pullback",
                data={"symbol": candle.symbol, "timeframe": candle.timeframe},
            )
        )
        return False

    def _restore_htf(
        self, candle: Candle, ctx: StrategyContext, book: _Book, saved: dict[str, Any]
    ) -> None:
        """The saved HTF bars, brought up to date with the candles seen since the save.

        A setup is saved when it changes, the HTF bars with it; the bars after that are
        in the host's warm-up history. When that history does not reach back to the
        save, the HTF bars are rebuilt from the history alone.
        """
        htf = book.htf
        if htf is None:
            return
        bar_ms = book.bar_ms
        history = [
            bar
            for bar in ctx.candles(candle.symbol, candle.timeframe, max(1, self.warmup))
            if bar.ts < candle.ts
        ]
        saved_htf, saved_last = saved.get("htf"), saved.get("last_ts")
        covered = isinstance(saved_last, int) and (
            not history or history[0].ts <= saved_last + bar_ms
        )
        if saved_htf is not None and covered and isinstance(saved_last, int):
            htf.load(saved_htf)
            history = [bar for bar in history if bar.ts > saved_last]
        for bar in history:
            htf.push(bar.ts, bar.ts + bar_ms, bar.high, bar.low, bar.close)

    def _remember_breakout(self, setup: Setup, candle: Candle, values: Mapping[str, float]) -> None:
        if setup.direction > 0:
            pivot = values["pivot_low"]
            setup.previous_pivot = pivot if pivot > 0.0 else values["lowest"]
        else:
            pivot = values["pivot_high"]
            setup.previous_pivot = pivot if pivot > 0.0 else values["highest"]
        volume_sma = values["volume_sma20"]
        setup.breakout_volume_ratio = candle.volume / volume_sma if volume_sma > 0.0 else 1.0

    def _signal(
        self, candle: Candle, ctx: StrategyContext, book: _Book, values: Mapping[str, float]
    ) -> Sequence[Signal]:
        p = self.params
        setup = book.setup
        direction = setup.direction
        entry = candle.close
        levels = bracket(
            direction,
            entry,
            setup.previous_pivot,
            setup.level,
            setup.pullback_extreme,
            values["atr"],
            values["atr_percentile"],
            p,
        )
        if levels is None:
            setup.reset()
            return _NOTHING
        htf = htf_levels(self._htf_bars(candle, ctx, book), entry, p.left, p.right, p.zone_pct)
        risk = abs(entry - levels.stop)
        if p.htf_min_room_r > 0.0:
            room_needed = p.htf_min_room_r * risk
            opposing = htf.resistance - entry if direction > 0 else entry - htf.support
            if opposing == opposing and opposing < room_needed:  # not nan, and too close
                setup.reset()
                return _NOTHING
        features = build_features(
            candle=candle,
            close_ts=candle.ts + book.bar_ms,
            direction=direction,
            history=ctx.candles(candle.symbol, candle.timeframe, HISTORY_BARS),
            values=values,
            level=setup.level,
            breakout_extreme=setup.breakout_extreme,
            pullback_extreme=setup.pullback_extreme,
            breakout_volume_ratio=setup.breakout_volume_ratio,
            setup_bars=(candle.ts - setup.breakout_ts) // book.bar_ms,
            confirmations=setup.confirmations,
            entry=entry,
            stop=levels.stop,
            take_profit=levels.take_profit,
            htf=htf,
            zone_pct=p.zone_pct,
            near_pct=p.htf_near_pct,
        )
        side = Side.LONG if direction > 0 else Side.SHORT
        what = "higher low above resistance" if direction > 0 else "lower high below support"
        signal = Signal(
            symbol=candle.symbol,
            ts=candle.ts,
            side=side,
            kind=SignalKind.ENTRY,
            entry=entry,
            stop=levels.stop,
            take_profit=levels.take_profit,
            reason=(
                f"pullback: {what} {setup.level:.10g} confirmed by {setup.confirmations} "
                f"candles; stop from {levels.anchor}"
            ),
            features=features,
        )
        setup.phase = IN_TRADE
        setup.signal_ts = candle.ts
        return (signal,)

    def _htf_bars(self, candle: Candle, ctx: StrategyContext, book: _Book) -> Sequence[HtfBar]:
        if book.htf is not None:
            return book.htf.bars
        p = self.params
        bars = ctx.candles(candle.symbol, p.htf_timeframe, p.htf_bars)
        return [(c.ts, c.high, c.low, c.close) for c in bars]

    def _new_step(self, candle: Candle) -> None:
        """The first bar of a new instant in its timeframe: remember (and save) how far the
        strategy has decided, which is what tells a restart whether saved setups are current."""
        self._seen[candle.timeframe] = candle.ts
        if self._save_each_change and self._storage is not None:
            self._storage.set(_SEEN_KEY, dict(self._seen))

    def _changed(self, candle: Candle, book: _Book) -> None:
        if self._save_each_change:
            self._save(candle.symbol, candle.timeframe, book)

    def _save(self, symbol: str, timeframe: str, book: _Book) -> None:
        storage = self._storage
        if storage is None:
            return
        key = _book_key(symbol, timeframe)
        storage.set(key, book.dump())
        if key not in self._known:
            self._known.add(key)
            storage.set(_INDEX_KEY, sorted(self._known))
