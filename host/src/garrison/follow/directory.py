"""The follower's side: which hosts publish to a Redis, and what each published last.

Reads only: a follower never writes to Redis, so any number of consoles can
follow the same hosts. Every Redis failure becomes :class:`RedisUnreachableError`
with the address masked (:func:`garrison.follow.address.masked`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from garrison.follow.address import masked, open_client
from garrison.follow.keys import Envelope, EnvelopeError, decode, hosts_key, snapshot_key


class RedisUnreachableError(ConnectionError):
    """Redis could not be read; says where (password masked) and why."""


class RedisDirectory:
    """The hosts publishing under ``prefix`` at ``url``, used from one asyncio loop."""

    def __init__(self, url: str, password: str | None = None, *, prefix: str = "garrison") -> None:
        self.url = url
        self.where = masked(url)
        self.prefix = prefix
        self._password = password
        self._client: Any = None

    def __repr__(self) -> str:  # never the password
        return f"RedisDirectory({self.where!r}, prefix={self.prefix!r})"

    def _redis(self) -> Any:
        if self._client is None:
            self._client = open_client(self.url, self._password)
        return self._client

    async def hosts(self) -> list[str]:
        """Ids of the hosts listed whose snapshot is still kept (not expired), sorted."""
        try:
            client = self._redis()
            listed = await client.zrange(hosts_key(self.prefix), 0, -1)
            ids = sorted(i.decode() if isinstance(i, bytes) else str(i) for i in listed)
            async with client.pipeline(transaction=False) as pipe:
                for host_id in ids:
                    pipe.exists(snapshot_key(self.prefix, host_id))
                kept = await pipe.execute()
        except Exception as exc:
            raise RedisUnreachableError(f"cannot read Redis at {self.where}: {exc}") from None
        return [host_id for host_id, there in zip(ids, kept, strict=True) if there]

    async def read(self, host_id: str) -> Envelope | None:
        """The host's newest snapshot; None when it has none (stopped, or expired).

        EnvelopeError when what is there cannot be read by this version.
        """
        try:
            raw = await self._redis().get(snapshot_key(self.prefix, host_id))
        except Exception as exc:
            raise RedisUnreachableError(f"cannot read Redis at {self.where}: {exc}") from None
        if raw is None:
            return None
        envelope = decode(raw)
        if envelope.host_id != host_id:
            raise EnvelopeError(f"the snapshot under {host_id} says it is {envelope.host_id}")
        return envelope

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aclose()
