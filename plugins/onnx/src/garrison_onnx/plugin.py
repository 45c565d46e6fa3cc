"""Entry point of the ``garrison-onnx`` distribution (group ``garrison``)."""

from __future__ import annotations

from garrison_api import Registry, hookimpl

from garrison_onnx.scorer import OnnxScorer


@hookimpl
def garrison_register(registry: Registry) -> None:
    """Offer the ``onnx`` scorer."""
    registry.add_scorer("onnx", OnnxScorer)
