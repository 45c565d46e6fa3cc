"""garrison-river: an online river scorer for Garrison, with a rule-based prior."""

from garrison_river.features import DERIVED, derived, label, vector
from garrison_river.params import RiverParams
from garrison_river.prior import base_rate, prior
from garrison_river.scorer import STATE_BLOB, RiverScorer, build_model
from garrison_river.state import SavedState, StateError, decode, encode

__version__ = "0.1.0"

__all__ = [
    "DERIVED",
    "STATE_BLOB",
    "RiverParams",
    "RiverScorer",
    "SavedState",
    "StateError",
    "__version__",
    "base_rate",
    "build_model",
    "decode",
    "derived",
    "encode",
    "label",
    "prior",
    "vector",
]
