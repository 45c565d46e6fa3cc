"""Entry point of the ``garrison-pullback`` distribution (group ``garrison``)."""

from __future__ import annotations

from garrison_api import Registry, hookimpl

from garrison_pullback.strategy import PullbackStrategy


@hookimpl
def garrison_register(registry: Registry) -> None:
    """Offer the ``pullback`` strategy."""
    registry.add_strategy("pullback", PullbackStrategy)
