"""Build a replay from a checked profile and the loaded plugins, and carry it out.

Building refuses early and clearly (market rules missing, a sizer or risk
rule that cannot be constructed); once the replay starts, plugin failures
are events and the run goes on. Whatever happens, the run's row in the
journal ends as ``completed``, ``failed`` or ``interrupted``.

``resume=True`` carries on the profile's last interrupted replay from its
last checkpoint in the journal, on the same data (see
:mod:`garrison.engine.state`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs
from garrison_api import (
    Event,
    IndicatorSpec,
    Level,
    Market,
    Notifier,
    RiskRule,
    Scorer,
    Sizer,
    Strategy,
    Trade,
)

from garrison.control.host import STREAMABLE, HostControl, sizer_rebuild
from garrison.control.paths import ControlPathError, socket_for
from garrison.control.runtime import RunParts, RuntimeControl
from garrison.control.server import ControlServer
from garrison.engine.broker import SimulatedBroker
from garrison.engine.bus import PLUGIN_ERRORS, EventBus
from garrison.engine.cache import CandleCache
from garrison.engine.clock import SimulatedClock, WallClock
from garrison.engine.commit import policy_for
from garrison.engine.context import CandleHistory, HostContext
from garrison.engine.driver import StepDriver
from garrison.engine.execution import BarVenue
from garrison.engine.feed import Series, Timeline, merge
from garrison.engine.ledger import Ledger
from garrison.engine.market import TimelineFeed
from garrison.engine.phantoms import PhantomTracker
from garrison.engine.pipeline import Pipeline, ScorerBinding
from garrison.engine.replay import (
    ContextError,
    ReplayEngine,
    ReplayStats,
    ResumeError,
    StrategyUse,
)
from garrison.engine.services import EngineEmit, HostServices, namespace
from garrison.engine.sources import DataSelection, load_window
from garrison.engine.state import StateError
from garrison.engine.step import StepProcessor
from garrison.engine.watchdog import CallWatchdog
from garrison.follow.address import MissingPasswordError, password_from
from garrison.follow.beacon import RedisBeacon
from garrison.journal import Journal
from garrison.journal.records import RunRow
from garrison.markets.snapshot import apply_overrides, load_snapshot
from garrison.plugins.manager import PluginSet
from garrison.profile.load import load_profile
from garrison.profile.model import ComponentUse, Mode, Profile
from garrison.profile.render import profile_as_toml
from garrison.profile.timeframes import timeframe_ms
from garrison.risk.chain import RiskChain, StartFailed, StartFailedParams


class RunError(RuntimeError):
    """The run cannot start or went wrong in the host; the message says what to fix."""


@attrs.frozen
class RunResult:
    """What a finished replay leaves behind (the journal holds the rest)."""

    run_id: str
    journal_path: Path
    # Left out of repr: asyncio formats a finished task's result, and these are long.
    trades: tuple[Trade, ...] = attrs.field(repr=False)
    equity: tuple[tuple[int, float], ...] = attrs.field(repr=False)
    stats: ReplayStats
    symbols: tuple[str, ...]
    first_ts: int
    last_ts: int
    starting_balance: float
    final_equity: float
    open_positions: int
    events: dict[str, int]
    load_s: float
    replay_s: float
    #: Realised balance at the end (starting balance plus closed trades, less fees).
    final_balance: float = 0.0
    #: Deepest drawdown seen on any close (fraction of the running peak, and amount).
    max_drawdown: float = 0.0
    max_drawdown_usdt: float = 0.0
    #: (ts, message) of every halt of trading, in order.
    halts: tuple[tuple[int, str], ...] = ()
    #: True when this run carried on an interrupted one.
    resumed: bool = False


ProgressFactory = Callable[[int], Callable[[int], None]]


def _build(use: ComponentUse, factory: type, kind: str) -> Any:
    try:
        return factory(use.params)
    except Exception as exc:
        raise RunError(
            f"{kind} {use.name!r} ({factory.__module__}.{factory.__qualname__}) could not be "
            f"built: {type(exc).__name__}: {exc}"
        ) from exc


def _factory(plugins: PluginSet, kind: str, use: ComponentUse) -> type:
    entry = plugins.registry.get(kind, use.use)
    if entry is None:  # the profile was checked against another plugin set
        raise RunError(f"{kind} {use.use!r} is not registered by any loaded plugin")
    return entry.factory


def _markets(profile: Profile, series: Sequence[Series]) -> dict[str, Market]:
    markets = apply_overrides(
        load_snapshot(profile.markets.snapshot, profile.base_dir), profile.markets.overrides
    )
    missing = sorted({s.symbol for s in series} - markets.keys())
    if missing:
        raise RunError(
            f"no market rules for {', '.join(missing)} in snapshot {profile.markets.snapshot!r}; "
            f"add [markets.overrides.{missing[0]}] with tick_size, lot_step and min_qty"
        )
    return markets


def _spec_warmup(spec: IndicatorSpec) -> int:
    return int(getattr(spec, "warmup", 0) or 0)


def warmup_bars(strategies: Sequence[tuple[Strategy, frozenset[str]]]) -> Callable[[str, str], int]:
    """Bars of history each (symbol, timeframe) needs before a replay window (the warm-up rule).

    The most any strategy reading the series asks for: its ``warmup``, and
    one more than the longest warm-up of the indicators it reads there.
    """

    def wanted(symbol: str, timeframe: str) -> int:
        most = 0
        for strategy, symbols in strategies:
            if symbols and symbol not in symbols:
                continue
            contexts = getattr(strategy, "context_indicators", None) or {}
            context = contexts.get(timeframe)
            if strategy.timeframes:
                decides = timeframe in strategy.timeframes
            else:
                decides = timeframe not in contexts
            if not decides and context is None:
                continue
            specs = list(dict(strategy.indicators).values()) if decides else []
            specs += list(dict(context or {}).values())
            need = max([int(strategy.warmup or 0), *(_spec_warmup(s) + 1 for s in specs)])
            most = max(most, need)
        return most

    return wanted


class _Lifecycles:
    """Starts the components that declare ``start`` and stops them, in reverse, at the end."""

    def __init__(self, emit: Callable[[Event], None], clock: SimulatedClock) -> None:
        self._emit = emit
        self._clock = clock
        self._started: list[tuple[str, Any]] = []
        #: What the last failed start raised.
        self.last_error = ""

    def start(
        self,
        name: str,
        component: Any,
        services: HostServices,
        then: str = "it is left out of the run",
    ) -> bool:
        """Start ``component`` if it has ``start``; False (with an event) when it raised.

        ``then`` tells the event's reader what the run does without it.
        """
        start = getattr(component, "start", None)
        if start is None:
            if callable(getattr(component, "stop", None)):
                self._started.append((name, component))
            return True
        try:
            start(services)
        except PLUGIN_ERRORS as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._emit(
                Event(
                    ts=self._clock.now_ms(),
                    kind="plugin.failed",
                    level=Level.ERROR,
                    source=name,
                    message=f"{name} failed to start ({type(exc).__name__}: {exc}); {then}",
                    data={"component": name, "call": "start", "error": str(exc)},
                )
            )
            return False
        if callable(getattr(component, "stop", None)):
            self._started.append((name, component))
        return True

    def retire(self, name: str, component: Any) -> None:
        """Stop one component now (an operator swapped it out), with an event if it raised."""
        kept = [(n, c) for n, c in self._started if c is not component]
        if len(kept) == len(self._started):
            return
        self._started = kept
        self._stop(name, component)

    def stop_all(self) -> None:
        for name, component in reversed(self._started):
            self._stop(name, component)
        self._started.clear()

    def _stop(self, name: str, component: Any) -> None:
        """``component.stop()``; a failure is an event, never the caller's exception."""
        try:
            component.stop()
        except PLUGIN_ERRORS as exc:
            self._emit(
                Event(
                    ts=self._clock.now_ms(),
                    kind="plugin.failed",
                    level=Level.ERROR,
                    source=name,
                    message=f"{name} failed to stop: {type(exc).__name__}: {exc}",
                    data={"component": name, "call": "stop", "error": str(exc)},
                )
            )


