"""Build a run from a checked profile and the loaded plugins, and carry it out.

Building refuses early and clearly (market rules missing, a sizer or risk
rule that cannot be constructed); once the replay starts, plugin failures
are events and the run goes on. Whatever happens, the run's row in the
journal ends as ``completed``, ``failed`` or ``interrupted``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
from garrison_api import Event, Level, Market, Notifier, RiskRule, Scorer, Sizer, Strategy, Trade

from garrison.engine.broker import SimulatedBroker
from garrison.engine.bus import EventBus
from garrison.engine.cache import CandleCache
from garrison.engine.clock import SimulatedClock, WallClock
from garrison.engine.context import HostContext
from garrison.engine.feed import Series, merge
from garrison.engine.ledger import Ledger
from garrison.engine.phantoms import PhantomTracker
from garrison.engine.pipeline import Pipeline
from garrison.engine.replay import ReplayEngine, ReplayStats, StrategyUse
from garrison.engine.sources import DataSelection, load_series
from garrison.journal import Journal
from garrison.markets.snapshot import apply_overrides, load_snapshot
from garrison.plugins.manager import PluginSet
from garrison.profile.model import ComponentUse, Mode, Profile
from garrison.profile.render import profile_as_toml
from garrison.risk.chain import RiskChain


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
) -> RunResult:
    """Replay the profile's data (or ``selection``) through the whole pipeline.

    ``any_mode`` lets a backtest replay a paper or live profile's components;
    otherwise the profile must say ``mode = "replay"``.
    """
    if not any_mode and profile.profile.mode is not Mode.REPLAY:
        raise RunError(
            f"{profile.source}: profile.mode is {profile.profile.mode.value!r}; this version of "
            "garrison runs replay profiles only (paper and live come with the exchange adapters)"
        )
    wall = WallClock()
    t0 = time.perf_counter()
    series = load_series(
        profile.data, profile.base_dir, selection or DataSelection(), on_file=on_file, cache=cache
    )
    markets = _markets(profile, series)
    timeline = merge(series)
    load_s = time.perf_counter() - t0

    path = journal_path or profile.resolve(profile.journal.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    journal = Journal.open(path, synchronous=profile.journal.synchronous)
    status = "failed"
    run_id = ""
    try:
        run_id = journal.start_run(
            profile_name=profile.profile.name,
            mode=profile.profile.mode.value,
            profile_toml=profile_as_toml(profile),
            started_ms=wall.now_ms(),
        )
        first_ts = min(int(s.ts[0]) for s in series)
        clock = SimulatedClock(first_ts)
        engine_cfg = profile.engine
        notifiers: list[tuple[str, Notifier]] = []
        bus_ref: list[EventBus] = []

        def emit(event: Event) -> None:
            bus_ref[0].emit(event)

        for use in profile.notifiers:
            factory = _factory(plugins, "notifier", use)
            try:
                notifiers.append((use.name, factory(use.params)))
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
        bus = EventBus(
            journal,
            hook=plugins.hook,
            notifiers=notifiers,
            timeout_s=engine_cfg.notifier_timeout_s,
            max_failures=engine_cfg.max_plugin_failures,
        )
        bus_ref.append(bus)
        ledger = Ledger(
            starting_balance=profile.account.starting_balance,
            leverage=profile.account.leverage,
            start_ms=first_ts,
        )

        def context(name: str) -> HostContext:
            return HostContext(
                clock=clock,
                storage=journal.kv(name),
                positions=ledger.positions,
                markets=markets,
                emit=emit,
            )

        strategies = []
        for use in profile.strategies:
            strategy: Strategy = _build(use, _factory(plugins, "strategy", use), "strategy")
            strategies.append(
                StrategyUse(use.name, strategy, context(use.name), frozenset(use.symbols))
            )
        sizer: Sizer = _build(profile.sizer, _factory(plugins, "sizer", profile.sizer), "sizer")
        rules: list[tuple[str, RiskRule]] = [
            (use.name, _build(use, _factory(plugins, "risk_rule", use), "risk rule"))
            for use in profile.risk
        ]

        def rule_failed(stage: str, exc: Exception) -> None:
            bus.guard.failed(stage, "check", exc, clock.now_ms())

        chain = RiskChain(rules, on_error=rule_failed)
        scorer_spec: tuple[str, Scorer, str, float] | None = None
        if profile.scorer is not None:
            use = profile.scorer.component
            scorer: Scorer = _build(use, _factory(plugins, "scorer", use), "scorer")
            scorer_spec = (use.name, scorer, profile.scorer.mode, profile.scorer.threshold)
        broker = SimulatedBroker(profile.broker)
        phantoms = PhantomTracker(
            max_bars=engine_cfg.phantom_max_bars,
            stop_first=profile.broker.both_touched == "stop_first",
        )
        pipeline = Pipeline(
            run_id=run_id,
            journal=journal,
            bus=bus,
            ledger=ledger,
            broker=broker,
            phantoms=phantoms,
            markets=markets,
            sizer=(profile.sizer.name, sizer),
            chain=chain,
            scorer=scorer_spec,
            clock=clock,
        )
        engine = ReplayEngine(
            series=series,
            timeline=timeline,
            strategies=strategies,
            pipeline=pipeline,
            broker=broker,
            ledger=ledger,
            phantoms=phantoms,
            journal=journal,
            bus=bus,
            clock=clock,
            equity_interval_ms=engine_cfg.equity_interval_minutes * 60_000,
            commit_each_step=profile.journal.commit == "step",
            use_screens=engine_cfg.screen,
            progress=progress(len(timeline)) if progress is not None else None,
        )
        symbols = tuple(sorted({s.symbol for s in series}))
        bus.emit(
            Event(
                ts=first_ts,
                kind="run.started",
                source="host",
                message=f"replay of {profile.profile.name}: {len(timeline)} candles, "
                f"{len(symbols)} symbols",
                data={"run_id": run_id, "candles": len(timeline)},
            )
        )
        try:
            plugins.hook.garrison_startup(profile=profile.profile.name, mode="replay")
        except Exception as exc:
            bus.emit(
                Event(
                    ts=first_ts,
                    kind="plugin.failed",
                    level=Level.ERROR,
                    message=f"a garrison_startup hook raised {type(exc).__name__}: {exc}",
                )
            )
        t1 = time.perf_counter()
        try:
            stats = await engine.run()
            engine.cancel_leftovers(engine.last_ts)
            bus.emit(
                Event(
                    ts=engine.last_ts,
                    kind="run.finished",
                    source="host",
                    message=f"replay finished: {len(pipeline.trades)} trades, "
                    f"{len(ledger.positions)} positions still open",
                    data={"trades": len(pipeline.trades), "open": len(ledger.positions)},
                )
            )
            await bus.drain()
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
        final_equity = ledger.mark(engine.last_ts)
        equity = tuple(journal.recorded_equity())
        result = RunResult(
            run_id=run_id,
            journal_path=path,
            trades=tuple(pipeline.trades),
            equity=equity,
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
        )
        status = "completed"
        return result
    except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
        # Under asyncio.run, Ctrl-C reaches the coroutine as CancelledError.
        status = "interrupted"
        raise
    finally:
        try:
            if run_id:
                journal.finish_run(
                    status=status, finished_ms=wall.now_ms(), summary={"status": status}
                )
        finally:
            journal.close()
