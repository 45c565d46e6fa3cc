"""What a Garrison ONNX model says about itself, in the model file's metadata.

The trainer writes, and the scorer reads, these ``metadata_props`` keys:

- ``garrison.features``: a JSON list of the feature names, in the order of
  the model's input columns (required);
- ``garrison.version``: the model's version id (optional; else the file's
  hash prefix stands in);
- ``garrison.strategy``: the strategy use it was trained for (optional).

The model takes one 2-D float input (rows of features) and has an output of
shape ``[N, 2]`` holding the class probabilities; column 1 is a win.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

FEATURES_KEY = "garrison.features"
VERSION_KEY = "garrison.version"
STRATEGY_KEY = "garrison.strategy"


class ModelError(ValueError):
    """A model file the scorer refuses, with the reason."""


def feature_names(meta: Mapping[str, str], where: str) -> tuple[str, ...]:
    """The ordered feature names ``meta`` declares; ModelError naming ``where`` if none."""
    text = meta.get(FEATURES_KEY)
    if text is None:
        raise ModelError(
            f"{where} has no {FEATURES_KEY!r} metadata: a Garrison ONNX model names its "
            "features and their order (models from `garrison train onnx` do)"
        )
    try:
        names = json.loads(text)
    except ValueError as exc:
        raise ModelError(f"{where}: {FEATURES_KEY!r} is not JSON: {exc}") from exc
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise ModelError(f"{where}: {FEATURES_KEY!r} must be a non-empty list of names: {text}")
    if len(set(names)) != len(names):
        raise ModelError(f"{where}: {FEATURES_KEY!r} lists a name twice: {text}")
    return tuple(names)


def encode_features(names: tuple[str, ...]) -> str:
    """The metadata value for ``names``."""
    return json.dumps(list(names))


def mismatch(model: tuple[str, ...], expected: tuple[str, ...]) -> str | None:
    """Why ``model``'s features are not ``expected`` (names, then order), or None."""
    if model == expected:
        return None
    missing = [n for n in expected if n not in model]
    extra = [n for n in model if n not in expected]
    parts = []
    if missing:
        parts.append(f"lacks {', '.join(missing)}")
    if extra:
        parts.append(f"reads {', '.join(extra)} which the strategy does not give")
    if not parts:
        parts.append(f"has them in another order ({', '.join(model)})")
    return "; ".join(parts)
