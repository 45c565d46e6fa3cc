"""Recorded candles as the fake exchange's market, with the market clock that walks them.

The tape holds every loaded series as numpy columns and one cursor per
series: the index of the first bar that has not closed yet. Market time only
moves forward through :meth:`MarketTape.step`, one *event* at a time (an
instant where some bar closes or a bar opens after a hole), so every reader
sees a consistent market: the bars that have closed, plus the bar in progress
shown open-only (``o=h=l=c=open``, ``v=0``) as venues include the current
candle. Per symbol the finest loaded timeframe is the price tape: the price
is the open of its bar in progress, which is where a market order fills.

Cursors are numpy arrays over all series so that finding the next event and
the series closing at it costs a few vector operations, not a Python loop
over hundreds of symbols.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from garrison_api import Market

from garrison.engine.feed import Series, discover, load_csv
from garrison.markets.snapshot import load_snapshot
from garrison.profile.timeframes import timeframe_ms

#: One candle: (open time ms, open, high, low, close, volume).
Bar = tuple[int, float, float, float, float, float]
#: A candle of one series: (symbol, timeframe, bar).
SeriesBar = tuple[str, str, Bar]

#: Bundled instrument snapshot of each venue.
SNAPSHOTS = {"bybit": "bybit_linear", "binance": "binance_usdm"}

_NEVER = np.iinfo(np.int64).max


class TapeError(ValueError):
    """The tape cannot be built or asked that: unknown symbol, timeframe, no data."""


def _default_market(symbol: str, price: float) -> Market:
    # About five significant digits of price and ten USDT of quantity per lot:
    # the shape of a typical listing, for symbols the snapshot does not know.
    tick = 10.0 ** (math.floor(math.log10(price)) - 4)
    lot = 10.0 ** max(math.floor(math.log10(10.0 / price)), -8)
    return Market(symbol=symbol, tick_size=tick, lot_step=lot, min_qty=lot, min_notional=5.0)


class MarketTape:
    """Candles of many symbols and timeframes, replayed as the market.

    ``exchange`` picks the bundled instrument snapshot (``"bybit"`` or
    ``"binance"``); ``markets`` overrides it. :class:`FakeExchange` sets the
    exchange when the tape was built without one.
    """

    def __init__(
        self,
        series: Sequence[Series],
        *,
        exchange: str | None = None,
        markets: Mapping[str, Market] | None = None,
    ) -> None:
        if not series:
            raise TapeError("the market tape needs at least one candle series")
        ordered = sorted(series, key=lambda s: (s.symbol, timeframe_ms(s.timeframe)))
        self._series: list[Series] = []
        self._index: dict[tuple[str, str], int] = {}
        for s in ordered:
            if len(s) == 0:
                raise TapeError(f"{s.symbol} {s.timeframe}: no candles ({s.source or 'memory'})")
            key = (s.symbol, s.timeframe)
            if key in self._index:
                raise TapeError(f"{s.symbol} {s.timeframe} is loaded twice ({s.source})")
            self._index[key] = len(self._series)
            self._series.append(s)
        self._timeframes: dict[str, list[str]] = {}
        for s in self._series:  # finest first: the order of ``ordered``
            self._timeframes.setdefault(s.symbol, []).append(s.timeframe)
        #: Series index of each symbol's price tape (its finest timeframe).
        self._price_index = {
            sym: self._index[(sym, tfs[0])] for sym, tfs in self._timeframes.items()
        }
        self._tf_ms = np.array([timeframe_ms(s.timeframe) for s in self._series], np.int64)
        self._len = np.array([len(s) for s in self._series], np.int64)
        self._cursor = np.zeros(len(self._series), np.int64)
        self._next_close = np.zeros(len(self._series), np.int64)
        self._next_open = np.zeros(len(self._series), np.int64)
        self._now = 0
        self._next_event: int | None = None
        self._anchor: tuple[float, int, float] | None = None
        self.exchange = exchange
        self._markets: dict[str, Market] | None = dict(markets) if markets is not None else None
        self._instruments: dict[str, Market] = {}
        self.reset(self.first_ms)

    @classmethod
    def from_paths(
        cls,
        globs: Iterable[str],
        base_dir: Path | None = None,
        exchange: str | None = None,
    ) -> MarketTape:
        """Load candle files (``<exchange>_<SYMBOL>_<tf>.csv[.gz]``) matching ``globs``.

        With ``exchange``, files named for another exchange are left out.
        """
        files = discover(list(globs), base_dir)
        if exchange is not None:
            files = [f for f in files if f.exchange == exchange]
            if not files:
                raise TapeError(f"no {exchange} candle file among {list(globs)}")
        return cls([load_csv(f) for f in files], exchange=exchange)

    # -- what is loaded -----------------------------------------------------------

    def symbols(self) -> list[str]:
        """Every symbol on the tape, sorted."""
        return list(self._timeframes)

    def timeframes(self, symbol: str) -> list[str]:
        """Timeframes loaded for ``symbol``, finest (the price tape) first."""
        try:
            return list(self._timeframes[symbol])
        except KeyError:
            raise TapeError(f"{symbol} is not on the tape") from None

    def price_timeframe(self, symbol: str) -> str:
        """The finest timeframe of ``symbol``: the one its price follows."""
        try:
            return self._timeframes[symbol][0]
        except KeyError:
            raise TapeError(f"{symbol} is not on the tape") from None

    def has(self, symbol: str, timeframe: str | None = None) -> bool:
        """Is ``symbol`` (in ``timeframe``, when given) on the tape?"""
        if timeframe is None:
            return symbol in self._timeframes
        return (symbol, timeframe) in self._index

    def series(self, symbol: str, timeframe: str) -> Series:
        """The whole loaded series (history and future alike)."""
        return self._series[self._series_index(symbol, timeframe)]

    @property
    def first_ms(self) -> int:
        """Open time of the earliest bar on the tape."""
        return int(min(int(s.ts[0]) for s in self._series))

    @property
    def end_ms(self) -> int:
        """Close time of the last bar on the tape: the clock stops there."""
        return max(int(s.ts[-1]) + int(self._tf_ms[i]) for i, s in enumerate(self._series))

    @property
    def finest_ms(self) -> int:
        """Length of the finest bar on the tape (what one ``advance(bars=1)`` moves)."""
        return int(self._tf_ms.min())

    def default_start(self, history: int) -> int:
        """Open of the bar ``history`` bars into each symbol's price tape (the latest of them).

        Symbols with fewer bars than that do not hold the start back.
        """
        starts = []
        for index in self._price_index.values():
            ts = self._series[index].ts
            if len(ts) > history:
                starts.append(int(ts[history]))
        if not starts:
            return max(int(self._series[i].ts[-1]) for i in self._price_index.values())
        return max(starts)

    # -- the clock ----------------------------------------------------------------

    def reset(self, start_ms: int) -> None:
        """Put market time at ``start_ms``: bars closing by then are history."""
        for i, s in enumerate(self._series):
            close = s.ts + self._tf_ms[i]
            self._cursor[i] = int(np.searchsorted(close, start_ms, "right"))
        self._now = int(start_ms)
        self._refresh(np.arange(len(self._series)))
        self._anchor = None

    def _refresh(self, indices: Iterable[int]) -> None:
        for i in indices:
            c = int(self._cursor[i])
            if c < self._len[i]:
                ts = int(self._series[i].ts[c])
                self._next_open[i] = ts
                self._next_close[i] = ts + int(self._tf_ms[i])
            else:
                self._next_open[i] = _NEVER
                self._next_close[i] = _NEVER
        self._next_event = self._find_next_event()

    def _find_next_event(self) -> int | None:
        close = int(self._next_close.min())
        later_opens = self._next_open[self._next_open > self._now]
        opening = int(later_opens.min()) if later_opens.size else _NEVER
        event = min(close, opening)
        return None if event == _NEVER else event

    def next_event_ms(self) -> int | None:
        """Market time of the next bar close (or bar open after a hole); None at the end."""
        return self._next_event

    def run_at(self, speed: float | None) -> None:
        """Let :meth:`now_ms` run on between events at ``speed`` (None: it stands still).

        Market time ``now`` is pinned to the wall clock (``time.monotonic``) now.
        """
        self._anchor = None if speed is None else (time.monotonic(), self._now, speed)

    def wall_time_of(self, market_ms: int) -> float:
        """``time.monotonic()`` at which market time reaches ``market_ms`` (after run_at)."""
        if self._anchor is None:
            raise TapeError("the tape's clock is not running (run_at was not called)")
        wall0, market0, speed = self._anchor
        return wall0 + (market_ms - market0) / 1000.0 / speed

    def now_ms(self) -> int:
        """Market time now (never past an event the clock has not processed yet)."""
        anchor = self._anchor
        if anchor is None or self._next_event is None:  # manual, or the tape has ended
            return self._now
        wall0, market0, speed = anchor
        t = market0 + int((time.monotonic() - wall0) * 1000.0 * speed)
        return max(min(t, self._next_event - 1), self._now)

    def move_to(self, ms: int) -> None:
        """Manual clock: put market time at ``ms``, short of the next event (never back)."""
        if self._next_event is not None and ms >= self._next_event:
            raise TapeError(f"market time {ms} is past the next bar close {self._next_event}")
        self._now = max(self._now, int(ms))

    def step(self) -> tuple[int, list[SeriesBar], list[SeriesBar]]:
        """Move market time to the next event; return (time, closed bars, opened bars).

        Closed bars are whole candles; opened bars are the first update of the
        bar that begins at that time, open-only.
        """
        event = self._next_event
        if event is None:
            raise TapeError("the tape has ended: no bar left to close")
        closing = np.flatnonzero(self._next_close == event)
        closed: list[SeriesBar] = []
        for i in closing.tolist():
            s = self._series[i]
            j = int(self._cursor[i])
            closed.append((s.symbol, s.timeframe, _bar(s, j)))
            self._cursor[i] = j + 1
        self._now = event
        self._refresh(closing.tolist())
        opened: list[SeriesBar] = []
        for i in np.flatnonzero(self._next_open == event).tolist():
            s = self._series[i]
            j = int(self._cursor[i])
            o = float(s.open[j])
            opened.append((s.symbol, s.timeframe, (event, o, o, o, o, 0.0)))
        return event, closed, opened

    # -- reading the market -----------------------------------------------------------

    def _series_index(self, symbol: str, timeframe: str) -> int:
        try:
            return self._index[(symbol, timeframe)]
        except KeyError:
            if symbol not in self._timeframes:
                raise TapeError(f"{symbol} is not on the tape") from None
            raise TapeError(
                f"{symbol} has no {timeframe} candles on the tape "
                f"(loaded: {', '.join(self._timeframes[symbol])})"
            ) from None

    def klines(
        self,
        symbol: str,
        tf: str,
        start: int | None = None,
        end: int | None = None,
        limit: int = 200,
    ) -> list[Bar]:
        """Bars of ``symbol`` in ``tf`` known now, oldest first, at most ``limit``.

        Closed bars plus the bar in progress (open-only). ``start``/``end``
        bound the open time (inclusive). With ``start`` the first ``limit``
        bars from it are given, otherwise the last ``limit`` up to ``end``,
        which is how both Bybit and Binance page.
        """
        i = self._series_index(symbol, tf)
        s = self._series[i]
        cursor = int(self._cursor[i])
        now = self.now_ms()
        in_progress = cursor < self._len[i] and int(s.ts[cursor]) <= now
        visible = cursor + 1 if in_progress else cursor
        lo = 0 if start is None else int(np.searchsorted(s.ts[:visible], start, "left"))
        hi = visible if end is None else int(np.searchsorted(s.ts[:visible], end, "right"))
        if hi <= lo or limit <= 0:
            return []
        if start is not None:
            hi = min(hi, lo + limit)
        else:
            lo = max(lo, hi - limit)
        sl = slice(lo, hi)
        rows: list[Bar] = list(
            zip(
                s.ts[sl].tolist(),
                s.open[sl].tolist(),
                s.high[sl].tolist(),
                s.low[sl].tolist(),
                s.close[sl].tolist(),
                s.volume[sl].tolist(),
                strict=True,
            )
        )
        if in_progress and hi == visible:
            ts, o = rows[-1][0], rows[-1][1]
            rows[-1] = (ts, o, o, o, o, 0.0)
        return rows

    def last_closed(self, symbol: str, tf: str | None = None) -> Bar | None:
        """The last closed bar of ``symbol`` (price tape unless ``tf``), None before the first."""
        i = self._price_index.get(symbol) if tf is None else self._series_index(symbol, tf)
        if i is None:
            raise TapeError(f"{symbol} is not on the tape")
        cursor = int(self._cursor[i])
        return _bar(self._series[i], cursor - 1) if cursor > 0 else None

    def price(self, symbol: str) -> float:
        """Open of the bar in progress on the price tape (the last close between bars)."""
        i = self._price_index.get(symbol)
        if i is None:
            raise TapeError(f"{symbol} is not on the tape")
        s = self._series[i]
        cursor = int(self._cursor[i])
        if cursor < self._len[i] and int(s.ts[cursor]) <= self.now_ms():
            return float(s.open[cursor])
        if cursor > 0:
            return float(s.close[cursor - 1])
        return float(s.open[0])

    def instrument(self, symbol: str) -> Market:
        """Trading rules of ``symbol``: the venue's bundled snapshot, or typical defaults."""
        market = self._instruments.get(symbol)
        if market is not None:
            return market
        if symbol not in self._timeframes:
            raise TapeError(f"{symbol} is not on the tape")
        if self._markets is None:
            self._markets = load_snapshot(SNAPSHOTS.get(self.exchange or "bybit", "bybit_linear"))
        market = self._markets.get(symbol)
        if market is None:
            market = _default_market(symbol, float(self._series[self._price_index[symbol]].open[0]))
        self._instruments[symbol] = market
        return market


def _bar(s: Series, j: int) -> Bar:
    return (
        int(s.ts[j]),
        float(s.open[j]),
        float(s.high[j]),
        float(s.low[j]),
        float(s.close[j]),
        float(s.volume[j]),
    )
