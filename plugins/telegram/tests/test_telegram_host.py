"""End to end: a real ``garrison run`` replay with a control socket and the telegram notifier.

The host replays real Bybit 5-minute candles with a strategy slowed down per
candle (a throwaway plugin in a private ``GARRISON_PLUGINS_DIR``), so the run
lasts long enough to talk to. The notifier, started by the host from the
profile, long-polls the fake Bot API on 127.0.0.1; the tests script
Telegram updates there and check the host's trading state over its control
socket and its journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from garrison_api.control import control_request

REPO = Path(__file__).resolve().parents[3]
CANDLES = REPO.parent / "shared" / "data" / "candles" / "bybit_linear" / "bybit_BTCUSDT_5m.csv"
OPERATOR = 1001
STRANGER = 6666
CHAT = 5005

#: Seconds the strategy sleeps per candle: the 86,000 candles then take over a minute.
#: (A replay commits its journal and answers Ctrl-C between chunks of candles, so
#: the longer a candle takes, the longer the journal takes to show a row.)
SLEEP_S = 0.001

SLOW_PLUGIN = """\
import time

import attrs
from garrison_api import hookimpl


class Sleepy:
    '''Decides nothing, slowly: keeps the replay running while a test talks to it.'''

    @attrs.frozen
    class Params:
        pass

    warmup = 0
    timeframes = ("5m",)
    indicators = {{}}

    def __init__(self, params=None):
        self.params = params

    def on_candle(self, candle, ctx):
        time.sleep({sleep})
        return []


@hookimpl
def garrison_register(registry):
    registry.add_strategy("sleepy", Sleepy)
