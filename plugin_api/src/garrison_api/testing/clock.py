"""A clock that only moves when a test moves it."""

from __future__ import annotations


def _check_ms(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int of epoch milliseconds, got {value!r}")
    return value


class FakeClock:
    """A :class:`garrison_api.Clock` for tests: ``now_ms`` returns what the test last set.

    >>> clock = FakeClock(1_000)
    >>> clock.advance(500)
    >>> clock.now_ms()
    1500
    """

    def __init__(self, start_ms: int = 0) -> None:
        self._now = _check_ms("start_ms", start_ms)

    def now_ms(self) -> int:
        """The current fake time in UTC epoch milliseconds."""
        return self._now

    def set(self, ms: int) -> None:
        """Jump to ``ms`` (forwards or backwards)."""
        self._now = _check_ms("ms", ms)

    def advance(self, ms: int) -> None:
        """Move forwards by ``ms`` milliseconds (0 or more)."""
        if _check_ms("ms", ms) < 0:
            raise ValueError(f"a clock only advances forwards; got {ms} ms")
        self._now += ms

    def __repr__(self) -> str:
        return f"FakeClock({self._now})"
