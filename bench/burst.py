"""Burst latency: hundreds of symbols close a candle at once; how soon do the orders leave?

    uv run python bench/burst.py [--symbols 541] [--bursts 5] [--every 10]
                                 [--history 1000] [--data GLOB] [--out FILE.json]
                                 [--reconcile-s 1] [--cprofile FILE.pstats]

The host trades ``mode = "live"`` against the fake exchange (Bybit dialect),
which runs in a separate process so that its own work (building and
writing hundreds of websocket frames, answering orders) does not run on the
host's CPU or event loop. The host process is the bench itself: real ccxt /
ccxt.pro clients, ``ExchangeSource`` and ``run_profile`` as ``garrison run``
builds them.

The market. ``--symbols`` names (541 by default) come from
``../shared/data/markets/bybit_linear_usdt_instruments_2025-06-09_derived.csv``
(or, without ../shared, the bundled snapshot, the same 543 rows): its 523
USDT perpetuals first, then its dated futures with the dash dropped
(``BTCUSDT-13JUN25`` -> ``BTCUSDT13JUN25``: profiles take alphanumeric ids)
served as perpetuals under their own rules. Each symbol's candles are a
real 5-minute price path (the Bybit 5m files: ../shared/data/candles/bybit_linear,
else data/demo), symbol ``i`` taking file ``i mod 5`` from its own starting
bar, so no two symbols move alike. The path is scaled to the instrument's
price level and every price rounded to its tick. The level is estimated
from the instrument's own rules, which the venue sets by price: the
geometric mean of ``tick x 20,000``, ``2 USDT / min_qty`` and
``5M USDT / max_qty``, kept where a tick is at most 5 bp and the minimum
order at most 100 USDT (the bench's orders are about 500 USDT, so every
quantity fits the lot rules). All series share one time grid, so every
symbol closes a bar at the same instant.

The run. ``--history`` closed bars per symbol come through REST at start
(warm-up, timed apart: ccxt's rate limiter paces it), then the fake's
manual clock moves one bar per burst: 541 closed-candle messages (and 541
first updates of the next bar) over the websockets. A bench strategy
signals on ``1/--every`` of the symbols at each burst (symbol ``i`` at bar
``k`` when ``(i + k) mod every == 0``: each symbol at most once in
``every`` bars), long or short with a 2 % stop; the fixed-risk sizer sizes
them (10 USDT at risk); every host risk rule runs, with limits that let
them through. The journal commits every step with ``synchronous = "full"``
as configs/bybit.toml does. After each burst the bench waits until the
host's order tasks are done (fill lookups, stops) before the next one.
Reconciliation runs on every burst by default (``--reconcile-s 1``): on a
real 5-minute market with the default ``reconcile_s = 30`` every bar close
starts with one.

The figure. Latency from the moment the host received the LAST
closed-candle message of a burst (entry of ccxt's kline handler, before
ccxt parses the candle) to the HTTP request carrying each order leaving the
host (ccxt's ``fetch`` of ``/v5/order/create`` or ``/v5/order/create-batch``,
after its rate limiter; a batch counts once per order in it), over every
order of every burst: ``p50_ms``, ``p99_ms``, ``max_ms``. ``handed_to_ccxt``
is the same up to the host's ``create_order`` / ``create_orders`` call
(before the rate limiter), ``fake_received`` up to the fake's receipt of the
request (wall clocks of the two processes). ``peak_rss_mb`` is the host
process's peak resident memory (the fake's is apart). Both are measured by
wrapping ccxt's and the feed's methods inside this process; no host code
is changed. ``--cprofile`` profiles the host during the bursts (the
figures of such a run include the profiler's overhead).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import csv
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
NAMES_FILE = SHARED / "markets" / "bybit_linear_usdt_instruments_2025-06-09_derived.csv"
SHARED_CANDLES = SHARED / "candles" / "bybit_linear" / "bybit_*USDT_5m.csv"
DEMO_CANDLES = ROOT / "data" / "demo" / "bybit_*_5m.csv.gz"
TIMEFRAME = "5m"
BAR_MS = 300_000
TARGET_P99_MS = 100.0
#: The order requests timed: single creates and batches (one entry per order they carry).
ORDER_PATHS = ("/v5/order/create", "/v5/order/create-batch")
TARGET_RSS_MB = 400.0
KEY, SECRET = "burst-key", "burst-secret"


@attrs.frozen
class BurstOptions:
    """What one bench run does (see the module docstring)."""

    symbols: int = 541
    bursts: int = 5
    every: int = 10
    history: int = 1000
    data: tuple[str, ...] = ()
    reconcile_s: float = 1.0
    stop_pct: float = 2.0
    risk_usd: float = 10.0
    #: Wall seconds after a burst's orders are done, before the next burst.
    pause_s: float = 1.0
    cprofile: Path | None = None
    #: False switches ccxt's rate limiter off in the host (a diagnostic: the host's own
    #: work without the limiter's spacing; never a setting for a real venue).
    rate_limit: bool = True


# -- the market ------------------------------------------------------------------------------


def symbol_names(count: int) -> list[tuple[str, str]]:
    """``(name, instrument)``: the file's perpetuals, then its dated futures without the dash."""
    if NAMES_FILE.is_file():
        with NAMES_FILE.open(newline="") as f:
            listed = [row["symbol"] for row in csv.DictReader(f)]
    else:
        from garrison.markets.snapshot import load_snapshot

        listed = list(load_snapshot("bybit_linear"))
    perpetuals = [s for s in listed if s.isalnum()]
    dated = [s for s in listed if not s.isalnum()]
    pairs = [(s, s) for s in perpetuals] + [(s.replace("-", ""), s) for s in dated]
    if count > len(pairs):
        raise SystemExit(f"--symbols {count}: the instrument list has {len(pairs)} names")
    return pairs[:count]


