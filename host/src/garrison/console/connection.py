"""An asyncio client of one host's control socket that never blocks the UI loop.

Two kinds of use, on separate connections:

- :meth:`HostConnection.call`: one request at a time over a persistent
  connection (the protocol answers in order), for actions and the charts'
  queries. A connection that fails is dropped; the next request connects
  again, so a host that restarts is picked up without the operator doing
  anything.
- :meth:`HostConnection.stream`: the host's ``subscribe``, on a connection
  of its own: the host pushes the topics' answers every period. One
  subscription is journaled once by the host, where polling would journal
  every query of every poll.

Every failure becomes :class:`HostUnavailableError` (no host, lost, timed
out) or :class:`HostRefusedError` (the host answered with an error).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from garrison.control.protocol import MAX_LINE, ProtocolError, decode_response, request_line

#: Seconds a request may take, the engine's own wait for its inbox included.
REQUEST_TIMEOUT_S = 40.0

#: Seconds a connection attempt may take.
CONNECT_TIMEOUT_S = 3.0

#: The longest answer line the console reads (the host's answers are not bounded by
#: the request limit: a signals feed with its scores can be long).
MAX_ANSWER = 64 * MAX_LINE


class HostUnavailableError(ConnectionError):
    """No host answers at the socket (gone, restarting, never started); says why."""


class HostRefusedError(RuntimeError):
    """The host answered with an error; the message is the host's."""


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _open(path: Path) -> Streams:
    try:
        return await asyncio.wait_for(
            asyncio.open_unix_connection(str(path), limit=MAX_ANSWER), CONNECT_TIMEOUT_S
        )
    except FileNotFoundError:
        raise HostUnavailableError(
            f"no host is running with its control socket at {path}"
        ) from None
    except ConnectionRefusedError:
        raise HostUnavailableError(f"nothing listens at {path}: the host is gone") from None
    except PermissionError:
        raise HostUnavailableError(
            f"permission denied on {path}: the host runs as another user"
        ) from None
    except (OSError, TimeoutError) as exc:
        raise HostUnavailableError(f"cannot connect to {path}: {exc or 'timed out'}") from None


async def _send(path: Path, writer: asyncio.StreamWriter, line: bytes) -> None:
    try:
        writer.write(line)
        await writer.drain()
    except OSError as exc:
        raise HostUnavailableError(f"lost the host at {path}: {exc}") from None


async def _receive(path: Path, reader: asyncio.StreamReader) -> dict[str, Any]:
    try:
        line = await reader.readline()
    except (OSError, ValueError, asyncio.LimitOverrunError) as exc:
        raise HostUnavailableError(f"lost the host at {path}: {exc}") from None
    if not line.endswith(b"\n"):
        raise HostUnavailableError(f"the host at {path} closed the connection")
    try:
        return decode_response(line)
    except ProtocolError as exc:
        raise HostUnavailableError(str(exc)) from None


def _result(response: dict[str, Any]) -> Any:
    if not response.get("ok"):
        raise HostRefusedError(str(response.get("error")))
    return response.get("result")


class HostConnection:
    """One host's control socket, used from one asyncio loop (the console's)."""

    def __init__(self, path: Path, *, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.path = path
        self._timeout = timeout_s
        self._streams: Streams | None = None
        self._lock = asyncio.Lock()

    async def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """Send ``cmd`` and return its result; HostRefusedError with the host's error."""
        async with self._lock:
            try:
                response = await asyncio.wait_for(self._exchange(cmd, args), self._timeout)
            except TimeoutError:
                self._forget()
                raise HostUnavailableError(
                    f"the host at {self.path} did not answer within {self._timeout:g} s"
                ) from None
            except BaseException:
                # Lost, or cancelled mid-request (the console closing, a worker
                # cancelled): a late answer on this connection would be taken for the
                # next request's, so the connection goes.
                self._forget()
                raise
        return _result(response)

    async def _exchange(self, cmd: str, args: dict[str, Any] | None) -> dict[str, Any]:
        if self._streams is None:
            self._streams = await _open(self.path)
        reader, writer = self._streams
        await _send(self.path, writer, request_line(cmd, args))
        return await _receive(self.path, reader)

    async def stream(self, topics: Sequence[str], every_s: float) -> AsyncIterator[dict[str, Any]]:
        """The host's answers to ``topics`` every ``every_s`` seconds, until closed or lost.

        The first is sent at once. Leaving the iteration closes the
        subscription's connection, which ends it on the host's side.
        """
        reader, writer = await _open(self.path)
        try:
            await _send(
                self.path,
                writer,
                request_line("subscribe", {"topics": list(topics), "every_s": every_s}),
            )
            ack = _result(await _receive(self.path, reader))
            if not isinstance(ack, dict) or "subscribed" not in ack:
                raise HostUnavailableError(f"the host at {self.path} did not subscribe: {ack!r}")
            # A host that stops answering (but keeps the connection) counts as lost.
            patience = max(3 * every_s, self._timeout)
            while True:
                try:
                    response = await asyncio.wait_for(_receive(self.path, reader), patience)
                except TimeoutError:
                    raise HostUnavailableError(
                        f"the host at {self.path} sent nothing for {patience:g} s"
                    ) from None
                yield _result(response)
        finally:
            writer.close()

    def _forget(self) -> None:
        streams, self._streams = self._streams, None
        if streams is not None:
            streams[1].close()

    async def close(self) -> None:
        """Close the request connection (the host sees a client leave; nothing more)."""
        async with self._lock:
            streams, self._streams = self._streams, None
        if streams is not None:
            streams[1].close()
            with contextlib.suppress(Exception):
                await streams[1].wait_closed()