"""


def install_slow_plugin(site: Path) -> None:
    package = site / "garrison_sleepy"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(SLOW_PLUGIN.format(sleep=SLEEP_S))
    info = site / "garrison_sleepy-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: garrison-sleepy\nVersion: 0.1.0\n"
        "Requires-Dist: garrison-api>=1,<2\n"
    )
    (info / "entry_points.txt").write_text("[garrison]\nsleepy = garrison_sleepy\n")
    (info / "RECORD").write_text("")


def profile_text(socket_path: Path, journal: Path, api_base: str, token_env: str) -> str:
    return textwrap.dedent(
        f"""\
        [profile]
        name = "telegram-test"
        mode = "replay"

        [account]
        starting_balance = 10_000.0
        leverage = 10.0

        [data]
        source = "csv"
        paths = [{json.dumps(str(CANDLES))}]

        [markets]
        snapshot = "bybit_linear"

        [journal]
        path = "{journal}"

        [engine]
        screen = false

        [control]
        socket = "{socket_path}"

        [[strategies]]
        use = "sleepy"

        [sizer]
        use = "fixed_risk"
        [sizer.params]
        risk_pct = 0.5

        [[risk]]
        use = "trading_state"

        [[notifiers]]
        use = "telegram"
        [notifiers.params]
        token_env = "{token_env}"
        chat_ids = [{CHAT}]
        allowed_users = [{OPERATOR}]
        api_base = "{api_base}"
        poll_timeout_s = 1
        """
    )


@attrs.frozen
class Host:
    proc: subprocess.Popen[bytes]
    socket: Path
    journal: Path
    err: Path

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        return asyncio.run(control_request(self.socket, cmd, args, timeout_s=30))

    def rows(self, sql: str) -> list[sqlite3.Row]:
        conn = sqlite3.connect(f"{self.journal.resolve().as_uri()}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def alive(self) -> None:
        if self.proc.poll() is not None:
            pytest.fail(f"the host exited ({self.proc.returncode}): {self.err.read_text()[-3000:]}")


def wait_for(what: str, check: Callable[[], Any], host: Host, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host.alive()
        with contextlib.suppress(sqlite3.OperationalError, OSError):
            found = check()
            if found:
                return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def host(tmp_path: Path, bot_api: Any, token_env: str) -> Iterator[Host]:
    if not CANDLES.is_file():
        pytest.skip(f"real candles not found ({CANDLES}); ../shared/data is absent")
    site = tmp_path / "site"
    install_slow_plugin(site)
    sock = tmp_path / "run" / "ctl.sock"
    journal = tmp_path / "journal.sqlite"
    profile = tmp_path / "profile.toml"
    profile.write_text(profile_text(sock, journal, bot_api.url, token_env))
    env = {
        **os.environ,
        "GARRISON_PLUGINS_DIR": str(site),
        "GARRISON_CACHE_DIR": str(tmp_path / "cache"),
    }
    err = tmp_path / "host.err"
    with (tmp_path / "host.out").open("wb") as out, err.open("wb") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "garrison.cli.main", "run", str(profile), "--no-progress"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=err_file,
        )
    running = Host(proc, sock, journal, err)
    try:
        wait_for("the control socket", lambda: sock.exists() and running.call("status"), running)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def events(host: Host, kind: str) -> list[dict[str, Any]]:
    return [
        {"message": r["message"], **json.loads(r["data"])}
        for r in host.rows(f"SELECT message, data FROM events WHERE kind = '{kind}' ORDER BY seq")
    ]


@pytest.mark.slow
def test_telegram_steers_a_real_host(host: Host, bot_api: Any) -> None:
    assert host.call("status")["state"] == "running"
    # A stranger's /pause and /halt change nothing (updates are handled in order, so
    # by the operator's answer they have been refused; the journal is checked last).
    bot_api.push_message(STRANGER, "/pause", chat_id=CHAT)
    bot_api.push_message(STRANGER, "/halt", chat_id=CHAT)

    # The operator's /status answers from the host.
    bot_api.push_message(OPERATOR, "/status")
    status = bot_api.wait_reply("<b>Status</b>")
    assert "telegram-test (replay)" in status
    assert "running" in status
    assert host.call("status")["state"] == "running"

    # Every query reads the real host's answers (no refusal, no missing field).
    for command, title in (
        ("/positions", "<b>Positions</b>"),
        ("/balance", "<b>Balance</b>"),
        ("/stats", "<b>Stats</b>"),
        ("/risk", "<b>Risk</b>"),
        ("/plugins", "<b>Components</b>"),
        ("/phantom", "signals</b>"),
        ("/risk 0.3", "Risk per trade → 0.3%"),
    ):
        seen = len(bot_api.messages())
        bot_api.push_message(OPERATOR, command)
        reply = bot_api.wait_reply(title, after=seen)
        assert "host refused" not in reply
        assert "did not answer" not in reply
    assert "sleepy (strategy): ok" in bot_api.wait_reply("<b>Components</b>")
    wait_for("the new risk", lambda: host.call("status")["risk_pct"] == 0.3, host)

    # The operator's /pause changes the host's trading state at its next step.
    seen = len(bot_api.messages())
    bot_api.push_message(OPERATOR, "/pause")
    bot_api.wait_reply("Pause", after=seen)
    wait_for("the pause applied", lambda: host.call("status")["state"] == "reducing", host)

    # /halt asks first; only the confirmation halts.
    bot_api.push_message(OPERATOR, "/halt")
    asked = bot_api.wait_reply("Halt trading?", after=seen)
    token = asked.split("/confirm ")[1].split("<")[0]
    time.sleep(0.5)
    assert host.call("status")["state"] == "reducing", "an unconfirmed /halt must not act"
    bot_api.push_message(OPERATOR, f"/confirm {token}")
    bot_api.wait_reply("✅ halt", after=seen)
    wait_for("the halt applied", lambda: host.call("status")["state"] == "halted", host)

    # /flatten goes through the host's own confirmation: with nothing open it says so.
    bot_api.push_message(OPERATOR, "/flatten all")
    assert "no open positions to flatten" in bot_api.wait_reply("refused /flatten", after=seen)

    # /resume lifts the halt; the control.applied alerts reached the chat.
    bot_api.push_message(OPERATOR, "/resume")
    wait_for("the resume applied", lambda: host.call("status")["state"] == "running", host)
    bot_api.wait_for(
        "the halt alert in the chat",
        lambda sent: any("control.applied" in m["text"] for m in sent),
    )
    # The journal (committed in chunks: it may take a while) holds who did what.
    wait_for("the refusals journaled", lambda: len(events(host, "telegram.refused")) >= 2, host)
    refused = events(host, "telegram.refused")
    assert [e["user_id"] for e in refused] == [STRANGER, STRANGER]
    assert [e["text"] for e in refused] == ["/pause", "/halt"]
    wait_for("the commands journaled", lambda: len(events(host, "telegram.command")) >= 13, host)
    commands = events(host, "telegram.command")
    assert {e["user_id"] for e in commands} == {OPERATOR}
    wait_for("the actions journaled", lambda: len(events(host, "control.applied")) >= 4, host)
    applied = events(host, "control.applied")
    assert applied[0]["action"] == "risk_set"
    assert applied[0]["after"] == 0.3
    applied = applied[1:]
    assert [(e["action"], e["after"]) for e in applied] == [
        ("pause", "reducing"),
        ("halt", "halted"),
        ("resume", "running"),
    ]
    assert {e["reason"] for e in applied} == {f"telegram user {OPERATOR}"}
    assert bot_api.tokens == {bot_api.token}
    # The bot token is nowhere in the journal or the host's output.
    secret = bot_api.token.partition(":")[2]
    dump = json.dumps([dict(r) for r in host.rows("SELECT * FROM events")])
    assert secret not in dump
    assert secret not in host.err.read_text()
    print(
        f"\nhost steered over Telegram: {len(refused)} refused, {len(commands)} commands, "
        f"{len(bot_api.messages())} messages sent"
    )
