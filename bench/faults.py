"""Fault figures: the host trading live against a fake exchange that misbehaves, counted.

    uv run python bench/faults.py [--out FILE.json] [--scale small|full] [--only NAME]...
                                  [--exchange bybit|binance]...

Every scenario runs the host's live path (:class:`garrison.live.session.ExchangeSource`
and :func:`garrison.engine.run.run_profile`, real ccxt / ccxt.pro clients, REST
and websockets on 127.0.0.1) against :class:`garrison.fakex.FakeExchange`
replaying the bundled ``data/demo`` candles, once per exchange, and returns a
dict of counts. The JSON holds one object per scenario: the counts summed over
the exchanges (flags: true only if true for every exchange), and each
exchange's own under ``exchanges``.

The fake's clock is manual and moves in lock step with the host: a bar closes,
the bench waits until the host has decided on it, the next bar closes. The
figures therefore do not depend on how fast the machine is; ``wall_s`` does.

- ``lost_replies`` (full: 200 faults): a strategy enters when flat and exits
  when long on every bar of five symbols, so every bar sends five market
  orders, in one batch request; the requests carrying the next N entry and
  exit creates the exchange books are answered late (held past the client's
  300 ms timeout: three in four) or with a 5xx (one in four), so each of their
  orders has an unknown outcome (``fault_requests`` counts the requests).
  Stops are spared until then; afterwards the next stop create of each
  symbol loses its reply (``stop_faults``: Binance places stops as separate
  orders, Bybit attaches them to the entry, so it has none), with
  ``protection_failed``, ``flattened`` and ``halted`` saying what the host did
  about it. Counts: ``faults`` (injected), ``unknown_outcomes`` (the host's
  ``order.unknown`` events), ``duplicates`` (a second order on the exchange
  for one client id or one intent, plus creates the exchange refused as a
  repeated client id), ``resolved`` (faulted orders that ended filled or
  rejected in the journal, as the exchange has them), ``unresolved``,
  ``mismatches`` (any journal order that disagrees with the exchange),
  ``resolved_within_two_reconciliations`` (faulted orders final in the
  journal within two steps of their commit: the host books at the start of a
  step, then reconciles, at most every ``[exchange] reconcile_s`` = 1 s, so
  such an order was final before a second reconciliation followed its fault).
- ``ws_drops`` (full: 100 drops): the fake aborts every candle websocket
  (code 1006) at a bar close instead of sending its candles; the bench lets 1
  to 3 bars close before the host can reconnect (``span``). Between drops the
  fake skips, repeats or reorders closed-candle messages. A recording strategy
  keeps every bar the host showed it. Counts: ``drops``, ``gaps`` and
  ``backfilled`` (the feed's), ``holes`` / ``extra_bars`` / ``wrong_values``
  (the bars the strategy saw against the tape), ``stale_decisions`` (calls on a
  bar whose predecessor the strategy was not shown, calls on a bar decided on
  before, and calls on a bar the market had left ``stale_after`` = 1.5 bars
  behind), ``late_decisions`` (calls on a bar whose successor had already
  closed).
- ``sigkill`` (full: 20 kills at each of seven points): bench/sigkill.py, the
  host as a separate ``garrison run`` process killed by SIGKILL in its order
  path and restarted. Counts: ``kills``, ``duplicates``, ``unprotected``,
  ``lost_rows``, ``mismatched``.

Adding a scenario: write ``async def name(exchange, count, work) -> dict`` and
list it in :data:`SCENARIOS` with its full and small counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import attrs
from garrison.engine.run import RunResult, run_profile
from garrison.fakex import FakeExchange, Faults, MarketTape, running_fake
from garrison.live.session import ExchangeSource
from garrison.plugins.manager import PluginSet, load_plugins
from garrison.profile.load import load_profile
from garrison_api import Candle, Side, Signal, SignalKind, StrategyContext

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data" / "demo"
SYMBOLS = ("ADAUSDT", "AVAXUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT")
EXCHANGES = ("bybit", "binance")
TF = "5m"
TF_MS = 300_000
KEY, SECRET = "faults-key", "faults-secret"
ENV = {"FAULTS_KEY": KEY, "FAULTS_SECRET": SECRET}
#: Longest wait (wall seconds) for the host to decide on a bar before the bench gives up on it.
DECIDE_TIMEOUT_S = 30.0
#: The profile's ``[exchange] reconcile_s`` and ``stale_after`` (the lowest the checks allow).
RECONCILE_S = 1.0
STALE_AFTER = 1.5

Scenario = Callable[[str, int, Path], Awaitable[dict[str, Any]]]


# -- what the strategies saw ---------------------------------------------------------------


@attrs.define
class Decisions:
    """Every call of the bench's strategies, and every closed bar the host showed them.

    ``market_ms`` reads the fake's market clock at each call.
    """

    market_ms: Callable[[], int]
    #: (symbol, bar open time, market time at the call), in call order.
    calls: list[tuple[str, int, int]] = attrs.Factory(list)
    #: Every bar shown (decided on, or in ``ctx.candles``): (symbol, ts) -> (o, h, l, c, v).
    bars: dict[tuple[str, int], tuple[float, ...]] = attrs.Factory(dict)
    #: Close times of the bars decided on (the bench waits on these).
    closes: set[int] = attrs.Factory(set)
    #: A bar shown twice with different values.
    conflicting: int = 0
    #: Calls on a bar whose predecessor was not among the bars shown before it.
    missing_predecessor: int = 0
    #: Calls on a bar at or before one already decided on (a repeat, or out of order).
    repeated: int = 0
    #: Calls on a bar the market had left at least ``STALE_AFTER`` bars behind.
    stale: int = 0
    #: Calls on a bar whose successor had closed already.
    late: int = 0
    _last: dict[str, int] = attrs.Factory(dict)

    def take(self, candle: Candle, window: Sequence[Candle]) -> None:
        now = self.market_ms()
        close = candle.ts + TF_MS
        self.calls.append((candle.symbol, candle.ts, now))
        self.closes.add(close)
        for bar in window:
            values = (bar.open, bar.high, bar.low, bar.close, bar.volume)
            if self.bars.setdefault((bar.symbol, bar.ts), values) != values:
                self.conflicting += 1
        shown = [bar.ts for bar in window]
        if shown[-1:] != [candle.ts] or (len(window) > 1 and shown[-2] != candle.ts - TF_MS):
            self.missing_predecessor += 1
        last = self._last.get(candle.symbol)
        if last is not None and candle.ts <= last:
            self.repeated += 1
        self._last[candle.symbol] = candle.ts
        if now - close >= STALE_AFTER * TF_MS:
            self.stale += 1
        if now - close >= TF_MS:
            self.late += 1


@attrs.frozen
class NoParams:
    """The bench's strategies take no parameters."""


