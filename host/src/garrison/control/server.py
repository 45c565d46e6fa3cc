"""The control server: a Unix socket served from a thread of its own.

The socket's I/O (accepting, reading lines, peer checks, writing answers)
runs on the server's own thread and event loop, so a slow client or a busy
engine never blocks the other. What a request asks of the host runs on the
engine's thread: the request is put in the step processor's inbox
(:attr:`StepProcessor.inbox`), which the engine empties at its next step
(a replay between two steps, before any decision) or at its event loop's
next turn (a paper or live host waiting for its next bar), whichever
comes first; the engine's state is never read from another thread.

The socket file is made mode 0600 in an owner-only directory
(:mod:`garrison.control.paths`); each connection's peer is checked against
the host's uid (:mod:`garrison.control.peer`) before a byte is read. A
client that sends garbage gets an error line (the connection stays open
for its next request, unless the line was too long to read); one that goes
away mid-request is forgotten. Nothing a client does can stop the host:
every failure of a connection ends in that connection.

With a profile's ``[redis]`` set, the same thread also runs the Redis beacon
(:mod:`garrison.follow.beacon`), which publishes what a subscription would
get, read the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import stat
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from garrison_api import Level

from garrison.control.host import CommandError, HostControl, subscription
from garrison.control.paths import ControlPathError, check_length, prepare_directory
from garrison.control.peer import PeerCredentials, peer_credentials, refusal
from garrison.control.protocol import (
    MAX_LINE,
    ProtocolError,
    Request,
    decode_request,
    encode,
    error,
    ok,
)
from garrison.engine.step import StepProcessor
from garrison.follow.beacon import RedisBeacon

#: How long the server waits for the engine to take a request before saying so.
ENGINE_WAIT_S = 30.0


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
    """Serves ``control`` on the Unix socket ``path``. ``await start()``, then ``await close()``.

    Both are called on the engine's event loop; ``processor`` is the engine
    whose inbox takes the requests.
    """

    def __init__(
        self,
        path: Path,
        control: HostControl,
        processor: StepProcessor,
        *,
        uid: int | None = None,
        tighten: bool = True,
        beacon: RedisBeacon | None = None,
    ) -> None:
        self.path = path
        #: Publishes what this server serves to Redis, on the server's thread (optional).
        self.beacon = beacon
        self._beacon_task: asyncio.Task[None] | None = None
        self._control = control
        self._proc = processor
        self._uid = os.getuid() if uid is None else uid
        self._tighten = tighten
        self._engine_loop: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._inode: tuple[int, int] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    async def start(self) -> None:
        """Bind the socket (0600, in a 0700 directory) and start serving on the thread."""
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
        except BaseException:
            sock.close()
            raise
        self._engine_loop = asyncio.get_running_loop()
        loop = asyncio.new_event_loop()
        self._loop = loop
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run_thread,
            args=(loop, sock, started),
            name="garrison-control",
            daemon=True,
        )
        self._thread.start()
        await asyncio.wrap_future(started)

    def _run_thread(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        started: concurrent.futures.Future[None],
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                asyncio.start_unix_server(self._connected, sock=sock, limit=MAX_LINE)
            )
        except BaseException as exc:
            sock.close()
            started.set_exception(exc)
            loop.close()
            return
        started.set_result(None)
        if self.beacon is not None:
            self._beacon_task = loop.create_task(self.beacon.run(self._snapshot, self._event))
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._beacon_task is not None:
            self._beacon_task.cancel()
            with contextlib.suppress(BaseException):
                await self._beacon_task
        if self.beacon is not None:
            await self.beacon.withdraw()
        # Connections accepted just now get their first turn, so they can be cancelled.
        for _ in range(3):
            await asyncio.sleep(0)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def close(self) -> None:
        """Stop serving, end the open connections and remove the socket file."""
        self._closing = True
        # Requests the engine will not take now: answered as such.
        for _action, future in self._proc.take_inbox_items():
            if not future.done():
                future.set_exception(CommandError("the host is stopping"))
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            await asyncio.get_running_loop().run_in_executor(None, thread.join, 5.0)
        self._loop = self._thread = None
        # Only our own socket: another host may have taken the path since.
        with contextlib.suppress(OSError):
            info = self.path.stat()
            if (info.st_dev, info.st_ino) == self._inode:
                self.path.unlink()

    # -- the engine's side ---------------------------------------------------------

    async def _on_engine(self, action: Callable[[], Any]) -> Any:
        """Run ``action`` on the engine's thread at its next step or loop turn; its result."""
        engine = self._engine_loop
        if engine is None or self._closing:
            raise CommandError("the host is stopping")
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._proc.inbox.append((action, future))
        try:
            engine.call_soon_threadsafe(self._proc.serve_inbox)
        except RuntimeError:
            raise CommandError("the host is stopping") from None
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), ENGINE_WAIT_S)
        except TimeoutError:
            raise CommandError(
                f"the engine did not take the request within {ENGINE_WAIT_S:g} s (busy?)"
            ) from None

    async def _snapshot(self, topics: Sequence[str]) -> dict[str, Any]:
        """The answers to ``topics``, read together on the engine's thread."""
        control = self._control
        answers: dict[str, Any] = await self._on_engine(
            lambda: {topic: control.handle(topic, {}) for topic in topics}
        )
        return answers

    async def _event(self, kind: str, message: str, level: Level, data: dict[str, Any]) -> None:
        """Journal an event of the server's own (the beacon's), on the engine's thread."""
        control = self._control
        with contextlib.suppress(CommandError):
            await self._on_engine(lambda: control.emit(kind, message, level, data))

    def _record(
        self, cmd: str, args: dict[str, Any], peer: PeerCredentials | None, outcome: str
    ) -> Callable[[], None]:
        control = self._control
        return lambda: control.record(cmd, args, peer, outcome)

    async def _note(
        self, cmd: str, args: dict[str, Any], peer: PeerCredentials | None, outcome: str
    ) -> None:
        with contextlib.suppress(CommandError):
            await self._on_engine(self._record(cmd, args, peer, outcome))

    def _execute(self, request: Request, peer: PeerCredentials) -> dict[str, Any]:
        """On the engine's thread: the command's answer, journaled with its caller."""
        control = self._control
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

    # -- the socket's side -----------------------------------------------------------

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing to answer
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(BaseException):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer: PeerCredentials | None
        try:
            peer = peer_credentials(writer.get_extra_info("socket"))
        except (OSError, AttributeError) as exc:
            await self._note("connect", {}, None, f"refused: no peer credentials ({exc})")
            await _send(writer, error("refused: the host cannot tell who you are"))
            return
        why = refusal(peer, self._uid)
        if why is not None:
            await self._note("connect", {}, peer, why)
            await _send(writer, error(why))
            return
        while True:
            try:
                line = await reader.readline()
            except (ValueError, asyncio.LimitOverrunError):
                await self._note("garbage", {}, peer, f"request line over {MAX_LINE} bytes")
                await _send(writer, error(f"request line over {MAX_LINE} bytes: closing"))
                return
            if not line:
                return
            if not line.endswith(b"\n"):
                await self._note("garbage", {}, peer, "request cut off (no newline)")
                return  # the client left mid-request
            if not line.strip():
                continue
            try:
                request = decode_request(line)
            except ProtocolError as exc:
                await self._note("garbage", {}, peer, f"error: {exc}")
                await _send(writer, error(str(exc)))
                continue
            if request.cmd == "subscribe":
                await self._subscribe(request, peer, reader, writer)
                return
            await _send(writer, await self._answer(request, peer))

    async def _subscribe(
        self,
        request: Request,
        peer: PeerCredentials,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        """Stream the ``topics`` queries every ``every_s`` until the client sends or leaves.

        The connection is the subscription's from then on: any line from the
        client (or its closing) ends it, and the connection with it.
        """
        try:
            topics, every = subscription(request.args)
        except CommandError as exc:
            await self._note("subscribe", request.args, peer, f"error: {exc}")
            await _send(writer, error(str(exc), request.id))
            return
        await self._note("subscribe", request.args, peer, "ok")
        await _send(writer, ok({"subscribed": list(topics), "every_s": every}, request.id))
        stop = asyncio.ensure_future(reader.read(1))
        try:
            while not stop.done():
                try:
                    snapshot = await self._snapshot(topics)
                except CommandError as exc:
                    await _send(writer, error(str(exc), request.id))
                    return
                message = ok(snapshot, request.id)
                message["stream"] = "subscribe"
                await _send(writer, message)
                await asyncio.wait({stop}, timeout=every)
        finally:
            stop.cancel()
            with contextlib.suppress(BaseException):
                await stop

    async def _answer(self, request: Request, peer: PeerCredentials) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = await self._on_engine(lambda: self._execute(request, peer))
        except CommandError as exc:
            return error(str(exc), request.id)
        return answer


async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(encode(message))
    await writer.drain()
