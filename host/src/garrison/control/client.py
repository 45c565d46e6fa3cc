"""A blocking client of a host's control socket (what the CLI uses)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from garrison.control.protocol import ProtocolError, decode_response, request_line


class ControlUnavailableError(ConnectionError):
    """No host answers at the socket; the message says what was found and what to check."""


class ControlRefusedError(RuntimeError):
    """The host answered with an error; the message is the host's."""


class ControlClient:
    """One connection to a host. Use as a context manager; :meth:`call` per command."""

    def __init__(self, path: Path, *, timeout_s: float = 10.0) -> None:
        self.path = path
        self._timeout = timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""

    def __enter__(self) -> ControlClient:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self._timeout)
        try:
            sock.connect(str(self.path))
        except FileNotFoundError:
            sock.close()
            raise ControlUnavailableError(
                f"no host is running with its control socket at {self.path} (start it with "
                "`garrison run PROFILE`, or name the socket with --socket / the profile with "
                "--profile)"
            ) from None
        except ConnectionRefusedError:
            sock.close()
            raise ControlUnavailableError(
                f"nothing listens at {self.path}: the host that made it is gone"
            ) from None
        except PermissionError:
            sock.close()
            raise ControlUnavailableError(
                f"permission denied on {self.path}: the host runs as another user"
            ) from None
        except OSError as exc:
            sock.close()
            raise ControlUnavailableError(f"cannot connect to {self.path}: {exc}") from None
        self._sock = sock
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        """Send ``cmd`` and return its result; raise ControlRefusedError with the host's error."""
        response = self.exchange(request_line(cmd, args))
        if not response.get("ok"):
            raise ControlRefusedError(str(response.get("error")))
        return response.get("result")

    def subscribe(self, topics: list[str], every_s: float = 1.0) -> Iterator[dict[str, Any]]:
        """Stream snapshots of ``topics`` every ``every_s`` seconds (closing the client ends it)."""
        first = self.call("subscribe", {"topics": topics, "every_s": every_s})
        if not isinstance(first, dict) or "subscribed" not in first:
            raise ControlRefusedError(f"the host did not subscribe: {first!r}")
        while True:
            response = self.read()
            if not response.get("ok"):
                raise ControlRefusedError(str(response.get("error")))
            yield response["result"]

    def exchange(self, line: bytes) -> dict[str, Any]:
        """Send one raw line and read the response (tests send garbage this way)."""
        sock = self._sock
        if sock is None:
            raise RuntimeError("ControlClient used outside its with-block")
        try:
            sock.sendall(line)
        except OSError as exc:
            # A host that refuses a caller says why, then closes at once: the
            # reason may be waiting even though the request could not go.
            try:
                return self.read()
            except ControlUnavailableError:
                raise ControlUnavailableError(f"lost the host at {self.path}: {exc}") from None
        return self.read()

    def read(self) -> dict[str, Any]:
        """The next response line from the host."""
        sock = self._sock
        if sock is None:
            raise RuntimeError("ControlClient used outside its with-block")
        try:
            while b"\n" not in self._buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ControlUnavailableError(f"the host at {self.path} closed the connection")
                self._buffer += chunk
        except TimeoutError:
            raise ControlUnavailableError(
                f"the host at {self.path} did not answer within {self._timeout:g} s"
            ) from None
        except OSError as exc:
            if isinstance(exc, ControlUnavailableError):
                raise
            raise ControlUnavailableError(f"lost the host at {self.path}: {exc}") from None
        response, _, self._buffer = self._buffer.partition(b"\n")
        try:
            return decode_response(response)
        except ProtocolError as exc:
            raise ControlUnavailableError(str(exc)) from None
