"""The river plugin's registration, entry point and import discipline."""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pluggy
from garrison_api import PROJECT_NAME, Registry, hookspecs
from garrison_river import RiverScorer, plugin

SOURCE = Path(__file__).resolve().parents[1] / "src" / "garrison_river"


def test_registers_river_through_pluggy() -> None:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin, name="river")
    registry = Registry()
    manager.hook.garrison_register(registry=registry)
    entry = registry.get("scorer", "river")
    assert entry is not None
    assert entry.factory is RiverScorer


def test_entry_point_points_at_the_plugin_module() -> None:
    (point,) = [ep for ep in entry_points(group=PROJECT_NAME) if ep.name == "river"]
    assert point.value == "garrison_river.plugin"
    assert point.load() is plugin


def test_imports_only_garrison_api() -> None:
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] != "garrison", f"{path.name} imports {module}"
