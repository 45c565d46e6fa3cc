"""Paper and live trading as a run source: the exchange's candles, markets and account.

:class:`ExchangeSource` gives :func:`garrison.engine.run.run_profile` what a
replay gets from files: market rules (from ccxt's ``load_markets``), each
series' warm-up history (REST), then steps from the websockets
(:class:`~garrison.live.feed.ExchangeFeed`), all through the step driver the
replay cross-checks. ``mode = "paper"`` fills with the simulated broker;
``mode = "live"`` sends orders to the exchange
(:class:`~garrison.live.orders.ExchangeVenue`), books what it did at the
start of every step, and reconciles the journal with it every
``[exchange] reconcile_s`` seconds.

API keys are read from the environment variables ``[credentials]`` names,
given to the ccxt client and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from garrison_api import Event, Level, Market, RiskRule, Strategy, Veto

from garrison.engine.broker import SimulatedBroker
from garrison.engine.driver import StepDriver
from garrison.engine.execution import BarVenue
from garrison.engine.market import Step
from garrison.engine.replay import StrategyUse
from garrison.engine.run import EngineDriver, ProgressFactory, RunError, warmup_bars
from garrison.engine.step import StepProcessor
from garrison.journal import Journal
from garrison.journal.records import RunRow
from garrison.live.connect import make_client
from garrison.live.crashpoints import CrashingCommits, CrashPoints
from garrison.live.feed import DEFAULT_PER_CONNECTION, ExchangeFeed
from garrison.live.guards import SymbolGuard
from garrison.live.history import iso
from garrison.live.klines import tap_klines
from garrison.live.orders import ExchangeVenue
from garrison.live.reconcile import Reconciler
from garrison.live.retry import with_retries
from garrison.markets.snapshot import apply_overrides
from garrison.profile.model import ComponentUse, Mode, Profile
from garrison.profile.timeframes import timeframe_ms

_LEVELS = {
    "info": Level.INFO,
    "warning": Level.WARNING,
    "error": Level.ERROR,
    "critical": Level.CRITICAL,
}


def market_from_ccxt(symbol: str, market: Mapping[str, Any]) -> Market:
    """Garrison's trading rules from a ccxt market (ccxt gives tick sizes for both venues)."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    amount = limits.get("amount") or {}
    cost = limits.get("cost") or {}
    leverage = limits.get("leverage") or {}
    tick = precision.get("price")
    step = precision.get("amount")
    if not tick or not step:
        raise RunError(f"{symbol}: the exchange gives no tick size or quantity step")
    return Market(
        symbol=symbol,
        tick_size=float(tick),
        lot_step=float(step),
        min_qty=float(amount.get("min") or step),
        min_notional=float(cost.get("min") or 0.0),
        contract_size=float(market.get("contractSize") or 1.0),
        max_qty=float(amount["max"]) if amount.get("max") else None,
        max_leverage=float(leverage["max"]) if leverage.get("max") else None,
    )


def _timeframes(
    profile: Profile, strategies: Sequence[tuple[ComponentUse, Strategy]]
) -> tuple[str, ...]:
    if profile.exchange.timeframes:
        return profile.exchange.timeframes
    found: set[str] = set()
    for _use, strategy in strategies:
        found.update(strategy.timeframes or ())
        found.update((getattr(strategy, "context_indicators", None) or {}).keys())
    if not found:
        raise RunError(
            f"{profile.source}: no timeframe to trade: set [exchange] timeframes "
            '(e.g. timeframes = ["5m"]) or use strategies that declare theirs'
        )
    return tuple(sorted(found, key=timeframe_ms))


