"""The console driven by Textual's pilot against a real ``garrison run`` replay.

Every screen must show the host's live data, and every action must change
the host's state as the control API and the journal then tell. Then the
console is run as its own process in a pseudo-terminal, as over SSH, and
killed (SIGKILL) or hung up (its terminal closed, SIGHUP): the host must go
on serving, its journal intact.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from garrison.console.app import ConsoleApp
from garrison.console.model import HostTarget
from garrison.console.screens.charts import Chart
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

SIZE = (160, 48)

SYMBOLS = ("ADAUSDT", "AVAXUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT")

pytestmark = pytest.mark.slow


def in_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in its own event loop (the suite has no async plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


async def until(
    pilot: Pilot[None], what: str, check: Callable[[], Any], timeout: float = 90.0
) -> Any:
    """Wait, letting the app run, until ``check()`` is true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        await pilot.pause(0.1)
    pytest.fail(f"timed out waiting for {what}")


def text_of(app: ConsoleApp, selector: str) -> str:
    """What a Static shows, as plain text (tables and texts alike)."""
    out = Console(width=200, file=io.StringIO(), record=True)
    out.print(app.query_one(selector, Static).content)
    return out.export_text()


def rows(app: ConsoleApp, table: str) -> int:
    return app.query_one(table, DataTable).row_count


def cells(app: ConsoleApp, table: str) -> list[str]:
    found = app.query_one(table, DataTable)
    return [str(cell) for r in range(found.row_count) for cell in found.get_row_at(r)]


@in_loop
async def test_every_screen_shows_the_hosts_live_data(replay_host: Any) -> None:
    host = replay_host
    app = ConsoleApp([HostTarget("control-test", host.socket)], period_s=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, "the first poll", lambda: app.polls >= 1)
        summary = text_of(app, "#overview-summary")
        assert "control-test (replay)" in summary
        assert "connected" in text_of(app, "#hostbar")
        # Overview and positions: the host's open positions, by symbol.
        await until(pilot, "positions on the overview", lambda: rows(app, "#overview-positions"))
        await pilot.press("2")
        await until(pilot, "the positions table", lambda: rows(app, "#positions-table"))
        held = {p["symbol"] for p in host.call("positions")}
        assert held & set(cells(app, "#positions-table"))
        # Signals: the journal's signals with their outcome.
        await pilot.press("3")
        await until(pilot, "signals", lambda: rows(app, "#signals-table"))
        assert {"SOLUSDT", "BTCUSDT", "ETHUSDT", "ADAUSDT", "AVAXUSDT"} & set(
            cells(app, "#signals-table")
        )
        # Plugins: the run's components and the throwaway plugin with its version.
        await pilot.press("4")
        assert "slow_turtle" in cells(app, "#components-table")
        assert {"slowturtle", "0.1.0"} <= set(cells(app, "#plugins-table"))
        # Risk: the chain in order, with the sizer's bounds.
        await pilot.press("5")
        assert cells(app, "#risk-table")[0] == "trading_state"
        assert "[0.01, 1]" in text_of(app, "#risk-summary")
        # Logs: the journal's events, the console's own commands among them.
        await pilot.press("6")
        await until(
            pilot,
            "the console's commands in the log",
            lambda: "control.command" in cells(app, "#logs-table"),
        )
        # Charts: equity points and a symbol's candles from the engine.
        await pilot.press("7")
        await until(
            pilot,
            "candles and equity points",
            lambda: app.chart_data.candles.get("candles") and len(app.chart_data.equity) >= 2,
        )
        first = app.chart_data.candles["symbol"]
        assert first in app.chart_data.candles["symbols"]
        chart = str(app.query_one("#candles-chart", Chart).render())
        assert f"{first} candles" in chart
        await pilot.press("right_square_bracket")
        await until(
            pilot, "the next symbol's candles", lambda: app.chart_data.candles["symbol"] != first
        )
        assert "Equity (USDT)" in str(app.query_one("#equity-chart", Chart).render())
        await pilot.press("q")
    # The console quit; the host serves on.
    host.alive()
    assert host.call("status")["profile"] == "control-test"


# -- the console's process in a terminal of its own ------------------------------------


def _controlling_tty() -> None:
    """In the child: make the pty (its stdin) the controlling terminal of its new session."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class TerminalConsole:
    """``garrison console`` in a pseudo-terminal, as an operator's SSH session runs it."""

    def __init__(self, host: Any) -> None:
        self.master, slave = os.openpty()
        env = {**host.env, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "garrison.cli.main", "console", "--socket", str(host.socket)],
            cwd=host.profile.parent,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_controlling_tty,
        )
        os.close(slave)
        self.output = b""

    def drain(self) -> None:
        """Read what the console drew so far (a full pty would block it)."""
        with contextlib.suppress(OSError):
            while select.select([self.master], [], [], 0)[0]:
                chunk = os.read(self.master, 65536)
                if not chunk:
                    return
                self.output += chunk

    def hang_up(self) -> None:
        """Close the terminal's master side, as sshd does when the connection drops."""
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def close(self) -> None:
        self.hang_up()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


