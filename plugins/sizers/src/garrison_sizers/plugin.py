"""Entry point of the ``garrison-sizers`` distribution (group ``garrison``)."""

from __future__ import annotations

from garrison_api import Registry, hookimpl

from garrison_sizers.fixed_risk import FixedRiskSizer


@hookimpl
def garrison_register(registry: Registry) -> None:
    """Offer the ``fixed_risk`` sizer."""
    registry.add_sizer("fixed_risk", FixedRiskSizer)
