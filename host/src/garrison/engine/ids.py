"""Client order ids: derived from the decision, so a retry or a restart sends the same id.

An exchange refuses a second order with a client id it has seen, so an id
that depends only on what was decided (profile, strategy use, symbol, the
time of the decision, entry or exit, side, and the order's ordinal among
the step's orders that share all of those) makes a retried or re-decided
order impossible to double. Bybit's ``orderLinkId`` and Binance's
``newClientOrderId`` both take up to 36 characters of letters, digits,
``-`` and ``_``; these ids use those only.
"""

from __future__ import annotations

import functools
import hashlib

#: Longest id both exchanges accept.
MAX_LEN = 36


@functools.lru_cache(maxsize=256)
def _owner(profile: str, strategy: str) -> str:
    return hashlib.blake2b(f"{profile}\x1f{strategy}".encode(), digest_size=4).hexdigest()


@functools.lru_cache(maxsize=4096)
def _symbol_part(symbol: str, room: int) -> str:
    tail = "".join(c for c in symbol if c.isalnum())
    if len(tail) > room:
        tail = hashlib.blake2b(symbol.encode(), digest_size=max(1, room // 2)).hexdigest()[:room]
    return tail


@functools.lru_cache(maxsize=4096)
def _parts(profile: str, strategy: str, symbol: str, exit_: bool, side: str) -> tuple[str, str]:
    # Decision times have 11 hex digits from 2001 to 2527: the symbol's room is fixed.
    head = f"g{_owner(profile, strategy)}{'x' if exit_ else 'e'}{side[:1]}"
    return head, _symbol_part(symbol, MAX_LEN - len(head) - 12)


def client_order_id(
    profile: str,
    strategy: str,
    symbol: str,
    decided_ms: int,
    exit_: bool,
    side: str,
    ordinal: int = 0,
) -> str:
    """The client order id of one decision, at most 36 characters and stable across restarts.

    ``g`` + 8 hex digits of a hash of (profile, strategy) + ``e``/``x`` (entry
    or exit) + ``l``/``s`` (side) + the decision time in hex + ``-`` + the
    symbol: ``g58dac91cel199cffa2020-BTCUSDT`` (30 characters). A symbol too
    long to fit is replaced by a hash of itself.

    ``ordinal`` tells apart orders of one decision that agree on all of the
    above (two entries of one strategy for one symbol, side and step): the
    first is 0 and has no suffix, so its id is the one it always was; the
    ones after it end in ``_`` + the ordinal in hex (``..-BTCUSDT_1``). The
    symbol part holds only letters and digits, so the suffix cannot be
    mistaken for part of it.
    """
    if decided_ms < 0:
        raise ValueError(f"decision time must not be negative, got {decided_ms}")
    head, tail = _parts(profile, strategy, symbol, exit_, side)
    if not ordinal:
        cid = f"{head}{decided_ms:x}-{tail}"
        if len(cid) <= MAX_LEN:
            return cid
        suffix = ""
    elif ordinal < 0:
        raise ValueError(f"ordinal must not be negative, got {ordinal}")
    else:
        suffix = f"_{ordinal:x}"
    # An ordinal, or a time far outside the usual range: hash the symbol shorter if need be.
    prefix = f"{head}{decided_ms:x}-"
    room = MAX_LEN - len(prefix) - len(suffix)
    if room < 1:
        raise ValueError(f"no room for the symbol in an id for time {decided_ms}, {ordinal=}")
    return prefix + _symbol_part(symbol, room) + suffix
