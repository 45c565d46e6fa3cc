"""Entry point of the ``garrison-scalp`` distribution (group ``garrison``)."""

from __future__ import annotations

from garrison_api import Registry, hookimpl

from garrison_scalp.strategy import ScalpStrategy


@hookimpl
def garrison_register(registry: Registry) -> None:
    """Offer the ``scalp`` strategy."""
    registry.add_strategy("scalp", ScalpStrategy)
