"""The ``telegram`` notifier: rate-limited alerts out, allow-listed operator commands in."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from garrison_api import ComponentServices, Event, Level
from garrison_api.control import control_request

from garrison_telegram.commands import CommandRouter
from garrison_telegram.formatting import esc, event_message, suppressed_line, table
from garrison_telegram.limits import RateLimiter
from garrison_telegram.params import TelegramParams
from garrison_telegram.priority import Priority, priority_of, windows

if TYPE_CHECKING:
    # aiogram (and pydantic under it) costs a host about 120 MB: imported only
    # once the notifier starts, never because the plugin was discovered.
    from aiogram.types import Update

    from garrison_telegram.link import TelegramLink

#: The storage key of the critical latch (kept across restarts).
LATCH_KEY = "critical_latch"

#: How long a control request may take: the host waits up to 30 s for its engine.
CONTROL_TIMEOUT_S = 35.0

#: The longest text of a refused message kept in the journal.
MAX_REFUSED_TEXT = 200


class TelegramSendError(RuntimeError):
    """Telegram did not take a message; the text never holds the bot token."""


class TelegramNotifier:
    """Sends events to Telegram chats and answers commands from allow-listed users.

    ``start(services)`` reads the bot token from the environment variable
    ``token_env`` names (never from the profile, never logged), restores the
    critical latch and starts the plugin's own thread, which long-polls the
    Bot API for commands (when ``commands`` is true) and sends the hourly
    heartbeat. ``notify`` decides by priority and rate limit and hands what
    goes out to that thread. Commands act through the host's control API;
    a command from a user not in ``allowed_users`` is ignored and journaled
    as a ``telegram.refused`` event.
    """

    Params: ClassVar[type[TelegramParams]] = TelegramParams

    def __init__(
        self,
        params: TelegramParams | None = None,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.params = params if params is not None else TelegramParams()
        self._wall = wall
        self._monotonic = monotonic
        self._services: ComponentServices | None = None
        self._link: TelegramLink | None = None
        self.limiter = RateLimiter(
            windows(self.params), latch_s=self.params.critical_latch_hours * 3600.0
        )
        self.router = CommandRouter(
            self._request, confirm_ttl_s=self.params.confirm_ttl_s, now=monotonic
        )

    def __repr__(self) -> str:
        return f"TelegramNotifier(chat_ids={self.params.chat_ids!r})"

    # -- life cycle ----------------------------------------------------------------

    def start(self, services: ComponentServices) -> None:
        """Read the token, restore the latch and start the plugin's thread."""
        from aiogram.utils.token import TokenValidationError, validate_token

        from garrison_telegram.link import TelegramLink

        name = self.params.token_env
        token = os.environ.get(name, "").strip()
        if not token:
            raise RuntimeError(
                f"telegram: the environment variable {name} (token_env) holding the bot token "
                "is not set or empty"
            )
        try:
            validate_token(token)
        except TokenValidationError:
            raise RuntimeError(
                f"telegram: the environment variable {name} does not hold a bot token "
                "(expected <bot id>:<secret>, as BotFather gives it)"
            ) from None
        self._services = services
        self.limiter = RateLimiter(
            windows(self.params),
            latch_s=self.params.critical_latch_hours * 3600.0,
            latched=_latched(services.storage.get(LATCH_KEY, {})),
        )
        link = TelegramLink(
            token=token,
            api_base=self.params.api_base,
            request_timeout_s=self.params.request_timeout_s,
        )
        jobs = []
        if self.params.commands:
            jobs.append(self._poll)
        if self.params.heartbeat_every_s > 0 and self.params.chat_ids:
            jobs.append(self._heartbeat)
        link.start(jobs)
        self._link = link

    def stop(self) -> None:
        """Say what the limits still hold back, stop the thread and keep the latch."""
        link, self._link = self._link, None
        if link is None:
            return
        note = suppressed_line(self.limiter.take_suppressed())
        if note and self.params.chat_ids:
            with contextlib.suppress(Exception):
                link.submit(self._send_all(link, f"<i>({esc(note)} before stopping)</i>")).result(
                    timeout=min(3.0, self.params.request_timeout_s)
                )
        link.stop()
        if self._services is not None:
            self._services.storage.set(LATCH_KEY, self.limiter.latched(self._wall()))

    # -- alerts --------------------------------------------------------------------

    async def notify(self, event: Event) -> None:
        """Tell ``event`` to every chat, if its priority's limits have room."""
        link = self._link
        if link is None or not self.params.chat_ids:
            return
        priority = priority_of(event, self.params)
        if priority is None:
            return
        key = f"{event.kind}\n{event.message}" if priority is Priority.CRITICAL else None
        if not self.limiter.admit(priority, self._wall(), key):
            return
        text = event_message(event, priority, self.limiter.take_suppressed())
        future = link.submit(self._send_all(link, text))
        try:
            await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            raise TelegramSendError(
                f"telegram: sending {event.kind} failed: {type(exc).__name__}: {link.redact(exc)}"
            ) from None

    async def _send_all(
        self, link: TelegramLink, text: str, buttons: tuple[tuple[str, str], ...] = ()
    ) -> None:
        for chat in self.params.chat_ids:
            await link.send(chat, text, buttons)

    async def _heartbeat(self, link: TelegramLink) -> None:
        while True:
            await asyncio.sleep(self.params.heartbeat_every_s)
            if not self.limiter.admit(Priority.HEARTBEAT, self._wall()):
                continue
            try:
                status = await self._request("status", {})
                text = table(
                    "💓 Heartbeat",
                    [
                        ("profile", f"{status.get('profile')} ({status.get('mode')})"),
                        ("state", status.get("state")),
                        ("equity", status.get("equity")),
                        ("positions", status.get("positions")),
                    ],
                )
            except Exception as exc:
                text = f"💓 <b>Heartbeat</b>\nthe host's control channel: {esc(exc)}"
            note = suppressed_line(self.limiter.take_suppressed())
            if note:
                text += f"\n<i>({esc(note)} since the last message)</i>"
            with contextlib.suppress(Exception):
                await self._send_all(link, text)

    # -- commands ------------------------------------------------------------------

    async def _request(self, cmd: str, args: Mapping[str, Any]) -> Any:
        path = self.params.control_socket or getattr(self._services, "control_socket", None)
        return await control_request(path, cmd, args, timeout_s=CONTROL_TIMEOUT_S)

    def _emit(self, kind: str, level: Level, message: str, data: Mapping[str, Any]) -> None:
        services = self._services
        if services is None:
            return
        services.emit(
            Event(
                ts=services.clock.now_ms(),
                kind=kind,
                level=level,
                source=services.name,
                message=message,
                data=dict(data),
            )
        )

    async def _poll(self, link: TelegramLink) -> None:
        """Long-poll the Bot API for messages and button presses until cancelled."""
        offset: int | None = None
        failures = 0
        timeout = self.params.poll_timeout_s
        while True:
            try:
                updates = await link.bot.get_updates(
                    offset=offset,
                    timeout=timeout,
                    allowed_updates=["message", "callback_query"],
                    request_timeout=int(timeout + self.params.request_timeout_s),
                )
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 100 == 0:
                    self._emit(
                        "telegram.poll_failed",
                        Level.WARNING,
                        f"telegram: polling for commands failed ({failures} in a row): "
                        f"{type(exc).__name__}: {link.redact(exc)}",
                        {"failures": failures},
                    )
                await asyncio.sleep(min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            failures = 0
            for update in updates:
                offset = update.update_id + 1
                try:
                    await self._on_update(link, update)
                except Exception as exc:
                    self._emit(
                        "telegram.command_failed",
                        Level.ERROR,
                        f"telegram: update {update.update_id} failed: "
                        f"{type(exc).__name__}: {link.redact(exc)}",
                        {"update_id": update.update_id},
                    )

    def allowed(self, user_id: int | None) -> bool:
        """True when ``user_id`` (a Telegram user's ``from.id``) may command the host."""
        return user_id is not None and user_id in self.params.allowed_users

    def _refuse(self, user_id: int | None, chat_id: int | None, what: str, text: str) -> None:
        self._emit(
            "telegram.refused",
            Level.WARNING,
            f"telegram: ignored a {what} from user {user_id} in chat {chat_id} "
            "(not in allowed_users)",
            {
                "user_id": user_id,
                "chat_id": chat_id,
                "what": what,
                "text": text[:MAX_REFUSED_TEXT],
            },
        )

    async def _on_update(self, link: TelegramLink, update: Update) -> None:
        message = update.message
        if message is not None:
            user = message.from_user.id if message.from_user is not None else None
            chat = message.chat.id
            text = message.text or ""
            if not self.allowed(user):
                self._refuse(user, chat, "message", text)
                return
            assert user is not None
            reply = await self.router.handle(user, text)
            if reply is None:
                return
            self._journal_command(user, chat, text)
            await link.send(chat, reply.text, reply.buttons)
            return
        query = update.callback_query
        if query is not None:
            presser = query.from_user.id
            where = query.message.chat.id if query.message is not None else None
            data = query.data or ""
            if not self.allowed(presser):
                self._refuse(presser, where, "button", data)
                return
            with contextlib.suppress(Exception):
                await link.bot.answer_callback_query(query.id)
            self._journal_command(presser, where, f"[button] {data}")
            answer = await self.router.handle_button(presser, data)
            await link.send(presser if where is None else where, answer.text, answer.buttons)

    def _journal_command(self, user: int, chat: int | None, text: str) -> None:
        self._emit(
            "telegram.command",
            Level.INFO,
            f"telegram: user {user} sent {text[:MAX_REFUSED_TEXT]!r}",
            {"user_id": user, "chat_id": chat, "text": text[:MAX_REFUSED_TEXT]},
        )


def _latched(value: object) -> dict[str, float]:
    """The stored latch, or nothing when what is stored is not one (never fails a start)."""
    if not isinstance(value, dict):
        return {}
    return {
        str(k): float(v)
        for k, v in value.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }
