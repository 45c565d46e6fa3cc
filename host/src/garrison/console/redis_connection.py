"""A host the console follows through Redis rather than its control socket.

It offers what :class:`~garrison.console.connection.HostConnection` offers
(``stream``, ``call``, ``close``), so the app treats both alike:

- ``stream`` reads the host's newest snapshot from Redis every period
  (:mod:`garrison.follow`). The host is "lost" when its snapshot is gone
  (it stopped, or its key expired) or has not changed for a while (it
  stopped publishing without saying so).
- ``call`` (actions and the charts' queries) goes to the host's control
  socket when the host runs on this machine and the socket is there: the
  socket's owner-only check still decides who may steer it. A host on
  another machine is followed read-only; Redis never carries an action.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from garrison.console.connection import HostConnection, HostRefusedError, HostUnavailableError
from garrison.follow.directory import RedisDirectory, RedisUnreachableError
from garrison.follow.keys import Envelope, EnvelopeError

#: A snapshot unchanged for this many of the host's periods (and at least
#: :data:`MIN_SILENCE_S`) means the host stopped publishing.
SILENT_PERIODS = 5
MIN_SILENCE_S = 10.0


class RedisHostConnection:
    """One host published under ``host_id`` in ``directory``; used from one asyncio loop."""

    def __init__(
        self, directory: RedisDirectory, host_id: str, *, machine: str | None = None
    ) -> None:
        self.directory = directory
        self.host_id = host_id
        self._machine = machine or socket.gethostname()
        self._last: Envelope | None = None
        self._socket: HostConnection | None = None

    async def stream(self, topics: Sequence[str], every_s: float) -> AsyncIterator[dict[str, Any]]:
        """The host's published answers to ``topics``, read every ``every_s`` seconds."""
        seen_ms, changed_at = -1, time.monotonic()
        while True:
            envelope = await self._read()
            now = time.monotonic()
            if envelope.published_ms != seen_ms:
                seen_ms, changed_at = envelope.published_ms, now
            silence = max(SILENT_PERIODS * envelope.every_s, MIN_SILENCE_S)
            if now - changed_at > silence:
                raise HostUnavailableError(
                    f"{self.host_id} has published nothing new to Redis for {silence:g} s"
                )
            self._last = envelope
            yield {t: envelope.topics[t] for t in topics if t in envelope.topics}
            await asyncio.sleep(every_s)

    async def _read(self) -> Envelope:
        try:
            envelope = await self.directory.read(self.host_id)
        except RedisUnreachableError as exc:
            raise HostUnavailableError(str(exc)) from None
        except EnvelopeError as exc:
            raise HostUnavailableError(f"{self.host_id}'s snapshot in Redis: {exc}") from None
        if envelope is None:
            raise HostUnavailableError(
                f"{self.host_id} publishes nothing to Redis at {self.directory.where} "
                "(stopped, or its snapshot expired)"
            )
        return envelope

    def local_socket(self) -> Path | None:
        """The host's control socket when the host runs on this machine and it is there."""
        last = self._last
        if last is None or last.machine != self._machine or not last.socket:
            return None
        path = Path(last.socket)
        return path if path.exists() else None

    async def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """``cmd`` through the host's socket when it is on this machine; else refused."""
        path = self.local_socket()
        if path is None:
            where = "an unknown machine" if self._last is None else self._last.machine
            raise HostRefusedError(
                f"{self.host_id} is followed through Redis from another machine ({where}), "
                "read-only: to steer it or draw its charts, run the console on that machine "
                "(over SSH)"
            )
        if self._socket is None or self._socket.path != path:
            if self._socket is not None:
                await self._socket.close()
            self._socket = HostConnection(path)
        return await self._socket.call(cmd, args)

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
            self._socket = None