def console_commands(host: Any, pid: int) -> int:
    return len(
        host.rows(
            "SELECT 1 FROM events WHERE kind = 'control.command' "
            "AND json_extract(data, '$.pid') = ?",
            (pid,),
        )
    )


def journal_counts(host: Any) -> dict[str, int]:
    return {
        table: host.rows(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]
        for table in ("events", "signals", "intents", "orders", "fills", "equity")
    }


def attached(host: Any, control_tests: Any) -> TerminalConsole:
    term = TerminalConsole(host)

    def following() -> bool:
        term.drain()
        if term.proc.poll() is not None:
            pytest.fail(f"the console exited ({term.proc.returncode}): {term.output[-2000:]!r}")
        # Its subscription journaled, and its screen drawn with the host's state.
        drawn = re.search(rb"(?<!dis)connected", term.output) is not None
        return console_commands(host, term.proc.pid) >= 1 and drawn

    control_tests.wait_for("the console to follow the host", following, host)
    return term


def host_unaffected(host: Any, control_tests: Any, before: dict[str, int]) -> None:
    host.alive()
    status = host.call("status")
    assert status["profile"] == "control-test"
    after = journal_counts(host)
    assert all(after[t] >= before[t] for t in before), (before, after)
    assert host.rows("PRAGMA integrity_check")[0][0] == "ok"
    # The host goes on replaying and journaling.
    control_tests.wait_for(
        "the host to move on", lambda: host.call("status")["steps"] > status["steps"], host
    )
    failures = host.rows(
        "SELECT data FROM events WHERE kind = 'control.command' "
        "AND json_extract(data, '$.outcome') LIKE 'failed%'"
    )
    assert failures == []


def test_killing_the_console_leaves_the_host_and_journal_alone(
    replay_host: Any, control_tests: Any
) -> None:
    term = attached(replay_host, control_tests)
    try:
        # Following the host costs its journal one command, not one per query per second.
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            term.drain()
            time.sleep(0.1)
        assert console_commands(replay_host, term.proc.pid) == 1
        before = journal_counts(replay_host)
        term.proc.send_signal(signal.SIGKILL)
        assert term.proc.wait(timeout=30) == -signal.SIGKILL
        host_unaffected(replay_host, control_tests, before)
    finally:
        term.close()


def test_hanging_up_the_consoles_terminal_leaves_the_host_alone(
    replay_host: Any, control_tests: Any
) -> None:
    term = attached(replay_host, control_tests)
    try:
        before = journal_counts(replay_host)
        # The SSH session drops: the terminal's master side closes, and the
        # kernel sends SIGHUP to the session on it, which ends the console.
        term.hang_up()
        assert term.proc.wait(timeout=30) == -signal.SIGHUP
        host_unaffected(replay_host, control_tests, before)
    finally:
        term.close()


# -- actions -------------------------------------------------------------------------


def state_is(host: Any, state: str) -> Callable[[], bool]:
    return lambda: host.call("status")["state"] == state


def applied(host: Any, action: str) -> list[dict[str, Any]]:
    return [
        json.loads(r["data"])
        for r in host.rows(
            "SELECT data FROM events WHERE kind = 'control.applied' "
            "AND json_extract(data, '$.action') = ? ORDER BY seq",
            (action,),
        )
    ]