def price_level(tick: float, min_qty: float, max_qty: float | None) -> float:
    """An instrument's price level estimated from its rules (module docstring), on its tick."""
    cap = max_qty or min_qty * 1e6
    guess = math.exp((math.log(tick * 2e4) + math.log(2.0 / min_qty) + math.log(5e6 / cap)) / 3.0)
    low = tick * 2e3
    high = min(tick * 1e6, 100.0 / min_qty)
    level = min(max(guess, low), max(high, low))
    return round(level / tick) * tick


def _decimals(step: float) -> int:
    return max(0, -int(Decimal(repr(step)).normalize().as_tuple().exponent))


def _on_grid(prices: Any, scale: float, tick: float) -> Any:
    """``prices * scale`` rounded to the tick, written with the tick's decimals, >= one tick."""
    snapped = np.round(np.round(prices * scale / tick) * tick, _decimals(tick))
    return np.maximum(snapped, tick)


def build_series(
    pairs: Sequence[tuple[str, str]], bars: int, data: Sequence[str]
) -> tuple[list[Any], dict[str, Any]]:
    """The candle series of every symbol and their trading rules (module docstring)."""
    from garrison.engine.feed import Series, discover, load_csv
    from garrison.markets.snapshot import load_snapshot

    files = sorted(discover(list(data)), key=lambda f: f.symbol)
    if not files:
        raise SystemExit(f"no candle files in {list(data)}")
    sources = [load_csv(f) for f in files]
    shortest = min(len(s) for s in sources)
    if shortest < bars + 1:
        raise SystemExit(f"the candle files hold {shortest} bars; {bars} are needed")
    rules = load_snapshot("bybit_linear")
    grid = int(sources[0].ts[0]) + np.arange(bars, dtype=np.int64) * BAR_MS
    out: list[Any] = []
    markets: dict[str, Any] = {}
    room = shortest - bars
    for i, (name, instrument) in enumerate(pairs):
        market = attrs.evolve(rules[instrument], symbol=name)
        markets[name] = market
        src = sources[i % len(sources)]
        start = ((i // len(sources)) * 1009) % max(room, 1)
        window = slice(start, start + bars)
        tick = market.tick_size
        scale = price_level(tick, market.min_qty, market.max_qty) / float(src.open[start])
        out.append(
            Series(
                name,
                TIMEFRAME,
                grid.copy(),
                _on_grid(src.open[window], scale, tick),
                _on_grid(src.high[window], scale, tick),
                _on_grid(src.low[window], scale, tick),
                _on_grid(src.close[window], scale, tick),
                np.round(src.volume[window] / scale, 3),
                source=f"{src.source} scaled x{scale:.6g}",
            )
        )
    return out, markets


# -- the fake exchange's process ------------------------------------------------------------


async def _serve_fake(config: dict[str, Any]) -> None:
    """The child process: serve the market, stamp order receipts, stop on "stop" from stdin."""
    from aiohttp import web
    from garrison.fakex.server import FakeExchange
    from garrison.fakex.tape import MarketTape

    pairs = [tuple(p) for p in config["pairs"]]
    series, markets = build_series(pairs, config["bars"], config["data"])
    tape = MarketTape(series, exchange="bybit", markets=markets)
    fake = FakeExchange(
        "bybit",
        tape,
        history=config["history"],
        balance=1_000_000_000.0,
        api_key=KEY,
        secret=SECRET,
    )
    received: list[float] = []

    @web.middleware
    async def stamp(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.method == "POST" and request.path in ORDER_PATHS:
            now = time.time()
            body = json.loads(await request.text() or "{}")
            received.extend([now] * len(body.get("request") or [body]))
        response: web.StreamResponse = await handler(request)
        return response

    fake.app.middlewares.append(stamp)
    await fake.start()
    print(
        json.dumps({"rest_url": fake.rest_url, "ws_url": fake.ws_url, "start_ms": fake.start_ms}),
        flush=True,
    )
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    orders = fake.account.orders()
    print(
        json.dumps(
            {
                "received": received,
                "orders_incl_stops": len(orders),
                "filled": sum(1 for o in orders if o.status == "filled"),
                "positions": sum(1 for p in fake.account.positions() if p.size),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        ),
        flush=True,
    )
    await fake.stop()


# -- the bench's strategy --------------------------------------------------------------------


@attrs.frozen
class BurstParams:
    """Signal on symbol ``i`` at bar ``k`` when ``(i + k) % every == 0``."""

    symbols: tuple[str, ...] = ()
    every: int = 10
    stop_pct: float = 2.0


def burst_strategy(log: list[tuple[int, str]]) -> type:
    """The strategy class; every signal it gives is appended to ``log`` as (bar ts, symbol)."""
    from garrison_api import Candle, IndicatorSpec, Side, Signal, StrategyContext

    class BurstSignals:
        Params: ClassVar[type] = BurstParams
        warmup = 0
        timeframes = (TIMEFRAME,)
        indicators: Mapping[str, IndicatorSpec] = {}

        def __init__(self, params: BurstParams) -> None:
            self.params = params
            self._index = {s: i for i, s in enumerate(params.symbols)}

        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
            i = self._index.get(candle.symbol)
            every = self.params.every
            if i is None or (i + candle.ts // BAR_MS) % every:
                return ()
            log.append((candle.ts, candle.symbol))
            long = (i // every) % 2 == 0
            move = candle.close * self.params.stop_pct / 100.0
            return (
                Signal(
                    symbol=candle.symbol,
                    ts=candle.ts,
                    side=Side.LONG if long else Side.SHORT,
                    entry=candle.close,
                    stop=candle.close - move if long else candle.close + move,
                ),
            )

    return BurstSignals


def profile_text(
    opts: BurstOptions, names: Sequence[str], rest_url: str, ws_url: str, journal: Path
) -> str:
    """The live profile: configs/bybit.toml's settings, the bench strategy, open risk limits."""
    symbols = json.dumps(list(names))
    return f"""
[profile]
name = "burst"
mode = "live"
exchange = "bybit"

[account]
starting_balance = 1_000_000_000.0
leverage = 10.0

[exchange]
symbols = {symbols}
timeframes = ["{TIMEFRAME}"]
rest_url = "{rest_url}"
ws_url = "{ws_url}"
history_bars = {opts.history}
step_wait_s = 3.0
reconcile_s = {opts.reconcile_s}

[credentials]
api_key_env = "BURST_KEY"
api_secret_env = "BURST_SECRET"

[markets]
snapshot = "bybit_linear"

[journal]
path = "{journal}"
commit = "step"
synchronous = "full"

[[strategies]]
use = "burst_signals"
[strategies.params]
symbols = {symbols}
every = {opts.every}
stop_pct = {opts.stop_pct}

[sizer]
use = "fixed_risk"
[sizer.params]
risk_usd = {opts.risk_usd}
fee_rate = 0.00055

[[risk]]
use = "trading_state"
[[risk]]
use = "one_position_per_symbol"
[[risk]]
use = "max_open_positions"
params = {{ limit = 100000 }}
[[risk]]
use = "max_notional"
params = {{ max_usd = 1e12 }}
[[risk]]
use = "exchange_minimums"
[[risk]]
use = "stop_distance"
params = {{ max_pct = 100.0 }}
[[risk]]
use = "max_drawdown"
params = {{ max_pct = 100.0 }}
[[risk]]
use = "daily_loss_limit"
params = {{ max_pct = 100.0 }}
[[risk]]
use = "same_direction_exposure"
params = {{ max_pct_of_equity = 1e9 }}
[[risk]]
use = "free_margin"
"""


# -- measuring inside the host process -------------------------------------------------------


class Probe:
    """Time stamps of the messages, steps and order requests of the host (module docstring)."""

    def __init__(self) -> None:
        #: Bar open ts -> [closed-candle messages, perf time of the last, wall time of the last].
        self.closes: dict[int, list[float]] = {}
        #: (burst, perf time, ccxt symbol) of each create_order call.
        self.handed: list[tuple[int, float, str]] = []
        #: (burst, perf time, exchange symbol) of each order in a create request sent.
        self.sent: list[tuple[int, float, str]] = []
        #: (step close ms, perf time handed to the driver, perf time the driver came back).
        self.steps: list[tuple[int, float, float]] = []
        #: (what, burst, perf start, perf end) of the venue's syncs and the reconciliations.
        self.calls: list[tuple[str, int, float, float]] = []
        self.burst = -1
        self.driving = asyncio.Event()
        self.step_done = asyncio.Event()

    def kline(self, message: Any) -> None:
        t = time.perf_counter()
        data = message.get("data") if isinstance(message, dict) else None
        if data and data[0].get("confirm"):
            start = int(data[0]["start"])
            entry = self.closes.get(start)
            if entry is None:
                self.closes[start] = [1, t, time.time()]
            else:
                entry[0] += 1
                entry[1] = t
                entry[2] = time.time()

    async def timed(self, what: str, call: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await call
        finally:
            self.calls.append((what, self.burst, t0, time.perf_counter()))

    async def timed_steps(self, steps: AsyncIterator[Any]) -> AsyncIterator[Any]:
        self.driving.set()
        async for step in steps:
            t0 = time.perf_counter()
            yield step
            self.steps.append((step.close_ms, t0, time.perf_counter()))
            self.step_done.set()


@contextlib.contextmanager
def instrumented(probe: Probe, rate_limit: bool = True) -> Iterator[None]:
    """Wrap ccxt.pro's Bybit client and the live feed to stamp times (undone on exit).

    ``rate_limit=False`` also makes ccxt's throttle a no-op (see :class:`BurstOptions`).
    """
    import ccxt.async_support
    import ccxt.pro
    from garrison.live.feed import ExchangeFeed
    from garrison.live.orders import ExchangeVenue
    from garrison.live.reconcile import Reconciler

    # The feed's clients are ccxt.pro's; the order path's is ccxt's async class, its base.
    stream_cls = ccxt.pro.bybit
    cls = ccxt.async_support.bybit
    handle = stream_cls.handle_ohlcv
    create = cls.create_order
    create_many = cls.create_orders
    fetch = cls.fetch
    steps = ExchangeFeed.steps
    sync = ExchangeVenue.sync
    reconcile = Reconciler.run

    def handle_ohlcv(self: Any, client: Any, message: Any) -> Any:
        probe.kline(message)
        return handle(self, client, message)

    async def create_order(
        self: Any,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        if type == "market":
            probe.handed.append((probe.burst, time.perf_counter(), symbol))
        return await create(self, symbol, type, side, amount, price, params or {})

    async def create_orders(self: Any, orders: list[Any], params: Any = None) -> Any:
        now = time.perf_counter()
        for order in orders:
            probe.handed.append((probe.burst, now, order["symbol"]))
        return await create_many(self, orders, params or {})

    async def timed_fetch(
        self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        if method == "POST" and url.endswith(ORDER_PATHS):
            now = time.perf_counter()
            sent = json.loads(body or "{}")
            for order in sent.get("request") or [sent]:
                probe.sent.append((probe.burst, now, order.get("symbol", "")))
        return await fetch(self, url, method, headers, body)

    def timed_steps(self: Any) -> AsyncIterator[Any]:
        return probe.timed_steps(steps(self))

    async def timed_sync(self: Any, ranges: Any = None) -> None:
        await probe.timed("sync", sync(self, ranges))

    async def timed_reconcile(self: Any, ledger: Any) -> bool:
        equal: bool = await probe.timed("reconcile", reconcile(self, ledger))
        return equal

    async def no_throttle(self: Any, cost: Any = None) -> None:
        return None

    patches: list[tuple[type, str, Any]] = [] if rate_limit else [(cls, "throttle", no_throttle)]
    patches += [
        (stream_cls, "handle_ohlcv", handle_ohlcv),
        (cls, "create_order", create_order),
        (cls, "create_orders", create_orders),
        (cls, "fetch", timed_fetch),
        (ExchangeFeed, "steps", timed_steps),
        (ExchangeVenue, "sync", timed_sync),
        (Reconciler, "run", timed_reconcile),
    ]
    saved = [(owner, name, owner.__dict__.get(name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, old in saved:
            if old is None:
                delattr(owner, name)
            else:
                setattr(owner, name, old)


# -- the run ---------------------------------------------------------------------------------


def _ms(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    arr = np.array(values) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "p99_ms": round(float(np.percentile(arr, 99)), 2),
        "max_ms": round(float(arr.max()), 2),
    }


def _rss_now_mb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _first(run: asyncio.Future[Any], waiting: Any, timeout: float) -> None:
    """Wait for ``waiting``; raise what ``run`` raised if it ends first."""
    task = asyncio.ensure_future(waiting)
    done, _ = await asyncio.wait({run, task}, timeout=timeout, return_when="FIRST_COMPLETED")
    if task not in done:
        task.cancel()
        if run in done:
            run.result()
            raise RuntimeError("the host's run ended before the bench was done")
        raise TimeoutError(f"nothing happened within {timeout:.0f} s")


async def run_burst(opts: BurstOptions, work: Path) -> dict[str, Any]:
    """Run the bench (module docstring); the JSON-ready figures."""
    t_start = time.perf_counter()
    data = list(opts.data) or [
        str(SHARED_CANDLES) if SHARED_CANDLES.parent.is_dir() else str(DEMO_CANDLES)
    ]
    pairs = symbol_names(opts.symbols)
    names = [name for name, _ in pairs]
    config = {
        "pairs": pairs,
        "bars": opts.history + opts.bursts + 5,
        "data": data,
        "history": opts.history,
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve-fake",
        json.dumps(config),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        line = await asyncio.wait_for(child.stdout.readline(), 300)
        if not line:
            raise RuntimeError("the fake exchange's process ended before it served")
        served = json.loads(line)
        fake_up_s = time.perf_counter() - t_start
        figures = await _host(opts, names, served, work)
        child.stdin.write(b"stop\n")
        await child.stdin.drain()
        fake_side = json.loads(await asyncio.wait_for(child.stdout.readline(), 60))
        await asyncio.wait_for(child.wait(), 30)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    last_wall = figures.pop("_last_wall")
    received = []
    for stamp in fake_side["received"]:
        before = [w for w in last_wall if w <= stamp]
        if before:
            received.append(stamp - max(before))
    figures["fake_received"] = _ms(received)
    figures["fake"] = {
        "orders_incl_stops": fake_side["orders_incl_stops"],
        "filled": fake_side["filled"],
        "positions": fake_side["positions"],
        "peak_rss_mb": round(fake_side["peak_rss_mb"], 1),
        "startup_s": round(fake_up_s, 3),
    }
    figures["data"] = data
    figures["names_from"] = str(NAMES_FILE) if NAMES_FILE.is_file() else "bundled bybit_linear"
    figures["wall_s"] = round(time.perf_counter() - t_start, 3)
    return figures


async def _host(
    opts: BurstOptions, names: Sequence[str], served: Mapping[str, Any], work: Path
) -> dict[str, Any]:
    from aiohttp import ClientSession
    from garrison.engine.run import run_profile
    from garrison.live.session import ExchangeSource
    from garrison.plugins.manager import load_plugins
    from garrison.profile.load import parse_profile

    log: list[tuple[int, str]] = []
    plugins = load_plugins()
    plugins.registry.for_plugin("bench").add_strategy("burst_signals", burst_strategy(log))
    source_path = work / "burst.toml"
    text = profile_text(opts, names, served["rest_url"], served["ws_url"], work / "burst.sqlite")
    source_path.write_text(text)
    profile = parse_profile(text, source_path, plugins.registry)
    start_ms = int(served["start_ms"])
    burst_ts = [start_ms + k * BAR_MS for k in range(opts.bursts)]
    probe = Probe()
    profiler = cProfile.Profile() if opts.cprofile is not None else None
    t0 = time.perf_counter()
    with instrumented(probe, opts.rate_limit):
        source = ExchangeSource(
            profile,
            until_ms=burst_ts[-1] + BAR_MS,
            environ={"BURST_KEY": KEY, "BURST_SECRET": SECRET},
        )
        run = asyncio.ensure_future(run_profile(profile, plugins, source))
        await _first(run, probe.driving.wait(), 3600)
        feed = source.feed
        assert feed is not None
        await _first(run, feed.ready.wait(), 600)
        warmup_s = time.perf_counter() - t0
        rss_after_warmup = _rss_now_mb()
        venue = source.exchange_venue
        assert venue is not None
        t1 = time.perf_counter()
        async with ClientSession() as http:
            for k in range(opts.bursts):
                probe.burst = k
                probe.step_done.clear()
                if profiler is not None:
                    profiler.enable()
                async with http.post(f"{served['rest_url']}/_fake/advance", json={"bars": 1}) as r:
                    r.raise_for_status()
                await _first(run, probe.step_done.wait(), 120)
                if k + 1 < opts.bursts:
                    await venue.settled(timeout_s=300)
                    if profiler is not None:
                        profiler.disable()
                    await asyncio.sleep(opts.pause_s)
            result = await asyncio.wait_for(run, 600)
        if profiler is not None:
            profiler.disable()
        bursts_s = time.perf_counter() - t1
    if profiler is not None and opts.cprofile is not None:
        profiler.dump_stats(str(opts.cprofile))
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    latencies: list[float] = []
    handed: list[float] = []
    per_burst = []
    last_wall = []
    missing: list[str] = []
    for k, ts in enumerate(burst_ts):
        count, last, wall = probe.closes.get(ts, [0, math.nan, math.nan])
        last_wall.append(wall)
        sent = [t - last for b, t, _ in probe.sent if b == k]
        given = [t - last for b, t, _ in probe.handed if b == k]
        latencies += sent
        handed += given
        ordered = {symbol for b, _, symbol in probe.sent if b == k}
        signalled = {symbol for bar, symbol in log if bar == ts}
        missing += sorted(f"{ts}:{s}" for s in signalled - ordered)
        step = next((s for s in probe.steps if s[0] == ts + BAR_MS), None)
        spent = {
            what: round(sum(e - s for w, b, s, e in probe.calls if w == what and b == k) * 1000, 2)
            for what in ("sync", "reconcile")
        }
        per_burst.append(
            {
                "close_ms": ts + BAR_MS,
                "closed_messages": int(count),
                "signals": len(signalled),
                "orders": len(sent),
                "step_formed_ms": None if step is None else round((step[1] - last) * 1000, 2),
                "step_done_ms": None if step is None else round((step[2] - last) * 1000, 2),
                "sync_ms": spent["sync"],
                "reconcile_ms": spent["reconcile"],
                "first_order_ms": round(min(sent) * 1000, 2) if sent else None,
                "last_order_ms": round(max(sent) * 1000, 2) if sent else None,
                "last_handed_ms": round(max(given) * 1000, 2) if given else None,
            }
        )
    figures = _ms(latencies)
    p99 = figures["p99_ms"]
    signals = sum(b["signals"] for b in per_burst)
    out: dict[str, Any] = {
        "benchmark": "burst",
        "exchange": "bybit",
        "symbols": len(names),
        "bursts": opts.bursts,
        "signal_every": opts.every,
        "signals": signals,
        "orders": len(latencies),
        "missing_orders": len(missing),
        "missing_examples": missing[:10],
        **figures,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
        "handed_to_ccxt": _ms(handed),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "rss_after_warmup_mb": round(rss_after_warmup, 1),
        "history_bars": opts.history,
        "warmup_s": round(warmup_s, 3),
        "bursts_s": round(bursts_s, 3),
        "per_burst": per_burst,
        "feed": attrs.asdict(feed.stats),
        "events": dict(result.events),
        "live_trades_open": result.open_positions,
        "reconcile_s": opts.reconcile_s,
        "ccxt_rate_limit": opts.rate_limit,
        "profiled": profiler is not None,
        "target_p99_ms": TARGET_P99_MS,
        "target_rss_mb": TARGET_RSS_MB,
        "meets_p99_target": p99 is not None and p99 <= TARGET_P99_MS,
        "meets_rss_target": peak_rss_mb <= TARGET_RSS_MB,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "_last_wall": last_wall,
    }
    out["pass"] = bool(out["meets_p99_target"] and out["meets_rss_target"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--symbols", type=int, default=541, help="symbols (default 541)")
    parser.add_argument("--bursts", type=int, default=5, help="bar closes measured (default 5)")
    parser.add_argument(
        "--every", type=int, default=10, help="signal on 1 symbol in N per burst (default 10)"
    )
    parser.add_argument("--history", type=int, default=1000, help="bars of history per symbol")
    parser.add_argument("--data", action="append", help="5m candle files (glob; repeatable)")
    parser.add_argument(
        "--reconcile-s", type=float, default=1.0, help="[exchange] reconcile_s (default 1)"
    )
    parser.add_argument("--cprofile", type=Path, help="write a cProfile of the bursts here")
    parser.add_argument(
        "--no-rate-limit",
        action="store_true",
        help="diagnostic: ccxt's rate limiter off in the host (never so against a real venue)",
    )
    parser.add_argument("--work", type=Path, help="keep the profile and journal in this folder")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results" / "burst.json",
        help="where to write the JSON result",
    )
    parser.add_argument("--serve-fake", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_fake:
        asyncio.run(_serve_fake(json.loads(args.serve_fake)))
        return 0
    opts = BurstOptions(
        symbols=args.symbols,
        bursts=args.bursts,
        every=args.every,
        history=args.history,
        data=tuple(args.data or ()),
        reconcile_s=args.reconcile_s,
        cprofile=args.cprofile,
        rate_limit=not args.no_rate_limit,
    )
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        out = asyncio.run(run_burst(opts, args.work.resolve()))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = asyncio.run(run_burst(opts, Path(tmp)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