class EngineDriver(Protocol):
    """What runs the steps of one run: the replay driver or the step driver."""

    last_ts: int

    def driver_state(self) -> dict[str, Any]: ...

    async def run(self, resume: Mapping[str, Any] | None = None) -> ReplayStats: ...

    # What the control channel's runtime commands need (garrison.control.runtime).
    def refresh(self, *, force: bool = False) -> None: ...

    def unbindable(self, use: StrategyUse) -> str: ...

    def rebind(self, use: StrategyUse) -> None: ...


class RunSource(Protocol):
    """Where one run's candles, market rules, money and fills come from.

    A replay reads recorded files and fills with the simulated broker;
    paper and live trading (:mod:`garrison.live.session`) read the exchange.
    :func:`run_profile` builds everything else the same way for all of them.
    """

    #: The run's mode as the journal records it.
    mode: str
    #: Set by :meth:`load`: market rules by symbol, the symbols traded, the run's first ms.
    markets: dict[str, Market]
    symbols: tuple[str, ...]
    first_ts: int

    async def load(self, strategies: Sequence[tuple[ComponentUse, Strategy]]) -> None:
        """Read what the run needs before it starts (data, markets, balance)."""
        ...

    def starting_balance(self) -> float:
        """The account's balance when the run starts."""
        ...

    def venue(self) -> BarVenue:
        """The execution client orders go to."""
        ...

    def host_rules(self) -> list[tuple[str, RiskRule]]:
        """Risk rules the source adds after the profile's (live: stale or halted symbols)."""
        ...

    def driver(
        self,
        strategies: Sequence[StrategyUse],
        processor: StepProcessor,
        progress: ProgressFactory | None,
    ) -> EngineDriver:
        """The driver that feeds this run's steps to ``processor``."""
        ...

    def describe(self) -> tuple[str, dict[str, Any]]:
        """The run.started event's message and data."""
        ...

    async def finish(self, processor: StepProcessor) -> str:
        """After the last step: settle what is left; says what it did (run.finished event)."""
        ...

    async def close(self) -> None:
        """Let go of connections and files, however the run ended."""
        ...


