"""Entry point of the ``garrison-turtle`` distribution (group ``garrison``)."""

from __future__ import annotations

from garrison_api import Registry, hookimpl

from garrison_turtle.rules_strategy import TurtleRulesStrategy
from garrison_turtle.strategy import TurtleStrategy


@hookimpl
def garrison_register(registry: Registry) -> None:
    """Offer ``turtle`` (System 1 or 2 via ``system``) and ``turtle_rules`` (the 19-rule set)."""
    registry.add_strategy("turtle", TurtleStrategy)
    registry.add_strategy("turtle_rules", TurtleRulesStrategy)
