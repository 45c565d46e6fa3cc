"""The console against a fake host answering canned JSON: layout snapshots and behaviour.

The fake host is a real Unix socket served from a thread (``canned.py``);
its answers are fixed, the terminal size is fixed and no screen shows a
clock, so the SVG snapshots pin each main screen's layout exactly
(``pytest --snapshot-update`` rewrites them after a deliberate change).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from garrison.console.app import SCREENS, ConsoleApp
from garrison.console.model import HostTarget
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

SIZE = (140, 44)


def in_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in its own event loop (the suite has no async plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


@pytest.fixture
def fake(canned: ModuleType, tmp_path: Path) -> Iterator[Any]:
    with canned.FakeHost(tmp_path / "host.sock") as host:
        yield host


def console(fake: Any) -> ConsoleApp:
    # The fake host streams its answers once an hour: the first one at once.
    return ConsoleApp([HostTarget("demo", fake.path)], period_s=3600.0)


async def polled(pilot: Pilot[None], polls: int = 1) -> None:
    app = pilot.app
    assert isinstance(app, ConsoleApp)
    for _ in range(400):
        if app.polls >= polls:
            break
        await pilot.pause(0.02)
    else:
        raise AssertionError(f"the console showed {app.polls} snapshots, not {polls}")
    await pilot.pause()


def shown_on(tab: str) -> Callable[[Pilot[None]], Any]:
    async def run_before(pilot: Pilot[None]) -> None:
        await polled(pilot)
        app = pilot.app
        assert isinstance(app, ConsoleApp)
        await pilot.press(str([t for t, _title, _view in SCREENS].index(tab) + 1))
        if tab == "charts":  # showing the charts fetches their data
            for _ in range(400):
                if app.chart_fetches:
                    break
                await pilot.pause(0.02)
        await pilot.pause(0.1)

    return run_before


@pytest.mark.parametrize("tab", [t for t, _title, _view in SCREENS])
def test_screen_layout(tab: str, fake: Any, snap_compare: Any) -> None:
    assert snap_compare(console(fake), terminal_size=SIZE, run_before=shown_on(tab))


def text_of(app: ConsoleApp, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


@in_loop
async def test_halt_asks_first_and_no_sends_nothing(fake: Any) -> None:
    app = console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await polled(pilot)
        await pilot.press("h")
        await pilot.pause()
        assert type(app.screen).__name__ == "Confirm"
        await pilot.press("n")
        await pilot.pause()
        assert "halt" not in fake.commands()
        await pilot.press("h")
        await pilot.pause()
        await pilot.press("enter")  # the focus is on "No": Enter alone is safe
        await pilot.pause()
        assert "halt" not in fake.commands()
        await pilot.press("h", "y")
        await pilot.pause(0.2)
    assert [r for r in fake.received if r["cmd"] == "halt"] == [
        {"v": 1, "cmd": "halt", "args": {"reason": "console"}}
    ]


@in_loop
async def test_flatten_sends_the_hosts_token_only_when_confirmed(fake: Any) -> None:
    app = console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await polled(pilot)
        await pilot.press("2")
        await pilot.pause()
        table = app.query_one("#positions-table", DataTable)
        table.move_cursor(row=1)  # ETHUSDT
        await pilot.press("f")
        await pilot.pause(0.2)
        assert "ETHUSDT" in str(app.screen.query_one("#question").render())
        await pilot.press("n")
        await pilot.pause(0.2)
        await pilot.press("F", "y")
        await pilot.pause(0.2)
    flattens = [r["args"] for r in fake.received if r["cmd"] == "flatten"]
    assert flattens == [
        {"symbol": "ETHUSDT"},
        {"all": True},
        {"all": True, "confirm": "feedbeef"},
    ]


@in_loop
async def test_risk_set_and_swap_ask_for_values(fake: Any) -> None:
    app = console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await polled(pilot)
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"0.25", "enter")  # the current value is selected: typing replaces it
        await pilot.pause(0.2)
        await pilot.press("w")  # not on the plugins screen: nothing asked, nothing sent
        await pilot.pause()
        assert type(app.screen).__name__ != "Ask"
        await pilot.press("4")
        await pilot.pause()
        await pilot.press("w")  # bad_scorer (a scorer) is under the cursor
        await pilot.pause()
        await pilot.press(*"river", "enter")
        await pilot.pause(0.2)
        table = app.query_one("#components-table", DataTable)
        table.move_cursor(row=1)  # fixed_risk: a sizer does not swap
        await pilot.press("w")
        await pilot.pause()
        assert type(app.screen).__name__ != "Ask"
    sent = {r["cmd"]: r["args"] for r in fake.received if r["cmd"] in ("risk_set", "swap")}
    assert sent == {
        "risk_set": {"risk_pct": 0.25},
        "swap": {"kind": "scorer", "use": "bad_scorer", "plugin": "river"},
    }


@in_loop
async def test_enable_and_disable_act_on_the_strategy_under_the_cursor(fake: Any) -> None:
    app = console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await polled(pilot)
        await pilot.press("d")  # not on the plugins screen: nothing sent
        await pilot.press("4")
        await pilot.pause()
        # Each strategy's plugin and whether it is enabled; other kinds leave them empty.
        table = app.query_one("#components-table", DataTable)
        shown = {
            str(table.get_row_at(r)[0]): [str(c) for c in table.get_row_at(r)[2:4]]
            for r in range(table.row_count)
        }
        assert shown == {
            "bad_scorer": ["river", ""],
            "fixed_risk": ["", ""],
            "max_drawdown": ["", ""],
            "pullback": ["pullback", "no"],
            "turtle": ["turtle", "yes"],
        }
        await pilot.press("e")  # bad_scorer is under the cursor: a scorer is not enabled
        await pilot.pause(0.2)
        table.move_cursor(row=table.get_row_index("pullback"))
        await pilot.press("e")
        await pilot.pause(0.2)
        assert app.reply == "strategy_enable: accepted, applies at the host's next step"
        table.move_cursor(row=table.get_row_index("turtle"))
        await pilot.press("d")
        await pilot.pause(0.2)
    sent = [(r["cmd"], r["args"]) for r in fake.received if r["cmd"].startswith("strategy_")]
    assert sent == [
        ("strategy_enable", {"name": "pullback"}),
        ("strategy_disable", {"name": "turtle"}),
    ]


@in_loop
async def test_reload_asks_first_and_shows_the_hosts_refusal_in_full(
    fake: Any, canned: ModuleType
) -> None:
    app = console(fake)
    async with app.run_test(size=SIZE) as pilot:
        await polled(pilot)
        await pilot.press("R")
        await pilot.pause()
        assert type(app.screen).__name__ == "Confirm"
        await pilot.press("enter")  # the focus is on "No"
        await pilot.pause()
        assert "reload" not in fake.commands()
        await pilot.press("R")
        await pilot.pause()
        await pilot.press("y")
        for _ in range(100):
            if type(app.screen).__name__ == "Notice":
                break
            await pilot.pause(0.02)
        assert type(app.screen).__name__ == "Notice"
        assert app.reply == f"reload refused: {canned.RELOAD_REFUSED}"
        assert canned.RELOAD_REFUSED in str(app.screen.query_one("#notice", Static).content)
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ != "Notice"
    assert fake.commands().count("reload") == 1


@in_loop
async def test_a_host_that_goes_shows_disconnected_and_is_picked_up_again(
    canned: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "host.sock"
    first = canned.FakeHost(path).__enter__()
    app = ConsoleApp([HostTarget("demo", path)], period_s=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await polled(pilot)
        assert "connected" in text_of(app, "#hostbar")
        first.__exit__(None, None, None)
        for _ in range(200):
            await pilot.pause(0.05)
            if "no host is running" in text_of(app, "#hostbar"):
                break
        # First the lost connection, then, retrying, the missing socket.
        assert "disconnected: no host is running" in text_of(app, "#hostbar")
        # The last known figures stay on screen meanwhile.
        assert app.query_one("#overview-positions", DataTable).row_count == 2
        with canned.FakeHost(path):
            for _ in range(200):
                await pilot.pause(0.05)
                if "disconnected" not in text_of(app, "#hostbar"):
                    break
            assert "connected" in text_of(app, "#hostbar")


@in_loop
async def test_several_hosts_switch_by_key(canned: ModuleType, tmp_path: Path) -> None:
    with canned.FakeHost(tmp_path / "a.sock") as a, canned.FakeHost(tmp_path / "b.sock") as b:
        app = ConsoleApp([HostTarget("alpha", a.path), HostTarget("beta", b.path)], period_s=3600.0)
        async with app.run_test(size=SIZE) as pilot:
            await polled(pilot)
            assert "alpha [1/2" in text_of(app, "#hostbar")
            await pilot.press("n")
            await polled(pilot, 2)
            assert "beta [2/2" in text_of(app, "#hostbar")
            await pilot.press("p")
            await pilot.pause(0.2)
        assert "pause" in b.commands()
        assert "pause" not in a.commands()


@in_loop
async def test_a_host_on_another_machine_is_followed_read_only(
    canned: ModuleType, redis: Any
) -> None:
    """Published through Redis from elsewhere: every screen fills, every action is refused."""
    from garrison.control.host import STREAMABLE
    from garrison.follow.beacon import RedisBeacon
    from garrison.follow.directory import RedisDirectory

    answers = canned.answers()

    async def snapshot(topics: Any) -> dict[str, Any]:
        return {topic: answers[topic] for topic in topics}

    async def note(*_said: Any) -> None:
        return None

    far = RedisBeacon(
        redis.url,
        None,
        prefix="layout",
        every_s=0.2,
        profile="demo",
        control_socket="/run/garrison/demo.sock",
        topics=STREAMABLE,
        machine="far-away-box",
    )
    publishing = asyncio.create_task(far.run(snapshot, note))
    directory = RedisDirectory(redis.url, prefix="layout")
    try:
        target = HostTarget("demo@far-away-box", host_id="demo@far-away-box")
        app = ConsoleApp([target], period_s=0.2, directory=directory)
        async with app.run_test(size=SIZE) as pilot:
            await polled(pilot)
            bar = text_of(app, "#hostbar")
            assert "demo@far-away-box via Redis, read-only" in bar
            assert "connected" in bar
            assert app.query_one("#overview-positions", DataTable).row_count == 2
            await pilot.press("p")
            for _ in range(100):
                await pilot.pause(0.05)
                if app.reply:
                    break
            assert app.reply.startswith("pause refused: demo@far-away-box is followed")
            assert "far-away-box" in app.reply
    finally:
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)
        await far.withdraw()
