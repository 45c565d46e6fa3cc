"""Closed candles from the exchange, in order and without holes, as steps.

The :class:`ExchangeFeed` is the :class:`~garrison.engine.market.MarketFeed`
of paper and live trading:

- Warm-up: each series' closed history through REST before the first step
  (the bar still in progress is never taken).
- Streaming: ccxt.pro ``watch_ohlcv_for_symbols``, the series sharded over
  several clients (one websocket each) within the venue's subscription
  limits. Every kline message is tapped (:mod:`garrison.live.klines`), so the
  venue's own "closed" flag decides when a candle is final.
- Order: a candle at or before the last closed one of its series is a
  duplicate or out of order and is dropped (counted). A hole — a closed
  candle that skips bars, or a bar whose "closed" message never came (ccxt's
  cache silently loses candles across a reconnect) — is filled through REST
  before the series goes on.
- Steps: the candles closing at one instant form a step. A step waits at
  most ``step_wait_s`` (wall) for every series due then; a candle later
  than that is handed to the next step as *late*: booked and taken into the
  indicators, decided on by nobody.
- Staleness: a symbol whose execution series has no closed candle for
  ``stale_after`` of its timeframes is stale; :attr:`stale` feeds the risk
  chain's refusal of entries on it.
- Silence: when no kline message at all has come for ``quiet_s`` (wall), the
  websockets may be stalled, or a bar closed between the warm-up and the
  subscription (no later message reveals the hole while nothing comes).
  Beside the steps, REST is asked for the newest closed bar of the series
  furthest behind (one per timeframe); only if one has a newer bar is every
  series asked. Each newer bar enters as a closed message would, so a
  longer hole is backfilled and only the latest bar is decided on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import attrs
import ccxt.async_support as ccxt
from garrison_api import Candle

from garrison.engine.market import Step
from garrison.live.klines import KlineUpdate
from garrison.live.retry import with_retries
from garrison.profile.timeframes import timeframe_ms

#: Report of something worth an event: (kind, message, data).
FeedEvent = Callable[[str, str, dict[str, Any]], None]

#: Series per websocket connection when the profile does not say.
DEFAULT_PER_CONNECTION = {"bybit": 100, "binance": 200}

#: Bars per REST page of klines (both venues allow at least this).
PAGE = 1000


def _ohlcv(row: Sequence[Any]) -> tuple[int, float, float, float, float, float]:
    """Open time and values of a ccxt OHLCV row (a missing volume is 0)."""
    return (
        int(row[0]),
        float(row[1]),
        float(row[2]),
        float(row[3]),
        float(row[4]),
        float(row[5] or 0.0),
    )


@attrs.define
class FeedStats:
    """What the feed saw and did; part of the run's figures."""

    closed: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    gaps: int = 0
    backfilled: int = 0
    late: int = 0
    reconnects: int = 0
    steps: int = 0
    #: Steps where some due series had no candle (it was late or missing).
    incomplete_steps: int = 0
    #: Times the websockets were silent for ``quiet_s`` and REST was asked.
    quiet_checks: int = 0
    #: Closed candles those checks found (the websockets never delivered them).
    caught_up: int = 0


@attrs.define
class _Series:
    symbol: str
    timeframe: str
    tf_ms: int
    ccxt_symbol: str
    #: Open time of the last closed bar handed on (-1: none yet).
    last_ts: int = -1
    executes: bool = False


