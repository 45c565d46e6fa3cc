"""The control server: a Unix socket on the engine's event loop.

The socket file is made mode 0600 in an owner-only directory
(:mod:`garrison.control.paths`); each connection's peer is checked against
the host's uid (:mod:`garrison.control.peer`) before a byte is read. A
client that sends garbage gets an error line (the connection stays open
for its next request, unless the line was too long to read); one that goes
away mid-request is forgotten. Nothing a client does can stop the host:
every failure of a connection ends in that connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
from pathlib import Path
from typing import Any

from garrison.control.host import CommandError, HostControl
from garrison.control.paths import ControlPathError, check_length, prepare_directory
from garrison.control.peer import PeerCredentials, peer_credentials, refusal
from garrison.control.protocol import (
    MAX_LINE,
    ProtocolError,
    decode_request,
    encode,
    error,
    ok,
)


def _claim(path: Path) -> None:
    """Remove a stale socket at ``path``; refuse when a host still answers there."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ControlPathError(f"{path} exists and is not a socket: refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(str(path))
    except (ConnectionRefusedError, FileNotFoundError):
        path.unlink(missing_ok=True)  # left by a host that is gone
        return
    except OSError as exc:
        raise ControlPathError(f"cannot tell whether a host serves at {path}: {exc}") from None
    finally:
        probe.close()
    raise ControlPathError(
        f"another host is already serving its control channel at {path}; stop it, or set "
        "another [control] socket in this profile"
    )


class ControlServer:
    """Serves ``control`` on the Unix socket ``path``. ``await start()``, then ``close()``."""

    def __init__(
        self, path: Path, control: HostControl, *, uid: int | None = None, tighten: bool = True
    ) -> None:
        self.path = path
        self._tighten = tighten
        self._control = control
        self._uid = os.getuid() if uid is None else uid
        self._server: asyncio.AbstractServer | None = None
        self._inode: tuple[int, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Bind the socket (0600, in a 0700 directory) and start accepting."""
        check_length(self.path)
        prepare_directory(self.path, tighten=self._tighten)
        _claim(self.path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self.path))
            # The directory is owner-only already; the file is made so too.
            os.chmod(self.path, 0o600)
            sock.listen(16)
            sock.setblocking(False)
            info = self.path.stat()
            self._inode = (info.st_dev, info.st_ino)
            self._server = await asyncio.start_unix_server(
                self._connected, sock=sock, limit=MAX_LINE
            )
        except BaseException:
            sock.close()
            raise

    async def close(self) -> None:
        """Stop accepting, end the open connections and remove the socket file."""
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(BaseException):
                    await task
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None
        # Only our own socket: another host may have taken the path since.
        with contextlib.suppress(OSError):
            info = self.path.stat()
            if (info.st_dev, info.st_ino) == self._inode:
                self.path.unlink()

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, BrokenPipeError):
            pass  # the client went away: nothing to answer
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        control = self._control
        peer: PeerCredentials | None
        try:
            peer = peer_credentials(writer.get_extra_info("socket"))
        except (OSError, AttributeError) as exc:
            control.record("connect", {}, None, f"refused: no peer credentials ({exc})")
            await _send(writer, error("refused: the host cannot tell who you are"))
            return
        why = refusal(peer, self._uid)
        if why is not None:
            control.record("connect", {}, peer, why)
            await _send(writer, error(why))
            return
        while True:
            try:
                line = await reader.readline()
            except (ValueError, asyncio.LimitOverrunError):
                control.record("garbage", {}, peer, f"request line over {MAX_LINE} bytes")
                await _send(writer, error(f"request line over {MAX_LINE} bytes: closing"))
                return
            if not line:
                return
            if not line.endswith(b"\n"):
                control.record("garbage", {}, peer, "request cut off (no newline)")
                return  # the client left mid-request
            if not line.strip():
                continue
            await _send(writer, self._answer(line, peer))

    def _answer(self, line: bytes, peer: PeerCredentials) -> dict[str, Any]:
        control = self._control
        try:
            request = decode_request(line)
        except ProtocolError as exc:
            control.record("garbage", {}, peer, f"error: {exc}")
            return error(str(exc))
        try:
            result = control.handle(request.cmd, request.args)
        except CommandError as exc:
            control.record(request.cmd, request.args, peer, f"error: {exc}")
            return error(str(exc), request.id)
        except Exception as exc:  # a bug in a command must not take the host down
            control.record(request.cmd, request.args, peer, f"failed: {exc!r}")
            return error(f"the host failed to answer {request.cmd!r}: {exc!r}", request.id)
        control.record(request.cmd, request.args, peer, "ok")
        return ok(result, request.id)


async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(encode(message))
    await writer.drain()
