"""The plugin's registration, its entry point, and its import discipline."""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pluggy
from garrison_api import PROJECT_NAME, Registry, hookspecs
from garrison_scalp import ScalpStrategy, plugin

SOURCE = Path(__file__).resolve().parents[1] / "src" / "garrison_scalp"


def test_registers_the_scalp_strategy_through_pluggy() -> None:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin, name="scalp")
    registry = Registry()
    manager.hook.garrison_register(registry=registry.for_plugin("garrison-scalp"))
    entry = registry.get("strategy", "scalp")
    assert entry is not None
    assert entry.factory is ScalpStrategy
    assert len(registry) == 1


def test_entry_point_points_at_the_plugin_module() -> None:
    (point,) = [ep for ep in entry_points(group=PROJECT_NAME) if ep.name == "scalp"]
    assert point.value == "garrison_scalp.plugin"
    assert point.load() is plugin


def test_imports_only_garrison_api_and_its_own_dependencies() -> None:
    allowed = {"garrison_api", "garrison_scalp", "attrs", "numpy", "__future__"}
    for path in SOURCE.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top != "garrison", f"{path.name} imports the host ({name})"
                stdlib = top in {"math", "re", "collections", "typing", "types"}
                assert top in allowed or stdlib, f"{path.name} imports {name}"
