"""The ONNX scorer's parameters, as the profile's ``[scorer.params]`` table gives them."""

from __future__ import annotations

import attrs


def _path(_inst: object, _attr: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"onnx: path must name the .onnx model file, got {value!r}")


def _features(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"onnx: features must be a list of feature names, got {value!r}")
    names = tuple(value)
    if not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"onnx: features must be non-empty strings, got {list(names)!r}")
    return names


def _threads(_inst: object, attr: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"onnx: {attr.name} must be a whole number >= 1, got {value!r}")


@attrs.frozen
class OnnxParams:
    """Which model to load and what it must read.

    - ``path``: the ``.onnx`` file (absolute, or relative to the working
      directory). Required.
    - ``features``: the features the strategy's signals carry, in order; the
      model's own list (its metadata) must be exactly this, or the scorer
      refuses it. Unset: the model's list is taken as it is, and the host
      skips signals that lack one of them.
    - ``threads``: onnxruntime's threads (1: the engine's thread only).
    """

    path: str = attrs.field(default="", validator=_path)
    features: tuple[str, ...] | None = attrs.field(default=None, converter=_features)
    threads: int = attrs.field(default=1, validator=_threads)