def flipper(log: Decisions) -> type:
    """A strategy that enters when flat and exits when long: an order on every bar it sees."""

    class Flipper:
        Params: ClassVar[type] = NoParams
        warmup = 1
        timeframes = (TF,)
        indicators: ClassVar[Mapping[str, Any]] = {}

        def __init__(self, params: NoParams) -> None:
            self.params = params

        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
            log.take(candle, ctx.candles(candle.symbol, candle.timeframe, 1))
            if ctx.position(candle.symbol) is None:
                # A stop far away: protected, never hit on these candles.
                stop = candle.close * 0.9
                return (Signal(candle.symbol, candle.ts, Side.LONG, entry=candle.close, stop=stop),)
            return (Signal(candle.symbol, candle.ts, Side.LONG, kind=SignalKind.EXIT),)

    return Flipper


def recorder(log: Decisions, window: int) -> type:
    """A strategy that decides nothing and keeps the last ``window`` bars of every call."""

    class Recorder:
        Params: ClassVar[type] = NoParams
        warmup = window
        timeframes = (TF,)
        indicators: ClassVar[Mapping[str, Any]] = {}

        def __init__(self, params: NoParams) -> None:
            self.params = params

        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
            log.take(candle, ctx.candles(candle.symbol, candle.timeframe, window))
            return ()

    return Recorder