class ReplaySource:
    """Recorded candles from the profile's ``[data]`` (or ``selection``), the simulated broker."""

    mode = Mode.REPLAY.value

    def __init__(
        self,
        profile: Profile,
        *,
        selection: DataSelection,
        on_file: Callable[[str], None] | None = None,
        cache: CandleCache | None = None,
        driver: str = "replay",
    ) -> None:
        self._profile = profile
        self._selection = selection
        self._on_file = on_file
        self._cache = cache
        self._driver = driver
        self.markets: dict[str, Market] = {}
        self.symbols: tuple[str, ...] = ()
        self.first_ts = 0
        self.load_s = 0.0
        self._series: list[Series] = []
        self._first_rows: Sequence[int] = ()
        self._timeline: Timeline | None = None

    async def load(self, strategies: Sequence[tuple[ComponentUse, Strategy]]) -> None:
        profile = self._profile
        window = load_window(
            profile.data,
            profile.base_dir,
            self._selection,
            history=warmup_bars([(s, frozenset(u.symbols)) for u, s in strategies]),
            on_file=self._on_file,
            cache=self._cache,
        )
        self._series = list(window.series)
        self._first_rows = window.first_rows
        self.markets = _markets(profile, self._series)
        self._timeline = timeline = merge(self._series, window.first_rows)
        self.symbols = tuple(sorted({s.symbol for s in self._series}))
        self.first_ts = int(timeline.close_ms[0]) - _first_bar_ms(self._series, timeline)

    @property
    def timeline(self) -> Timeline:
        if self._timeline is None:
            raise RunError("the replay's data is not loaded yet")
        return self._timeline

    def starting_balance(self) -> float:
        return self._profile.account.starting_balance

    def venue(self) -> BarVenue:
        return SimulatedBroker(self._profile.broker)

    def host_rules(self) -> list[tuple[str, RiskRule]]:
        return []

    def driver(
        self,
        strategies: Sequence[StrategyUse],
        processor: StepProcessor,
        progress: ProgressFactory | None,
    ) -> EngineDriver:
        timeline = self.timeline
        bar = progress(len(timeline)) if progress is not None else None
        if self._driver == "steps":
            return StepDriver(
                feed=TimelineFeed(self._series, timeline, self._first_rows),
                strategies=strategies,
                processor=processor,
                progress=bar,
            )
        return ReplayEngine(
            series=self._series,
            timeline=timeline,
            strategies=strategies,
            processor=processor,
            first_rows=self._first_rows,
            use_screens=self._profile.engine.screen,
            progress=bar,
        )

    def describe(self) -> tuple[str, dict[str, Any]]:
        candles = len(self.timeline)
        return (
            f"replay of {self._profile.profile.name}: {candles} candles, "
            f"{len(self.symbols)} symbols",
            {"candles": candles},
        )

    async def finish(self, processor: StepProcessor) -> str:
        canceled = processor.cancel_open("the data ended before it could fill")
        return f"{canceled} order(s) canceled at the end of the data"

    async def close(self) -> None:
        return None


