"""Entry point of the ``garrison-river`` distribution (group ``garrison``)."""

from __future__ import annotations

from garrison_api import Registry, hookimpl

from garrison_river.scorer import RiverScorer


@hookimpl
def garrison_register(registry: Registry) -> None:
    """Offer the ``river`` scorer."""
    registry.add_scorer("river", RiverScorer)
