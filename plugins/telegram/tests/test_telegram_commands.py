"""Commands through the real aiogram client, against the fake Bot API and a stub control socket.

The user allow-list, the journaling of refusals, the confirmation of
destructive commands and the bot token's secrecy. The same against a real
host running a replay is in test_telegram_host.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from garrison_api import Level
from garrison_api.testing import StubServices
from garrison_telegram import TelegramNotifier, TelegramParams

OPERATOR = 1001
OTHER_OPERATOR = 1002
STRANGER = 6666
CHAT = 5005


@pytest.fixture
def running(
    bot_api: Any, stub_host: Any, token_env: str
) -> Iterator[tuple[TelegramNotifier, StubServices]]:
    params = TelegramParams(
        token_env=token_env,
        chat_ids=(CHAT,),
        allowed_users=(OPERATOR, OTHER_OPERATOR),
        api_base=bot_api.url,
        poll_timeout_s=1,
        heartbeat_every_s=0,
    )
    notifier = TelegramNotifier(params)
    services = StubServices("telegram", mode="paper", control_socket=stub_host.path)
    notifier.start(services)
    try:
        yield notifier, services
    finally:
        notifier.stop()


def wait_events(services: StubServices, kind: str, n: int = 1, timeout: float = 20.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in list(services.events) if e.kind == kind]
        if len(found) >= n:
            return found
        time.sleep(0.02)
    raise AssertionError(f"no {kind} event; events: {[e.kind for e in services.events]}")


def test_a_foreign_users_commands_are_ignored_and_journaled(
    running: tuple[TelegramNotifier, StubServices], bot_api: Any, stub_host: Any
) -> None:
    _, services = running
    # The stranger writes from the operator's own chat: the chat id is not what counts.
    for text in ("/halt", "/pause", "/flatten all", "/status"):
        bot_api.push_message(STRANGER, text, chat_id=CHAT)
    bot_api.push_button(STRANGER, "confirm:feedbeef")
    refused = wait_events(services, "telegram.refused", 5)
    assert [e.data["user_id"] for e in refused] == [STRANGER] * 5
    assert [e.data["text"] for e in refused] == [
        "/halt",
        "/pause",
        "/flatten all",
        "/status",
        "confirm:feedbeef",
    ]
    assert {e.data["chat_id"] for e in refused} == {CHAT}
    assert all(e.level is Level.WARNING and e.source == "telegram" for e in refused)
    # Then the operator asks: only the operator's command reaches the host.
    bot_api.push_message(OPERATOR, "/status")
    assert "stub (replay)" in bot_api.wait_reply("Status")
    assert stub_host.commands() == ["status"]
    assert stub_host.state == "running"
    assert len(bot_api.messages()) == 1, "nothing was sent to the stranger"
    assert bot_api.answered == [], "the stranger's button press got no answer"
    print(f"\nrefused {len(refused)} updates from user {STRANGER}; host saw {stub_host.commands()}")


def test_halt_needs_the_same_users_confirmation(
    running: tuple[TelegramNotifier, StubServices], bot_api: Any, stub_host: Any
) -> None:
    _, services = running
    bot_api.push_message(OPERATOR, "/halt")
    asked = bot_api.wait_reply("Halt trading?")
    assert stub_host.commands() == [], "halt must not reach the host before confirmation"
    token = asked.split("/confirm ")[1].split("<")[0]
    markup = bot_api.messages()[-1]["reply_markup"]
    datas = [b["callback_data"] for b in markup["inline_keyboard"][0]]
    assert datas == [f"confirm:{token}", f"cancel:{token}"]
    # Another allow-listed user cannot confirm it; a wrong token does nothing.
    seen = len(bot_api.messages())
    bot_api.push_message(OTHER_OPERATOR, f"/confirm {token}")
    bot_api.wait_reply("Only the user who asked", after=seen)
    bot_api.push_message(OPERATOR, "/confirm 00000000")
    bot_api.wait_reply("unknown, used or expired", after=seen)
    assert stub_host.commands() == []
    # The button confirms.
    bot_api.push_button(OPERATOR, f"confirm:{token}")
    bot_api.wait_reply("✅ halt", after=seen)
    assert stub_host.commands() == ["halt"]
    assert stub_host.requests[-1]["args"] == {"reason": f"telegram user {OPERATOR}"}
    assert stub_host.state == "halted"
    # A token acts once.
    seen = len(bot_api.messages())
    bot_api.push_message(OPERATOR, f"/confirm {token}")
    bot_api.wait_reply("unknown, used or expired", after=seen)
    assert stub_host.commands() == ["halt"]
    commands = wait_events(services, "telegram.command", 4)
    assert all(e.data["user_id"] in (OPERATOR, OTHER_OPERATOR) for e in commands)


def test_flatten_passes_the_hosts_token_back_only_when_confirmed(
    running: tuple[TelegramNotifier, StubServices], bot_api: Any, stub_host: Any
) -> None:
    bot_api.push_message(OPERATOR, "/flatten btcusdt")
    asked = bot_api.wait_reply("Close BTCUSDT at market?")
    assert "/confirm feedbeef" in asked
    assert [r["args"] for r in stub_host.requests] == [{"symbol": "BTCUSDT"}]
    seen = len(bot_api.messages())
    bot_api.push_button(OPERATOR, "cancel:feedbeef")
    bot_api.wait_reply("Dropped: flatten BTCUSDT", after=seen)
    assert len(stub_host.requests) == 1
    bot_api.push_message(OPERATOR, "/flatten all")
    bot_api.wait_reply("Close BTCUSDT at market?", after=seen)
    bot_api.push_message(OPERATOR, "/confirm feedbeef")
    bot_api.wait_reply("✅ flatten BTCUSDT", after=seen)
    assert [r["args"] for r in stub_host.requests] == [
        {"symbol": "BTCUSDT"},
        {"all": True},
        {"all": True, "confirm": "feedbeef"},
    ]


def test_other_commands_help_and_errors(
    running: tuple[TelegramNotifier, StubServices], bot_api: Any, stub_host: Any
) -> None:
    bot_api.push_message(OPERATOR, "/help@garrison_bot")
    help_text = bot_api.wait_reply("Garrison commands")
    for name in ("status", "positions", "balance", "stats", "pause", "resume", "halt"):
        assert f"/{name}" in help_text
    assert "/flatten SYMBOL|all" in help_text
    assert "/phantom" in help_text
    seen = len(bot_api.messages())
    bot_api.push_message(OPERATOR, "/balance")
    # The stub host does not know `equity`: the host's refusal is shown, escaped.
    refused = bot_api.wait_reply("refused", after=seen)
    assert "The host refused /balance: unknown command 'equity'" in refused
    bot_api.push_message(OPERATOR, "/nonsense <b>")
    assert "Unknown command /nonsense" in bot_api.wait_reply("Unknown command", after=seen)
    bot_api.push_message(OPERATOR, "hello there")  # plain text: no answer
    bot_api.push_message(OPERATOR, "/pause")
    bot_api.wait_reply("Pause", after=seen)
    assert stub_host.state == "reducing"
    assert all(m["parse_mode"] == "HTML" for m in bot_api.messages())
    assert not any("hello" in t for t in bot_api.texts())


def test_the_token_is_never_shown(
    running: tuple[TelegramNotifier, StubServices], bot_api: Any, token_env: str
) -> None:
    notifier, services = running
    bot_api.push_message(STRANGER, f"/status {bot_api.token}")  # even if someone pastes it
    wait_events(services, "telegram.refused")
    assert bot_api.tokens == {bot_api.token}, "the client used the configured token"
    secret = bot_api.token.partition(":")[2]
    shown = [repr(notifier), repr(notifier.params), str(notifier.params)]
    shown += [e.message for e in services.events]
    assert not any(secret in text for text in shown[:3])
    assert token_env in repr(notifier.params)


def test_a_missing_or_malformed_token_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, bot_api: Any
) -> None:
    monkeypatch.delenv("GARRISON_TEST_TELEGRAM_TOKEN", raising=False)
    params = TelegramParams(token_env="GARRISON_TEST_TELEGRAM_TOKEN", api_base=bot_api.url)
    with pytest.raises(RuntimeError, match=r"GARRISON_TEST_TELEGRAM_TOKEN .* is not set"):
        TelegramNotifier(params).start(StubServices("telegram"))
    monkeypatch.setenv("GARRISON_TEST_TELEGRAM_TOKEN", "not a token secret-xyz")
    with pytest.raises(RuntimeError, match="does not hold a bot token") as caught:
        TelegramNotifier(params).start(StubServices("telegram"))
    assert "secret-xyz" not in str(caught.value)


def test_commands_without_a_control_channel_say_so(
    bot_api: Any, token_env: str, tmp_path: Any
) -> None:
    params = TelegramParams(
        token_env=token_env,
        allowed_users=(OPERATOR,),
        api_base=bot_api.url,
        poll_timeout_s=1,
    )
    notifier = TelegramNotifier(params)
    notifier.start(StubServices("telegram"))  # a host serving no control channel
    try:
        bot_api.push_message(OPERATOR, "/status")
        assert "serves no control channel" in bot_api.wait_reply("did not answer /status")
    finally:
        notifier.stop()
