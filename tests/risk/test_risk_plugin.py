"""The host's built-in plugin registers every host rule, through real pluggy."""

from __future__ import annotations

import pluggy
from garrison.risk import plugin
from garrison.risk.defaults import DEFAULT_RISK_CHAIN
from garrison.risk.rules import HOST_RULES
from garrison_api import PROJECT_NAME, Registry, hookspecs


def test_register_adds_all_ten_rules() -> None:
    registry = Registry().for_plugin("host")
    plugin.garrison_register(registry)
    assert len(registry) == 10
    assert registry.names("risk_rule") == sorted(DEFAULT_RISK_CHAIN)
    for name in DEFAULT_RISK_CHAIN:
        entry = registry.get("risk_rule", name)
        assert entry is not None
        assert entry.factory is HOST_RULES[name]
        assert entry.plugin == "host"


def test_registers_through_a_plugin_manager() -> None:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin, name="host")
    registry = Registry().for_plugin("host")
    manager.hook.garrison_register(registry=registry)
    assert {entry.name for entry in registry} == set(DEFAULT_RISK_CHAIN)
    assert {entry.kind for entry in registry} == {"risk_rule"}
