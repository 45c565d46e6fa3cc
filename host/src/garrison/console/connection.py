"""An asyncio client of one host's control socket that never blocks the UI loop.

Requests go one at a time over a persistent connection (the protocol
answers in order). A connection that fails is dropped; the next request
connects again, so a host that restarts is picked up without the operator
doing anything. Every failure becomes :class:`HostUnavailableError` (no host,
lost, timed out) or :class:`HostRefusedError` (the host answered with an error).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from garrison.control.protocol import MAX_LINE, ProtocolError, decode_response, request_line

#: Seconds a request may take, the engine's own wait for its inbox included.
REQUEST_TIMEOUT_S = 40.0

#: Seconds a connection attempt may take.
CONNECT_TIMEOUT_S = 3.0


class HostUnavailableError(ConnectionError):
    """No host answers at the socket (gone, restarting, never started); says why."""


class HostRefusedError(RuntimeError):
    """The host answered with an error; the message is the host's."""


class HostConnection:
    """One host's control socket, used from one asyncio loop (the console's)."""

    def __init__(self, path: Path, *, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.path = path
        self._timeout = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        #: Why the last request could not reach the host ("" while it answers).
        self.problem = ""

    async def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """Send ``cmd`` and return its result; HostRefusedError with the host's error."""
        async with self._lock:
            try:
                response = await asyncio.wait_for(self._exchange(cmd, args), self._timeout)
            except TimeoutError:
                await self._drop(
                    f"the host at {self.path} did not answer within {self._timeout:g} s"
                )
                raise HostUnavailableError(self.problem) from None
            except HostUnavailableError as exc:
                await self._drop(str(exc))
                raise
            except BaseException:
                # Cancelled mid-request (the console closing, a worker cancelled): the
                # answer may still come on this connection and would be taken for the
                # next request's, so the connection goes.
                self._forget()
                raise
        self.problem = ""
        if not response.get("ok"):
            raise HostRefusedError(str(response.get("error")))
        return response.get("result")

    async def _exchange(self, cmd: str, args: dict[str, Any] | None) -> dict[str, Any]:
        if self._writer is None:
            await self._connect()
        reader, writer = self._reader, self._writer
        assert reader is not None
        assert writer is not None
        try:
            writer.write(request_line(cmd, args))
            await writer.drain()
            line = await reader.readline()
        except (OSError, ValueError, asyncio.LimitOverrunError) as exc:
            raise HostUnavailableError(f"lost the host at {self.path}: {exc}") from None
        if not line.endswith(b"\n"):
            raise HostUnavailableError(f"the host at {self.path} closed the connection")
        try:
            return decode_response(line)
        except ProtocolError as exc:
            raise HostUnavailableError(str(exc)) from None

    async def _connect(self) -> None:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.path), limit=MAX_LINE * 64),
                CONNECT_TIMEOUT_S,
            )
        except FileNotFoundError:
            raise HostUnavailableError(
                f"no host is running with its control socket at {self.path}"
            ) from None
        except ConnectionRefusedError:
            raise HostUnavailableError(
                f"nothing listens at {self.path}: the host is gone"
            ) from None
        except PermissionError:
            raise HostUnavailableError(
                f"permission denied on {self.path}: the host runs as another user"
            ) from None
        except (OSError, TimeoutError) as exc:
            raise HostUnavailableError(
                f"cannot connect to {self.path}: {exc or 'timed out'}"
            ) from None

    def _forget(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()

    async def _drop(self, why: str) -> None:
        self.problem = why
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def close(self) -> None:
        """Close the connection (the host sees a client leave; nothing more)."""
        async with self._lock:
            await self._drop("closed")
