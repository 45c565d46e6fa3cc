"""``garrison.live.history`` against the fake exchange: paging, resume, closed bars, retries.

The real ccxt async client talks to :mod:`garrison.fakex` on 127.0.0.1, which
replays the bundled demo candles with a manual clock: 1000 bars have closed
when it starts, the 1001st is in progress (served open-only, as venues do).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from garrison.engine.candle_import import series_rows
from garrison.engine.feed import load_csv, parse_file_name
from garrison.fakex.server import running_fake
from garrison.fakex.tape import MarketTape
from garrison.journal import Journal
from garrison.live.connect import make_client
from garrison.live.history import (
    DownloadError,
    DownloadRequest,
    Retry,
    SymbolPlan,
    SymbolResult,
    download,
    download_from_exchange,
)

REPO = Path(__file__).resolve().parents[2]
SYMBOLS = ("BTCUSDT", "ETHUSDT")
TF = 300_000
HISTORY = 1000  # bars the fake has closed when it starts
FAST = Retry(tries=4, base_s=0.01, max_s=0.05)


def demo_file(symbol: str) -> Path:
    return REPO / "data" / "demo" / f"bybit_{symbol}_5m.csv.gz"


def demo_rows(symbol: str) -> np.ndarray:
    return series_rows(load_csv(parse_file_name(demo_file(symbol))))


def tape() -> MarketTape:
    return MarketTape.from_paths([str(demo_file(symbol)) for symbol in SYMBOLS])


def request(**changes: object) -> DownloadRequest:
    values: dict[str, object] = {
        "exchange": "bybit",
        "symbols": SYMBOLS,
        "timeframe": "5m",
        "since_ms": int(demo_rows("BTCUSDT")[0, 0]),
        "page_size": 300,
        "retry": FAST,
    }
    values.update(changes)
    return DownloadRequest(**values)  # type: ignore[arg-type]


def stored(journal: Journal, exchange: str, symbol: str) -> np.ndarray:
    return journal.read_candles(exchange=exchange, symbols=[symbol]).get(
        (symbol, "5m"), np.empty((0, 6))
    )


class Recorder:
    """A listener that keeps what it hears; raises ``InterruptError`` after ``stop_after`` pages."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after = stop_after
        self.plans: list[SymbolPlan] = []
        self.pages: list[tuple[str, int, int]] = []
        self.results: list[SymbolResult] = []

    def planned(self, plan: SymbolPlan) -> None:
        self.plans.append(plan)

    def page(self, plan: SymbolPlan, slots: int, stored: int) -> None:
        self.pages.append((plan.symbol, slots, stored))
        if self.stop_after is not None and len(self.pages) >= self.stop_after:
            raise InterruptError

    def finished(self, result: SymbolResult) -> None:
        self.results.append(result)


class InterruptError(Exception):
    """Stands for Ctrl-C between two pages."""


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal.open(tmp_path / "candles.sqlite")
    yield j
    j.close()


@pytest.mark.parametrize("exchange", ["bybit", "binance"])
def test_two_symbols_page_through_closed_bars_and_resume_as_time_passes(
    journal: Journal, exchange: str
) -> None:
    async def scenario() -> None:
        async with running_fake(exchange, tape(), speed=None) as fake:
            first = Recorder()
            results = await download_from_exchange(
                journal, request(exchange=exchange), rest_url=fake.rest_url, listener=first
            )
            assert [(r.symbol, r.pages, r.fetched, r.new, r.replaced) for r in results] == [
                (symbol, 4, HISTORY, HISTORY, 0) for symbol in SYMBOLS
            ]
            assert [p.bars for p in first.plans] == [HISTORY, HISTORY]
            assert [slots for _, slots, _ in first.pages] == [300, 300, 300, 100] * 2
            for symbol in SYMBOLS:
                # Every closed bar, as recorded; the bar in progress (served open-only) not.
                np.testing.assert_array_equal(
                    stored(journal, exchange, symbol), demo_rows(symbol)[:HISTORY]
                )
                assert fake.now_ms() == demo_rows(symbol)[HISTORY, 0]

            again = await download_from_exchange(
                journal, request(exchange=exchange), rest_url=fake.rest_url
            )
            assert [(r.pages, r.fetched) for r in again] == [(0, 0), (0, 0)]

            await fake.advance(bars=7)
            later = await download_from_exchange(
                journal, request(exchange=exchange), rest_url=fake.rest_url
            )
            assert [(r.pages, r.fetched, r.new) for r in later] == [(1, 7, 7), (1, 7, 7)]
            for symbol in SYMBOLS:
                np.testing.assert_array_equal(
                    stored(journal, exchange, symbol), demo_rows(symbol)[: HISTORY + 7]
                )

    asyncio.run(scenario())


def test_an_interrupted_download_resumes_without_duplicates_or_holes(journal: Journal) -> None:
    async def scenario() -> None:
        async with running_fake("bybit", tape(), speed=None) as fake:
            with pytest.raises(InterruptError):
                await download_from_exchange(
                    journal, request(), rest_url=fake.rest_url, listener=Recorder(stop_after=1)
                )
            # The first page was committed before the interruption; nothing else was.
            np.testing.assert_array_equal(
                stored(journal, "bybit", "BTCUSDT"), demo_rows("BTCUSDT")[:300]
            )
            assert len(stored(journal, "bybit", "ETHUSDT")) == 0

            resumed = Recorder()
            results = await download_from_exchange(
                journal, request(), rest_url=fake.rest_url, listener=resumed
            )
            assert [(r.symbol, r.pages, r.new, r.replaced) for r in results] == [
                ("BTCUSDT", 3, 700, 0),
                ("ETHUSDT", 4, 1000, 0),
            ]
            assert resumed.plans[0].segments[0][0] == demo_rows("BTCUSDT")[300, 0]
            for symbol in SYMBOLS:
                rows = stored(journal, "bybit", symbol)
                np.testing.assert_array_equal(rows, demo_rows(symbol)[:HISTORY])
                assert set(np.diff(rows[:, 0])) == {TF}

    asyncio.run(scenario())


