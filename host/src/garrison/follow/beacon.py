"""The host's side: publish what the control channel serves to Redis, every period.

The beacon runs on the control server's own thread and event loop, so Redis
being slow or away never holds the engine. Each period it takes the same
answers a console's subscription gets (read on the engine's thread, between
steps) and writes them, with who published them, under the host's key
(:mod:`garrison.follow.keys`). Trading never depends on it: when Redis is
away the beacon journals that once (``redis.lost``), keeps trying every
period and journals ``redis.back`` when a write succeeds again. A host that
stops cleanly removes its key; one that dies leaves it to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from garrison_api import Level
from loguru import logger

from garrison.follow.address import masked, open_client
from garrison.follow.keys import Envelope, host_id, hosts_key, snapshot_key, ttl_ms

#: Reads the topics' answers on the engine's thread (the control server's own path).
Snapshot = Callable[[Sequence[str]], Awaitable[dict[str, Any]]]

#: Journals an event of the beacon: kind, message, level, data.
Note = Callable[[str, str, Level, dict[str, Any]], Awaitable[None]]

#: Seconds the beacon may spend removing its key as the host stops.
WITHDRAW_S = 2.0


class RedisBeacon:
    """Publishes one host's snapshot to Redis every ``every_s`` seconds until cancelled."""

    def __init__(
        self,
        url: str,
        password: str | None,
        *,
        prefix: str,
        every_s: float,
        profile: str,
        control_socket: str,
        topics: Sequence[str],
        machine: str | None = None,
    ) -> None:
        self.url = url
        self._password = password
        self.prefix = prefix
        self.every_s = every_s
        self.profile = profile
        self.machine = machine or socket.gethostname()
        self.host_id = host_id(profile, self.machine)
        self._socket = control_socket
        self._topics = tuple(topics)
        self._client: Any = None
        #: Snapshots written since start.
        self.published = 0
        #: When the current Redis outage began (monotonic seconds); None while publishing.
        self._lost_since: float | None = None

    def __repr__(self) -> str:  # never the password
        return f"RedisBeacon({masked(self.url)!r}, host_id={self.host_id!r})"

    async def run(self, snapshot: Snapshot, note: Note) -> None:
        """Publish every period until cancelled; never raises for Redis or the engine."""
        self._client = open_client(self.url, self._password)
        while True:
            started = time.monotonic()
            try:
                topics = await snapshot(self._topics)
            except Exception as exc:  # the host stopping or the engine busy: next period
                logger.debug("redis beacon: no snapshot this period: {}", exc)
            else:
                await self._publish(topics, note)
            await asyncio.sleep(max(0.0, self.every_s - (time.monotonic() - started)))

    async def _publish(self, topics: dict[str, Any], note: Note) -> None:
        """Write one snapshot; journal the first, an outage's start and its end."""
        where = masked(self.url)
        try:
            await self._write(topics)
        except Exception as exc:  # redis errors, OSError, timeouts alike
            if self._lost_since is not None:
                return  # said when the outage began
            self._lost_since = time.monotonic()
            problem = f"{type(exc).__name__}: {exc}"
            await note(
                "redis.lost",
                f"cannot publish to Redis at {where}: {problem}; "
                f"trading goes on, retrying every {self.every_s:g} s",
                Level.WARNING,
                {"url": where, "error": problem},
            )
            return
        self.published += 1
        if self._lost_since is not None:
            away = time.monotonic() - self._lost_since
            self._lost_since = None
            await note(
                "redis.back",
                f"publishing to Redis at {where} again after {away:.0f} s",
                Level.INFO,
                {"url": where, "away_s": round(away, 1)},
            )
        elif self.published == 1:
            await note(
                "redis.publishing",
                f"publishing this host's state to Redis at {where} as "
                f"{self.host_id} every {self.every_s:g} s",
                Level.INFO,
                {"url": where, "host_id": self.host_id, "prefix": self.prefix},
            )

    async def _write(self, topics: dict[str, Any]) -> None:
        now_ms = int(time.time() * 1000)
        keep = ttl_ms(self.every_s)
        envelope = Envelope(
            host_id=self.host_id,
            profile=self.profile,
            machine=self.machine,
            socket=self._socket,
            pid=os.getpid(),
            published_ms=now_ms,
            every_s=self.every_s,
            topics=topics,
        )
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(snapshot_key(self.prefix, self.host_id), envelope.encode(), px=keep)
            pipe.zadd(hosts_key(self.prefix), {self.host_id: now_ms})
            # Hosts that died without withdrawing leave the list once their snapshot expired.
            pipe.zremrangebyscore(hosts_key(self.prefix), "-inf", now_ms - keep)
            await pipe.execute()

    async def withdraw(self) -> None:
        """Remove this host's snapshot and listing (a clean stop); errors are ignored."""
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(WITHDRAW_S):
                async with client.pipeline(transaction=True) as pipe:
                    pipe.delete(snapshot_key(self.prefix, self.host_id))
                    pipe.zrem(hosts_key(self.prefix), self.host_id)
                    await pipe.execute()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(WITHDRAW_S):
                await client.aclose()
