"""A fake Telegram Bot API on 127.0.0.1 for the tests: nothing here touches the internet.

It serves ``/bot<token>/<method>`` as the Bot API does (form or JSON
bodies, ``{"ok": true, "result": ...}`` answers) for the methods the plugin
calls: ``getUpdates`` (long polling over scripted updates), ``sendMessage``
(recorded), ``answerCallbackQuery`` and ``getMe``. It runs on a thread of its
own with its own event loop, so tests drive it from plain code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web

#: The token the tests give the plugin (a made-up one, in the Bot API's shape).
TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijklm"
TOKEN_ENV = "GARRISON_TEST_TELEGRAM_TOKEN"
OPERATOR = 1001
STRANGER = 6666
CHAT = 5005


class FakeBotApi:
    """The fake server: ``push_message`` / ``push_button`` script updates, ``sent`` records."""

    token = TOKEN

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sent: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.tokens: set[str] = set()
        self.answered: list[str] = []
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- running -----------------------------------------------------------------

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        assert ready.wait(10), "the fake Bot API did not start"

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._arrived = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        loop.run_forever()
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # -- scripting ---------------------------------------------------------------

    def _push(self, update: dict[str, Any]) -> None:
        with self._lock:
            update["update_id"] = self._next_update
            self._next_update += 1
            self._updates.append(update)
        loop, arrived = self._loop, self._arrived
        if loop is not None and arrived is not None:
            loop.call_soon_threadsafe(arrived.set)

    def push_message(self, user_id: int, text: str, chat_id: int = CHAT) -> None:
        self._push(
            {
                "message": {
                    "message_id": self._next_update,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
                    "text": text,
                }
            }
        )

    def push_button(self, user_id: int, data: str, chat_id: int = CHAT) -> None:
        self._push(
            {
                "callback_query": {
                    "id": f"cq{self._next_update}",
                    "from": {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"},
                    "chat_instance": "ci",
                    "data": data,
                    "message": {
                        "message_id": 1,
                        "date": int(time.time()),
                        "chat": {"id": chat_id, "type": "private"},
                        "text": "buttons",
                    },
                }
            }
        )

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.sent)

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages()]

    def wait_for(
        self, what: str, check: Callable[[list[dict[str, Any]]], Any], timeout: float = 20.0
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check(self.messages())
            if found:
                return found
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; sent: {self.texts()[-5:]}")

    def wait_reply(self, needle: str, after: int = 0, timeout: float = 20.0) -> str:
        """The first message sent after the ``after``-th that contains ``needle``."""
        found: str = self.wait_for(
            f"a reply containing {needle!r}",
            lambda sent: next((m["text"] for m in sent[after:] if needle in m["text"]), None),
            timeout,
        )
        return found

    # -- the Bot API -------------------------------------------------------------

    async def _fields(self, request: web.Request) -> dict[str, Any]:
        fields: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            fields.update(await request.json())
        elif request.can_read_body:
            fields.update({k: v for k, v in (await request.post()).items()})
        return fields

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        fields = await self._fields(request)
        with self._lock:
            self.tokens.add(token)
            self.calls.append(method)
        if token != TOKEN:
            return _answer({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        if method == "getMe":
            return _ok({"id": 42, "is_bot": True, "first_name": "garrison"})
        if method == "sendMessage":
            chat = int(fields["chat_id"])
            markup = fields.get("reply_markup")
            record = {
                "chat_id": chat,
                "text": str(fields["text"]),
                "parse_mode": fields.get("parse_mode"),
                "reply_markup": json.loads(markup) if isinstance(markup, str) else markup,
            }
            with self._lock:
                self.sent.append(record)
                number = len(self.sent)
            return _ok(
                {
                    "message_id": number,
                    "date": int(time.time()),
                    "chat": {"id": chat, "type": "private"},
                    "text": record["text"],
                }
            )
        if method == "answerCallbackQuery":
            with self._lock:
                self.answered.append(str(fields.get("callback_query_id")))
            return _ok(True)
        if method == "getUpdates":
            return _ok(await self._updates_after(fields))
        return _answer({"ok": False, "error_code": 404, "description": "Not Found"}, 404)

    async def _updates_after(self, fields: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(fields.get("offset") or 0)
        wait = min(float(fields.get("timeout") or 0), 5.0)
        deadline = time.monotonic() + wait
        arrived = self._arrived
        assert arrived is not None
        while True:
            # Cleared before looking: a push in between sets it again (same loop).
            arrived.clear()
            with self._lock:
                ready = [u for u in self._updates if u["update_id"] >= offset]
            left = deadline - time.monotonic()
            if ready or left <= 0:
                return ready
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), left)


def _ok(result: Any) -> web.Response:
    return _answer({"ok": True, "result": result})


def _answer(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


@pytest.fixture
def bot_api() -> Iterator[FakeBotApi]:
    server = FakeBotApi()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return TOKEN_ENV


class StubHost:
    """A control socket answering as a host would, recording each request (no engine).

    ``flatten`` hands out a token on the first call and acts on the second,
    as the host does; ``answers`` maps other commands to their results.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.requests: list[dict[str, Any]] = []
        self.state = "running"
        self.tokens: set[str] = set()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def commands(self) -> list[str]:
        with self._lock:
            return [r["cmd"] for r in self.requests]

    def start(self) -> None:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            server = loop.run_until_complete(asyncio.start_unix_server(self._serve, self.path))
            ready.set()
            loop.run_forever()
            server.close()
            loop.run_until_complete(server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(10)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def answer(self, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
        if cmd == "status":
            return {
                "ok": True,
                "result": {
                    "profile": "stub",
                    "mode": "replay",
                    "state": self.state,
                    "equity": 1000.0,
                    "balance": 1000.0,
                    "positions": 1,
                    "open_orders": 0,
                    "risk_pct": 0.5,
                    "quarantined": [],
                    "pending": [],
                },
            }
        if cmd in ("pause", "resume", "halt"):
            self.state = {"pause": "reducing", "resume": "running", "halt": "halted"}[cmd]
            return {"ok": True, "result": {"queued": cmd, "applies": "at the host's next step"}}
        if cmd == "flatten":
            token = args.get("confirm")
            if token is None:
                self.tokens.add("feedbeef")
                return {
                    "ok": True,
                    "result": {
                        "confirm": "feedbeef",
                        "expires_in_s": 60.0,
                        "would_close": ["BTCUSDT"],
                    },
                }
            if token not in self.tokens:
                return {"ok": False, "error": "confirmation token unknown, used or expired"}
            self.tokens.discard(token)
            return {
                "ok": True,
                "result": {"queued": "flatten", "applies": "at the host's next step"},
            }
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        request = json.loads(line)
        with self._lock:
            self.requests.append(request)
        reply = self.answer(request["cmd"], request.get("args", {}))
        writer.write(json.dumps({"v": 1, **reply}).encode() + b"\n")
        await writer.drain()
        writer.close()


@pytest.fixture
def stub_host(tmp_path: Any) -> Iterator[StubHost]:
    host = StubHost(str(tmp_path / "ctl.sock"))
    host.start()
    try:
        yield host
    finally:
        host.stop()
