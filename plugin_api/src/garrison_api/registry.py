"""The registry a plugin fills in from its ``garrison_register`` hook."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from garrison_api.components import COMPONENT_KINDS, component_params


@attrs.frozen
class ComponentEntry:
    """One registered component: its kind, profile name, class, and the plugin that gave it."""

    kind: str
    name: str
    factory: type
    plugin: str


class DuplicateComponentError(ValueError):
    """Two plugins (or one plugin twice) registered the same kind and name."""


class Registry:
    """Collects components by kind and name.

    The host makes one per plugin manager and hands it to every plugin's
    ``garrison_register`` hook; a plugin's tests can make their own. Names are
    what profiles refer to (``use = "turtle"``) and must be unique per kind.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], ComponentEntry] = {}
        self._current_plugin = ""

    def for_plugin(self, plugin: str) -> Registry:
        """Attribute the components added next to ``plugin`` (the host calls this)."""
        self._current_plugin = plugin
        return self

    def _add(self, kind: str, name: str, factory: type) -> None:
        if kind not in COMPONENT_KINDS:
            raise ValueError(f"unknown component kind {kind!r}")
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(
                f"component name {name!r} must be letters, digits, '_' or '-' (and not empty)"
            )
        component_params(factory)
        key = (kind, name)
        if key in self._entries:
            first = self._entries[key].plugin or "an earlier registration"
            raise DuplicateComponentError(
                f"{kind} {name!r} is registered twice: by {first} and by "
                f"{self._current_plugin or 'another registration'}"
            )
        self._entries[key] = ComponentEntry(kind, name, factory, self._current_plugin)

    def add_strategy(self, name: str, factory: type) -> None:
        """Offer a Strategy class under ``name``."""
        self._add("strategy", name, factory)

    def add_scorer(self, name: str, factory: type) -> None:
        """Offer a Scorer class under ``name``."""
        self._add("scorer", name, factory)

    def add_sizer(self, name: str, factory: type) -> None:
        """Offer a Sizer class under ``name``."""
        self._add("sizer", name, factory)

    def add_risk_rule(self, name: str, factory: type) -> None:
        """Offer a RiskRule class under ``name``."""
        self._add("risk_rule", name, factory)

    def add_notifier(self, name: str, factory: type) -> None:
        """Offer a Notifier class under ``name``."""
        self._add("notifier", name, factory)

    def get(self, kind: str, name: str) -> ComponentEntry | None:
        return self._entries.get((kind, name))

    def names(self, kind: str) -> list[str]:
        """Registered names of one kind, sorted."""
        return sorted(name for (k, name) in self._entries if k == kind)

    def __iter__(self) -> Iterator[ComponentEntry]:
        return iter(sorted(self._entries.values(), key=lambda e: (e.kind, e.name)))

    def __len__(self) -> int:
        return len(self._entries)
