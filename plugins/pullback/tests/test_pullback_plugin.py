"""Registration, entry point, profile selection, parameters, and what the plugin may import."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import entry_points, requires
from pathlib import Path

import attrs
import pluggy
import pytest
from garrison_api import PROJECT_NAME, Registry, hookspecs
from garrison_pullback import PullbackParams, PullbackStrategy, plugin

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "garrison_pullback"
REPO = ROOT.parents[1]
ALLOWED = {"garrison_api", "attrs", "numpy"}


def test_registers_the_pullback_strategy_through_pluggy() -> None:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin, name="pullback")
    registry = Registry()
    manager.hook.garrison_register(registry=registry.for_plugin("garrison-pullback"))
    entry = registry.get("strategy", "pullback")
    assert entry is not None
    assert entry.factory is PullbackStrategy
    assert len(registry) == 1


def test_entry_point_points_at_the_plugin_module() -> None:
    (point,) = [ep for ep in entry_points(group=PROJECT_NAME) if ep.name == "pullback"]
    assert point.value == "garrison_pullback.plugin"
    assert point.load() is plugin


def test_depends_on_garrison_api_and_its_own_libraries_only() -> None:
    # What makes `pip install plugins/pullback` work beside garrison-api alone (see the
    # README for the recorded install into a fresh venv).
    declared = {
        re.match(r"[A-Za-z0-9_.-]+", r).group(0)  # type: ignore[union-attr]
        for r in requires("garrison-pullback") or []
    }
    assert declared == {"garrison-api", "attrs", "numpy"}
    for path in SOURCE.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top in ALLOWED | {"garrison_pullback"} or top in sys.stdlib_module_names, (
                    f"{path.name} imports {name}"
                )


def test_every_param_has_the_reference_default_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    params = PullbackParams()
    for field in attrs.fields(PullbackParams):
        assert f"`{field.name}`" in readme, f"{field.name} is not documented in the README"
    assert params.zone_pct == 0.003
    assert params.confirmation_candles == 2
    assert params.rr == 2.5
    assert params.use_ema is False
    assert params.htf_timeframe == "4h"
    assert params.high_vol_widen == 0.3
    assert params.extreme_vol_widen == 0.5
    assert params.round_trip_cost == pytest.approx(0.00165)


def test_example_profile_selects_the_strategy_by_name_with_every_default() -> None:
    profile = tomllib.loads((REPO / "configs" / "pullback.toml").read_text())
    (use,) = profile["strategies"]
    assert use["use"] == "pullback"
    assert PullbackParams(**use["params"]) == PullbackParams()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("zone_pct", 0.0, "zone_pct must be a number > 0.0"),
        ("left", 0, "left must be a whole number of bars >= 1"),
        ("confirmation_candles", 1.5, "confirmation_candles must be a whole number"),
        ("use_ema", "yes", "use_ema must be true or false"),
        ("htf_source", "4h", "htf_source must be one of 'base', 'feed'"),
        ("timeframe", "15", "timeframe must be a bar size"),
        ("rr", -1.0, "rr must be a number > 0.0"),
        ("high_vol_percentile", 95.0, "extreme_vol_percentile must be >= high_vol_percentile"),
    ],
)
def test_bad_params_are_refused_with_the_key(key: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PullbackParams(**{key: value})  # type: ignore[arg-type]