def test_since_before_the_stored_range_fetches_the_bars_before_it_first(
    journal: Journal,
) -> None:
    btc = demo_rows("BTCUSDT")
    journal.write_candles("bybit", "BTCUSDT", "5m", btc[400:500])

    async def scenario() -> None:
        async with running_fake("bybit", tape(), speed=None) as fake:
            listener = Recorder()
            results = await download_from_exchange(
                journal, request(symbols=("BTCUSDT",)), rest_url=fake.rest_url, listener=listener
            )
            assert listener.plans[0].segments == (
                (int(btc[0, 0]), int(btc[400, 0])),
                (int(btc[500, 0]), int(btc[HISTORY, 0])),
            )
            assert results[0].new == HISTORY - 100
            np.testing.assert_array_equal(stored(journal, "bybit", "BTCUSDT"), btc[:HISTORY])

    asyncio.run(scenario())


def test_refetch_replaces_bars_that_changed(journal: Journal) -> None:
    btc = demo_rows("BTCUSDT")
    wrong = btc[:HISTORY].copy()
    wrong[10, 5] += 1.0  # a stored volume the exchange disagrees with
    journal.write_candles("bybit", "BTCUSDT", "5m", wrong)

    async def scenario() -> None:
        async with running_fake("bybit", tape(), speed=None) as fake:
            until = int(btc[600, 0])
            results = await download_from_exchange(
                journal,
                request(symbols=("BTCUSDT",), refetch=True, until_ms=until),
                rest_url=fake.rest_url,
            )
            assert [(r.pages, r.fetched, r.new, r.replaced) for r in results] == [(2, 600, 0, 1)]
            np.testing.assert_array_equal(stored(journal, "bybit", "BTCUSDT"), btc[:HISTORY])

    asyncio.run(scenario())


def test_rate_limits_are_retried(journal: Journal) -> None:
    async def scenario() -> None:
        async with running_fake("bybit", tape(), speed=None) as fake:
            fake.faults.rate_limit = 3
            results = await download_from_exchange(journal, request(), rest_url=fake.rest_url)
            assert fake.faults.injected.get("rate_limit") == 3
            assert [r.new for r in results] == [HISTORY, HISTORY]
            for symbol in SYMBOLS:
                np.testing.assert_array_equal(
                    stored(journal, "bybit", symbol), demo_rows(symbol)[:HISTORY]
                )

    asyncio.run(scenario())


def test_a_rate_limit_that_lasts_stops_with_an_error_naming_the_symbol(journal: Journal) -> None:
    async def scenario() -> None:
        async with running_fake("bybit", tape(), speed=None) as fake:
            client = make_client("bybit", rest_url=fake.rest_url, pro=False)
            try:
                await client.load_markets()
                fake.faults.rate_limit = 100
                with pytest.raises(
                    DownloadError,
                    match=r"bybit BTCUSDT 5m: reading the newest bar: gave up after 2 tries; "
                    r"last error: (RateLimitExceeded|ExchangeNotAvailable|DDoSProtection)",
                ):
                    await download(
                        client, journal, request(retry=Retry(tries=2, base_s=0.01, max_s=0.02))
                    )
            finally:
                await client.close()
            assert fake.faults.injected.get("rate_limit") == 2

    asyncio.run(scenario())
    assert journal.count("candles") == 0


def test_an_unknown_symbol_stops_the_download_before_anything_is_fetched(
    journal: Journal,
) -> None:
    async def scenario() -> None:
        async with running_fake("bybit", tape(), speed=None) as fake:
            with pytest.raises(DownloadError, match="unknown symbol NOPEUSDT on bybit"):
                await download_from_exchange(
                    journal,
                    request(symbols=("BTCUSDT", "NOPEUSDT")),
                    rest_url=fake.rest_url,
                )

    asyncio.run(scenario())
    assert journal.count("candles") == 0


def test_the_fake_serves_the_bar_in_progress_which_is_not_stored(journal: Journal) -> None:
    # The premise of the closed-bar rule: the newest bar the venue serves is in progress.
    async def scenario() -> None:
        async with running_fake("bybit", tape(), speed=None) as fake:
            client = make_client("bybit", rest_url=fake.rest_url, pro=False)
            try:
                newest = await client.fetch_ohlcv("BTC/USDT:USDT", "5m", limit=1)
            finally:
                await client.close()
            in_progress = demo_rows("BTCUSDT")[HISTORY]
            assert newest[-1][0] == in_progress[0]
            assert newest[-1][5] == 0.0  # open-only: no volume yet
            await download_from_exchange(
                journal, request(symbols=("BTCUSDT",)), rest_url=fake.rest_url
            )
            assert stored(journal, "bybit", "BTCUSDT")[-1, 0] == in_progress[0] - TF

    asyncio.run(scenario())
