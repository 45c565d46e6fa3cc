"""The plugin's own thread and event loop, holding the aiogram bot.

The host calls ``start``/``stop`` on its engine thread and ``notify`` on a
notifier thread of its own; neither may be blocked by Telegram. So the bot,
its HTTP session, the long polling of commands and the heartbeat all live on
one loop in a thread of the plugin's own; ``notify`` hands its sends to that
loop and awaits them from its own.

The bot token lives in the aiogram ``Bot`` only: it is in every request URL,
so any error text is passed through :meth:`TelegramLink.redact` before it
goes anywhere.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

T = TypeVar("T")

#: A job run on the link's loop from start to stop (polling, heartbeat).
Job = Callable[["TelegramLink"], Awaitable[None]]

#: How long ``stop`` waits for the thread to end, in seconds.
STOP_WAIT_S = 10.0


class TelegramLink:
    """One bot on one loop in one thread. ``start(jobs)``, ``submit(...)``, ``stop()``."""

    def __init__(self, *, token: str, api_base: str, request_timeout_s: float) -> None:
        self._token = token
        self._api_base = api_base
        self._timeout = request_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bot: Bot | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"TelegramLink(api_base={self._api_base!r})"  # never the token

    @property
    def bot(self) -> Bot:
        if self._bot is None:
            raise RuntimeError("the Telegram link is not started")
        return self._bot

    def redact(self, text: object) -> str:
        """``text`` with the bot token (and its secret half) replaced by ``<token>``."""
        out = str(text)
        secret = self._token.partition(":")[2]
        for piece in (self._token, secret):
            if piece:
                out = out.replace(piece, "<token>")
        return out

    def start(self, jobs: Sequence[Job]) -> None:
        """Start the thread, build the bot there and run ``jobs`` until :meth:`stop`."""
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run, args=(loop, list(jobs), ready), name="garrison-telegram", daemon=True
        )
        self._thread.start()
        ready.result(timeout=STOP_WAIT_S)

    def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        jobs: list[Job],
        ready: concurrent.futures.Future[None],
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            session = AiohttpSession(
                api=TelegramAPIServer.from_base(self._api_base), timeout=self._timeout
            )
            self._bot = Bot(self._token, session=session)
            self._tasks = [loop.create_task(self._guarded(job)) for job in jobs]
        except BaseException as exc:
            ready.set_exception(RuntimeError(self.redact(exc)))
            loop.close()
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())
            loop.close()

    async def _guarded(self, job: Job) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await job(self)

    async def _shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._bot is not None:
            with contextlib.suppress(Exception):
                await self._bot.session.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the link's loop (from any thread); its future."""
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            raise RuntimeError("the Telegram link is stopped")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    async def send(self, chat_id: int, text: str, buttons: Sequence[tuple[str, str]] = ()) -> None:
        """Send one HTML message (on the link's loop), with inline buttons if any."""
        markup = None
        if buttons:
            row = [InlineKeyboardButton(text=label, callback_data=data) for label, data in buttons]
            markup = InlineKeyboardMarkup(inline_keyboard=[row])
        await self.bot.send_message(
            chat_id=chat_id, text=text, parse_mode="HTML", reply_markup=markup
        )

    def stop(self) -> None:
        """Cancel the jobs, close the HTTP session and join the thread (bounded wait)."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
            thread.join(STOP_WAIT_S)
        self._thread = None