# -- a live run in lock step with the fake's clock -----------------------------------------


def demo_tape() -> MarketTape:
    """The bundled 5m candles (real Bybit prices; the Binance fake trades them by its rules)."""
    return MarketTape.from_paths([str(DEMO / f"bybit_{s}_5m.csv.gz") for s in SYMBOLS])


def profile_text(
    exchange: str,
    fake: FakeExchange,
    strategy: str,
    request_timeout_ms: int,
    exchange_extra: str = "",
) -> str:
    symbols = ", ".join(f'"{s}"' for s in SYMBOLS)
    snapshot = {"bybit": "bybit_linear", "binance": "binance_usdm"}[exchange]
    return f"""
[profile]
name = "faults-{exchange}"
mode = "live"
exchange = "{exchange}"

[account]
starting_balance = 10000.0
leverage = 5.0

[exchange]
symbols = [{symbols}]
timeframes = ["{TF}"]
rest_url = "{fake.rest_url}"
ws_url = "{fake.ws_url}"
step_wait_s = 0.3
stale_after = {STALE_AFTER}
reconcile_s = {RECONCILE_S}
request_timeout_ms = {request_timeout_ms}
{exchange_extra}
[credentials]
api_key_env = "FAULTS_KEY"
api_secret_env = "FAULTS_SECRET"

[markets]
snapshot = "{snapshot}"

[journal]
path = "journal.sqlite"
commit = "step"

[[strategies]]
use = "{strategy}"

[sizer]
use = "fixed_risk"
[sizer.params]
risk_pct = 0.5
max_notional = 1000.0
"""


@attrs.define
class LiveRun:
    """The host running live against ``fake``; :meth:`bars` moves the market in lock step."""

    fake: FakeExchange
    source: ExchangeSource
    task: asyncio.Future[RunResult]
    log: Decisions
    journal: Path
    #: Bars the host did not decide on within :data:`DECIDE_TIMEOUT_S`.
    timeouts: int = 0

    async def ready(self) -> None:
        """Wait until the host has warmed up and every series streams."""
        deadline = time.monotonic() + DECIDE_TIMEOUT_S
        while not (self.source.feed is not None and self.source.feed.ready.is_set()):
            if self.task.done():
                self.task.result()  # raises what stopped the run
                raise RuntimeError("the live run ended before it started streaming")
            if time.monotonic() > deadline:
                raise TimeoutError("the live run did not start streaming")
            await asyncio.sleep(0.01)

    async def bars(self, n: int = 1, *, wait: bool = True) -> None:
        """Close ``n`` bars; then (``wait``) until the host decided on the last, or it ended."""
        await self.fake.advance(n)
        if wait:
            await self.decided(self.fake.now_ms())

    async def decided(self, close: int) -> None:
        deadline = time.monotonic() + DECIDE_TIMEOUT_S
        while close not in self.log.closes and not self.task.done():
            if time.monotonic() > deadline:
                self.timeouts += 1
                return
            await asyncio.sleep(0.002)

    async def to_end(self, after_bar: Callable[[int], None] | None = None) -> RunResult:
        """Close bars until the run has taken its last step; ``after_bar(i)`` after each."""
        bar = 0
        while not self.task.done() and not self.fake.finished.is_set():
            await self.bars()
            bar += 1
            if after_bar is not None:
                after_bar(bar)
        return await self.task


