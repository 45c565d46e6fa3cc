"""Entry point of the ``garrison-sizers`` distribution (group ``garrison``)."""

from __future__ import annotations

from garrison_api import Registry, hookimpl

from garrison_sizers.fixed_risk import FixedRiskSizer
from garrison_sizers.score_scaled import ScoreScaledSizer
from garrison_sizers.turtle_n import TurtleNSizer


@hookimpl
def garrison_register(registry: Registry) -> None:
    """Offer the ``fixed_risk``, ``turtle_n`` and ``score_scaled`` sizers."""
    registry.add_sizer("fixed_risk", FixedRiskSizer)
    registry.add_sizer("turtle_n", TurtleNSizer)
    registry.add_sizer("score_scaled", ScoreScaledSizer)
