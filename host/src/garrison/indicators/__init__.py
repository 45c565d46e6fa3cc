"""Host-side indicator computation: incremental (live) updates of the plugin API's specs."""

from garrison.indicators.incremental import IncrementalIndicators

__all__ = ["IncrementalIndicators"]