@contextlib.asynccontextmanager
async def live_run(
    exchange: str,
    work: Path,
    *,
    strategy: Callable[[Decisions], type],
    bars: int,
    request_timeout_ms: int = 10_000,
    faults: Faults | None = None,
    exchange_extra: str = "",
    before_start: Callable[[FakeExchange], None] | None = None,
    profile_extra: str = "",
    control: bool = False,
) -> AsyncIterator[LiveRun]:
    """The host trading ``strategy`` live on the fake for ``bars`` bars, streaming already.

    ``exchange_extra``: more lines of the profile's ``[exchange]`` table;
    ``before_start``: called with the fake before the host starts (e.g. to
    leave a position on the account); ``profile_extra``: more tables at the
    profile's end; ``control``: serve the control channel, as ``garrison run`` does.
    """
    work.mkdir(parents=True, exist_ok=True)
    plugins: PluginSet = load_plugins()
    async with running_fake(
        exchange, demo_tape(), api_key=KEY, secret=SECRET, faults=faults
    ) as fake:
        log = Decisions(fake.now_ms)
        plugins.registry.for_plugin("bench").add_strategy("bench_strategy", strategy(log))
        path = work / "profile.toml"
        if before_start is not None:
            before_start(fake)
        path.write_text(
            profile_text(exchange, fake, "bench_strategy", request_timeout_ms, exchange_extra)
            + profile_extra
        )
        profile = load_profile(path, plugins.registry)
        source = ExchangeSource(profile, until_ms=fake.now_ms() + bars * TF_MS, environ=ENV)
        journal = work / "journal.sqlite"
        task = asyncio.ensure_future(
            run_profile(profile, plugins, source, journal_path=journal, control=control)
        )
        run = LiveRun(fake, source, task, log, journal)
        try:
            await run.ready()
            yield run
        finally:
            if not task.done():
                task.cancel()
            with contextlib.suppress(BaseException):
                await task


def journal_rows(path: Path, sql: str) -> list[sqlite3.Row]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        return db.execute(sql).fetchall()


# -- lost replies --------------------------------------------------------------------------


