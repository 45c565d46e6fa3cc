"""garrison-sizers: position sizers for Garrison (fixed risk, Turtle N-unit, score-scaled risk)."""

from garrison_sizers.fixed_risk import FixedRiskParams, FixedRiskSizer
from garrison_sizers.quantity import fit_to_market, floor_to_step, risk_quantity
from garrison_sizers.score_scaled import ScoreScaledParams, ScoreScaledSizer
from garrison_sizers.turtle_n import TurtleNParams, TurtleNSizer

__version__ = "0.2.0"

__all__ = [
    "FixedRiskParams",
    "FixedRiskSizer",
    "ScoreScaledParams",
    "ScoreScaledSizer",
    "TurtleNParams",
    "TurtleNSizer",
    "__version__",
    "fit_to_market",
    "floor_to_step",
    "risk_quantity",
]