class ExchangeSource:
    """A paper or live run on the profile's exchange (see the module docstring).

    ``until_ms`` ends the run after the step closing at or after it (market
    time); without it the run goes on until it is stopped.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        until_ms: int | None = None,
        environ: Mapping[str, str] | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        mode = profile.profile.mode
        if mode not in (Mode.PAPER, Mode.LIVE):
            raise RunError(f"{profile.source}: an exchange run needs mode paper or live")
        if not profile.exchange.symbols:
            raise RunError(
                f"{profile.source}: [exchange] symbols is empty: name the symbols to trade "
                '(e.g. symbols = ["BTCUSDT", "ETHUSDT"])'
            )
        self.mode = mode.value
        self._profile = profile
        self._until = until_ms
        self._env = os.environ if environ is None else environ
        self._crash = CrashPoints.from_env(self._env)
        # Start-up progress for the operator (the CLI prints it to stderr).
        self._say = say or (lambda _line: None)
        self.markets: dict[str, Market] = {}
        self.symbols: tuple[str, ...] = tuple(sorted(profile.exchange.symbols))
        self.first_ts = 0
        self._clients: list[Any] = []
        self._rest: Any = None
        self._feed: ExchangeFeed | None = None
        self._venue: ExchangeVenue | None = None
        self._balance = profile.account.starting_balance
        self._processor: StepProcessor | None = None
        self._reconciler: Reconciler | None = None
        self._next_reconcile = 0.0
        self._reconciling: asyncio.Future[bool] | None = None
        self._events: list[Event] = []
        self._emit_ref: list[Any] = []

    # -- building -----------------------------------------------------------------------

    def _credentials(self) -> tuple[str | None, str | None]:
        creds = self._profile.credentials
        values: list[str | None] = []
        for what, name in (
            ("api_key_env", creds.api_key_env),
            ("api_secret_env", creds.api_secret_env),
        ):
            if name is None:
                values.append(None)
                continue
            value = self._env.get(name)
            if not value:
                raise RunError(
                    f"{self._profile.source}: [credentials] {what} names ${name}, which is not "
                    "set in the environment"
                )
            values.append(value)
        if self.mode == Mode.LIVE.value and None in values:
            raise RunError(
                f"{self._profile.source}: live trading needs [credentials] api_key_env and "
                "api_secret_env (names of environment variables holding the keys)"
            )
        return values[0], values[1]

    def _client(self, *, pro: bool = True, burst: bool = False) -> Any:
        p = self._profile
        key, secret = self._credentials()
        client = make_client(
            p.profile.exchange,
            network=p.profile.network,
            rest_url=p.exchange.rest_url,
            ws_url=p.exchange.ws_url,
            api_key=key,
            secret=secret,
            timeout_ms=p.exchange.request_timeout_ms,
            pro=pro,
            burst=burst,
        )
        self._clients.append(client)
        return client

    def event(self, kind: str, level: str, message: str, data: dict[str, Any]) -> None:
        """Raise an event of the exchange layer (kept until the run's bus exists)."""
        event = Event(
            ts=self._feed.market_ms if self._feed is not None else 0,
            kind=kind,
            level=_LEVELS.get(level, Level.INFO),
            source="exchange",
            message=message,
            data=data,
        )
        if self._processor is not None:
            self._processor.bus.emit(event)
        else:
            self._events.append(event)

    async def load(self, strategies: Sequence[tuple[ComponentUse, Strategy]]) -> None:
        p = self._profile
        rest = self._rest = self._client()
        await with_retries(rest.load_markets, what="markets")
        self._say(f"{p.profile.exchange}: {len(rest.markets)} markets listed")
        ccxt_symbols: dict[str, str] = {}
        markets: dict[str, Market] = {}
        unknown: list[str] = []
        for symbol in self.symbols:
            found = [m for m in rest.markets_by_id.get(symbol, ()) if m.get("linear")]
            if not found:
                unknown.append(symbol)
                continue
            ccxt_symbols[symbol] = found[0]["symbol"]
            markets[symbol] = market_from_ccxt(symbol, found[0])
        if unknown:
            raise RunError(
                f"{p.source}: [exchange] symbols: {', '.join(unknown)} not listed as linear "
                f"perpetuals by {p.profile.exchange}"
            )
        self.markets = apply_overrides(markets, p.markets.overrides)
        timeframes = _timeframes(p, strategies)
        wanted = warmup_bars([(s, frozenset(u.symbols)) for u, s in strategies])

        def history(symbol: str, timeframe: str) -> int:
            # The replay's warm-up rule exactly: the same bars before the first
            # decision, so incremental indicators start where a replay's do.
            return max(p.exchange.history_bars, wanted(symbol, timeframe))

        feed = self._feed = ExchangeFeed(
            rest=rest,
            series=[(s, tf) for s in self.symbols for tf in timeframes],
            ccxt_symbols=ccxt_symbols,
            history_bars=history,
            step_wait_s=p.exchange.step_wait_s,
            stale_after=p.exchange.stale_after,
            quiet_s=p.exchange.quiet_s,
            until_ms=self._until,
            on_event=lambda kind, message, data: self.event(kind, "warning", message, data),
        )
        await feed.warm_up()
        self.first_ts = feed.market_ms
        self._say(
            f"warm-up: {len(feed.series())} series through REST, closed bars up to "
            f"{iso(feed.market_ms)}"
        )
        per = p.exchange.symbols_per_connection or DEFAULT_PER_CONNECTION[p.profile.exchange]
        for shard in feed.shards(per):
            stream = self._client()
            stream.set_markets(rest.markets, rest.currencies)
            tap_klines(stream, p.profile.exchange, feed.take)
            feed.watch(stream, shard)
        if self.mode == Mode.LIVE.value:
            balance = await with_retries(rest.fetch_balance, what="balance")
            self._balance = float((balance.get("USDT") or {}).get("total") or 0.0)
            finest = {}
            for symbol in self.symbols:
                finest[symbol] = min(timeframe_ms(tf) for tf in timeframes)
            # Three REST clients, three rate limiters: candles (warm-up, backfills), the
            # account (lookups, positions, stops, reconciliation) and creates. The venues
            # count order requests apart from reads; a backfill or a reconciliation never
            # queues in front of an order.
            account = self._client(pro=False, burst=True)
            orders = self._client(pro=False, burst=True)
            for client in (account, orders):
                client.set_markets(rest.markets, rest.currencies)
                client.options["timeDifference"] = rest.options.get("timeDifference", 0)
            self._venue = ExchangeVenue(
                client=account,
                create_client=orders,
                exchange=p.profile.exchange,
                markets=self.markets,
                ccxt_symbols=ccxt_symbols,
                bar_ms=finest,
                leverage=p.account.leverage,
                margin_mode=p.exchange.margin_mode,
                on_event=self.event,
                crash=self._crash,
            )
            await self._venue.prepare(self.symbols)
            self._say(
                f"account ready: {self._balance:,.2f} USDT; margin mode and leverage set on "
                f"{len(self.symbols)} symbols"
            )
            self._reconciler = Reconciler(
                client=account,
                venue=self._venue,
                ccxt_symbols=ccxt_symbols,
                unknown_positions=p.exchange.unknown_positions,
                adopt_stop_pct=p.exchange.adopt_stop_pct,
                now_ms=lambda: self._feed.market_ms if self._feed is not None else 0,
                on_event=self.event,
            )

    # -- the run source protocol ---------------------------------------------------------------

    def starting_balance(self) -> float:
        return self._balance

    def venue(self) -> BarVenue:
        if self._venue is not None:
            return self._venue
        return SimulatedBroker(self._profile.broker)

    def host_rules(self) -> list[tuple[str, RiskRule]]:
        stale = self._feed.stale if self._feed is not None else set()
        halted = self._venue.halted if self._venue is not None else set()
        return [("symbol_guard", SymbolGuard(stale, halted))]

    def driver(
        self,
        strategies: Sequence[StrategyUse],
        processor: StepProcessor,
        progress: ProgressFactory | None,
    ) -> EngineDriver:
        assert self._feed is not None
        self._processor = processor
        if self._crash.point is not None:
            processor.policy = CrashingCommits(processor.policy, self._crash)
        if self._reconciler is not None:
            self._reconciler.halt = self._halt
        for event in self._events:
            processor.bus.emit(event)
        self._events.clear()
        live = self._venue is not None
        return StepDriver(
            feed=self._feed,
            strategies=strategies,
            processor=processor,
            before_step=self._before_step if live else None,
            # A checkpoint at the end of every step that wrote anything.
            chunk=1,
            restarts=True,
        )

    def _halt(self, reason: str) -> None:
        processor = self._processor
        if processor is not None:
            processor.pipeline.halt(Veto("reconcile", reason, True), processor.step_close)

    async def _before_step(self, step: Step) -> None:
        venue, processor = self._venue, self._processor
        assert venue is not None
        assert processor is not None
        await self._reconciled()
        ranges = {c.symbol: (c.low, c.high) for c in (*step.late, *step.bars)}
        await venue.sync(ranges)
        reports = venue.poll()
        if reports:
            processor.book(reports)
        reconciler = self._reconciler
        if reconciler is not None and time.monotonic() >= self._next_reconcile:
            # Beside the step, not in front of it: the step's orders need not wait
            # for it. The next step's sync waits for it (and books what it found).
            self._next_reconcile = time.monotonic() + self._profile.exchange.reconcile_s
            if self._reconciling is None or self._reconciling.done():
                self._reconciling = asyncio.ensure_future(reconciler.run(processor.ledger))

    async def _reconciled(self) -> None:
        """Wait for a reconciliation running beside the steps; its failure is an event."""
        running, self._reconciling = self._reconciling, None
        if running is None:
            return
        try:
            await running
        except Exception as exc:  # the next run tries again; trading goes on
            self.event(
                "reconcile.failed",
                "warning",
                f"reconciliation with the exchange failed: {type(exc).__name__}: {exc}",
                {},
            )

    def describe(self) -> tuple[str, dict[str, Any]]:
        p = self._profile
        where = p.exchange.rest_url or p.profile.network
        return (
            f"{self.mode} trading of {p.profile.name} on {p.profile.exchange} ({where}): "
            f"{len(self.symbols)} symbols",
            {"symbols": list(self.symbols), "exchange": p.profile.exchange},
        )

    async def finish(self, processor: StepProcessor) -> str:
        venue = self._venue
        if venue is None:
            canceled = processor.cancel_open("the paper run ended before it could fill")
            return f"{canceled} paper order(s) canceled at the end"
        await self._reconciled()
        await venue.settled()
        try:
            # Every held position asked about once more: what the exchange closed
            # after the last step (or while a run that ended at once started up)
            # is booked before the last checkpoint, not found again by the next run.
            await venue.sync()
        except Exception as exc:  # the next run's reconciliation finds it instead
            self.event(
                "reconcile.failed",
                "warning",
                f"the last check of the positions failed: {type(exc).__name__}: {exc}",
                {},
            )
        reports = venue.poll()
        if reports:
            processor.book(reports)
        # The next start carries on from here: the last fills are in its checkpoint.
        processor.end_chunk()
        return f"{len(venue.held)} position(s) left open on the exchange with their stops"

    async def close(self) -> None:
        if self._reconciling is not None:
            self._reconciling.cancel()
            with contextlib.suppress(BaseException):
                await self._reconciling
            self._reconciling = None
        if self._feed is not None:
            await self._feed.close()
        for client in self._clients:
            # Closing is best effort: the run's outcome is already known.
            with contextlib.suppress(Exception):
                await client.close()
        self._clients.clear()

    @property
    def feed(self) -> ExchangeFeed | None:
        return self._feed

    @property
    def exchange_venue(self) -> ExchangeVenue | None:
        return self._venue


def carry_on(
    path: Path, profile: Profile
) -> tuple[Journal | None, RunRow | None, dict[str, Any] | None]:
    """Where a paper or live run of ``profile`` starts: the journal, the run to resume, its state.

    The account outlives the process: a new run carries on from the last
    checkpoint of the profile's last run of the same mode (positions, their
    stops, orders sent but not answered), so a restart, even after a kill,
    neither forgets a position nor sends an order twice. An interrupted run
    (Ctrl-C, SIGTERM, a killed process) is resumed as the same run; after a
    completed one a new run starts from its state; after one killed before
    its first checkpoint, a new run starts from the newest checkpoint of the
    profile's earlier runs. Refused while another
    live process still runs the profile in this journal.
    """
    if not path.is_file():
        return None, None, None
    journal = Journal.open(path, synchronous=profile.journal.synchronous)
    try:
        mode = profile.profile.mode.value
        last = journal.latest_run(profile.profile.name, mode)
        if last is None:
            return journal, None, None
        if last.status == "running":
            raise RunError(
                f"run {last.id} of profile {profile.profile.name!r} is still running in another "
                f"process on this journal ({path}); one host per account"
            )
        found = journal.last_checkpoint(last.id)
        if found is None:
            # Killed before its first commit (it sent nothing): the account it
            # carried on is in an earlier run's last checkpoint. Starting empty
            # would forget every position and stop that run knew of.
            earlier = journal.last_profile_checkpoint(profile.profile.name, mode)
            if earlier is None:
                return journal, None, None
            run_id, _ts, earlier_state = earlier
            return journal, None, {**earlier_state, "run_id": run_id}
        state = dict(found[1])
        state["run_id"] = last.id
        return journal, (last if last.status == "interrupted" else None), state
    except BaseException:
        journal.close()
        raise


__all__ = ["ExchangeSource", "carry_on", "market_from_ccxt"]