async def lost_replies(exchange: str, count: int, work: Path) -> dict[str, Any]:
    """``count`` entry and exit creates booked by the exchange whose reply is lost or a 5xx.

    Then, at the end, one lost reply on each symbol's next stop create
    (Binance places stops as separate orders; Bybit attaches them to the
    entry, so none is struck there): ``stop_faults``, ``flattened``, ``halted``.
    """
    # Every bar sends one order per symbol, together in one batch request: a fault on that
    # request loses all five replies. Then a stop fault per symbol, and the last answers.
    requests = -(-count // len(SYMBOLS))
    errors_5xx = max(1, requests // 4) if requests > 1 else 0
    faults = Faults(lost_reply_hold_s=1.0, booking_faults_plain_only=True)
    bars = requests + 4
    committed_at: dict[str, int] = {}
    booked_at: dict[str, int] = {}
    t0 = time.perf_counter()
    async with live_run(
        exchange, work, strategy=flipper, bars=bars, request_timeout_ms=300, faults=faults
    ) as run:

        def after_bar(bar: int) -> None:
            # When each order was committed and when it was final, in the journal on disk.
            for row in journal_rows(run.journal, "SELECT client_order_id, status FROM orders"):
                cid = row["client_order_id"]
                committed_at.setdefault(cid, bar)
                if row["status"] in ("filled", "rejected", "canceled"):
                    booked_at.setdefault(cid, bar)
            plain_done = not (faults.lost_replies or faults.errors_5xx_after_booking)
            if plain_done and faults.booking_faults_plain_only:
                faults.booking_faults_plain_only = False
                faults.booking_faults_conditional_only = True
                faults.lost_replies = len(SYMBOLS)
                injected.update(faults.injected)

        injected: dict[str, int] = {}
        faults.lost_replies = requests - errors_5xx
        faults.errors_5xx_after_booking = errors_5xx
        result = await run.to_end(after_bar)
        fake = run.fake
        wall_s = time.perf_counter() - t0
        exchange_orders = fake.account.orders()
        positions = {p.symbol: p.size for p in fake.account.positions() if p.size}
        refused = list(fake.account.refused_duplicates)
        stop_faults = faults.injected.get("lost_replies", 0) - injected.get("lost_replies", 0)
        if not injected:  # the plain faults were never all used
            injected, stop_faults = dict(faults.injected), 0
        venue = run.source.exchange_venue
        halted = sorted(venue.halted) if venue is not None else []
        timeouts = run.timeouts

    rows = journal_rows(
        run.journal,
        "SELECT id, intent_id, client_order_id, symbol, qty, status FROM orders ORDER BY seq",
    )
    final: dict[str, sqlite3.Row] = {}
    for row in rows:
        final[row["id"]] = row
    filled_qty: Counter[str] = Counter()
    for row in journal_rows(run.journal, "SELECT order_id, qty FROM fills"):
        filled_qty[row["order_id"]] += row["qty"]
    unknown = {
        json.loads(row["data"])["client_order_id"]
        for row in journal_rows(run.journal, "SELECT data FROM events WHERE kind = 'order.unknown'")
    }
    events = dict(result.events)

    by_client: dict[str, list[Any]] = {}
    for order in exchange_orders:
        if order.client_id:
            by_client.setdefault(order.client_id, []).append(order)
    intents: Counter[str] = Counter()
    mismatches: list[str] = []
    resolved = within_two = 0
    for order_id, row in final.items():
        cid = row["client_order_id"]
        found = by_client.get(cid, [])
        intents[row["intent_id"]] += len(found)
        filled = sum(o.filled_qty for o in found)
        status = row["status"]
        if status == "filled":
            agrees = filled > 0 and abs(filled - filled_qty[order_id]) <= 1e-9 * filled
        elif status == "rejected":
            agrees = filled == 0
        else:
            agrees = False
        if not agrees:
            mismatches.append(
                f"{cid}: journal {status} {filled_qty[order_id]:g}, exchange "
                + (", ".join(f"{o.status} {o.filled_qty:g}" for o in found) or "nothing")
            )
        if cid in unknown and agrees:
            resolved += 1
            # The host books at the start of a step, then reconciles: an order final
            # within two steps of its commit was so before a second reconciliation.
            if booked_at.get(cid, bars + 1) - committed_at.get(cid, 0) <= 2:
                within_two += 1
    duplicates = (
        sum(len(found) - 1 for found in by_client.values())
        + sum(n - 1 for n in intents.values() if n > 1)
        + len(refused)
    )
    journal_positions = {
        row["symbol"]: row["qty"]
        for row in journal_rows(
            run.journal,
            "SELECT symbol, qty, action FROM positions WHERE seq IN "
            "(SELECT MAX(seq) FROM positions GROUP BY symbol)",
        )
        if row["action"] != "close"
    }
    lags = [booked_at[c] - committed_at[c] for c in unknown if c in booked_at]
    return {
        # Orders whose create went unanswered (a batch's lost reply loses all of its orders').
        "faults": injected.get("lost_replies_orders", 0)
        + injected.get("errors_5xx_after_booking_orders", 0),
        "fault_requests": injected.get("lost_replies", 0)
        + injected.get("errors_5xx_after_booking", 0),
        "lost_replies": injected.get("lost_replies_orders", 0),
        "errors_5xx": injected.get("errors_5xx_after_booking_orders", 0),
        "unknown_outcomes": len(unknown),
        "duplicates": duplicates,
        "resends_refused": len(refused),
        "resolved": resolved,
        "unresolved": len(unknown) - resolved,
        "resolved_pct": round(100.0 * resolved / len(unknown), 2) if unknown else 100.0,
        "resolved_within_two_reconciliations": within_two,
        "max_steps_to_resolve": max(lags, default=0),
        "orders": len(final),
        "filled": sum(1 for row in final.values() if row["status"] == "filled"),
        "rejected": sum(1 for row in final.values() if row["status"] == "rejected"),
        "exchange_orders": len(exchange_orders),
        "mismatches": len(mismatches),
        "positions_equal": journal_positions == positions,
        "stop_faults": stop_faults,
        "protection_failed": events.get("protection.failed", 0),
        "flattened": sum(1 for cid in by_client if cid.startswith("f")),
        "halted": len(halted),
        "reconcile_differences": events.get("reconcile.difference", 0),
        "bars": bars,
        "decide_timeouts": timeouts,
        "wall_s": round(wall_s, 2),
        "examples": mismatches[:5],
    }


# -- websocket drops -----------------------------------------------------------------------


def same_bar(shown: tuple[float, ...], recorded: tuple[float, ...] | None, lot: float) -> bool:
    """Prices as recorded; volume as the venue states it (Binance: to its quantity step)."""
    if recorded is None:
        return False
    return shown[:4] == recorded[:4] and abs(shown[4] - recorded[4]) <= lot / 2 + 1e-9


#: The candle fault armed on the connected bar before each drop, in turn (None: no fault).
CANDLE_FAULTS = ("gap_candles", "duplicate_candles", "out_of_order_candles", None)


async def ws_drops(exchange: str, count: int, work: Path) -> dict[str, Any]:
    """``count`` websocket drops of 1 to 3 bars, a candle fault on the bar before each."""
    window = 8
    faults = Faults()
    # Per drop: a connected bar (with a candle fault), then 1, 2 or 3 bars disconnected.
    bars = sum(2 + i % 3 for i in range(count)) + 2
    drops = spans = 0
    armed: Counter[str] = Counter()
    t0 = time.perf_counter()
    async with live_run(
        exchange, work, strategy=lambda log: recorder(log, window), bars=bars, faults=faults
    ) as run:
        fake = run.fake
        for i in range(count):
            fault = CANDLE_FAULTS[i % len(CANDLE_FAULTS)]
            if fault is not None:
                setattr(faults, fault, 1)
                armed[fault] += 1
            await run.bars()
            # Abort every candle websocket, then let bars close before ccxt can reconnect
            # (it waits 0.2 s): their closed candles are never sent to the host.
            span = 1 + i % 3
            if fake.close_websockets():
                drops += 1
                spans += span
            await run.bars(span)
        result = await run.to_end()
        tape_bars = {
            symbol: {
                bar[0]: tuple(float(x) for x in bar[1:])
                for bar in fake.tape.klines(symbol, TF, start=0, limit=1_000_000)
                if bar[0] + TF_MS <= fake.now_ms()
            }
            for symbol in SYMBOLS
        }
        lot_steps = {symbol: fake.tape.instrument(symbol).lot_step for symbol in SYMBOLS}
        injected = dict(faults.injected)
        stats = attrs.asdict(run.source.feed.stats) if run.source.feed is not None else {}
        timeouts = run.timeouts
    wall_s = time.perf_counter() - t0
    log = run.log
    holes = wrong = extra = 0
    for symbol in SYMBOLS:
        shown = sorted(ts for sym, ts in log.bars if sym == symbol)
        if not shown:
            continue
        for ts in range(shown[0], shown[-1] + TF_MS, TF_MS):
            values = log.bars.get((symbol, ts))
            if values is None:
                holes += 1
            elif not same_bar(values, tape_bars[symbol].get(ts), lot_steps[symbol]):
                wrong += 1
        extra += sum(1 for ts in shown if ts not in tape_bars[symbol])
    missing = spans * len(SYMBOLS) + injected.get("gap_candles", 0)
    stale = log.missing_predecessor + log.repeated + log.stale
    return {
        "drops": drops,
        "bars_disconnected": spans,
        "gaps": stats.get("gaps", 0),
        "missing_candles": missing,
        "backfilled": stats.get("backfilled", 0),
        "all_backfilled": holes == 0 and stats.get("backfilled", 0) >= missing,
        "reconnects": stats.get("reconnects", 0),
        "candle_faults": {k: injected.get(k, 0) for k in armed},
        "duplicates_dropped": stats.get("duplicates", 0),
        "out_of_order_dropped": stats.get("out_of_order", 0),
        "late_candles": stats.get("late", 0),
        "incomplete_steps": stats.get("incomplete_steps", 0),
        "decisions": len(log.calls),
        "bars_seen": len(log.bars),
        "holes": holes,
        "wrong_values": wrong + log.conflicting,
        "extra_bars": extra,
        "stale_decisions": stale,
        "missing_predecessor": log.missing_predecessor,
        "repeated_decisions": log.repeated,
        "decided_stale_bars": log.stale,
        "late_decisions": log.late,
        "feed_stale_events": result.events.get("feed.stale", 0),
        "bars": bars,
        "decide_timeouts": timeouts,
        "wall_s": round(wall_s, 2),
    }


# -- the bench -----------------------------------------------------------------------------


@attrs.frozen
class Plan:
    """A scenario and how many faults it injects at each scale."""

    run: Scenario
    full: int
    small: int


async def sigkill(exchange: str, count: int, work: Path) -> dict[str, Any]:
    """``count`` SIGKILLs of a ``garrison run`` process at each of seven points, then restarts.

    The scenario lives in bench/sigkill.py (it runs the host as a separate
    process); see its docstring for what is counted.
    """
    module = _sibling("sigkill")
    figures: dict[str, Any] = await module.run_sigkill(
        exchange=exchange, times=count, speed=600.0, work_dir=work
    )
    return figures


def _sibling(name: str) -> Any:
    """Another bench script, imported by path (bench/ is not a package)."""
    path = Path(__file__).resolve().parent / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"garrison_bench_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SCENARIOS: dict[str, Plan] = {
    "lost_replies": Plan(lost_replies, full=200, small=10),
    "ws_drops": Plan(ws_drops, full=100, small=3),
    "sigkill": Plan(sigkill, full=20, small=1),
}


def combine(by_exchange: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Counts summed over the exchanges (``max_*``: the largest); a flag: true for every one."""
    total: dict[str, Any] = {}
    for figures in by_exchange.values():
        for key, value in figures.items():
            if isinstance(value, bool):
                total[key] = total.get(key, True) and value
            elif isinstance(value, int) and key.startswith("max_"):
                total[key] = max(total.get(key, 0), value)
            elif isinstance(value, int):
                total[key] = total.get(key, 0) + value
            elif isinstance(value, float) and key.endswith("_s"):
                total[key] = round(total.get(key, 0.0) + value, 2)
    if "resolved_pct" in next(iter(by_exchange.values()), {}):
        unknown = total.get("unknown_outcomes", 0)
        total["resolved_pct"] = round(100.0 * total["resolved"] / unknown, 2) if unknown else 100.0
    total["exchanges"] = dict(by_exchange)
    return total


async def run_scenario(
    name: str, count: int, exchanges: Sequence[str], work: Path
) -> dict[str, Any]:
    """Run scenario ``name`` with ``count`` faults on each of ``exchanges``; combined figures."""
    plan = SCENARIOS[name]
    found = {}
    for exchange in exchanges:
        found[exchange] = await plan.run(exchange, count, work / name / exchange)
    return {"count": count, **combine(found)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=("small", "full"), default="full")
    parser.add_argument(
        "--only", action="append", choices=sorted(SCENARIOS), help="run this scenario (repeatable)"
    )
    parser.add_argument(
        "--exchange", action="append", choices=EXCHANGES, help="this exchange only (repeatable)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results" / "faults.json",
        help="where to write the JSON result",
    )
    args = parser.parse_args(argv)
    names = args.only or list(SCENARIOS)
    exchanges = args.exchange or list(EXCHANGES)
    out: dict[str, Any] = {"benchmark": "faults", "scale": args.scale, "exchanges": exchanges}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            plan = SCENARIOS[name]
            count = plan.full if args.scale == "full" else plan.small
            out[name] = asyncio.run(run_scenario(name, count, exchanges, Path(tmp)))
    out.update(
        wall_s=round(time.perf_counter() - t0, 2),
        python=platform.python_version(),
        machine=platform.machine(),
        cpus=os.cpu_count(),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
