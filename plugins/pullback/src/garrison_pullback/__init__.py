"""garrison-pullback: the pivot market-structure pullback strategy for Garrison."""

from garrison_pullback.features import FEATURE_NAMES
from garrison_pullback.params import PullbackParams
from garrison_pullback.pivots import AtrPercentile, MarketStructure, PivotLevel
from garrison_pullback.strategy import PullbackStrategy

__version__ = "0.1.0"

__all__ = [
    "FEATURE_NAMES",
    "AtrPercentile",
    "MarketStructure",
    "PivotLevel",
    "PullbackParams",
    "PullbackStrategy",
    "__version__",
]
