"""The host's clocks: one abstraction, so replay and live run the same strategy code.

Strategies and the pipeline read time only through a clock. In a replay the
clock is moved by the feed to the close time of the candle being processed;
live, it is the wall clock.
"""

from __future__ import annotations

import time


class SimulatedClock:
    """Time as the replay says it is. Only the engine moves it, and only forward."""

    __slots__ = ("_now",)

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def advance_to(self, ms: int) -> None:
        """Move to ``ms``; moving backwards is a bug in the caller."""
        if ms < self._now:
            raise ValueError(f"simulated clock cannot go back from {self._now} to {ms}")
        self._now = ms


class WallClock:
    """UTC wall-clock time in milliseconds, for paper and live modes and for run stamps."""

    __slots__ = ()

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000
