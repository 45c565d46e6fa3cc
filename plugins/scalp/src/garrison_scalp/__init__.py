"""garrison-scalp: the VWAP-pullback / opening-range scalper with pro rules and adaptive combos."""

from garrison_scalp.combos import (
    ComboBook,
    ComboRules,
    ComboStats,
    Sample,
    combo_id,
    wilson_lower_bound,
)
from garrison_scalp.indicators import BucketEma, OpeningRange
from garrison_scalp.params import ProRules, ProRulesOverride, ScalpParams
from garrison_scalp.strategy import ScalpStrategy

__version__ = "0.1.0"

__all__ = [
    "BucketEma",
    "ComboBook",
    "ComboRules",
    "ComboStats",
    "OpeningRange",
    "ProRules",
    "ProRulesOverride",
    "Sample",
    "ScalpParams",
    "ScalpStrategy",
    "__version__",
    "combo_id",
    "wilson_lower_bound",
]
