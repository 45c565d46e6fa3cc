"""Per-priority rate limits, the critical latch and Markdown-safe formatting.

The burst test sends 1,000 events through the real notifier and the real
aiogram client to the fake Bot API and counts what arrived per priority.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Any

import pytest
from garrison_api import Event, Level
from garrison_api.testing import StubServices
from garrison_telegram import Priority, RateLimiter, TelegramNotifier, TelegramParams, priority_of
from garrison_telegram.formatting import MAX_MESSAGE, event_message
from garrison_telegram.priority import windows

CHAT = 5005
LEVEL_OF = {
    Priority.CRITICAL: Level.CRITICAL,
    Priority.ERROR: Level.ERROR,
    Priority.WARNING: Level.WARNING,
    Priority.INFO: Level.INFO,
    Priority.HEARTBEAT: Level.INFO,
}


class FakeWall:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def event(priority: Priority, i: int, *, same_text: bool = False) -> Event:
    kind = "heartbeat.equity" if priority is Priority.HEARTBEAT else f"test.{priority.value}"
    text = "exchange unreachable" if same_text else f"{priority.value} number {i}"
    return Event(ts=1_758_680_400_000 + i, kind=kind, message=text, level=LEVEL_OF[priority])


def limiter(params: TelegramParams | None = None) -> RateLimiter:
    params = params or TelegramParams()
    return RateLimiter(windows(params), latch_s=params.critical_latch_hours * 3600)


def test_reference_defaults() -> None:
    params = TelegramParams()
    assert windows(params) == {
        Priority.CRITICAL: ((1, 600.0), (6, 3600.0)),
        Priority.ERROR: ((5, 60.0),),
        Priority.WARNING: ((10, 60.0),),
        Priority.INFO: ((60, 60.0),),
        Priority.HEARTBEAT: ((1, 3600.0),),
    }
    assert params.critical_latch_hours == 24.0


def test_sliding_windows_per_priority() -> None:
    limits = limiter()
    t = 1000.0
    assert sum(limits.admit(Priority.ERROR, t + i * 0.1) for i in range(20)) == 5
    assert not limits.admit(Priority.ERROR, t + 59.9)
    assert limits.admit(Priority.ERROR, t + 60.0)  # the first has left the window
    assert sum(limits.admit(Priority.WARNING, t) for _ in range(20)) == 10
    assert sum(limits.admit(Priority.INFO, t) for _ in range(100)) == 60
    assert limits.admit(Priority.HEARTBEAT, t)
    assert not limits.admit(Priority.HEARTBEAT, t + 3599)
    assert limits.admit(Priority.HEARTBEAT, t + 3600)
    held = limits.take_suppressed()
    assert held == {
        Priority.ERROR: 16,
        Priority.WARNING: 10,
        Priority.INFO: 40,
        Priority.HEARTBEAT: 1,
    }
    assert limits.take_suppressed() == {}


def test_critical_one_per_ten_minutes_six_per_hour() -> None:
    limits = limiter()
    sent = [
        t
        for t in range(0, 7200, 60)  # a different critical text every minute for two hours
        if limits.admit(Priority.CRITICAL, float(t), key=f"failure at {t}")
    ]
    assert sent[:6] == [0, 600, 1200, 1800, 2400, 3000]
    # 6 per hour, one per 10 minutes: never more than 6 in any hour.
    for start in range(0, 7200, 60):
        assert sum(start <= t < start + 3600 for t in sent) <= 6


def test_the_same_critical_text_is_sent_once_per_24_hours() -> None:
    limits = limiter()
    hour = 3600.0
    assert limits.admit(Priority.CRITICAL, 0.0, key="feed.stale\nno candles")
    # Long after the 10-minute window, the same text is still latched...
    assert not limits.admit(Priority.CRITICAL, 2 * hour, key="feed.stale\nno candles")
    assert not limits.admit(Priority.CRITICAL, 23.9 * hour, key="feed.stale\nno candles")
    # ... while another text goes.
    assert limits.admit(Priority.CRITICAL, 2 * hour + 1, key="risk.halted\ndrawdown")
    assert limits.admit(Priority.CRITICAL, 24 * hour, key="feed.stale\nno candles")
    # The latch survives a restart through what is stored.
    latched = limits.latched(24 * hour)
    again = RateLimiter(windows(TelegramParams()), latch_s=24 * hour, latched=latched)
    assert not again.admit(Priority.CRITICAL, 25 * hour, key="feed.stale\nno candles")


def test_limits_are_configurable_and_zero_mutes() -> None:
    params = TelegramParams(info_per_minute=0, error_per_minute=2, critical_latch_hours=0)
    limits = limiter(params)
    assert not limits.admit(Priority.INFO, 0.0)
    assert sum(limits.admit(Priority.ERROR, 0.0) for _ in range(5)) == 2
    assert limits.admit(Priority.CRITICAL, 0.0, key="x")
    assert limits.admit(Priority.CRITICAL, 601.0, key="x"), "no latch when its hours are 0"


def test_priorities_from_levels_and_kinds() -> None:
    params = TelegramParams()
    made = {p: priority_of(event(p, 0), params) for p in Priority}
    assert made == {p: p for p in Priority}
    debug = Event(ts=0, kind="x", message="m", level=Level.DEBUG)
    assert priority_of(debug, params) is None
    for kind in ("control.command", "telegram.refused", "telegram.command"):
        muted = Event(ts=0, kind=kind, message="m", level=Level.WARNING)
        assert priority_of(muted, params) is None
    told = TelegramParams(mute_kinds=())
    refused = Event(ts=0, kind="telegram.refused", message="m", level=Level.WARNING)
    assert priority_of(refused, told) is Priority.WARNING
    loud_heartbeat = Event(ts=0, kind="heartbeat.x", message="m", level=Level.ERROR)
    assert priority_of(loud_heartbeat, params) is Priority.ERROR
    assert priority_of(event(Priority.INFO, 0), TelegramParams(min_level="warning")) is None


def test_messages_are_html_safe_and_fit() -> None:
    tricky = Event(
        ts=0,
        kind="plugin.failed",
        message="ValueError: <Signal *bold* _x_ [link](http://a) & `code`>" + "z" * 9000,
        level=Level.ERROR,
        source="turtle<script>",
        data={f"k{i}": "<b>" for i in range(40)},
    )
    text = event_message(tricky, Priority.ERROR, {Priority.WARNING: 12, Priority.INFO: 1})
    assert len(text) <= MAX_MESSAGE
    assert "&lt;Signal *bold* _x_ [link](http://a) &amp; `code`&gt;" in text
    assert "turtle&lt;script&gt;" in text
    assert "<script>" not in text
    # Only the formatter's own tags are left unescaped.
    assert set(re.findall(r"</?([a-z]+)>", text)) <= {"b", "i", "code"}
    assert "12 warnings, 1 info suppressed by the rate limits" in text
    assert "20 more" in text


def test_a_burst_of_1000_events_respects_every_limit(
    bot_api: Any, token_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    wall = FakeWall()
    params = TelegramParams(
        token_env=token_env,
        chat_ids=(CHAT,),
        api_base=bot_api.url,
        commands=False,
        heartbeat_every_s=0,
    )
    notifier = TelegramNotifier(params, wall=wall)
    services = StubServices("telegram", mode="live")
    notifier.start(services)
    order = list(Priority)
    # 200 of each priority, interleaved; the criticals all alike (the latch's case).
    burst = [
        event(order[i % 5], i, same_text=order[i % 5] is Priority.CRITICAL) for i in range(1000)
    ]

    async def tell() -> None:
        for item in burst:
            await asyncio.wait_for(notifier.notify(item), 10)

    try:
        asyncio.run(tell())
        sent = bot_api.messages()
        # A minute later the per-minute windows have room again; the rest do not.
        wall.now += 61
        asyncio.run(tell())
        sent_later = bot_api.messages()[len(sent) :]
    finally:
        notifier.stop()
    per_priority = Counter(_priority(m["text"]) for m in sent)
    later = Counter(_priority(m["text"]) for m in sent_later)
    offered = Counter(order[i % 5] for i in range(1000))
    with capsys.disabled():
        print(
            "\nburst of 1000 events (200 per priority) -> sent per priority: "
            + ", ".join(f"{p.value} {per_priority[p]}/{offered[p]}" for p in Priority)
            + f"; total {len(sent)} messages"
            + "\nthe same burst 61 s later -> "
            + ", ".join(f"{p.value} {later[p]}" for p in Priority)
        )
    assert per_priority == {
        Priority.CRITICAL: 1,
        Priority.ERROR: 5,
        Priority.WARNING: 10,
        Priority.INFO: 60,
        Priority.HEARTBEAT: 1,
    }
    assert later == {Priority.ERROR: 5, Priority.WARNING: 10, Priority.INFO: 60}
    assert {m["chat_id"] for m in sent} == {CHAT}
    assert all(m["parse_mode"] == "HTML" for m in sent)
    # What was held back is counted and told in the next message that goes out.
    assert notifier.limiter.suppressed_total[Priority.INFO] == 400 - 120
    assert any("suppressed by the rate limits" in m["text"] for m in sent[1:])
    # The last summary went out when the notifier stopped.
    assert "before stopping" in bot_api.texts()[-1]


def _priority(text: str) -> Priority | None:
    for priority in Priority:
        if f"<b>{priority.value.upper()}</b>" in text:
            return priority
    return None
