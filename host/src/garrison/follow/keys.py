"""What a host writes to Redis, under which keys, and how a follower reads it back.

Two keys per prefix and host:

- ``<prefix>:hosts``: a sorted set of host ids (``<profile>@<machine>``),
  each scored by the epoch milliseconds of its last snapshot. Followers
  list hosts from it; a host that stops publishing falls out of the list
  once its snapshot expires.
- ``<prefix>:host:<id>``: the newest snapshot, a JSON :class:`Envelope`,
  written with an expiry of a few periods, so a host that dies without
  saying so disappears on its own.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from garrison.control.protocol import json_ready

#: The version of the snapshot's JSON shape; a follower refuses another.
SHAPE = 1

#: A snapshot lives this many publishing periods (at least :data:`MIN_TTL_S`).
TTL_PERIODS = 5
MIN_TTL_S = 5.0


def hosts_key(prefix: str) -> str:
    """The sorted set listing the hosts that publish under ``prefix``."""
    return f"{prefix}:hosts"


def snapshot_key(prefix: str, host_id: str) -> str:
    """Where the host ``host_id`` keeps its newest snapshot."""
    return f"{prefix}:host:{host_id}"


def host_id(profile: str, machine: str) -> str:
    """A host's id: its profile on its machine (one profile runs once per machine)."""
    return f"{profile}@{machine}"


def ttl_ms(every_s: float) -> int:
    """How long a snapshot published every ``every_s`` seconds is kept."""
    return int(max(TTL_PERIODS * every_s, MIN_TTL_S) * 1000)


class EnvelopeError(ValueError):
    """A snapshot in Redis that is not one this version can read; says why."""


@attrs.frozen
class Envelope:
    """One published snapshot: who published it, when, and its topics' answers.

    ``socket`` is the host's control socket on ``machine``: a follower on
    the same machine steers the host through it; one elsewhere only watches.
    """

    host_id: str
    profile: str
    machine: str
    socket: str
    pid: int
    published_ms: int
    every_s: float
    topics: dict[str, Any]

    def encode(self) -> str:
        data = json_ready({"shape": SHAPE, **attrs.asdict(self)})
        return json.dumps(data, separators=(",", ":"), default=str)


def decode(raw: str | bytes) -> Envelope:
    """The envelope in ``raw``; EnvelopeError when it is not one this version reads."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EnvelopeError("not a JSON object")
    shape = data.pop("shape", None)
    if shape != SHAPE:
        raise EnvelopeError(f"snapshot shape {shape!r}; this console reads shape {SHAPE}")
    try:
        envelope = Envelope(**data)
    except TypeError as exc:
        raise EnvelopeError(f"fields do not match: {exc}") from None
    if not isinstance(envelope.topics, dict):
        raise EnvelopeError("its topics are not a JSON object")
    return envelope
