"""Entry point of the ``garrison-turtle`` distribution (group ``garrison``)."""

from __future__ import annotations

from garrison_api import Registry, hookimpl

from garrison_turtle.strategy import TurtleStrategy


@hookimpl
def garrison_register(registry: Registry) -> None:
    """Offer the ``turtle`` strategy (System 1 or 2 via its ``system`` parameter)."""
    registry.add_strategy("turtle", TurtleStrategy)
