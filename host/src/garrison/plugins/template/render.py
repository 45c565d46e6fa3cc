"""Render a new plugin distribution: ``garrison-<name>/`` ready to test and publish.

The templates are files beside this module (``files/``, ``string.Template``
syntax, ``.tmpl`` so no tool reads them as code). Every kind gets the same
skeleton (pyproject with the entry point and ``garrison-api>=1.1,<2``, README,
CHANGELOG, a CI workflow, the hook module, a registration test) plus its own
Params, component and contract test.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

import attrs

#: Kind -> (Registry method, test-kit contract, profile snippet).
_KINDS: dict[str, tuple[str, str, str]] = {
    "strategy": (
        "add_strategy",
        "StrategyContract",
        '[[strategies]]\nuse = "${component}"\n\n[strategies.params]\nperiod = 20',
    ),
    "scorer": (
        "add_scorer",
        "ScorerContract",
        '[[scorers]]\nuse = "${component}"\nmode = "shadow"  # "gate" to trade only '
        "signals scoring at least threshold\nthreshold = 0.55",
    ),
    "sizer": (
        "add_sizer",
        "SizerContract",
        '[sizer]\nuse = "${component}"\n\n[sizer.params]\nrisk_fraction = 0.01',
    ),
    "risk_rule": (
        "add_risk_rule",
        "RiskRuleContract",
        "[[risk]]  # a [[risk]] array replaces the default chain: list every rule you want\n"
        'use = "${component}"\n\n[risk.params]\nmax_notional = 5000.0',
    ),
    "notifier": (
        "add_notifier",
        "NotifierContract",
        '[[notifiers]]\nuse = "${component}"\n\n[notifiers.params]\nmin_level = "warning"',
    ),
}

_PARAMS_DOC: dict[str, str] = {
    "strategy": "- `period` (20): bars of the channel;\n- `stop_atr` (2.0): stop distance in "
    "ATRs;\n- `target_r` (2.0): take-profit in multiples of the risk, 0 for none.",
    "scorer": "- `prior` (0.5): the win rate assumed before any outcome;\n- `prior_weight` "
    "(10.0): how many outcomes the prior is worth.",
    "sizer": "- `risk_fraction` (0.01): the share of equity lost when the stop is hit.",
    "risk_rule": "- `max_notional` (5000.0): the largest entry one order may open, in USDT.",
    "notifier": "- `min_level` (`info`): events below it are not told.",
}

#: Every kind ``garrison plugins new`` renders, as the profile and registry name them.
KINDS: tuple[str, ...] = tuple(_KINDS)

#: Template file -> where it goes in the distribution (``{package}``, ``{kind}`` filled in).
_COMMON = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "CHANGELOG.md.tmpl": "CHANGELOG.md",
    "ci.yml.tmpl": ".github/workflows/ci.yml",
    "__init__.py.tmpl": "src/{package}/__init__.py",
    "plugin.py.tmpl": "src/{package}/plugin.py",
    "test_plugin.py.tmpl": "tests/test_plugin.py",
}
_PER_KIND = {
    "params.py.tmpl": "src/{package}/params.py",
    "component.py.tmpl": "src/{package}/{kind}.py",
    "test_contract.py.tmpl": "tests/test_{kind}_contract.py",
}

_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


class TemplateError(ValueError):
    """A kind, name or target ``garrison plugins new`` cannot render."""


@attrs.frozen
class PluginTemplate:
    """The names one rendering uses, all derived from ``kind`` and ``name``.

    ``name`` is the plugin (entry-point) name, ``my-breakout``; the
    distribution is ``garrison-my-breakout``, the package
    ``garrison_my_breakout``, the component ``my_breakout`` (what a profile's
    ``use`` names) and the class ``MyBreakout``.
    """

    kind: str
    name: str

    @classmethod
    def of(cls, kind: str, name: str) -> PluginTemplate:
        """Check ``kind`` (``risk-rule`` is read as ``risk_rule``) and ``name``."""
        kind = kind.strip().lower().replace("-", "_")
        if kind not in _KINDS:
            raise TemplateError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
        name = name.strip().lower().removeprefix("garrison-").replace("_", "-")
        if not _NAME.match(name):
            raise TemplateError(
                f"plugin name {name!r} must be lowercase letters, digits and single dashes, "
                "starting with a letter (e.g. my-breakout)"
            )
        return cls(kind, name)

    @property
    def distribution(self) -> str:
        return f"garrison-{self.name}"

    @property
    def package(self) -> str:
        return f"garrison_{self.name.replace('-', '_')}"

    @property
    def component(self) -> str:
        return self.name.replace("-", "_")

    @property
    def class_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-"))

    def substitutions(self) -> dict[str, str]:
        adder, contract, snippet = _KINDS[self.kind]
        names = {
            "name": self.name,
            "distribution": self.distribution,
            "package": self.package,
            "component": self.component,
            "cls": self.class_name,
            "kind": self.kind,
            "kind_arg": self.kind.replace("_", "-"),
            "kind_text": self.kind.replace("_", " "),
            "module": self.kind,
            "adder": adder,
            "contract": contract,
            "params_doc": _PARAMS_DOC[self.kind],
        }
        names["profile_snippet"] = Template(snippet).substitute(names)
        # isort's order, which depends on the kind's module name.
        imports = {
            self.kind: f"from {self.package}.{self.kind} import {self.class_name}",
            "params": f"from {self.package}.params import {self.class_name}Params",
        }
        names["init_imports"] = "\n".join(imports[key] for key in sorted(imports))
        return names


def _files() -> list[tuple[str, str]]:
    return [(source, target) for source, target in _COMMON.items()] + [
        (f"{{kind}}/{source}", target) for source, target in _PER_KIND.items()
    ]


def render_plugin(kind: str, name: str, parent: Path) -> Path:
    """Write the distribution for ``kind`` and ``name`` into ``parent``; return its folder.

    Raises:
        TemplateError: a bad kind or name, or the folder exists already.
    """
    template = PluginTemplate.of(kind, name)
    target = parent / template.distribution
    if target.exists():
        raise TemplateError(f"{target} already exists; choose another name or folder")
    names = template.substitutions()
    root = resources.files(__package__).joinpath("files")
    rendered: dict[Path, str] = {}
    for source, destination in _files():
        text = root.joinpath(source.format(kind=template.kind)).read_text(encoding="utf-8")
        path = target / destination.format(package=template.package, kind=template.kind)
        rendered[path] = Template(text).substitute(names)
    rendered[target / "src" / template.package / "py.typed"] = ""
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