async def replay(
    profile: Profile,
    plugins: PluginSet,
    *,
    selection: DataSelection | None = None,
    journal_path: Path | None = None,
    progress: ProgressFactory | None = None,
    on_file: Callable[[str], None] | None = None,
    any_mode: bool = False,
    cache: CandleCache | None = None,
    resume: bool = False,
    driver: str = "replay",
    control: bool = False,
) -> RunResult:
    """Replay the profile's data (or ``selection``) through the whole pipeline.

    ``any_mode`` lets a backtest replay a paper or live profile's components;
    otherwise the profile must say ``mode = "replay"``. ``resume`` carries on
    the profile's last interrupted replay in the journal instead of starting
    a new run. ``driver`` is ``"replay"`` (the replay driver and its fast
    paths) or ``"steps"`` (the step driver paper and live trading use, fed
    the same candles by a :class:`~garrison.engine.market.TimelineFeed`,
    with incremental indicators and no screens): both must trade alike.
    """
    if driver not in ("replay", "steps"):
        raise RunError(f"driver must be 'replay' or 'steps', got {driver!r}")
    if driver == "steps" and resume:
        raise RunError("a run is resumed by the replay driver only (driver 'replay', the default)")
    if not any_mode and profile.profile.mode is not Mode.REPLAY:
        raise RunError(
            f"{profile.source}: profile.mode is {profile.profile.mode.value!r}; `garrison run` "
            "starts paper and live profiles, `garrison backtest` replays any profile"
        )
    path = journal_path or profile.resolve(profile.journal.path)
    journal: Journal | None = None
    checkpoint: dict[str, Any] | None = None
    resuming: RunRow | None = None
    if resume:
        # The run to resume decides the data (unless given): look it up first.
        if not path.is_file():
            raise RunError(f"no journal at {path} to resume a run from")
        journal = Journal.open(path, synchronous=profile.journal.synchronous)
        try:
            resuming, checkpoint = _resumable(journal, profile, Mode.REPLAY.value)
        except BaseException:
            journal.close()
            raise
        if selection is None:
            stored = resuming.selection or {}
            selection = DataSelection(
                paths=tuple(stored.get("paths") or ()),
                start=stored.get("from"),
                end=stored.get("to"),
            )
    selection = selection or DataSelection()
    source = ReplaySource(profile, selection=selection, on_file=on_file, cache=cache, driver=driver)
    return await run_profile(
        profile,
        plugins,
        source,
        journal_path=path,
        journal=journal,
        resuming=resuming,
        checkpoint=checkpoint,
        progress=progress,
        selection=selection.describe(),
        control=control,
    )