@in_loop
async def test_every_action_changes_the_hosts_state(replay_host: Any) -> None:
    host = replay_host
    app = ConsoleApp([HostTarget("control-test", host.socket)], period_s=0.3)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, "the first poll", lambda: app.polls >= 1)
        await pilot.press("p")
        await until(pilot, "the pause applied", state_is(host, "reducing"))
        paused = await until(pilot, "the pause journaled", lambda: applied(host, "pause"))
        assert paused[-1]["reason"] == "console"
        await pilot.press("u")
        await until(pilot, "the resume applied", state_is(host, "running"))
        await pilot.press("r")
        await until(pilot, "reducing-only applied", state_is(host, "reducing"))
        await pilot.press("u")
        await until(pilot, "running again", state_is(host, "running"))
        # Risk per trade, within the profile's bounds.
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"0.3", "enter")
        await until(pilot, "the new risk", lambda: host.call("status")["risk_pct"] == 0.3)
        # The plugins screen: enable and disable, swap, all on the row under the cursor.
        await pilot.press("4")
        await pilot.pause()
        await plugins_actions(pilot, app, host)
        await reload_actions(pilot, app, host)
        # Flatten the selected position: the host's token, confirmed in the modal.
        await pilot.press("2")
        before = len(applied(host, "flatten"))
        for _attempt in range(20):
            await until(pilot, "a position", lambda: rows(app, "#positions-table"))
            await pilot.press("f")
            await pilot.pause(0.5)
            if type(app.screen).__name__ != "Confirm":
                continue  # it closed on its own meanwhile: the host said so
            await pilot.press("y")
            await until(
                pilot,
                "the flatten applied",
                lambda seen=before: len(applied(host, "flatten")) > seen,
            )
            if "exit approved" in applied(host, "flatten")[-1]["results"]:
                break
            before = len(applied(host, "flatten"))
        else:
            pytest.fail("no flatten of an open position was approved in 20 attempts")
        # Halt: not confirmed, nothing; confirmed, halted.
        await pilot.press("h")
        await pilot.pause(0.3)
        await pilot.press("n")
        await pilot.pause(0.5)
        assert host.call("status")["state"] == "running"
        await pilot.press("h")
        await pilot.pause(0.3)
        await pilot.press("y")
        await until(pilot, "the halt", state_is(host, "halted"))
        # Flatten all: every position ends closed (nothing reopens while halted).
        if host.call("positions"):
            await pilot.press("F")
            await pilot.pause(0.5)
            if type(app.screen).__name__ == "Confirm":
                await pilot.press("y")
        await until(pilot, "every position closed", lambda: host.call("positions") == [])
        await until(
            pilot,
            "the console to show halted",
            lambda: "halted" in text_of(app, "#hostbar"),
        )
        wanted = {
            "pause",
            "reducing",
            "resume",
            "risk_set",
            "flatten",
            "halt",
            "swap",
            "strategy_enable",
            "strategy_disable",
            "reload",
        }
        await until(pilot, "every action journaled", lambda: wanted <= journaled_commands(host))


def journaled_commands(host: Any) -> set[str]:
    return {
        json.loads(r["data"])["command"]
        for r in host.rows("SELECT data FROM events WHERE kind = 'control.command'")
    }


def applied_at(host: Any, action: str) -> list[tuple[int, dict[str, Any]]]:
    """(step close, data) of every ``control.applied`` event of ``action``, in order."""
    return [
        (int(r["ts"]), json.loads(r["data"]))
        for r in host.rows(
            "SELECT ts, data FROM events WHERE kind = 'control.applied' "
            "AND json_extract(data, '$.action') = ? ORDER BY seq",
            (action,),
        )
    ]


def shown(app: ConsoleApp, name: str) -> list[str]:
    """The cells of component ``name``'s row on the plugins screen."""
    return [str(cell) for cell in app.query_one("#components-table", DataTable).get_row(name)]


def running(host: Any, kind: str, name: str) -> dict[str, Any]:
    """The host's strategy or scorer use ``name``, as its ``plugins`` answer says."""
    uses = host.call("plugins")["strategies" if kind == "strategy" else "scorers"]
    return next(u for u in uses if u["name"] == name)  # type: ignore[no-any-return]


