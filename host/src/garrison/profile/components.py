"""Build the component uses of a profile: strategies, scorer, sizer, risk rules, notifiers.

Each use names a registered component (``use = "turtle"``); its ``params``
table is structured into that component's own ``Params`` class with the same
strict converter, so a misspelt parameter is reported at its TOML path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs
import cattrs
from garrison_api import Registry, component_params

from garrison.profile.describe import describe_value
from garrison.profile.errors import PathPart, Problem, did_you_mean, format_path, quoted_list
from garrison.profile.model import ComponentUse, ScorerMode, ScorerUse
from garrison.profile.structuring import structure

#: The risk rule every chain holds, first unless the profile places it.
TRADING_STATE_RULE = "trading_state"

_NAME = re.compile(r"^[A-Za-z0-9_-]+$")

#: How each kind is called in messages (singular, plural).
_KIND_WORDS = {
    "strategy": ("strategy", "strategies"),
    "scorer": ("scorer", "scorers"),
    "sizer": ("sizer", "sizers"),
    "risk_rule": ("risk rule", "risk rules"),
    "notifier": ("notifier", "notifiers"),
}


@attrs.frozen
class StrategyTable:
    """One ``[[strategies]]`` table as written."""

    use: str
    name: str | None = None
    symbols: tuple[str, ...] = ()
    params: dict[str, Any] = attrs.Factory(dict)
    enabled: bool = True


@attrs.frozen
class ScorerTable:
    """A ``[[scorers]]`` table (or the single ``[scorer]``) as written."""

    use: str
    name: str | None = None
    mode: ScorerMode = "gate"
    threshold: float = 0.5
    strategies: tuple[str, ...] = ()
    params: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen
class UseTable:
    """A ``[sizer]``, ``[[risk]]`` or ``[[notifiers]]`` table as written."""

    use: str
    name: str | None = None
    params: dict[str, Any] = attrs.Factory(dict)


class ComponentBuilder:
    """Turns component tables into :class:`ComponentUse` values, collecting problems."""

    def __init__(self, registry: Registry, converter: cattrs.Converter, file: str) -> None:
        self._registry = registry
        self._converter = converter
        self._file = file
        self.problems: list[Problem] = []

    def array(
        self, raw: object, key: str, kind: str, table_type: type[StrategyTable] | type[UseTable]
    ) -> list[ComponentUse]:
        """The uses of a ``[[key]]`` array of tables, with unique names."""
        if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
            self._problem((key,), f"an array of tables ([[{key}]])", describe_value(raw))
            return []
        uses: list[ComponentUse] = []
        first_index: dict[str, int] = {}
        for i, table in enumerate(raw):
            use = self.one(table, (key, i), kind, table_type)
            if use is None:
                continue
            if use.name in first_index:
                self._duplicate((key, i), key, use.name, first_index[use.name])
            else:
                first_index[use.name] = i
            uses.append(use)
        return uses

    def one(
        self,
        raw: object,
        parts: tuple[PathPart, ...],
        kind: str,
        table_type: type[StrategyTable] | type[UseTable],
    ) -> ComponentUse | None:
        """The use described by one table, or None (with problems recorded)."""
        table, problems = structure(self._converter, raw, table_type, file=self._file, parts=parts)
        self.problems.extend(problems)
        if table is None:
            # Still check what can be checked, so one pass reports everything.
            self._salvage(raw, parts, kind)
            return None
        params = self._params(table.use, table.params, parts, kind)
        name = self._name(table.name, table.use, parts)
        if params is None or name is None:
            return None
        symbols = table.symbols if isinstance(table, StrategyTable) else ()
        enabled = table.enabled if isinstance(table, StrategyTable) else True
        return ComponentUse(
            use=table.use, name=name, params=params, symbols=symbols, enabled=enabled
        )

    def scorer(self, raw: object, parts: tuple[PathPart, ...] = ("scorer",)) -> ScorerUse | None:
        """One scorer table (``[scorer]`` or ``[[scorers]]`` item), or None when broken."""
        table, problems = structure(self._converter, raw, ScorerTable, file=self._file, parts=parts)
        self.problems.extend(problems)
        if table is None:
            self._salvage(raw, parts, "scorer")
            return None
        if not 0.0 <= table.threshold <= 1.0:
            self._problem(
                (*parts, "threshold"),
                "a number from 0 to 1",
                describe_value(table.threshold),
            )
        params = self._params(table.use, table.params, parts, "scorer")
        name = self._name(table.name, table.use, parts)
        if params is None or name is None:
            return None
        component = ComponentUse(use=table.use, name=name, params=params)
        return ScorerUse(
            component=component,
            mode=table.mode,
            threshold=table.threshold,
            strategies=table.strategies,
        )

    def scorers(self, document: dict[str, Any], strategies: Sequence[str]) -> list[ScorerUse]:
        """``[scorer]`` or ``[[scorers]]`` (not both), each bound to strategies that exist."""
        if "scorer" in document and "scorers" in document:
            self._problem(
                ("scorers",),
                "either one [scorer] table or [[scorers]] tables",
                "both",
                "move the [scorer] table into the [[scorers]] array",
            )
            return []
        found: list[tuple[tuple[PathPart, ...], ScorerUse]] = []
        if "scorer" in document:
            use = self.scorer(document["scorer"])
            if use is not None:
                found.append((("scorer",), use))
        elif "scorers" in document:
            raw = document["scorers"]
            if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
                self._problem(("scorers",), "an array of tables ([[scorers]])", describe_value(raw))
                return []
            first_index: dict[str, int] = {}
            for i, table in enumerate(raw):
                use = self.scorer(table, ("scorers", i))
                if use is None:
                    continue
                name = use.component.name
                if name in first_index:
                    self._duplicate(("scorers", i), "scorers", name, first_index[name])
                    continue
                first_index[name] = i
                found.append((("scorers", i), use))
        for parts, use in found:
            for j, name in enumerate(use.strategies):
                if name not in strategies:
                    self._problem(
                        (*parts, "strategies", j),
                        "the name of a [[strategies]] use: " + (quoted_list(strategies) or "none"),
                        describe_value(name),
                        did_you_mean(name, list(strategies)),
                    )
        return [use for _, use in found]

    def risk_chain(self, raw: object, default_chain: Sequence[str]) -> list[ComponentUse]:
        """The ``[[risk]]`` chain, the default chain when absent, with trading_state in it."""
        if raw is None:
            chain = [r for r in (self.default(n, "risk") for n in default_chain) if r is not None]
        else:
            chain = self.array(raw, "risk", "risk_rule", UseTable)
        if not any(r.use == TRADING_STATE_RULE for r in chain):
            rule = self.default(TRADING_STATE_RULE, "risk")
            if rule is not None:
                if any(r.name == rule.name for r in chain):
                    self._problem(
                        ("risk",),
                        f"no other rule named {rule.name!r} (the host adds that rule itself)",
                        f"a rule named {rule.name!r} that is not the {rule.use!r} rule",
                    )
                chain.insert(0, rule)
        return chain

    def default(self, use: str, key: str) -> ComponentUse | None:
        """A risk rule the host adds by itself, with default params."""
        entry = self._registry.get("risk_rule", use)
        if entry is None:
            self._problem(
                (key,),
                f"the host risk rule {use!r} to be registered",
                "it is not (registered risk rules: "
                + (quoted_list(self._registry.names("risk_rule")) or "none")
                + ")",
                "list the rules explicitly with [[risk]] tables",
            )
            return None
        params = self._structure_params(entry.factory, {}, (key,))
        return None if params is None else ComponentUse(use=use, name=use, params=params)

    # --- helpers -----------------------------------------------------------------

    def _salvage(self, raw: object, parts: tuple[PathPart, ...], kind: str) -> None:
        if not isinstance(raw, dict) or not isinstance(raw.get("use"), str):
            return
        params = raw.get("params", {})
        if isinstance(params, dict):
            self._params(raw["use"], params, parts, kind)

    def _params(self, use: str, raw: dict[str, Any], parts: tuple[PathPart, ...], kind: str) -> Any:
        entry = self._registry.get(kind, use)
        if entry is None:
            singular, _plural = _KIND_WORDS[kind]
            names = self._registry.names(kind)
            expected = (
                f"the name of a registered {singular}: {quoted_list(names)}"
                if names
                else f"the name of a registered {singular} (none is; is its plugin installed?)"
            )
            self._problem((*parts, "use"), expected, describe_value(use), did_you_mean(use, names))
            return None
        return self._structure_params(entry.factory, raw, (*parts, "params"))

    def _structure_params(
        self, factory: type, raw: dict[str, Any], parts: tuple[PathPart, ...]
    ) -> Any:
        params, problems = structure(
            self._converter, raw, component_params(factory), file=self._file, parts=parts
        )
        self.problems.extend(problems)
        return None if problems else params

    def _name(self, name: str | None, use: str, parts: tuple[PathPart, ...]) -> str | None:
        if name is None:
            return use
        if not _NAME.match(name):
            self._problem(
                (*parts, "name"),
                "a name of letters, digits, '_' or '-' (not empty)",
                describe_value(name),
            )
            return None
        return name

    def _duplicate(self, parts: tuple[PathPart, ...], key: str, name: str, first: int) -> None:
        self._problem(
            (*parts, "name"),
            f"a name unique among the [[{key}]] tables",
            f"{name!r}, already used by {key}[{first}]",
            'give each one its own name = "..." (it defaults to use)',
        )

    def _problem(
        self, parts: tuple[PathPart, ...], expected: str, found: str, hint: str | None = None
    ) -> None:
        self.problems.append(Problem(self._file, format_path(parts), expected, found, hint))
