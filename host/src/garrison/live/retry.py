"""Reads that retry: network trouble and rate limits back off; other errors do not retry.

Only idempotent calls (reads, lookups, cancels by id) go through here. An
order create is never retried: its outcome is resolved by looking its
client id up (:mod:`garrison.live.orders`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import ccxt.async_support as ccxt

T = TypeVar("T")

#: What a later try can fix: the network, the venue being busy, our own pace.
RETRYABLE: tuple[type[BaseException], ...] = (ccxt.NetworkError,)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    tries: int = 5,
    base_s: float = 0.25,
    max_s: float = 8.0,
    on_retry: Callable[[str, BaseException, float], None] | None = None,
    resync: Callable[[], Awaitable[object]] | None = None,
) -> T:
    """``await call()``, again after a growing pause when it fails with a retryable error.

    Rate-limit errors wait four times as long. A timestamp error (ccxt's
    InvalidNonce: our clock and the venue's disagree) first calls ``resync``
    (ccxt's ``load_time_difference``). After ``tries`` failures the last error
    propagates; ``on_retry(what, error, pause)`` hears of each retry.
    """
    delay = base_s
    for attempt in range(1, tries + 1):
        try:
            return await call()
        except RETRYABLE as exc:
            if attempt == tries:
                raise
            slow = isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded))
            pause = min(max_s, delay * (4 if slow else 1))
            if on_retry is not None:
                on_retry(what, exc, pause)
            await asyncio.sleep(pause)
            if resync is not None and isinstance(exc, ccxt.InvalidNonce):
                await resync()
            delay = min(max_s, delay * 2)
    raise AssertionError("unreachable")
