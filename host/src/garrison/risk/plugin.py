"""The host's built-in plugin ("host"): offers the host's risk rules to profiles."""

from __future__ import annotations

from garrison_api import Registry, hookimpl

from garrison.risk.rules import HOST_RULES


@hookimpl
def garrison_register(registry: Registry) -> None:
    """Register every host risk rule under its profile name."""
    for name, rule in HOST_RULES.items():
        registry.add_risk_rule(name, rule)