async def run_profile(
    profile: Profile,
    plugins: PluginSet,
    source: RunSource,
    *,
    journal_path: Path | None = None,
    journal: Journal | None = None,
    resuming: RunRow | None = None,
    checkpoint: dict[str, Any] | None = None,
    progress: ProgressFactory | None = None,
    selection: dict[str, Any] | None = None,
    control: bool = False,
) -> RunResult:
    """Build the profile's pipeline around ``source`` and run it to its end.

    ``control``: serve the control channel (:mod:`garrison.control`) while
    the run lasts, unless the profile's ``[control] enabled`` is false.

    ``journal`` (open) with ``resuming`` and ``checkpoint`` carry on an
    interrupted run; otherwise a new run starts in the journal at
    ``journal_path`` (default: the profile's).
    """
    mode = source.mode
    wall = WallClock()
    path = journal_path or profile.resolve(profile.journal.path)
    try:
        t0 = time.perf_counter()
        strategies_built: list[tuple[ComponentUse, Strategy]] = [
            (use, _build(use, _factory(plugins, "strategy", use), "strategy"))
            for use in profile.strategies
        ]
        await source.load(strategies_built)
        markets = source.markets
        load_s = time.perf_counter() - t0
    except BaseException:
        if journal is not None:
            journal.close()
        await source.close()
        raise

    if journal is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        journal = Journal.open(path, synchronous=profile.journal.synchronous)
    status = "failed"
    summary: dict[str, Any] = {}
    run_id = ""
    server: ControlServer | None = None
    #: The control socket while the server serves it (what services report).
    serving: list[str] = []
    engine_emit: EngineEmit | None = None
    lifecycles: _Lifecycles | None = None
    bus: EventBus | None = None
    try:
        if resuming is not None:
            run_id = journal.resume_run(resuming.id)
        else:
            journal.retention(profile.journal.retention_days, wall.now_ms())
            run_id = journal.start_run(
                profile_name=profile.profile.name,
                mode=mode,
                profile_toml=profile_as_toml(profile),
                started_ms=wall.now_ms(),
                selection=selection or {},
            )
        first_ts = source.first_ts
        clock = SimulatedClock(first_ts)
        engine_cfg = profile.engine
        notifiers: list[tuple[str, Notifier]] = []
        bus_ref: list[EventBus] = []
        # Events before the bus exists (a notifier failing to start) wait for it.
        early: list[Event] = []

        def emit(event: Event) -> None:
            if bus_ref:
                bus_ref[0].emit(event)
            else:
                early.append(event)

        lifecycles = _Lifecycles(emit, clock)
        # Components may emit from threads of their own (API 1.3).
        engine_emit = EngineEmit(emit)

        def control_socket() -> str | None:
            return serving[0] if serving else None

        def services(kind: str, name: str) -> HostServices:
            space = namespace(mode, kind, name)
            return HostServices(
                name=name,
                mode=mode,
                clock=clock,
                storage=journal.kv(space),
                blobs=journal.blobs(space),
                emit=engine_emit,
                control_socket=control_socket,
            )

        for use in profile.notifiers:
            factory = _factory(plugins, "notifier", use)
            try:
                notifier = factory(use.params)
            except Exception as exc:  # a notifier is not worth refusing the run for
                journal.record_event(
                    Event(
                        ts=first_ts,
                        kind="plugin.failed",
                        level=Level.ERROR,
                        source=use.name,
                        message=f"notifier {use.name} could not be built and is left out: "
                        f"{type(exc).__name__}: {exc}",
                    )
                )
                continue
            # Started here, on the engine's thread, before its worker thread exists.
            if lifecycles.start(use.name, notifier, services("notifier", use.name)):
                notifiers.append((use.name, notifier))
        bus = EventBus(
            journal,
            hook=plugins.hook,
            notifiers=notifiers,
            timeout_s=engine_cfg.notifier_timeout_s,
            max_failures=engine_cfg.max_plugin_failures,
            queue_size=engine_cfg.notifier_queue_size,
        )
        bus_ref.append(bus)
        for event in early:
            bus.emit(event)
        for abandoned in getattr(journal, "abandoned_runs", ()):
            bus.emit(
                Event(
                    ts=first_ts,
                    kind="run.abandoned",
                    level=Level.WARNING,
                    message=f"run {abandoned} was left running by a process that is gone; "
                    "marked interrupted",
                    data={"run_id": abandoned},
                )
            )
        ledger = Ledger(
            starting_balance=source.starting_balance(),
            leverage=profile.account.leverage,
            start_ms=first_ts,
        )
        strategies = []
        outcome_hooks = {}

        def strategy_use(
            name: str, strategy: Strategy, own: HostServices, symbols: Sequence[str]
        ) -> StrategyUse:
            ctx = HostContext(
                clock=clock,
                storage=own.storage,
                positions=ledger.positions,
                markets=markets,
                emit=emit,
                history_limit=int(strategy.warmup or 0),
            )
            return StrategyUse(name, strategy, ctx, frozenset(symbols))

        for use, strategy in strategies_built:
            strategy_services = services("strategy", use.name)
            if not lifecycles.start(use.name, strategy, strategy_services):
                continue
            strategies.append(strategy_use(use.name, strategy, strategy_services, use.symbols))
            hook = getattr(strategy, "on_outcome", None)
            if callable(hook):
                outcome_hooks[use.name] = hook
        sizer: Sizer = _build(profile.sizer, _factory(plugins, "sizer", profile.sizer), "sizer")
        if not lifecycles.start(
            profile.sizer.name,
            sizer,
            services("sizer", profile.sizer.name),
            "it is quarantined: no entry can be sized",
        ):
            bus.guard.quarantined.add(profile.sizer.name)
        rules: list[tuple[str, RiskRule]] = []
        for use in profile.risk:
            rule = _build(use, _factory(plugins, "risk_rule", use), "risk rule")
            if lifecycles.start(
                use.name,
                rule,
                services("risk_rule", use.name),
                "the risk chain refuses every entry in its place (exits still pass)",
            ):
                rules.append((use.name, rule))
            else:
                # Fail closed: without its start the limit cannot judge; refuse entries.
                rules.append(
                    (use.name, StartFailed(StartFailedParams(use.use, lifecycles.last_error)))
                )

        def rule_failed(stage: str, exc: Exception) -> None:
            bus_ref[0].guard.failed(stage, "check", exc, clock.now_ms())

        rules.extend(source.host_rules())
        chain = RiskChain(rules, on_error=rule_failed)
        bindings: list[ScorerBinding] = []
        for scorer_use in profile.scorers:
            component = scorer_use.component
            scorer: Scorer = _build(component, _factory(plugins, "scorer", component), "scorer")
            scorer_services = services("scorer", component.name)
            if not lifecycles.start(
                component.name,
                scorer,
                scorer_services,
                "it is quarantined: a gate it binds refuses, a shadow is not asked",
            ):
                bus.guard.quarantined.add(component.name)
            bindings.append(
                ScorerBinding(
                    component.name,
                    scorer,
                    scorer_use.mode,
                    scorer_use.threshold,
                    frozenset(scorer_use.strategies),
                    scorer_services.storage,
                )
            )
        venue = source.venue()
        phantoms = PhantomTracker(
            max_bars=engine_cfg.phantom_max_bars,
            stop_first=profile.broker.both_touched == "stop_first",
            slippage_bps=profile.broker.slippage_bps,
            taker_fee=profile.broker.taker_fee,
            maker_fee=profile.broker.maker_fee,
        )
        watchdog = CallWatchdog(engine_cfg.plugin_call_budget_ms)
        pipeline = Pipeline(
            profile=profile.profile.name,
            watchdog=watchdog,
            journal=journal,
            bus=bus,
            ledger=ledger,
            client=venue,
            phantoms=phantoms,
            markets=markets,
            sizer=(profile.sizer.name, sizer),
            chain=chain,
            scorers=bindings,
            clock=clock,
            outcome_hooks=outcome_hooks,
        )
        engine_ref: list[EngineDriver] = []
        processor = StepProcessor(
            pipeline=pipeline,
            venue=venue,
            ledger=ledger,
            phantoms=phantoms,
            journal=journal,
            bus=bus,
            clock=clock,
            policy=policy_for(profile.journal.commit, journal),
            kill_switches=chain.kill_switches,
            equity_interval_ms=engine_cfg.equity_interval_minutes * 60_000,
            driver_state=lambda: engine_ref[0].driver_state(),
        )
        engine_emit.attach(processor.inbox, asyncio.get_running_loop(), processor.serve_inbox)
        # The profile's `enabled = false` strategies wait for an operator to enable them.
        processor.disabled.update(u.name for u in profile.strategies if not u.enabled)
        engine = source.driver(strategies, processor, progress)
        engine_ref.append(engine)
        symbols = source.symbols
        started, started_data = source.describe()
        bus.emit(
            Event(
                ts=first_ts,
                kind="run.resumed" if checkpoint is not None else "run.started",
                source="host",
                message=started
                + ("" if checkpoint is None else f", resumed at {checkpoint['step_close']}"),
                data={"run_id": run_id, **started_data},
            )
        )
        try:
            plugins.hook.garrison_startup(profile=profile.profile.name, mode=mode)
        except Exception as exc:
            bus.emit(
                Event(
                    ts=first_ts,
                    kind="plugin.failed",
                    level=Level.ERROR,
                    message=f"a garrison_startup hook raised {type(exc).__name__}: {exc}",
                )
            )
        if control and profile.control.enabled:
            # The strategy uses deciding now, by name: a swap replaces one here
            # (and releases the old one's views), so the console's charts read these.
            running = {u.name: u for u in strategies}
            runtime = RuntimeControl(
                RunParts(
                    profile=profile,
                    registry=plugins.registry,
                    processor=processor,
                    driver=lambda: engine_ref[0] if engine_ref else None,
                    lifecycles=lifecycles,
                    services=services,
                    make_use=strategy_use,
                    uses=running,
                    rule_failed=rule_failed,
                    reread=lambda: load_profile(profile.source, plugins.registry),
                )
            )
            server = _control_server(
                profile, plugins, processor, pipeline, mode, run_id, path, running, runtime
            )
            try:
                await server.start()
            except ControlPathError as exc:
                if mode != Mode.REPLAY.value:
                    raise RunError(f"cannot serve the control channel: {exc}") from exc
                # Replays of one profile may well run side by side: the
                # second goes on without a control channel, and says so.
                server = None
                bus.emit(
                    Event(
                        ts=first_ts,
                        kind="control.unavailable",
                        level=Level.WARNING,
                        source="control",
                        message=f"no control channel for this replay: {exc}",
                    )
                )
            else:
                serving.append(str(server.path))
                bus.emit(
                    Event(
                        ts=first_ts,
                        kind="control.serving",
                        source="control",
                        message=f"control channel at {server.path}",
                        data={"socket": str(server.path)},
                    )
                )
        t1 = time.perf_counter()
        try:
            try:
                # The watchdog interrupts a strategy or scorer call over its budget.
                with watchdog:
                    stats = await engine.run(resume=checkpoint)
            except (ResumeError, StateError) as exc:
                raise RunError(f"cannot resume run {run_id}: {exc}") from exc
            except ContextError as exc:
                raise RunError(str(exc)) from exc
            ended = await source.finish(processor)
            trades = tuple(pipeline.trades)
            if checkpoint is not None:
                # Resumed: the run's counts include what it did before the interruption.
                journal.flush()
                trades = tuple(journal.trades(run_id))
                stats = attrs.evolve(
                    stats,
                    signals=journal.count("signals", run_id),
                    vetoed_intents=sum(not i.approved for i in journal.intents(run_id)),
                )
            bus.emit(
                Event(
                    ts=engine.last_ts,
                    kind="run.finished",
                    source="host",
                    message=f"{mode} finished: {len(trades)} trades, "
                    f"{len(ledger.positions)} positions still open; {ended}",
                    data={"trades": len(trades), "open": len(ledger.positions)},
                )
            )
            await bus.drain()
            # Notifiers get a last moment to deliver; a stuck one is left behind.
            await bus.close(max(1.0, 2 * engine_cfg.notifier_timeout_s))
        finally:
            try:
                plugins.hook.garrison_shutdown(profile=profile.profile.name)
            except Exception as exc:
                journal.record_event(
                    Event(
                        ts=engine.last_ts,
                        kind="plugin.failed",
                        level=Level.ERROR,
                        message=f"a garrison_shutdown hook raised {exc!r}",
                    )
                )
        replay_s = time.perf_counter() - t1
        engine_ref.clear()  # the processor's driver_state closure held the engine: a cycle
        final_equity = ledger.mark(engine.last_ts)
        if checkpoint is not None:
            journal.flush()
        equity = tuple(journal.equity(run_id)) if checkpoint is not None else ()
        result = RunResult(
            run_id=run_id,
            journal_path=path,
            trades=trades,
            equity=equity or tuple(journal.recorded_equity()),
            stats=stats,
            symbols=symbols,
            first_ts=first_ts,
            last_ts=engine.last_ts,
            starting_balance=profile.account.starting_balance,
            final_equity=final_equity,
            open_positions=len(ledger.positions),
            events=dict(bus.counts),
            load_s=load_s,
            replay_s=replay_s,
            final_balance=ledger.balance,
            halts=tuple(pipeline.halts),
            resumed=checkpoint is not None,
            max_drawdown=ledger.max_drawdown,
            max_drawdown_usdt=ledger.max_drawdown_usdt,
        )
        status = "completed"
        return result
    except asyncio.CancelledError:
        # Under asyncio.run, a first Ctrl-C reaches the coroutine as
        # CancelledError at an await between chunks, right after a checkpoint.
        status = "interrupted"
        summary["resumable"] = True
        raise
    except (KeyboardInterrupt, SystemExit):
        # Anywhere, in the middle of a step too: the journal holds only whole
        # steps, but rows after the last checkpoint may be in it.
        status = "interrupted"
        summary["resumable"] = False
        raise
    finally:
        serving.clear()
        if server is not None:
            await server.close()
        try:
            if bus is not None:
                bus.close_now()  # Ctrl-C or a failure: never wait for a notifier
            if lifecycles is not None:
                lifecycles.stop_all()
            if engine_emit is not None:
                engine_emit.detach()  # journals what components' threads emitted last
            if run_id:
                journal.finish_run(
                    status=status, finished_ms=wall.now_ms(), summary={"status": status, **summary}
                )
        finally:
            journal.close()
            await source.close()


