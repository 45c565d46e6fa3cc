"""Short text forms of the host's numbers and times, the same on every screen."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def money(value: Any) -> str:
    """``12,345.67``; ``-`` when unknown."""
    return "-" if not isinstance(value, int | float) else f"{value:,.2f}"


def signed(value: Any) -> str:
    """``+12.34`` / ``-5.00``; ``-`` when unknown."""
    return "-" if not isinstance(value, int | float) else f"{value:+,.2f}"


def pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percent: ``0.0512`` -> ``5.12%``."""
    return "-" if not isinstance(value, int | float) else f"{value * 100:.{digits}f}%"


def num(value: Any) -> str:
    """A price or quantity in its shortest exact-enough form."""
    return "-" if not isinstance(value, int | float) else f"{value:.6g}"


def when(ts_ms: Any) -> str:
    """A time in ms as ``2025-10-28 01:45`` UTC; ``-`` when unknown."""
    if not isinstance(ts_ms, int) or ts_ms < 0:
        return "-"
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
