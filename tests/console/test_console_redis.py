"""The console following several real hosts through Redis.

Two ``garrison run`` replays publish to a real redis-server (their profiles'
``[redis]`` table). The console, given only the Redis address, finds the
first, picks up the second once it publishes, shows each one's live state,
steers a host of this machine through its control socket, and shows a host
that is killed as lost once its snapshot expires. The other host serves on.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from garrison.console import app as console_app
from garrison.console.app import ConsoleApp
from garrison.console.model import HostTarget
from garrison.follow.directory import RedisDirectory
from garrison.follow.keys import host_id

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent

#: Seconds the slow Turtle sleeps per candle: the replays last minutes.
SLEEP_S = 0.0003

PREFIX = "console-test"


@pytest.fixture(scope="module")
def live(script_loader: Any) -> ModuleType:
    """The live console tests' helpers (``until``, ``text_of``, ``SIZE``)."""
    return script_loader("garrison_console_live_helpers", HERE / "test_console_live.py")


def start_host(control_tests: ModuleType, work: Path, name: str, redis_url: str) -> Any:
    """A replay named ``name`` publishing to ``redis_url``; its control-test Host."""
    files = control_tests.real_files()
    site = work / "site"
    if not site.exists():
        control_tests.SLEEP_S = SLEEP_S
        control_tests.install_slow_plugin(site)
    sock = work / f"run-{name}" / "ctl.sock"
    journal = work / f"{name}.sqlite"
    text = control_tests.profile_text(sock, journal, files).replace(
        'name = "control-test"', f'name = "{name}"', 1
    )
    text += f'\n[redis]\nurl = "{redis_url}"\nprefix = "{PREFIX}"\nevery_s = 0.3\n'
    return control_tests.start_host(work, site, text, sock, journal, name)


@pytest.fixture
def hosts(control_tests: ModuleType, redis: Any, tmp_path: Path) -> Iterator[tuple[Any, Any, Any]]:
    """A Redis and two replays publishing to it; (redis, first, a starter of the second)."""
    started: list[Any] = []

    def second() -> Any:
        started.append(start_host(control_tests, tmp_path, "desk-b", redis.url))
        return started[-1]

    try:
        started.append(start_host(control_tests, tmp_path, "desk-a", redis.url))
        yield redis, started[0], second
    finally:
        for host in started:
            control_tests.stop_host(host)


def test_the_console_follows_several_hosts_through_redis(
    hosts: tuple[Any, Any, Any],
    control_tests: ModuleType,
    live: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    redis, first, start_second = hosts
    machine = socket.gethostname()
    first_id, second_id = host_id("desk-a", machine), host_id("desk-b", machine)
    monkeypatch.setattr(console_app, "DISCOVER_S", 0.5)
    directory = RedisDirectory(redis.url, prefix=PREFIX)

    async def scenario() -> None:
        app = ConsoleApp(
            [HostTarget(first_id, host_id=first_id)], period_s=0.3, directory=directory
        )
        async with app.run_test(size=live.SIZE) as pilot:
            await live.until(pilot, "the first snapshot", lambda: app.polls >= 1)
            assert "desk-a (replay)" in live.text_of(app, "#overview-summary")
            assert "connected" in live.text_of(app, "#hostbar")
            # The second host is found once it publishes.
            second = await asyncio.to_thread(start_second)
            await live.until(pilot, "the second host found", lambda: len(app.targets) == 2)
            assert app.targets[1] == HostTarget(second_id, host_id=second_id)
            await pilot.press("n")
            await live.until(
                pilot,
                "the second host's snapshot",
                lambda: "desk-b (replay)" in live.text_of(app, "#overview-summary"),
            )
            assert f"{second_id} via Redis [2/2" in live.text_of(app, "#hostbar")
            # On this machine the host is steered through its own socket.
            await pilot.press("p")
            await live.until(pilot, "the pause applied", live.state_is(second, "reducing"))
            assert first.call("status")["state"] == "running"
            await pilot.press("u")
            await live.until(pilot, "the resume applied", live.state_is(second, "running"))
            # Charts come through the socket as well.
            await pilot.press("7")
            await live.until(
                pilot, "candles of the second host", lambda: app.chart_data.candles.get("candles")
            )
            # Killed without a word: lost once its snapshot expires; the other serves on.
            second.proc.kill()
            second.proc.wait(timeout=60)
            await live.until(
                pilot,
                "the killed host shown as lost",
                lambda: "disconnected" in live.text_of(app, "#hostbar"),
                timeout=30,
            )
            assert "publishes nothing to Redis" in live.text_of(app, "#hostbar")
            await pilot.press("n")
            await live.until(
                pilot,
                "the first host again",
                lambda: (
                    "connected" in live.text_of(app, "#hostbar")
                    and "disconnected" not in live.text_of(app, "#hostbar")
                ),
            )
            await pilot.press("q")
        first.alive()
        assert first.call("status")["profile"] == "desk-a"
        published = first.rows("SELECT message FROM events WHERE kind = 'redis.publishing'")
        assert len(published) == 1
        assert first_id in published[0]["message"]

    asyncio.run(scenario())
