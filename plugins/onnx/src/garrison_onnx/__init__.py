"""garrison-onnx: score signals with an ONNX model through onnxruntime.

Training (``garrison_onnx.training``) needs the ``[train]`` extra; scoring does not.
"""

from garrison_onnx.metadata import (
    FEATURES_KEY,
    STRATEGY_KEY,
    VERSION_KEY,
    ModelError,
    encode_features,
    feature_names,
    mismatch,
)
from garrison_onnx.model import OnnxModel, load, load_bytes
from garrison_onnx.params import OnnxParams
from garrison_onnx.scorer import OnnxScorer

__version__ = "0.1.0"

__all__ = [
    "FEATURES_KEY",
    "STRATEGY_KEY",
    "VERSION_KEY",
    "ModelError",
    "OnnxModel",
    "OnnxParams",
    "OnnxScorer",
    "__version__",
    "encode_features",
    "feature_names",
    "load",
    "load_bytes",
    "mismatch",
]