def _control_server(
    profile: Profile,
    plugins: PluginSet,
    processor: StepProcessor,
    pipeline: Pipeline,
    mode: str,
    run_id: str,
    journal_path: Path,
    strategies: Mapping[str, StrategyUse],
    runtime: RuntimeControl | None = None,
) -> ControlServer:
    """The control server of this run, on the profile's ``[control]`` socket.

    ``strategies`` holds the uses deciding now, by name; a swap replaces one
    in it, so the ``candles`` query reads the swapped-in strategy's series.
    """
    components = {name: "strategy" for name in strategies}
    components[profile.sizer.name] = "sizer"
    for use in profile.risk:
        components[use.name] = "risk_rule"
    for scorer in profile.scorers:
        components[scorer.component.name] = "scorer"
    for use in profile.notifiers:
        components[use.name] = "notifier"
    rebuild = sizer_rebuild(
        _factory(plugins, "sizer", profile.sizer),
        pipeline.sizer[1].params if hasattr(pipeline.sizer[1], "params") else profile.sizer.params,
        profile.control.risk_pct_min,
        profile.control.risk_pct_max,
    )
    host = HostControl(
        processor=processor,
        profile_name=profile.profile.name,
        mode=mode,
        run_id=run_id,
        journal_path=journal_path,
        components=components,
        plugins=[
            {
                "name": info.name,
                "distribution": info.distribution,
                "version": info.version,
                "status": info.status,
                "error": info.error,
            }
            for info in plugins.plugins
        ],
        sizer=rebuild,
        runtime=runtime,
        candle_histories=lambda: _candle_histories(list(strategies.values())),
    )
    path, own_dir = socket_for(profile.profile.name, profile.control.socket, profile.base_dir)
    return ControlServer(
        path, host, processor, tighten=own_dir, beacon=_redis_beacon(profile, path)
    )


