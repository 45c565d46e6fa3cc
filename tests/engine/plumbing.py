"""What throwaway test components share: no parameters, no indicators, every timeframe."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import ClassVar

import attrs
from garrison_api import IndicatorSpec

T0 = 1_759_276_800_000  # 2025-10-01 00:00 UTC
BAR = 300_000  # 5 minutes

Query = Callable[..., list[sqlite3.Row]]


@attrs.frozen
class NoParams:
    """Throwaway components take no parameters."""


class Component:
    """A component built from ``NoParams``."""

    Params: ClassVar[type] = NoParams

    def __init__(self, params: NoParams) -> None:
        self.params = params


class Strategy(Component):
    """A strategy without warm-up or indicators, deciding on every timeframe."""

    warmup = 0
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {}
