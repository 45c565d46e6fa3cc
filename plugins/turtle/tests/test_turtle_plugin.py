"""The plugin's registration, its entry point, and its import discipline."""

from __future__ import annotations

import ast
from importlib.metadata import entry_points
from pathlib import Path

import pluggy
from garrison_api import PROJECT_NAME, Registry, hookspecs
from garrison_turtle import TurtleStrategy, plugin

SOURCE = Path(__file__).resolve().parents[1] / "src" / "garrison_turtle"


def test_registers_the_turtle_strategy_through_pluggy() -> None:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin, name="turtle")
    registry = Registry()
    manager.hook.garrison_register(registry=registry.for_plugin("garrison-turtle"))
    entry = registry.get("strategy", "turtle")
    assert entry is not None
    assert entry.factory is TurtleStrategy
    assert entry.plugin == "garrison-turtle"
    assert len(registry) == 2


def test_entry_point_points_at_the_plugin_module() -> None:
    (point,) = [ep for ep in entry_points(group=PROJECT_NAME) if ep.name == "turtle"]
    assert point.value == "garrison_turtle.plugin"
    assert point.load() is plugin


def test_imports_only_garrison_api() -> None:
    for path in SOURCE.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                assert top != "garrison", f"{path.name} imports the host ({name})"
