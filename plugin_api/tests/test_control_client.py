"""garrison_api.control (API 1.3): the async control client against a local Unix socket.

The server here speaks the protocol as the host does (one JSON line each way);
the end-to-end test against a real host is in plugins/telegram/tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from garrison_api import Event
from garrison_api.control import CONTROL_PROTOCOL_VERSION, ControlError, control_request
from garrison_api.testing import StubServices

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def run_with_server(path: Path, handler: Handler, client: Callable[[], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        server = await asyncio.start_unix_server(handler, path=str(path))
        try:
            return await client()
        finally:
            server.close()
            await server.wait_closed()

    return asyncio.run(main())


def answering(answer: Callable[[dict[str, Any]], Any]) -> tuple[Handler, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = json.loads(await reader.readline())
        seen.append(request)
        reply = answer(request)
        writer.write(reply if isinstance(reply, bytes) else json.dumps(reply).encode() + b"\n")
        await writer.drain()
        writer.close()

    return handler, seen


def test_sends_one_request_and_returns_the_result(tmp_path: Path) -> None:
    handler, seen = answering(lambda r: {"v": 1, "ok": True, "result": {"state": "running"}})
    sock = tmp_path / "c.sock"
    result = run_with_server(sock, handler, lambda: control_request(sock, "status", {"limit": 3}))
    assert result == {"state": "running"}
    assert seen == [{"v": CONTROL_PROTOCOL_VERSION, "cmd": "status", "args": {"limit": 3}}]


def test_a_refusal_carries_the_hosts_message(tmp_path: Path) -> None:
    handler, _ = answering(lambda r: {"v": 1, "ok": False, "error": "unknown command 'nope'"})
    sock = tmp_path / "c.sock"
    with pytest.raises(ControlError, match="unknown command 'nope'") as caught:
        run_with_server(sock, handler, lambda: control_request(str(sock), "nope"))
    assert caught.value.refused is True


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"not json\n", "not JSON"),
        (b"[1]\n", "not a response"),
        (b'{"v": 2, "ok": true}\n', "speaks control protocol v=2"),
        (b'{"v": 1, "ok": tr', "lost the host"),
    ],
)
def test_broken_answers_are_clear_errors(tmp_path: Path, reply: bytes, message: str) -> None:
    handler, _ = answering(lambda r: reply)
    sock = tmp_path / "c.sock"
    with pytest.raises(ControlError, match=message) as caught:
        run_with_server(sock, handler, lambda: control_request(sock, "status"))
    assert caught.value.refused is False


def test_no_host_no_socket_and_timeouts(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="serves no control channel"):
        asyncio.run(control_request(None, "status"))
    with pytest.raises(ControlError, match="no host serves a control channel at"):
        asyncio.run(control_request(tmp_path / "absent.sock", "status"))

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    sock = tmp_path / "slow.sock"
    with pytest.raises(ControlError, match=r"did not answer 'status' within 0\.2 s"):
        run_with_server(sock, silent, lambda: control_request(sock, "status", timeout_s=0.2))


def test_stub_services_report_a_control_socket_and_take_events_from_threads() -> None:
    assert StubServices("t").control_socket is None
    services = StubServices("t", control_socket="/run/x.sock")
    assert services.control_socket == "/run/x.sock"

    def emit_many() -> None:
        for i in range(200):
            services.emit(Event(ts=i, kind="t.x", message=str(i)))

    threads = [threading.Thread(target=emit_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(services.events) == 800
