"""Bar sizes written the way exchanges and profiles write them (``"5m"``, ``"4h"``)."""

from __future__ import annotations

import re

_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PATTERN = re.compile(r"^([1-9][0-9]*)([smhdw])$")


def timeframe_ms(timeframe: str) -> int:
    """Length of one bar of ``timeframe`` in milliseconds: ``timeframe_ms("5m") == 300_000``.

    Accepts a positive count followed by ``s``, ``m``, ``h``, ``d`` or ``w``.
    Months are refused: they have no fixed length.
    """
    match = _PATTERN.match(timeframe) if isinstance(timeframe, str) else None
    if match is None:
        raise ValueError(
            f"timeframe {timeframe!r} is not a bar size like '1m', '5m', '4h', '1d' or '1w'"
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]
