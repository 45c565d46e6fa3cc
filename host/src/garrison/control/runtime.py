"""Control commands that change what runs: enable, disable, swap, reload.

These sit beside :class:`~garrison.control.host.HostControl`'s commands and
follow the same rules: a command is checked at once (a bad argument is an
error reply, nothing queued), then queued on the step processor and applied
at the next step, after settling and before any strategy decides; every
command is journaled as ``control.command`` and every applied change as
``control.applied``.

What an operator's change does to open positions (one rule for all of
them): **a position belongs to its strategy use (the profile's ``name``), not
to the component deciding under that name.** Its stop and take-profit are
with the venue (the exchange, or the simulated broker) and stay there
whatever happens to the strategy; the host keeps booking it, marking it,
judging the kill switches on it and flattening it when an operator asks.

- ``strategy_disable NAME``: the strategy is not called from the next step
  on, so it sends no new signal, entries and exits alike. Its open positions
  are settled by their stops and take-profits, a kill switch, or an
  operator's ``flatten``. ``strategy_enable NAME`` calls it again from the
  next step, on the bars it would have been called on anyway.
- ``swap strategy USE PLUGIN``: another installed strategy decides under the
  use's name from the next step. It sees the use's positions and its exit
  signals close them, as the old one's would have; outcomes of positions
  still open go to it. It gets ``start(services)`` with its own storage
  namespace (``<use>/<plugin>``; the profile's own plugin keeps ``<use>``),
  the old one ``stop()``. Its indicators are computed for it (the replay
  over each whole series, paper and live from the candles each series
  holds), so it decides at once where its warm-up allows. A strategy that
  would read data the run does not have is refused.
- ``swap scorer USE PLUGIN``: another installed scorer rates the signals the
  use rated, with the same mode, threshold and strategies; scores are
  journaled under its name (``<use>/<plugin>``).
- ``reload``: the profile file is read again with the loader every start
  uses, and what was edited in it since it was last read (at start or by
  the last reload) is applied, all of it at one step: strategy and scorer
  params (and plugins), strategies' ``enabled``, scorers' mode, threshold
  and strategies, the sizer's params, risk rules' params and ``[control]
  risk_pct_min`` / ``risk_pct_max``. What the file leaves as it was keeps
  the operator's own changes: a strategy disabled or swapped over the
  control channel stays so, and a ``risk_set`` stays unless the file's
  sizer params changed. Anything else that changed (exchange, account,
  mode, symbols, data, storage, engine, notifiers, the list of strategies,
  scorers or risk rules) refuses the whole reload, naming each key; so
  does a file the loader refuses. Either way nothing changes then.

Changes last as long as the host runs; a restart reads the profile file
(``reload`` is how a change made there reaches a running host).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs
from garrison_api import Registry, RiskRule, Scorer, Sizer, Strategy

from garrison.control.host import CommandError
from garrison.engine.pipeline import ScorerBinding
from garrison.engine.replay import StrategyUse
from garrison.engine.services import HostServices
from garrison.engine.step import StepProcessor
from garrison.profile.components import ComponentBuilder, StrategyTable, UseTable
from garrison.profile.converter import make_converter
from garrison.profile.errors import ProfileError
from garrison.profile.model import ComponentUse, Profile, ScorerUse
from garrison.risk.chain import RiskChain

#: The commands of this module; all of them change trading.
RUNTIME_ACTIONS = frozenset({"strategy_enable", "strategy_disable", "swap", "reload"})

#: Sections a running host cannot change (reload refuses them, naming the key).
FIXED_SECTIONS = (
    "profile",
    "account",
    "data",
    "markets",
    "broker",
    "journal",
    "engine",
    "credentials",
    "exchange",
    "plugins",
    "redis",
)

#: Kinds ``swap`` replaces.
SWAPPABLE = ("strategy", "scorer")


class Rebinder(Protocol):
    """What a driver offers for strategies changing under it (both drivers have it)."""

    def refresh(self, *, force: bool = False) -> None: ...

    def unbindable(self, use: StrategyUse) -> str: ...

    def rebind(self, use: StrategyUse) -> None: ...


class Lifecycle(Protocol):
    """Starts components with ``start`` and stops them (the run's lifecycles)."""

    last_error: str

    def start(self, name: str, component: Any, services: HostServices, then: str = ...) -> bool: ...

    def retire(self, name: str, component: Any) -> None: ...


@attrs.define
class RunParts:
    """What the runtime commands need from one run (built by ``run_profile``)."""

    #: The configuration running now: the profile as started, changed by swaps and reloads.
    profile: Profile
    registry: Registry
    processor: StepProcessor
    driver: Callable[[], Rebinder | None]
    lifecycles: Lifecycle
    #: The services of one component use: (kind, storage name) -> services.
    services: Callable[[str, str], HostServices]
    #: A strategy use around a built strategy: (name, strategy, services, symbols).
    make_use: Callable[[str, Strategy, HostServices, tuple[str, ...]], StrategyUse]
    #: The strategy uses running now, by name.
    uses: dict[str, StrategyUse]
    #: The risk chain's error callback (a rebuilt chain reports failures the same way).
    rule_failed: Callable[[str, Exception], None]
    #: Reads the profile file again (raises ProfileError).
    reread: Callable[[], Profile]


@attrs.frozen
class _Change:
    """One prepared change: applied at the next step, or discarded when refused."""

    what: str
    apply: Callable[[], None]
    discard: Callable[[], None] = lambda: None


class RuntimeControl:
    """The runtime commands of one run. Used from the engine's loop only."""

    def __init__(self, parts: RunParts) -> None:
        self._parts = parts
        self._converter = make_converter()
        #: The plugin each strategy and scorer use started with: it keeps the use's
        #: own storage namespace, any other plugin gets ``<use>/<plugin>``.
        self._origin: dict[tuple[str, str], str] = {
            ("strategy", u.name): u.use for u in parts.profile.strategies
        }
        self._origin.update(
            {("scorer", s.component.name): s.component.use for s in parts.profile.scorers}
        )
        #: Scorer use name -> the name its binding (and the journal) carries now.
        self._scorer_names = {s.component.name: s.component.name for s in parts.profile.scorers}
        #: The profile file as last read (at start or by a reload): a reload
        #: applies what changed in the file since, over the operator's own changes.
        self._file = parts.profile
        #: A swap or reload waiting for the next step (one at a time).
        self._waiting = ""
        self._queue: Callable[[str, Callable[[int], None]], dict[str, Any]] | None = None
        self._applied: Callable[[str, str, Mapping[str, Any]], None] | None = None
        self._components: dict[str, str] = {}
        self._on_sizer: Callable[[Sizer, Profile], None] = lambda _s, _p: None

    def attach(
        self,
        *,
        queue: Callable[[str, Callable[[int], None]], dict[str, Any]],
        applied: Callable[[str, str, Mapping[str, Any]], None],
        components: dict[str, str],
        on_sizer: Callable[[Sizer, Profile], None],
    ) -> dict[str, Callable[[Mapping[str, Any]], Any]]:
        """Wire in the host control's queue and journal; returns the command handlers."""
        self._queue = queue
        self._applied = applied
        self._components = components
        self._on_sizer = on_sizer
        return {
            "strategy_enable": lambda a: self._toggle(a, enable=True),
            "strategy_disable": lambda a: self._toggle(a, enable=False),
            "swap": self._swap,
            "reload": self._reload,
        }

    # -- what is running (status, plugins) -----------------------------------------

    def strategies(self) -> list[dict[str, Any]]:
        """Each strategy use: its plugin, whether it is enabled and quarantined."""
        proc = self._parts.processor
        return [
            {
                "name": use.name,
                "plugin": use.use,
                "enabled": use.name not in proc.disabled,
                "quarantined": use.name in proc.bus.guard.quarantined,
            }
            for use in self._parts.profile.strategies
        ]

    def scorers(self) -> list[dict[str, Any]]:
        """Each scorer use: its plugin and the name its scores are journaled under."""
        return [
            {
                "name": s.component.name,
                "plugin": s.component.use,
                "journaled_as": self._scorer_names.get(s.component.name, s.component.name),
                "mode": s.mode,
                "threshold": s.threshold,
            }
            for s in self._parts.profile.scorers
        ]

    # -- plumbing -------------------------------------------------------------------

    def _enqueue(self, what: str, action: Callable[[int], None]) -> dict[str, Any]:
        if self._queue is None:
            raise CommandError("the runtime commands are not attached to a control channel")
        return self._queue(what, action)

    def _journal(self, what: str, message: str, data: Mapping[str, Any]) -> None:
        if self._applied is not None:
            self._applied(what, message, data)

    def _driver(self) -> Rebinder:
        driver = self._parts.driver()
        if driver is None:
            raise CommandError("the run's driver is not running")
        return driver

    def _one_at_a_time(self) -> None:
        if self._waiting:
            raise CommandError(
                f"{self._waiting} is waiting for the next step; send this again once it applied"
            )

    def _strategy_names(self) -> list[str]:
        return [u.name for u in self._parts.profile.strategies]

    # -- enable / disable -----------------------------------------------------------

    def _toggle(self, args: Mapping[str, Any], *, enable: bool) -> dict[str, Any]:
        name = args.get("name")
        names = self._strategy_names()
        if not isinstance(name, str) or name not in names:
            raise CommandError(
                f"no strategy use named {name!r}; this host runs: {', '.join(names)}"
            )
        proc = self._parts.processor
        verb = "enable" if enable else "disable"

        def act(_ts: int) -> None:
            was = name not in proc.disabled
            if enable:
                proc.disabled.discard(name)
            else:
                proc.disabled.add(name)
            driver = self._parts.driver()
            if driver is not None:
                driver.refresh()
            held = sorted(s for s, p in proc.ledger.positions.items() if p.strategy == name)
            state = "enabled" if enable else "disabled"
            message = f"operator {verb}d strategy {name}" + (
                f" (it was already {state})" if was == enable else ""
            )
            if not enable:
                message += (
                    f"; its {len(held)} open position(s) keep their stops and take-profits"
                    if held
                    else "; it holds no position"
                )
            self._journal(
                f"strategy_{verb}",
                message,
                {"strategy": name, "enabled": enable, "positions": ", ".join(held)},
            )

        return self._enqueue(f"strategy {verb} {name}", act)

    # -- building components ----------------------------------------------------------

    def _installed(self, kind: str, plugin: object) -> str:
        registry = self._parts.registry
        if not isinstance(plugin, str) or registry.get(kind, plugin) is None:
            names = ", ".join(sorted(registry.names(kind))) or "none"
            raise CommandError(
                f"no {kind} plugin named {plugin!r} is installed (and allowed) on this host; "
                f"installed {kind} plugins: {names}"
            )
        return plugin

    def _structure(
        self, kind: str, table: dict[str, Any], file: str, table_type: type[Any]
    ) -> ComponentUse:
        """The use ``table`` describes, its params checked as the profile loader checks them."""
        builder = ComponentBuilder(self._parts.registry, self._converter, file)
        use = builder.one(table, (), kind, table_type)
        if builder.problems or use is None:
            raise CommandError("; ".join(str(p) for p in builder.problems) or "not a valid use")
        return use

    def _storage_name(self, kind: str, name: str, plugin: str) -> str:
        origin = self._origin.get((kind, name), plugin)
        return name if plugin == origin else f"{name}/{plugin}"

    def _build(self, kind: str, use: ComponentUse) -> Any:
        entry = self._parts.registry.get(kind, use.use)
        if entry is None:  # checked before; the registry does not change while running
            raise CommandError(f"no {kind} plugin named {use.use!r}")
        try:
            return entry.factory(use.params)
        except Exception as exc:
            raise CommandError(
                f"{kind} {use.use!r} could not be built: {type(exc).__name__}: {exc}"
            ) from None

    def _start(self, label: str, component: Any, services: HostServices) -> None:
        if not self._parts.lifecycles.start(label, component, services, "it is not swapped in"):
            raise CommandError(
                f"{label} failed to start ({self._parts.lifecycles.last_error}); nothing changed"
            )

    def _prepare_strategy(self, use: ComponentUse) -> _Change:
        """Build, check and start the strategy ``use``; the change puts it in place."""
        parts = self._parts
        if use.name not in parts.uses:
            raise CommandError(
                f"strategy {use.name} is not running (it failed to start, see its plugin.failed "
                "event); a restart brings it back"
            )
        strategy: Strategy = self._build("strategy", use)
        storage = self._storage_name("strategy", use.name, use.use)
        services = parts.services("strategy", storage)
        new = parts.make_use(use.name, strategy, services, tuple(use.symbols))
        reason = self._driver().unbindable(new)
        if reason:
            raise CommandError(f"strategy {use.use!r} cannot decide under {use.name}: {reason}")
        label = f"{use.name} ({use.use})"
        self._start(label, strategy, services)

        def apply() -> None:
            old = parts.uses[use.name]
            guard = parts.processor.bus.guard
            # A fresh component: the old one's failures are not held against it.
            guard.quarantined.discard(use.name)
            guard.failures.pop(use.name, None)
            parts.processor.pipeline.outcome_failing.discard(use.name)
            self._driver().rebind(new)
            hook = getattr(strategy, "on_outcome", None)
            parts.processor.pipeline.set_outcome_hook(use.name, hook if callable(hook) else None)
            parts.uses[use.name] = new
            parts.lifecycles.retire(use.name, old.strategy)

        return _Change(
            f"strategy {use.name} -> {use.use}",
            apply,
            lambda: parts.lifecycles.retire(label, strategy),
        )

    def _prepare_scorer(self, scorer_use: ScorerUse) -> _Change:
        """Build and start the scorer of ``scorer_use``; the change binds it in the old's place."""
        parts = self._parts
        use = scorer_use.component
        scorer: Scorer = self._build("scorer", use)
        journaled = self._storage_name("scorer", use.name, use.use)
        services = parts.services("scorer", journaled)
        self._start(journaled, scorer, services)

        def apply() -> None:
            pipeline = parts.processor.pipeline
            current = self._scorer_names[use.name]
            bindings = list(pipeline.scorers)
            at = next(i for i, b in enumerate(bindings) if b.name == current)
            old = bindings[at]
            bindings[at] = ScorerBinding(
                journaled,
                scorer,
                scorer_use.mode,
                scorer_use.threshold,
                frozenset(scorer_use.strategies),
                services.storage,
            )
            guard = parts.processor.bus.guard
            guard.quarantined.discard(journaled)
            guard.failures.pop(journaled, None)
            pipeline.outcome_failing.discard(journaled)
            pipeline.replace_scorers(bindings)
            self._scorer_names[use.name] = journaled
            self._components.pop(current, None)
            self._components[journaled] = "scorer"
            parts.lifecycles.retire(current, old.scorer)

        return _Change(
            f"scorer {use.name} -> {use.use}",
            apply,
            lambda: parts.lifecycles.retire(journaled, scorer),
        )

    def _rebind_scorer(self, scorer_use: ScorerUse) -> _Change:
        """The same scorer, rating with the use's (new) mode, threshold and strategies."""
        name = scorer_use.component.name

        def apply() -> None:
            pipeline = self._parts.processor.pipeline
            current = self._scorer_names[name]
            pipeline.replace_scorers(
                [
                    attrs.evolve(
                        b,
                        mode=scorer_use.mode,
                        threshold=scorer_use.threshold,
                        strategies=frozenset(scorer_use.strategies),
                    )
                    if b.name == current
                    else b
                    for b in pipeline.scorers
                ]
            )

        return _Change(f"scorer {name} gating", apply)

    def _commit(
        self,
        what: str,
        changes: Sequence[_Change],
        profile: Profile,
        data: dict[str, Any],
        file: Profile | None = None,
    ) -> dict[str, Any]:
        """Queue ``changes`` to apply together at the next step, then run on ``profile``.

        ``file``: the profile file just read (a reload), the base of the next reload.
        """
        parts = self._parts
        self._waiting = what

        def act(_ts: int) -> None:
            self._waiting = ""
            done = []
            try:
                for change in changes:
                    change.apply()
                    done.append(change.what)
            except Exception as exc:
                # Checked and built before queuing, a change should not fail here;
                # if one does, the run goes on and the journal says what applied.
                self._journal(
                    what.split(" ", 1)[0],
                    f"operator {what} failed while applying {change.what}: "
                    f"{type(exc).__name__}: {exc}; applied before it: {'; '.join(done) or 'none'}",
                    {**data, "changes": "; ".join(done), "error": str(exc)},
                )
                for left in changes[len(done) + 1 :]:
                    left.discard()
                driver = parts.driver()
                if driver is not None:
                    driver.refresh(force=True)
                return
            parts.profile = profile
            if file is not None:
                self._file = file
            driver = parts.driver()
            if driver is not None:
                driver.refresh()
            self._journal(
                what.split(" ", 1)[0],
                f"operator {what}: " + "; ".join(c.what for c in changes),
                {**data, "changes": "; ".join(c.what for c in changes)},
            )

        try:
            return self._enqueue(what, act)
        except BaseException:
            self._waiting = ""
            for change in changes:
                change.discard()
            raise

    # -- swap -----------------------------------------------------------------------

    def _swap(self, args: Mapping[str, Any]) -> dict[str, Any]:
        kind = args.get("kind")
        if kind not in SWAPPABLE:
            raise CommandError(f"kind must be one of {', '.join(SWAPPABLE)}, got {kind!r}")
        name = args.get("use")
        plugin = self._installed(kind, args.get("plugin"))
        params = args.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise CommandError(
                f"params must be a JSON object of the plugin's params, got {params!r}"
            )
        self._one_at_a_time()
        profile = self._parts.profile
        file = f"swap {kind} {name} {plugin}"
        if kind == "strategy":
            names = self._strategy_names()
            if name not in names:
                raise CommandError(
                    f"no strategy use named {name!r}; this host runs: {', '.join(names)}"
                )
            old = profile.strategies[names.index(name)]
            table = {"use": plugin, "name": name, "symbols": list(old.symbols), "params": params}
            new_use = attrs.evolve(
                self._structure("strategy", table, file, StrategyTable), enabled=old.enabled
            )
            change = self._prepare_strategy(new_use)
            running = attrs.evolve(
                profile,
                strategies=tuple(new_use if u.name == name else u for u in profile.strategies),
            )
        else:
            scorer_names = [s.component.name for s in profile.scorers]
            if name not in scorer_names:
                running_names = ", ".join(scorer_names) or "none"
                raise CommandError(f"no scorer use named {name!r}; this host runs: {running_names}")
            old_scorer = profile.scorers[scorer_names.index(name)]
            component = self._structure(
                "scorer", {"use": plugin, "name": name, "params": params}, file, UseTable
            )
            new_scorer = attrs.evolve(old_scorer, component=component)
            change = self._prepare_scorer(new_scorer)
            running = attrs.evolve(
                profile,
                scorers=tuple(
                    new_scorer if s.component.name == name else s for s in profile.scorers
                ),
            )
        return self._commit(
            f"swap {kind} {name} -> {plugin}",
            [change],
            running,
            {"kind": kind, "use": name, "plugin": plugin},
        )

    # -- reload ---------------------------------------------------------------------

    def _reload(self, _args: Mapping[str, Any]) -> dict[str, Any]:
        self._one_at_a_time()
        parts = self._parts
        source = parts.profile.source
        try:
            new = parts.reread()
        except ProfileError as exc:
            raise CommandError(
                f"{source} was not reloaded (the running profile is unchanged): {exc}"
            ) from None
        refused = fixed_changes(self._file, new)
        changes: list[_Change] = []
        try:
            changes, running, more = self._plan(new)
            refused += more
            if refused:
                raise CommandError(
                    f"{source} was not reloaded (the running profile is unchanged); "
                    "these cannot change while the host runs: " + "; ".join(refused)
                )
        except BaseException:
            for change in changes:
                change.discard()
            raise
        if not changes:
            return {
                "queued": "",
                "applies": "nothing: the profile file has not changed since it was last read",
            }
        return self._commit("reload", changes, running, {"file": str(source)}, file=new)

    def _plan(self, new: Profile) -> tuple[list[_Change], Profile, list[str]]:
        """The live changes the file's edits since it was last read ask for.

        Returns them, the running profile once they applied, and the keys
        that refuse the reload. What the file leaves as it was keeps the
        operator's own changes (a swap, a disable, ``risk_set``).
        """
        old = self._file
        refused: list[str] = []
        changes: list[_Change] = []
        running = self._parts.profile
        try:
            strategies, more = self._plan_strategies(old, new, changes)
            refused += more
            scorers, more = self._plan_scorers(old, new, changes)
            refused += more
            refused += self._plan_sizer(old, new, changes)
            refused += self._plan_risk(old, new, changes)
        except BaseException:
            for change in changes:
                change.discard()
            raise
        after = attrs.evolve(
            new,
            strategies=tuple(strategies.get(u.name, u) for u in running.strategies),
            scorers=tuple(scorers.get(s.component.name, s) for s in running.scorers),
            sizer=new.sizer if new.sizer.params != old.sizer.params else running.sizer,
        )
        return changes, after, refused

    def _plan_strategies(
        self, old: Profile, new: Profile, changes: list[_Change]
    ) -> tuple[dict[str, ComponentUse], list[str]]:
        """Strategy changes; returns the running uses that change, by name."""
        before = {u.name: u for u in old.strategies}
        after = {u.name: u for u in new.strategies}
        moved = _added_removed("strategies", before, after)
        if moved:
            return {}, [moved]
        refused = [
            f"strategies.{n}.symbols" for n in after if before[n].symbols != after[n].symbols
        ]
        if refused:
            return {}, refused
        proc = self._parts.processor
        running: dict[str, ComponentUse] = {}
        for name, use in after.items():
            if (use.use, use.params) != (before[name].use, before[name].params):
                changes.append(self._prepare_strategy(use))
                running[name] = use
            if use.enabled != before[name].enabled:
                enable = use.enabled

                def toggle(name: str = name, enable: bool = enable) -> None:
                    (proc.disabled.discard if enable else proc.disabled.add)(name)

                changes.append(
                    _Change(f"strategy {name} {'enabled' if enable else 'disabled'}", toggle)
                )
        return running, []

    def _plan_scorers(
        self, old: Profile, new: Profile, changes: list[_Change]
    ) -> tuple[dict[str, ScorerUse], list[str]]:
        """Scorer changes; returns the running scorer uses that change, by name."""
        before = {s.component.name: s for s in old.scorers}
        after = {s.component.name: s for s in new.scorers}
        moved = _added_removed("scorers", before, after)
        if moved:
            return {}, [moved]
        now = {s.component.name: s for s in self._parts.profile.scorers}
        running: dict[str, ScorerUse] = {}
        for name, scorer in after.items():
            was = before[name]
            component, old_component = scorer.component, was.component
            if (component.use, component.params) != (old_component.use, old_component.params):
                changes.append(self._prepare_scorer(scorer))
                running[name] = scorer
            elif (scorer.mode, scorer.threshold, scorer.strategies) != (
                was.mode,
                was.threshold,
                was.strategies,
            ):
                changes.append(self._rebind_scorer(scorer))
                # The running scorer (swapped in, maybe) rates with the new gating.
                running[name] = attrs.evolve(
                    now[name],
                    mode=scorer.mode,
                    threshold=scorer.threshold,
                    strategies=scorer.strategies,
                )
        return running, []

    def _plan_sizer(self, old: Profile, new: Profile, changes: list[_Change]) -> list[str]:
        refused = [
            f"sizer.{key}"
            for key in ("use", "name")
            if getattr(old.sizer, key) != getattr(new.sizer, key)
        ]
        if refused:
            return refused
        pipeline = self._parts.processor.pipeline
        running = pipeline.sizer[1]
        # Changed in the file: the file's params replace the running ones (an
        # operator's risk_set included). Unchanged: the running sizer stays.
        rebuild = new.sizer.params != old.sizer.params
        bounds_changed = (old.control.risk_pct_min, old.control.risk_pct_max) != (
            new.control.risk_pct_min,
            new.control.risk_pct_max,
        )
        if not rebuild and not bounds_changed:
            return []
        if rebuild and callable(getattr(running, "start", None)):
            return ["sizer.params (the sizer has a start hook; it cannot be rebuilt while running)"]
        sizer: Sizer = self._build("sizer", new.sizer) if rebuild else running
        risk_pct = getattr(getattr(sizer, "params", None), "risk_pct", None)
        low, high = new.control.risk_pct_min, new.control.risk_pct_max
        if isinstance(risk_pct, int | float) and (
            (low is not None and risk_pct < low) or (high is not None and risk_pct > high)
        ):
            return [
                f"control.risk_pct_min / risk_pct_max: the risk per trade would be {risk_pct:g}%, "
                f"outside the new bounds [{low}, {high}] (set it within them first)"
            ]

        def apply() -> None:
            if sizer is not running:
                pipeline.replace_sizer(sizer)
            self._on_sizer(sizer, new)

        what = "sizer params" if sizer is not running else "risk_pct bounds"
        changes.append(_Change(what, apply))
        return []

    def _plan_risk(self, old: Profile, new: Profile, changes: list[_Change]) -> list[str]:
        if [(r.name, r.use) for r in old.risk] != [(r.name, r.use) for r in new.risk]:
            return [
                "risk (rules added, removed, reordered or replaced: "
                f"{', '.join(r.name for r in old.risk)} -> {', '.join(r.name for r in new.risk)})"
            ]
        pipeline = self._parts.processor.pipeline
        stages = dict(pipeline.risk_chain.stages)
        rebuilt: dict[str, RiskRule] = {}
        refused: list[str] = []
        for was, use in zip(old.risk, new.risk, strict=True):
            # The file's rules are the running ones: nothing else changes them.
            if was.params == use.params:
                continue
            current = stages.get(use.name)
            if current is not None and callable(getattr(current, "start", None)):
                refused.append(f"risk.{use.name}.params (the rule has a start hook)")
                continue
            rebuilt[use.name] = self._build("risk_rule", use)
        if refused or not rebuilt:
            return refused
        chain = RiskChain(
            [(name, rebuilt.get(name, rule)) for name, rule in pipeline.risk_chain.stages],
            on_error=self._parts.rule_failed,
        )
        proc = self._parts.processor

        def apply() -> None:
            pipeline.replace_chain(chain)
            proc.replace_kill_switches(chain.kill_switches)

        changes.append(_Change(f"risk rules {', '.join(sorted(rebuilt))}", apply))
        return []


def _added_removed(key: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    if not added and not removed:
        return ""
    said = [
        f"{', '.join(added)} added" if added else "",
        f"{', '.join(removed)} removed" if removed else "",
    ]
    return f"{key} ({'; '.join(s for s in said if s)}; uses are added or removed by a restart)"


def fixed_changes(old: Profile, new: Profile) -> list[str]:
    """The keys that differ between ``old`` and ``new`` and cannot change while running."""
    keys: list[str] = []
    for section in FIXED_SECTIONS:
        a, b = getattr(old, section), getattr(new, section)
        if a == b:
            continue
        fields = [f.name for f in attrs.fields(type(a)) if getattr(a, f.name) != getattr(b, f.name)]
        keys += [f"{section}.{f}" for f in fields] or [section]
    for key in ("enabled", "socket"):
        if getattr(old.control, key) != getattr(new.control, key):
            keys.append(f"control.{key}")
    if old.notifiers != new.notifiers:
        before = {u.name: u for u in old.notifiers}
        after = {u.name: u for u in new.notifiers}
        names = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
        keys += [f"notifiers.{n}" for n in names] or ["notifiers"]
    return keys
