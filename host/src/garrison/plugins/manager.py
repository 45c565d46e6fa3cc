"""Find, check, import and register Garrison plugins.

:func:`load_plugins` is the one way in. It builds a fresh pluggy manager each
time (nothing is global and nothing is loaded when this module is imported),
then for every plugin, one at a time:

1. checks the allow-lists (:mod:`garrison.plugins.policy`) and the
   distribution's declared garrison-api range (a plugin refused by either is
   never imported);
2. imports the entry point's module;
3. registers it with pluggy and checks its hooks (a misspelt hook name is an
   error, not a hook that silently never runs);
4. calls its ``garrison_register`` alone, into a scratch registry, and merges
   the components into the shared registry only if the whole call succeeded.

A plugin that fails any step is reported and left out; the others go on.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

import attrs
import garrison_api
import pluggy
from garrison_api import PROJECT_NAME, Registry, hookspecs

from garrison import __version__ as host_version
from garrison.plugins import builtin
from garrison.plugins.apirange import check_api_range, declared_api_range, format_range
from garrison.plugins.location import plugins_dir as default_plugins_dir
from garrison.plugins.policy import LoadPolicy

#: What became of a plugin: loaded, broken, refused for its garrison-api range, or
#: left out by an allow-list (never imported).
PluginStatus = Literal["ok", "failed", "incompatible", "not allowed"]

_REGISTER_HOOK = "garrison_register"


@attrs.frozen
class PluginInfo:
    """What the host knows about one plugin after trying to load it.

    ``module`` is the module the entry point names; ``api_range`` the
    garrison-api range its distribution declares (``""`` if none);
    ``components`` the ``(kind, name)`` pairs it registered, sorted (empty
    unless ``status`` is ``"ok"``); ``error`` says what went wrong otherwise.
    ``in_plugins_dir`` is true for a plugin ``garrison plugins install`` put in
    the plugins directory (:mod:`garrison.plugins.location`).
    """

    name: str
    module: str
    distribution: str
    version: str
    api_range: str = ""
    status: PluginStatus = "ok"
    error: str | None = None
    components: tuple[tuple[str, str], ...] = ()
    in_plugins_dir: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def components_by_kind(self) -> dict[str, list[str]]:
        """Component names grouped by kind, e.g. ``{"strategy": ["turtle", "turtle2"]}``."""
        grouped: dict[str, list[str]] = {}
        for kind, name in self.components:
            grouped.setdefault(kind, []).append(name)
        return grouped


class PluginSet:
    """The result of :func:`load_plugins`.

    ``registry`` holds the components of the plugins that loaded; ``hook``
    calls the broadcast hooks of those plugins only; ``plugins`` lists every
    plugin found, loaded or not, in load order.
    """

    def __init__(
        self,
        *,
        manager: pluggy.PluginManager,
        registry: Registry,
        plugins: Iterable[PluginInfo],
    ) -> None:
        self._manager = manager
        self._registry = registry
        self._plugins = tuple(plugins)

    @property
    def registry(self) -> Registry:
        """Components of the plugins whose status is ``"ok"``."""
        return self._registry

    @property
    def plugins(self) -> tuple[PluginInfo, ...]:
        """Every plugin found, in load order (built-ins first, then by name)."""
        return self._plugins

    @property
    def hook(self) -> pluggy.HookRelay:
        """The pluggy hook relay; only plugins whose status is ``"ok"`` are registered."""
        return self._manager.hook

    @property
    def manager(self) -> pluggy.PluginManager:
        """The pluggy manager behind ``hook``, for callers that need to leave a plugin out."""
        return self._manager

    @property
    def ok(self) -> tuple[PluginInfo, ...]:
        """The plugins that loaded."""
        return tuple(info for info in self._plugins if info.ok)

    @property
    def problems(self) -> tuple[PluginInfo, ...]:
        """The plugins that failed, were refused or are not allowed, each with its ``error``."""
        return tuple(info for info in self._plugins if not info.ok)

    def get(self, name: str) -> PluginInfo | None:
        """The plugin called ``name``, or None."""
        return next((info for info in self._plugins if info.name == name), None)

    def __repr__(self) -> str:
        return (
            f"PluginSet({len(self.ok)} ok, {len(self.problems)} with problems, "
            f"{len(self._registry)} components)"
        )


def load_plugins(
    *,
    group: str = PROJECT_NAME,
    builtins: bool = True,
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
    policy: LoadPolicy | None = None,
    plugins_dir: Path | None = None,
) -> PluginSet:
    """Load the host's own plugin modules and every allowed plugin of the entry-point ``group``.

    Args:
        group: the entry-point group plugins register under.
        builtins: also load the host's own modules
            (:data:`garrison.plugins.builtin.BUILTIN_MODULES`) as plugin ``host``.
        entry_points: use these instead of the installed ones (those of another
            group are ignored); mainly for tests and tools.
        policy: the allow-lists (default: ``GARRISON_LOAD_PLUGINS`` only); the
            host's own modules are always allowed.
        plugins_dir: where ``garrison plugins install`` puts plugins (default:
            :func:`garrison.plugins.location.plugins_dir`); searched after the
            environment unless ``entry_points`` is given.

    A broken, incompatible or not allowed plugin never raises here: it is
    listed in :attr:`PluginSet.problems` with the reason.
    """
    loader = _Loader(api_version=garrison_api.__version__)
    rules = LoadPolicy.from_environment() if policy is None else policy
    if builtins:
        for candidate in _builtin_candidates():
            loader.admit(candidate)
    found: list[tuple[importlib.metadata.EntryPoint, Path | None]]
    if entry_points is None:
        found = _installed_entry_points(
            group, default_plugins_dir() if plugins_dir is None else plugins_dir
        )
    else:
        found = [(ep, None) for ep in entry_points if ep.group == group]
    for ep, where in sorted(
        found, key=lambda item: (item[0].name, _distribution_name(item[0]), item[0].value)
    ):
        candidate = _entry_point_candidate(ep, loader.api_version, where)
        refusal = rules.refusal(candidate.name, candidate.distribution)
        if refusal is not None:
            candidate = attrs.evolve(candidate, status="not allowed", refusal=refusal)
        loader.admit(candidate)
    return loader.result()


def _installed_entry_points(
    group: str, directory: Path
) -> list[tuple[importlib.metadata.EntryPoint, Path | None]]:
    """The environment's entry points of ``group`` and those of the plugins directory.

    Each comes with the plugins directory it was found in (None for the
    environment's). Once a plugin of the directory was imported the directory
    is on ``sys.path`` and the environment lists its plugins too: they are
    counted once, as the directory's.
    """
    in_dir: list[tuple[importlib.metadata.EntryPoint, Path | None]] = [
        (ep, directory)
        for dist in _plugins_dir_distributions(directory)
        for ep in dist.entry_points.select(group=group)
    ]
    keys = {(ep.name, ep.value, _distribution_name(ep)) for ep, _ in in_dir}
    in_env: list[tuple[importlib.metadata.EntryPoint, Path | None]] = [
        (ep, None)
        for ep in importlib.metadata.entry_points(group=group)
        if (ep.name, ep.value, _distribution_name(ep)) not in keys
    ]
    return in_env + in_dir


def _plugins_dir_distributions(directory: Path) -> list[importlib.metadata.Distribution]:
    if not directory.is_dir():
        return []
    return list(importlib.metadata.distributions(path=[str(directory)]))


def _importable_from(directory: Path) -> None:
    """Put the plugins directory on ``sys.path`` (last: the environment's packages win)."""
    entry = str(directory)
    if entry not in sys.path:
        sys.path.append(entry)
        importlib.invalidate_caches()


def _load_from(directory: Path, ep: importlib.metadata.EntryPoint) -> object:
    _importable_from(directory)
    return ep.load()


@attrs.frozen
class _Candidate:
    """A plugin found but not imported yet. ``refusal`` is set when its API range excludes it."""

    name: str
    module: str
    distribution: str
    version: str
    api_range: str
    load: Callable[[], object]
    refusal: str | None = None
    #: The status a refusal gives: ``incompatible``, or ``not allowed`` for an allow-list.
    status: PluginStatus = "incompatible"
    in_plugins_dir: bool = False

    def info(
        self,
        status: PluginStatus,
        error: str | None = None,
        components: tuple[tuple[str, str], ...] = (),
    ) -> PluginInfo:
        return PluginInfo(
            name=self.name,
            module=self.module,
            distribution=self.distribution,
            version=self.version,
            api_range=self.api_range,
            status=status,
            error=error,
            components=components,
            in_plugins_dir=self.in_plugins_dir,
        )


def _distribution_name(ep: importlib.metadata.EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else ""


def _entry_point_candidate(
    ep: importlib.metadata.EntryPoint, api_version: str, directory: Path | None = None
) -> _Candidate:
    dist = ep.dist
    distribution = dist.name if dist is not None else ""
    version = dist.version if dist is not None else ""
    check = check_api_range(
        plugin=ep.name,
        distribution=distribution,
        version=version,
        requires=dist.requires if dist is not None else None,
        api_version=api_version,
    )
    return _Candidate(
        name=ep.name,
        module=ep.module,
        distribution=distribution,
        version=version,
        api_range=check.declared,
        load=ep.load if directory is None else functools.partial(_load_from, directory, ep),
        refusal=check.problem,
        in_plugins_dir=directory is not None,
    )


def _builtin_candidates() -> list[_Candidate]:
    api_range = _host_api_range()
    return [
        _Candidate(
            name=builtin.builtin_plugin_name(index, module),
            module=module,
            distribution=builtin.BUILTIN_DISTRIBUTION,
            version=host_version,
            api_range=api_range,
            load=functools.partial(importlib.import_module, module),
        )
        for index, module in enumerate(builtin.BUILTIN_MODULES)
    ]


def _host_api_range() -> str:
    # Shown for information only: the host is not refused for its own range.
    try:
        requires = importlib.metadata.requires(builtin.BUILTIN_DISTRIBUTION)
        specifier = declared_api_range(requires)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return ""
    return format_range(specifier) if specifier is not None else ""


def _describe(exc: BaseException) -> str:
    """``"ExcType: message"`` on one line."""
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class _Loader:
    """Admits plugins one by one into one pluggy manager and one registry."""

    def __init__(self, *, api_version: str) -> None:
        self.api_version = api_version
        self._manager = pluggy.PluginManager(PROJECT_NAME)
        self._manager.add_hookspecs(hookspecs)
        self._registry = Registry()
        self._infos: list[PluginInfo] = []
        # Plugin name -> who took it first, to refuse a second plugin of that name.
        self._owners: dict[str, str] = {}

    def admit(self, candidate: _Candidate) -> None:
        self._infos.append(self._admit(candidate))

    def result(self) -> PluginSet:
        return PluginSet(manager=self._manager, registry=self._registry, plugins=self._infos)

    def _admit(self, candidate: _Candidate) -> PluginInfo:
        if candidate.refusal is not None:
            return candidate.info(candidate.status, candidate.refusal)
        owner = self._owners.get(candidate.name)
        if owner is not None:
            return candidate.info(
                "failed",
                f"plugin name {candidate.name!r} ({candidate.module}) is already taken by "
                f"{owner}; rename one of the two entry points",
            )
        self._owners[candidate.name] = candidate.distribution or candidate.module
        try:
            plugin = candidate.load()
        except (Exception, SystemExit) as exc:
            return candidate.info("failed", f"cannot import {candidate.module}: {_describe(exc)}")
        problem = self._register(candidate, plugin)
        if problem is not None:
            return candidate.info("failed", problem)
        try:
            added = self._call_register(candidate.name, plugin)
        except Exception as exc:
            self._drop(candidate.name, plugin)
            return candidate.info(
                "failed", f"{_REGISTER_HOOK} in {candidate.module} raised {_describe(exc)}"
            )
        try:
            self._registry = _merged(self._registry, added, candidate.name)
        except ValueError as exc:
            self._drop(candidate.name, plugin)
            return candidate.info("failed", _describe(exc))
        components = tuple(sorted((entry.kind, entry.name) for entry in added))
        return candidate.info("ok", components=components)

    def _register(self, candidate: _Candidate, plugin: object) -> str | None:
        """Register ``plugin`` with pluggy and check its hooks; the problem, or None."""
        try:
            registered = self._manager.register(plugin, name=candidate.name)
        except pluggy.PluginValidationError as exc:
            self._drop(candidate.name, plugin)
            return f"invalid hook implementation in {candidate.module}: {_describe(exc)}"
        except ValueError:
            # The same object behind two entry points: pluggy keeps one.
            other = self._manager.get_name(plugin)
            return f"{candidate.module} is already loaded as plugin {other!r}"
        if registered is None:
            return f"entry point {candidate.module} gave None, not a module with hooks"
        try:
            self._manager.check_pending()
        except pluggy.PluginValidationError as exc:
            unknown = _unknown_hooks(self._manager, plugin)
            self._drop(candidate.name, plugin)
            if not unknown:
                return _describe(exc)
            return _unknown_hooks_message(candidate, unknown, _known_hooks(self._manager))
        return None

    def _call_register(self, name: str, plugin: object) -> Registry:
        """Run ``plugin``'s own ``garrison_register`` into a fresh registry."""
        scratch = Registry().for_plugin(name)
        caller = self._manager.hook.garrison_register
        if not any(impl.plugin is plugin for impl in caller.get_hookimpls()):
            return scratch
        others = [other for other in self._manager.get_plugins() if other is not plugin]
        self._manager.subset_hook_caller(_REGISTER_HOOK, remove_plugins=others)(registry=scratch)
        return scratch

    def _drop(self, name: str, plugin: object) -> None:
        if self._manager.get_plugin(name) is plugin:
            self._manager.unregister(name=name)


def _merged(current: Registry, additions: Registry, plugin: str) -> Registry:
    """A new registry with ``current``'s components plus ``additions`` (as ``plugin``'s).

    Built afresh so a clash leaves ``current`` untouched: a plugin gets all of
    its components in, or none.
    """
    merged = Registry()
    for entry in current:
        _add(merged.for_plugin(entry.plugin), entry.kind, entry.name, entry.factory)
    merged.for_plugin(plugin)
    for entry in additions:
        _add(merged, entry.kind, entry.name, entry.factory)
    return merged


def _add(registry: Registry, kind: str, name: str, factory: type) -> None:
    adders: dict[str, Callable[[str, type], None]] = {
        "strategy": registry.add_strategy,
        "scorer": registry.add_scorer,
        "sizer": registry.add_sizer,
        "risk_rule": registry.add_risk_rule,
        "notifier": registry.add_notifier,
    }
    adders[kind](name, factory)


def _known_hooks(manager: pluggy.PluginManager) -> list[str]:
    return sorted(
        name
        for name, caller in vars(manager.hook).items()
        if not name.startswith("_") and caller.has_spec()
    )


def _unknown_hooks(manager: pluggy.PluginManager, plugin: object) -> list[str]:
    """Hooks ``plugin`` implements that Garrison does not declare (and are not optional)."""
    return sorted(
        name
        for name, caller in vars(manager.hook).items()
        if not name.startswith("_")
        and not caller.has_spec()
        and any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls())
    )


def _unknown_hooks_message(candidate: _Candidate, unknown: list[str], known: list[str]) -> str:
    described = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        described.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    noun = "hook" if len(unknown) == 1 else "hooks"
    return (
        f"plugin {candidate.name!r} ({candidate.module}) implements unknown {noun} "
        f"{', '.join(described)}; Garrison's hooks are {', '.join(known)}"
    )
