"""Raw kline messages of a ccxt.pro client, with the venue's "closed" flag kept.

ccxt.pro's ``watch_ohlcv`` returns its candle cache, which drops the one
thing the engine needs: whether a candle is final. Both venues say so in
each message (Bybit ``confirm``, Binance ``k.x``), so the feed taps the
client's kline handler: ccxt still parses and caches every message as
usual, and each one is also handed to the feed as a :class:`KlineUpdate`.
The tap only reads the message; it never changes what ccxt does with it.
Notifications are not lost either: ccxt resolves a watcher only when one is
waiting, but the tap sees every message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple


class KlineUpdate(NamedTuple):
    """One candle as a kline message carried it. ``ts`` is the bar's open time (ms)."""

    symbol: str  # the exchange id, e.g. BTCUSDT
    timeframe: str  # ccxt's unified timeframe, e.g. 5m
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool


def _bybit(client: Any, message: Any) -> Iterator[KlineUpdate]:
    topic = str(message.get("topic", ""))
    parts = topic.split(".")
    if len(parts) < 3 or parts[0] != "kline":
        return
    timeframe = client.find_timeframe(parts[1])
    symbol = parts[-1]
    for item in message.get("data") or ():
        yield KlineUpdate(
            symbol,
            timeframe,
            int(item["start"]),
            float(item["open"]),
            float(item["high"]),
            float(item["low"]),
            float(item["close"]),
            float(item["volume"]),
            bool(item.get("confirm")),
        )


def _binance(client: Any, message: Any) -> Iterator[KlineUpdate]:
    if message.get("e") != "kline":
        return
    k = message.get("k") or {}
    yield KlineUpdate(
        str(k["s"]),
        client.find_timeframe(str(k["i"])),
        int(k["t"]),
        float(k["o"]),
        float(k["h"]),
        float(k["l"]),
        float(k["c"]),
        float(k["v"]),
        bool(k.get("x")),
    )


_READERS = {"bybit": _bybit, "binance": _binance}


def tap_klines(client: Any, exchange: str, sink: Callable[[KlineUpdate], None]) -> None:
    """Hand every kline message ``client`` receives to ``sink`` as well.

    ``sink`` runs on the event loop, inside ccxt's message handler: it must be
    quick and must not raise (a malformed message is skipped, not fatal).
    """
    read = _READERS[exchange]
    handle = client.handle_ohlcv

    def handle_ohlcv(ws_client: Any, message: Any) -> Any:
        result = handle(ws_client, message)
        try:
            updates = list(read(client, message))
        except (KeyError, TypeError, ValueError):
            updates = []
        for update in updates:
            sink(update)
        return result

    # ccxt looks the handler up on the instance for every message: an
    # attribute of this one client, not a patch of the class.
    client.handle_ohlcv = handle_ohlcv
