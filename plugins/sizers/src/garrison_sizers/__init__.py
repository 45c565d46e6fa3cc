"""garrison-sizers: position sizers for Garrison (fixed risk: percent of equity or fixed USD)."""

from garrison_sizers.fixed_risk import FixedRiskParams, FixedRiskSizer, floor_to_step

__version__ = "0.1.0"

__all__ = ["FixedRiskParams", "FixedRiskSizer", "__version__", "floor_to_step"]