class ExchangeFeed:
    """Candles of ``series`` from ``rest`` (REST) and ``streams`` (websocket clients).

    ``streams`` are ccxt.pro clients with their kline messages already
    tapped into :meth:`take` (see :func:`garrison.live.klines.tap_klines`),
    each watching the series :meth:`shards` gives it.
    """

    def __init__(
        self,
        *,
        rest: Any,
        series: Sequence[tuple[str, str]],
        ccxt_symbols: Mapping[str, str],
        history_bars: Callable[[str, str], int],
        step_wait_s: float = 3.0,
        stale_after: float = 1.5,
        quiet_s: float = 20.0,
        until_ms: int | None = None,
        on_event: FeedEvent | None = None,
    ) -> None:
        self._rest = rest
        finest: dict[str, int] = {}
        for symbol, timeframe in series:
            tf = timeframe_ms(timeframe)
            finest[symbol] = min(finest.get(symbol, tf), tf)
        self._series = {
            (symbol, timeframe): _Series(
                symbol,
                timeframe,
                timeframe_ms(timeframe),
                ccxt_symbols[symbol],
                executes=timeframe_ms(timeframe) == finest[symbol],
            )
            for symbol, timeframe in sorted(series)
        }
        self._history_bars = history_bars
        self._history: dict[tuple[str, str], list[Candle]] = {}
        self._wait_s = step_wait_s
        self._stale_after = stale_after
        self._quiet_s = quiet_s
        #: Wall time of the last kline message (or of the last silence check).
        self._heard_at = time.monotonic()
        self._catching_up: asyncio.Task[None] | None = None
        self._until = until_ms
        self._emit = on_event or (lambda _kind, _message, _data: None)
        self._queue: asyncio.Queue[KlineUpdate] = asyncio.Queue()
        #: Candles closing at each instant, not yet handed on as a step.
        self._pending: dict[int, dict[tuple[str, str], Candle]] = {}
        #: Wall time by which each pending step is handed on, complete or not.
        self._deadline: dict[int, float] = {}
        self._late: list[Candle] = []
        self._last_step = -1
        self._watchers: list[asyncio.Task[None]] = []
        self.stats = FeedStats()
        #: Symbols whose candles stopped coming (see the module docstring).
        self.stale: set[str] = set()
        #: Close time of the newest candle of any series (the market's "now").
        self.market_ms = 0
        self._suspect: set[tuple[str, str]] = set()
        self._heard: set[tuple[str, str]] = set()
        #: Set once every series has had a message from its websocket.
        self.ready = asyncio.Event()

    # -- warm-up -----------------------------------------------------------------

    async def warm_up(self) -> None:
        """Fetch each series' closed history through REST (before :meth:`steps`).

        The venue's newest candle is the one in progress (both venues list
        it last): everything before it is closed. The exchange's clock is
        not used for that, so a replaying fake exchange works the same. All
        series stop at one instant (the earliest "in progress" seen), so a
        bar that closes while the history is fetched is not history for some
        series and a live candle for others: it comes through the stream (or
        its backfill) for all of them, in the first step.
        """
        newest = {key: await self._newest_open(s) for key, s in self._series.items()}
        cut = min(newest.values())
        for key, s in self._series.items():
            bars = max(1, self._history_bars(s.symbol, s.timeframe))
            end = cut - cut % s.tf_ms  # the open of this series' bar in progress at the cut
            candles = (await self._closed_bars(s, end - bars * s.tf_ms, end))[-bars:]
            self._history[key] = candles
            if candles:
                s.last_ts = candles[-1].ts
                self.market_ms = max(self.market_ms, s.last_ts + s.tf_ms)

    async def _newest_open(self, s: _Series) -> int:
        """Open time of the candle in progress on ``s`` (the venue's last one)."""
        rows = await self._last_two(s)
        if not rows:
            raise ccxt.ExchangeError(f"{s.symbol} {s.timeframe}: the exchange lists no candles")
        return int(max(r[0] for r in rows))

    async def _last_two(self, s: _Series) -> list[list[float]]:
        """The venue's last two candles of ``s`` (the newest is the one in progress)."""

        async def last() -> list[list[float]]:
            rows: list[list[float]] = await self._rest.fetch_ohlcv(
                s.ccxt_symbol, s.timeframe, limit=2
            )
            return rows

        return await with_retries(last, what=f"klines {s.symbol} {s.timeframe}")

    async def _closed_bars(self, s: _Series, since: int, now: int) -> list[Candle]:
        """Bars of ``s`` opening from ``since`` and closed by ``now`` (ms), via REST."""
        out: list[Candle] = []
        cursor = since
        while cursor + s.tf_ms <= now:
            start = cursor

            async def page(start: int = start) -> list[list[float]]:
                rows: list[list[float]] = await self._rest.fetch_ohlcv(
                    s.ccxt_symbol, s.timeframe, since=start, limit=PAGE
                )
                return rows

            rows = await with_retries(page, what=f"klines {s.symbol} {s.timeframe}")
            fresh = [r for r in rows if r[0] >= start and r[0] + s.tf_ms <= now]
            if not fresh:
                break
            for r in fresh:
                if out and r[0] <= out[-1].ts:
                    continue
                out.append(Candle(s.symbol, s.timeframe, *_ohlcv(r)))
            cursor = out[-1].ts + s.tf_ms
        return out

    # -- the MarketFeed protocol -----------------------------------------------------

    def series(self) -> Sequence[tuple[str, str]]:
        return list(self._series)

    def history(self, symbol: str, timeframe: str) -> Sequence[Candle]:
        # Handed over once: the driver keeps what it needs, the feed keeps nothing.
        return self._history.pop((symbol, timeframe), [])

    def shards(self, per_connection: int) -> list[list[list[str]]]:
        """``[[ccxt_symbol, timeframe], ...]`` per websocket connection."""
        pairs = [[s.ccxt_symbol, s.timeframe] for s in self._series.values()]
        size = max(1, per_connection)
        return [pairs[i : i + size] for i in range(0, len(pairs), size)]

    def watch(self, client: Any, pairs: list[list[str]]) -> None:
        """Keep ``client`` subscribed to ``pairs`` (a task; reconnects after errors)."""
        self._watchers.append(asyncio.ensure_future(self._watch(client, pairs)))

    async def _watch(self, client: Any, pairs: list[list[str]]) -> None:
        pause = 0.2
        keys = [(self._id_of(p[0]), p[1]) for p in pairs]
        while True:
            try:
                # The result is ccxt's cache; the tap already handed us the messages.
                await client.watch_ohlcv_for_symbols(pairs)
                pause = 0.2
            except asyncio.CancelledError:
                raise
            except ccxt.BaseError as exc:
                self.stats.reconnects += 1
                # ccxt's cache may have lost candles across the drop: check the next ones.
                self._suspect.update(keys)
                self._emit(
                    "feed.reconnect",
                    f"candle websocket dropped ({type(exc).__name__}: {exc}); reconnecting "
                    f"in {pause:.1f}s",
                    {"series": len(pairs)},
                )
                await asyncio.sleep(pause)
                pause = min(5.0, pause * 2)

    def _id_of(self, ccxt_symbol: str) -> str:
        for s in self._series.values():
            if s.ccxt_symbol == ccxt_symbol:
                return s.symbol
        return ccxt_symbol

    def take(self, update: KlineUpdate) -> None:
        """The tap's sink: queue one kline update for :meth:`steps`."""
        self._queue.put_nowait(update)
        self._heard_at = time.monotonic()
        if not self.ready.is_set():
            self._heard.add((update.symbol, update.timeframe))
            if self._heard.issuperset(self._series):
                self.ready.set()

    async def close(self) -> None:
        """Stop the watchers."""
        if self._catching_up is not None:
            self._watchers.append(self._catching_up)
            self._catching_up = None
        for task in self._watchers:
            task.cancel()
        for task in self._watchers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._watchers.clear()

    # -- steps -------------------------------------------------------------------------

    async def steps(self) -> AsyncIterator[Step]:
        queue = self._queue
        if self._until is not None and self.market_ms >= self._until:
            # Started after the end asked for (the warm-up already holds it): nothing to decide.
            return
        while True:
            step = self._ready_step()
            if step is not None:
                yield step
                if self._until is not None and step.close_ms >= self._until:
                    return
                continue
            if queue.empty():
                wake = self._heard_at + self._quiet_s
                if self._deadline:
                    wake = min(wake, min(self._deadline.values()))
                try:
                    update = await asyncio.wait_for(queue.get(), max(0.0, wake - time.monotonic()))
                except TimeoutError:
                    if time.monotonic() >= self._heard_at + self._quiet_s:
                        self._heard_at = time.monotonic()
                        if self._catching_up is None or self._catching_up.done():
                            self._catching_up = asyncio.ensure_future(self._catch_up())
                    continue
            else:
                # wait_for with no time left gives up before even a ready get() runs.
                update = queue.get_nowait()
            await self._on_update(update)
            # Take whatever else already arrived before judging steps again.
            while not queue.empty():
                await self._on_update(queue.get_nowait())

    async def _on_update(self, update: KlineUpdate) -> None:
        key = (update.symbol, update.timeframe)
        s = self._series.get(key)
        if s is None:
            return  # a series the feed does not trade (another subscription of the client)
        ts = update.ts
        if s.last_ts >= 0 and ts <= s.last_ts:
            if ts == s.last_ts:
                self.stats.duplicates += 1
            else:
                self.stats.out_of_order += 1
            return
        # The bar before this one (or before the one it closes) must be here already.
        due = ts if update.closed else ts - s.tf_ms
        expected = s.last_ts + s.tf_ms if s.last_ts >= 0 else due
        if due > expected or (key in self._suspect and due >= expected):
            # The market is at the close of this candle (closed) or of the one before it.
            present = ts + s.tf_ms if update.closed else ts
            await self._backfill(s, expected, due if update.closed else ts, present)
            self._suspect.discard(key)
            if update.closed and s.last_ts >= ts:
                return  # the backfill brought this very bar
        if not update.closed:
            return
        self._suspect.discard(key)
        self._close(
            s,
            Candle(
                s.symbol,
                s.timeframe,
                ts,
                update.open,
                update.high,
                update.low,
                update.close,
                update.volume,
            ),
        )

    async def _catch_up(self) -> None:
        """The websockets were silent for ``quiet_s``: closed bars they missed, via REST."""
        self.stats.quiet_checks += 1
        # One probe per timeframe: its series furthest behind.
        probes: dict[int, _Series] = {}
        for s in self._series.values():
            if s.tf_ms not in probes or s.last_ts < probes[s.tf_ms].last_ts:
                probes[s.tf_ms] = s
        try:
            probed = await asyncio.gather(*(self._newer_closed(s) for s in probes.values()))
            if all(u is None for u in probed):
                return  # nothing was missed
            asked = {id(s) for s in probes.values()}
            others = [s for s in self._series.values() if id(s) not in asked]
            rest = await asyncio.gather(*(self._newer_closed(s) for s in others))
        except ccxt.BaseError:
            return  # the next silence asks again
        found = [u for u in (*probed, *rest) if u is not None]
        for update in found:
            self._queue.put_nowait(update)
        self.stats.caught_up += len(found)
        self._emit(
            "feed.quiet",
            f"no candle from the websockets for {self._quiet_s:g}s; the newest closed bar of "
            f"{len(found)} series came through REST",
            {"series": len(found), "quiet_s": self._quiet_s},
        )

    async def _newer_closed(self, s: _Series) -> KlineUpdate | None:
        """The venue's newest closed bar of ``s`` as a closed message, if newer than ours."""
        rows = await self._last_two(s)
        if len(rows) < 2:
            return None
        # The venue lists the bar in progress last: the one before it is closed.
        row = sorted(rows, key=lambda r: r[0])[-2]
        if int(row[0]) <= s.last_ts:
            return None
        return KlineUpdate(s.symbol, s.timeframe, *_ohlcv(row), True)

    async def _backfill(self, s: _Series, first: int, upto: int, present: int) -> None:
        """Close every bar of ``s`` from open time ``first`` up to (not incl.) ``upto`` via REST.

        Only a bar closing at ``present`` (the market's latest close) may be
        decided on; older ones are late: booked and taken into the
        indicators, decided on by nobody (the market has moved on from them).
        """
        if upto <= first:
            return
        self.stats.gaps += 1
        bars = await self._closed_bars(s, first, upto)
        for candle in bars:
            if candle.ts > s.last_ts:
                self._close(s, candle, decide=candle.ts + s.tf_ms >= present)
                self.stats.backfilled += 1
        self._emit(
            "feed.gap",
            f"{s.symbol} {s.timeframe}: {len(bars)} candle(s) missing from the websocket "
            "were filled in through REST",
            {"symbol": s.symbol, "timeframe": s.timeframe, "from": first, "bars": len(bars)},
        )

    def _close(self, s: _Series, candle: Candle, decide: bool = True) -> None:
        s.last_ts = candle.ts
        self.stats.closed += 1
        close = candle.ts + s.tf_ms
        self.market_ms = max(self.market_ms, close)
        if close <= self._last_step or not decide:
            self._late.append(candle)
            self.stats.late += 1
            return
        bars = self._pending.get(close)
        if bars is None:
            bars = self._pending[close] = {}
            self._deadline[close] = time.monotonic() + self._wait_s
        bars[(s.symbol, s.timeframe)] = candle

    def _due(self, close: int) -> list[tuple[str, str]]:
        return [k for k, s in self._series.items() if close % s.tf_ms == 0]

    def _ready_step(self) -> Step | None:
        if not self._pending:
            return None
        close = min(self._pending)
        bars = self._pending[close]
        missing = [k for k in self._due(close) if k not in bars]
        if missing and time.monotonic() < self._deadline[close]:
            return None
        del self._pending[close]
        del self._deadline[close]
        if missing:
            self.stats.incomplete_steps += 1
        ordered = sorted(bars.values(), key=lambda c: (-timeframe_ms(c.timeframe), c.symbol))
        late = tuple(self._late)
        self._late.clear()
        self._last_step = close
        self.stats.steps += 1
        self._judge_staleness(close)
        return Step(close, tuple(ordered), late)

    def _judge_staleness(self, close: int) -> None:
        for s in self._series.values():
            if not s.executes:
                continue
            behind = close - (s.last_ts + s.tf_ms) if s.last_ts >= 0 else close
            stale = behind >= self._stale_after * s.tf_ms
            if stale and s.symbol not in self.stale:
                self.stale.add(s.symbol)
                self._emit(
                    "feed.stale",
                    f"{s.symbol}: no closed {s.timeframe} candle since "
                    f"{s.last_ts + s.tf_ms}; entries refused until candles come again",
                    {"symbol": s.symbol, "last_close": s.last_ts + s.tf_ms},
                )
            elif not stale and s.symbol in self.stale:
                self.stale.discard(s.symbol)
                self._emit(
                    "feed.fresh",
                    f"{s.symbol}: candles come again",
                    {"symbol": s.symbol},
                )