async def plugins_actions(pilot: Pilot[None], app: ConsoleApp, host: Any) -> None:
    """Disable, enable and swap the host's strategy, and swap its scorer, from the console."""
    components = app.query_one("#components-table", DataTable)

    def select(name: str) -> None:
        components.move_cursor(row=components.get_row_index(name))

    await until(
        pilot, "the strategy listed", lambda: "slow_turtle" in cells(app, "#components-table")
    )
    assert shown(app, "slow_turtle")[1:4] == ["strategy", "slow_turtle", "yes"]
    assert shown(app, "shadow")[1:4] == ["scorer", "steady", ""]
    select("slow_turtle")
    await pilot.press("d")
    await until(
        pilot,
        "the strategy disabled",
        lambda: not running(host, "strategy", "slow_turtle")["enabled"],
    )
    journaled = await until(
        pilot, "the disable journaled", lambda: applied(host, "strategy_disable")
    )
    assert journaled[-1]["strategy"] == "slow_turtle"
    await until(pilot, "'no' on the screen", lambda: shown(app, "slow_turtle")[3] == "no")
    select("slow_turtle")
    await pilot.press("e")
    await until(
        pilot, "the strategy enabled", lambda: running(host, "strategy", "slow_turtle")["enabled"]
    )
    journaled = await until(pilot, "the enable journaled", lambda: applied(host, "strategy_enable"))
    assert journaled[-1]["strategy"] == "slow_turtle"
    await until(pilot, "'yes' on the screen", lambda: shown(app, "slow_turtle")[3] == "yes")
    # A plugin that is not installed: refused, naming the installed ones; nothing changes.
    select("slow_turtle")
    await pilot.press("w")
    await pilot.pause()
    await pilot.press(*"no_such_strategy", "enter")
    await until(pilot, "the host's answer to swap", lambda: app.reply.startswith("swap"))
    assert app.reply.startswith("swap refused: ")
    assert "no_such_strategy" in app.reply
    assert "slow_turtle_too" in app.reply
    assert applied(host, "swap") == []
    # An installed strategy: it decides under the use's name from the next step.
    select("slow_turtle")
    await pilot.press("w")
    await pilot.pause()
    await pilot.press(*"slow_turtle_too", "enter")
    swaps = await until(pilot, "the strategy swap applied", lambda: applied_at(host, "swap"))
    swapped_at, data = swaps[-1]
    assert data == {**data, "kind": "strategy", "use": "slow_turtle", "plugin": "slow_turtle_too"}
    assert running(host, "strategy", "slow_turtle") == {
        "name": "slow_turtle",
        "plugin": "slow_turtle_too",
        "enabled": True,
        "quarantined": False,
    }
    await until(
        pilot,
        "the new plugin on the screen",
        lambda: shown(app, "slow_turtle")[2] == "slow_turtle_too",
    )
    # The scorer under the cursor likewise; swapped, it is listed under the name its
    # scores are journaled as, and swapping it back from that row names the use.
    for plugin, listed in (("steady_too", "shadow/steady_too"), ("steady", "shadow")):
        seen = len(applied(host, "swap"))
        select("shadow" if plugin == "steady_too" else "shadow/steady_too")
        await pilot.press("w")
        await pilot.pause()
        await pilot.press(*plugin, "enter")
        await until(
            pilot, f"the scorer swap to {plugin}", lambda n=seen: len(applied(host, "swap")) > n
        )
        data = applied(host, "swap")[-1]
        assert data == {**data, "kind": "scorer", "use": "shadow", "plugin": plugin}
        assert running(host, "scorer", "shadow")["plugin"] == plugin
        assert running(host, "scorer", "shadow")["journaled_as"] == listed
        await until(
            pilot,
            f"{listed} on the screen",
            lambda p=plugin, n=listed: (
                n in cells(app, "#components-table") and shown(app, n)[1:3] == ["scorer", p]
            ),
        )
    # The charts still read the swapped-in strategy's series as the replay goes on
    # (the pacer reads BTCUSDT only: the other four are the slow Turtle's alone).
    await pilot.press("7")
    await until(
        pilot,
        "candles after the swap",
        lambda: (
            app.chart_data.candles.get("candles")
            and app.chart_data.candles["candles"][-1][0] >= swapped_at
        ),
    )
    assert app.chart_data.candles["symbols"] == sorted(SYMBOLS)
    assert app.chart_data.candles["symbol"] != "BTCUSDT"
    await pilot.press("4")
    await pilot.pause()


async def reload_actions(pilot: Pilot[None], app: ConsoleApp, host: Any) -> None:
    """Reload, confirmed: nothing to do, an edit applied, then an edit refused and shown."""
    await pilot.press("R")
    await pilot.pause(0.3)
    await pilot.press("y")
    await until(pilot, "the host's answer to reload", lambda: app.reply.startswith("reload"))
    assert app.reply == "reload: nothing: the profile file has not changed since it was last read"
    text = host.profile.read_text()
    host.profile.write_text(text.replace("max_pct = 100.0", "max_pct = 90.0"))
    app.reply = ""
    await pilot.press("R")
    await pilot.pause(0.3)
    await pilot.press("y")
    await until(pilot, "the reload applied", lambda: applied(host, "reload"))
    assert applied(host, "reload")[-1]["changes"] == "risk rules stop_distance"
    rules = {r["stage"]: r["params"] for r in host.call("risk")["rules"]}
    assert rules["stop_distance"]["max_pct"] == 90.0
    # The operator's own risk per trade stays: the file's sizer params did not change.
    assert host.call("status")["risk_pct"] == 0.3
    host.profile.write_text(
        text.replace("max_pct = 100.0", "max_pct = 90.0").replace(
            "leverage = 100.0", "leverage = 50.0"
        )
    )
    await pilot.press("R")
    await pilot.pause(0.3)
    await pilot.press("y")
    await until(pilot, "the refusal shown", lambda: type(app.screen).__name__ == "Notice")
    assert app.reply.startswith("reload refused: ")
    assert "cannot change while the host runs: account.leverage" in app.reply
    await pilot.press("enter")
    await until(pilot, "the refusal dismissed", lambda: type(app.screen).__name__ != "Notice")
    assert len(applied(host, "reload")) == 1
    host.profile.write_text(text.replace("max_pct = 100.0", "max_pct = 90.0"))
