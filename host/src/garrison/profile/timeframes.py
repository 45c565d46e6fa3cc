"""Bar sizes as written in profiles and by exchanges (``"5m"``, ``"4h"``, ``"1d"``)."""

from __future__ import annotations

_MINUTE_MS = 60_000
_UNIT_MS = {"m": _MINUTE_MS, "h": 60 * _MINUTE_MS, "d": 1440 * _MINUTE_MS, "w": 10080 * _MINUTE_MS}

#: The bar sizes Garrison understands: those both Bybit and Binance serve
#: (monthly bars are left out: a month has no fixed length).
TIMEFRAMES: tuple[str, ...] = (
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
)


def timeframe_ms(tf: str) -> int:
    """Length of one bar of timeframe ``tf`` in milliseconds (``"5m"`` -> 300000).

    Raises ValueError naming the bad value and the supported timeframes.
    """
    if not isinstance(tf, str) or tf not in TIMEFRAMES:
        raise ValueError(
            f"unknown timeframe {tf!r}: supported timeframes are {', '.join(TIMEFRAMES)}"
        )
    return int(tf[:-1]) * _UNIT_MS[tf[-1]]
