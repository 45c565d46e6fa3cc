"""``garrison data download``: closed candles from an exchange's REST API into the candle table.

Pages through ccxt's ``fetch_ohlcv`` in fixed windows of ``page_size`` bars
(``since`` = the window's first open time, ``until`` = its last millisecond),
so what each request covers does not depend on how a venue orders or
limits its answer, and the windows tile the range with no overlap and no
hole. Every page is committed on its own: an interrupted download loses at
most the page in flight. Where to start comes from the table itself (see
:func:`plan_segments`), so running the same command again carries on.

Only closed bars are stored. Venues serve the bar in progress with the
others, so each symbol's download first asks for the newest bar and stops
before it; as a second guard, no bar closing after the exchange's clock is
stored. (The newest bar is the better witness: a local fake exchange
replaying recorded candles keeps its market time apart from its clock.)
Reads are retried with exponential backoff on ccxt's ``NetworkError``
(timeouts, 5xx, 429 rate limits, Binance's 418), a bounded number of times.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs
import ccxt.async_support as ccxt
import numpy as np
import numpy.typing as npt

from garrison.engine.feed import FeedError, validate
from garrison.journal import Journal
from garrison.live.connect import make_client
from garrison.live.retry import with_retries
from garrison.profile.timeframes import timeframe_ms

T = TypeVar("T")

#: The most bars one request may ask for (Bybit and Binance both serve 1000).
MAX_PAGE = 1000
_ERROR_CHARS = 300


class DownloadError(Exception):
    """A download that cannot go on; the message names the exchange, symbol and what failed."""


@attrs.frozen
class Retry:
    """How a read is retried on ccxt's NetworkError (see :func:`garrison.live.retry.with_retries`).

    ``tries`` in all; pauses start at ``base_s`` and double up to ``max_s``
    (rate limits wait four times as long).
    """

    tries: int = 5
    base_s: float = 0.5
    max_s: float = 30.0


@attrs.frozen
class DownloadRequest:
    """What to download: symbols are exchange ids (``BTCUSDT``); times are UTC epoch ms.

    Bars opening in ``[since_ms, until_ms)`` are wanted (``until_ms`` None: up
    to the last closed bar). ``refetch`` downloads that whole window again,
    replacing stored bars whose values changed, instead of resuming.
    """

    exchange: str
    symbols: tuple[str, ...]
    timeframe: str
    since_ms: int
    until_ms: int | None = None
    page_size: int = MAX_PAGE
    refetch: bool = False
    retry: Retry = Retry()


@attrs.frozen
class SymbolPlan:
    """The windows of bar open times ``[start, end)`` one symbol's download fetches."""

    symbol: str
    market: str
    timeframe: str
    segments: tuple[tuple[int, int], ...]

    @property
    def bars(self) -> int:
        """How many bar slots the segments cover (the progress bar's total)."""
        tf = timeframe_ms(self.timeframe)
        return sum(math.ceil((end - start) / tf) for start, end in self.segments)


@attrs.frozen
class SymbolResult:
    """What one symbol's download did, and the stored range of its series after it."""

    symbol: str
    timeframe: str
    pages: int
    fetched: int
    new: int
    replaced: int
    span: tuple[int, int] | None


class Listener(Protocol):
    """Hears how a download goes (the CLI's progress bar or lines)."""

    def planned(self, plan: SymbolPlan) -> None:
        """A symbol's download is about to start."""

    def page(self, plan: SymbolPlan, slots: int, stored: int) -> None:
        """A page is committed: it covered ``slots`` bar slots and held ``stored`` closed bars."""

    def finished(self, result: SymbolResult) -> None:
        """A symbol's download is done."""


class _Silent:
    def planned(self, plan: SymbolPlan) -> None:
        pass

    def page(self, plan: SymbolPlan, slots: int, stored: int) -> None:
        pass

    def finished(self, result: SymbolResult) -> None:
        pass