def _redis_beacon(profile: Profile, control_socket: Path) -> RedisBeacon | None:
    """The publisher of the profile's ``[redis]`` table, or None when it sets no url."""
    config = profile.redis
    if not config.url:
        return None
    try:
        password = password_from(config.password_env, os.environ)
    except MissingPasswordError:
        raise RunError(
            f"{profile.source}: redis.password_env names {config.password_env}, "
            "which is not set in the environment"
        ) from None
    return RedisBeacon(
        config.url,
        password,
        prefix=config.prefix,
        every_s=config.every_s,
        profile=profile.profile.name,
        control_socket=str(control_socket),
        topics=STREAMABLE,
    )


def _candle_histories(
    strategies: Sequence[StrategyUse],
) -> dict[tuple[str, str], CandleHistory]:
    """Every series' candle history the strategies' contexts hold (the console's charts)."""
    held: dict[tuple[str, str], CandleHistory] = {}
    for use in strategies:
        for key, history in use.ctx.history.items():
            held.setdefault(key, history)
    return held


def _first_bar_ms(series: Sequence[Series], timeline: Timeline) -> int:
    """Length of the first replayed bar, so the run starts at that bar's open."""
    if not len(timeline):
        return 0
    return timeframe_ms(series[int(timeline.series_index[0])].timeframe)


def _resumable(journal: Journal, profile: Profile, mode: str) -> tuple[RunRow, dict[str, Any]]:
    """The profile's last interrupted run and its last checkpoint; RunError when there is none."""
    name = profile.profile.name
    last = journal.latest_run(name, mode)
    if last is None:
        raise RunError(f"no {mode} run of profile {name!r} in {journal.path} to resume")
    if last.status != "interrupted":
        raise RunError(
            f"the last {mode} run of profile {name!r} ({last.id}) is {last.status}, not "
            "interrupted: there is nothing to resume (start a new run without --resume)"
        )
    found = journal.last_checkpoint(last.id)
    if found is None:
        raise RunError(
            f"run {last.id} of profile {name!r} was interrupted before its first checkpoint; "
            "start a new run"
        )
    # Stopped between chunks (Ctrl-C) or killed (every commit carries its
    # checkpoint): resumable. Stopped anywhere else: not.
    if (last.summary or {}).get("resumable") is False:
        raise RunError(
            f"run {last.id} of profile {name!r} was stopped in the middle of a step and "
            "cannot be resumed; start a new run"
        )
    _ts, state = found
    return last, state