def iso(ms: int) -> str:
    """``2025-01-02 03:04 UTC`` for an epoch-ms time (messages and reports)."""
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def plan_segments(
    span: tuple[int, int] | None, since_ms: int, end_ms: int, tf_ms: int, *, refetch: bool
) -> tuple[tuple[int, int], ...]:
    """The resume rule: which open-time windows ``[start, end)`` still need fetching.

    ``span`` is the (oldest, newest) open time stored for the series. Nothing
    stored, or ``refetch``: all of ``[since, end)``. Otherwise the download
    starts after the newest stored bar (or at ``since`` when that is later);
    when ``since`` is before the oldest stored bar, the bars from ``since``
    up to it are fetched first. Holes inside the stored range are left as
    they are (``refetch`` fills them).
    """
    if end_ms <= since_ms:
        return ()
    if refetch or span is None:
        return ((since_ms, end_ms),)
    first, last = span
    segments = []
    if since_ms < first:
        segments.append((since_ms, min(first, end_ms)))
    resume = max(since_ms, last + tf_ms)
    if resume < end_ms:
        segments.append((resume, end_ms))
    return tuple(segments)


async def read_with_retry(retry: Retry, what: str, call: Callable[[], Awaitable[T]]) -> T:
    """``await call()`` with retries; any ccxt error left is a DownloadError naming ``what``."""
    try:
        return await with_retries(
            call, what=what, tries=retry.tries, base_s=retry.base_s, max_s=retry.max_s
        )
    except ccxt.NetworkError as exc:
        raise DownloadError(
            f"{what}: gave up after {retry.tries} tries; last error: {_describe(exc)}"
        ) from exc
    except ccxt.BaseError as exc:
        raise DownloadError(f"{what}: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > _ERROR_CHARS:
        text = text[:_ERROR_CHARS] + "..."
    return f"{type(exc).__name__}: {text}"


def resolve_markets(
    markets_by_id: Mapping[str, Sequence[Mapping[str, Any]]], exchange: str, ids: Sequence[str]
) -> dict[str, str]:
    """ccxt's unified symbol (``BTC/USDT:USDT``) of each exchange id, linear USDT perpetuals only.

    DownloadError naming every id the exchange does not list as one.
    """
    found: dict[str, str] = {}
    unknown: list[str] = []
    for symbol_id in ids:
        candidates = markets_by_id.get(symbol_id) or ()
        perpetual = [
            m for m in candidates if m.get("swap") and m.get("linear") and m.get("settle") == "USDT"
        ]
        if perpetual:
            found[symbol_id] = str(perpetual[0]["symbol"])
        else:
            unknown.append(symbol_id)
    if unknown:
        raise DownloadError(
            f"unknown symbol {', '.join(unknown)} on {exchange}: not a linear USDT perpetual "
            f"there (give exchange ids such as BTCUSDT)"
        )
    return found


def closed_before(newest_open: int | None, server_ms: int, tf_ms: int) -> int:
    """Bars opening before this time have closed.

    ``newest_open`` is the open time of the newest bar the exchange serves
    (the bar in progress; None when it serves none), ``server_ms`` its clock.
    """
    by_clock = server_ms - tf_ms + 1  # open + timeframe <= clock
    return by_clock if newest_open is None else min(newest_open, by_clock)


def page_rows(
    raw: Sequence[Sequence[Any]],
    *,
    start_ms: int,
    end_ms: int,
    timeframe: str,
    where: str,
) -> npt.NDArray[np.float64]:
    """The bars of one page opening in ``[start_ms, end_ms)``, validated, sorted by time.

    Bars outside the window (a venue may send more) are dropped. Bad data
    (NaN, broken bars, repeats) is a DownloadError naming ``where``.
    """
    try:
        array = np.asarray([list(row)[:6] for row in raw], dtype=np.float64).reshape(-1, 6)
    except (TypeError, ValueError) as exc:
        raise DownloadError(
            f"{where}: the exchange sent candles that are not numbers: {exc}"
        ) from None
    ts = array[:, 0]
    array = array[(ts >= start_ms) & (ts < end_ms)]
    array = array[np.argsort(array[:, 0], kind="stable")]
    try:
        validate(array, "", timeframe, where)
    except FeedError as exc:
        raise DownloadError(f"the exchange sent a bad candle: {exc}") from None
    return array


async def download(
    client: Any,
    journal: Journal,
    request: DownloadRequest,
    listener: Listener | None = None,
) -> list[SymbolResult]:
    """Download ``request`` through a ccxt async ``client`` into ``journal``'s candle table.

    Every symbol is checked against the exchange's markets before anything
    is fetched. The caller owns ``client`` (and closes it).
    """
    listener = listener or _Silent()
    tf_ms = timeframe_ms(request.timeframe)
    if not 1 <= request.page_size <= MAX_PAGE:
        raise DownloadError(f"page size must be 1 to {MAX_PAGE}, got {request.page_size}")
    exchange = request.exchange
    retry = request.retry
    await read_with_retry(retry, f"{exchange}: loading markets", client.load_markets)
    if request.timeframe not in (client.timeframes or {}):
        raise DownloadError(f"{exchange} does not serve {request.timeframe} candles")
    markets = resolve_markets(client.markets_by_id or {}, exchange, request.symbols)
    results = []
    for symbol in request.symbols:
        what = f"{exchange} {symbol} {request.timeframe}"
        market = markets[symbol]
        newest = await read_with_retry(
            retry, f"{what}: reading the newest bar", _newest(client, market, request.timeframe)
        )
        clock = await read_with_retry(
            retry, f"{what}: reading the exchange clock", client.fetch_time
        )
        closed_end = closed_before(newest, int(clock), tf_ms)
        end = closed_end if request.until_ms is None else min(request.until_ms, closed_end)
        span = journal.candle_span(exchange, symbol, request.timeframe)
        plan = SymbolPlan(
            symbol,
            market,
            request.timeframe,
            plan_segments(span, request.since_ms, end, tf_ms, refetch=request.refetch),
        )
        listener.planned(plan)
        pages = fetched = new = replaced = 0
        for start, stop in plan.segments:
            cursor = start
            while cursor < stop:
                window_end = min(cursor + request.page_size * tf_ms, stop)
                raw = await read_with_retry(
                    retry,
                    f"{what}: fetching bars from {iso(cursor)}",
                    _fetch(client, plan.market, request.timeframe, cursor, window_end, request),
                )
                rows = page_rows(
                    raw,
                    start_ms=cursor,
                    end_ms=window_end,
                    timeframe=request.timeframe,
                    where=f"{what} page from {iso(cursor)}",
                )
                counts = journal.store_candles(
                    exchange, symbol, request.timeframe, rows, replace=True
                )
                pages += 1
                fetched += len(rows)
                new += counts.new
                replaced += counts.replaced
                listener.page(plan, math.ceil((window_end - cursor) / tf_ms), len(rows))
                cursor = window_end
        result = SymbolResult(
            symbol,
            request.timeframe,
            pages,
            fetched,
            new,
            replaced,
            journal.candle_span(exchange, symbol, request.timeframe),
        )
        listener.finished(result)
        results.append(result)
    return results


def _newest(client: Any, market: str, timeframe: str) -> Callable[[], Awaitable[int | None]]:
    async def call() -> int | None:
        rows = await client.fetch_ohlcv(market, timeframe, limit=1)
        return int(rows[-1][0]) if rows else None

    return call


def _fetch(
    client: Any, market: str, timeframe: str, start: int, end: int, request: DownloadRequest
) -> Callable[[], Awaitable[list[list[Any]]]]:
    def call() -> Awaitable[list[list[Any]]]:
        # ``until`` is the window's last millisecond: inclusive or not, the venue
        # cannot return the next window's first bar.
        result: Awaitable[list[list[Any]]] = client.fetch_ohlcv(
            market, timeframe, since=start, limit=request.page_size, params={"until": end - 1}
        )
        return result

    return call


async def download_from_exchange(
    journal: Journal,
    request: DownloadRequest,
    *,
    network: str = "mainnet",
    rest_url: str | None = None,
    listener: Listener | None = None,
) -> list[SymbolResult]:
    """:func:`download` through a client made for ``request.exchange``, always closed after."""
    client = make_client(request.exchange, network=network, rest_url=rest_url, pro=False)
    try:
        return await download(client, journal, request, listener)
    finally:
        await client.close()
