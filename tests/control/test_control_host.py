"""A real ``garrison run`` replay, steered over its real control socket.

The host replays the five real Bybit 5-minute files with Turtle's entries,
slowed down a little per candle and held until an operator closes them (a
throwaway plugin in a private ``GARRISON_PLUGINS_DIR``), so the run lasts
long enough to talk to and its positions stay put while a test acts on them. The
tests then use the CLI (``garrison status``, ``pause``, ...) and a raw
client, and check that each command changes the host's state, that the
journal records every command with its caller's uid and pid, and that the
host survives clients that send garbage or leave mid-request.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from garrison.control.client import ControlClient, ControlRefusedError
from garrison.control.protocol import MAX_LINE, request_line

REPO = Path(__file__).resolve().parents[2]
BYBIT_5M = REPO.parent / "shared" / "data" / "candles" / "bybit_linear"
SYMBOLS = ("ADAUSDT", "AVAXUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT")

#: Seconds the slow strategy sleeps per candle: the five files then take about a minute.
SLEEP_S = 0.0001

SLOW_PLUGIN = '''\
import time

import attrs
from garrison_api import SignalKind, hookimpl
from garrison_turtle.strategy import TurtleStrategy


class SlowTurtle(TurtleStrategy):
    """Turtle's entries, a little slower per candle, held until an operator closes them.

    Exits are dropped and stops moved far away, so a position stays open
    while a test talks about it.
    """

    def on_candle(self, candle, ctx):
        time.sleep({sleep})
        held = []
        for signal in super().on_candle(candle, ctx):
            if signal.kind is SignalKind.EXIT:
                continue
            far = candle.close * (0.5 if signal.side.value == "long" else 1.5)
            held.append(attrs.evolve(signal, stop=far, take_profit=None))
        return held


@hookimpl
def garrison_register(registry):
    registry.add_strategy("slow_turtle", SlowTurtle)
'''


def install_slow_plugin(site: Path) -> None:
    """A plugin distribution laid out as an installer leaves it, in ``site``."""
    package = site / "garrison_slowturtle"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(SLOW_PLUGIN.format(sleep=SLEEP_S))
    info = site / "garrison_slowturtle-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: garrison-slowturtle\nVersion: 0.1.0\n"
        "Requires-Dist: garrison-api>=1,<2\n"
    )
    (info / "entry_points.txt").write_text("[garrison]\nslowturtle = garrison_slowturtle\n")
    (info / "RECORD").write_text("")


def profile_text(socket_path: Path, journal: Path, files: list[Path]) -> str:
    paths = ", ".join(json.dumps(str(f)) for f in files)
    return textwrap.dedent(
        f"""\
        [profile]
        name = "control-test"
        mode = "replay"

        [account]
        starting_balance = 1_000_000_000.0
        leverage = 100.0

        [data]
        source = "csv"
        paths = [{paths}]

        [markets]
        snapshot = "bybit_linear"

        [journal]
        path = "{journal}"

        [engine]
        screen = false

        [control]
        socket = "{socket_path}"
        risk_pct_max = 1.0

        [[strategies]]
        use = "slow_turtle"
        [strategies.params]
        system = 1
        timeframe = "5m"

        [sizer]
        use = "fixed_risk"
        [sizer.params]
        risk_pct = 0.5
        fee_rate = 0.0

        [[risk]]
        use = "trading_state"
        [[risk]]
        use = "one_position_per_symbol"
        [[risk]]
        use = "exchange_minimums"
        [[risk]]
        use = "stop_distance"
        params = {{ max_pct = 100.0 }}
        """
    )


@attrs.frozen
class Host:
    proc: subprocess.Popen[bytes]
    socket: Path
    journal: Path
    profile: Path
    env: dict[str, str]
    err: Path

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        with ControlClient(self.socket, timeout_s=30.0) as client:
            return client.call(cmd, args)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "garrison.cli.main", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            input=stdin,
            timeout=120,
        )

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(f"{self.journal.resolve().as_uri()}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def alive(self) -> None:
        if self.proc.poll() is not None:
            pytest.fail(f"the host exited ({self.proc.returncode}): {self.err.read_text()[-2000:]}")


def wait_for(what: str, check: Callable[[], Any], host: Host, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host.alive()
        with contextlib.suppress(sqlite3.OperationalError):
            found = check()
            if found:
                return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def real_files() -> list[Path]:
    """The five real Bybit 5-minute files; the test is skipped, saying so, without them."""
    files = [BYBIT_5M / f"bybit_{symbol}_5m.csv" for symbol in SYMBOLS]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        pytest.skip(f"real candles not found ({', '.join(missing)}); ../shared/data is absent")
    return files


def start_host(work: Path, site: Path, text: str, sock: Path, journal: Path, name: str) -> Host:
    """``garrison run`` of ``text`` (written to ``work/<name>.toml``), once it serves ``sock``.

    Plugins come from ``site``; the output goes to ``work/<name>.out`` and ``.err``.
    """
    profile = work / f"{name}.toml"
    profile.write_text(text)
    env = {
        **os.environ,
        "GARRISON_PLUGINS_DIR": str(site),
        "GARRISON_CACHE_DIR": str(work / "cache"),
        "COLUMNS": "200",
    }
    err = work / f"{name}.err"
    with (work / f"{name}.out").open("wb") as out, err.open("wb") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "garrison.cli.main", "run", str(profile), "--no-progress"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=err_file,
        )
    running = Host(proc, sock, journal, profile, env, err)
    try:
        wait_for("the control socket", lambda: sock.exists() and running.call("status"), running)
    except BaseException:
        proc.kill()
        proc.wait(timeout=60)
        raise
    return running


def stop_host(running: Host) -> None:
    """Kill the host if it still runs, and reap it."""
    if running.proc.poll() is None:
        running.proc.kill()
    running.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    files = real_files()
    work = tmp_path_factory.mktemp("control")
    site = work / "site"
    install_slow_plugin(site)
    sock = work / "run" / "ctl.sock"
    journal = work / "journal.sqlite"
    running = start_host(work, site, profile_text(sock, journal, files), sock, journal, "host")
    try:
        yield running
    finally:
        stop_host(running)


def test_socket_is_owner_only(host: Host) -> None:
    assert stat.S_ISSOCK(host.socket.lstat().st_mode)
    assert stat.S_IMODE(host.socket.lstat().st_mode) == 0o600
    assert stat.S_IMODE(host.socket.parent.stat().st_mode) == 0o700


def test_status_and_queries(host: Host) -> None:
    status = host.call("status")
    assert status["profile"] == "control-test"
    assert status["mode"] == "replay"
    assert status["state"] == "running"
    assert status["risk_pct"] == 0.5
    positions = wait_for("an open position", lambda: host.call("positions"), host)
    assert {"symbol", "side", "qty", "entry_price", "mark", "stop"} <= set(positions[0])
    signals = wait_for("journaled signals", lambda: host.call("signals", {"limit": 5}), host)
    assert len(signals) <= 5
    assert any(s["intent"] is not None for s in signals)
    risk = host.call("risk")
    assert risk["risk_pct_bounds"] == [0.01, 1.0]
    assert risk["rules"][0]["stage"] == "trading_state"
    equity = host.call("equity")
    assert equity["equity"] > 0
    plugins = host.call("plugins")
    assert {c["name"]: c["health"] for c in plugins["components"]}["slow_turtle"] == "ok"
    assert any(p["name"] == "slowturtle" for p in plugins["plugins"])
    assert host.call("logs", {"limit": 3})
    with pytest.raises(ControlRefusedError, match="unknown command 'nope'"):
        host.call("nope")


def test_cli_status_json(host: Host) -> None:
    done = host.cli("status", "--socket", str(host.socket), "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["status"]["profile"] == "control-test"
    by_profile = host.cli("status", "--profile", str(host.profile))
    assert by_profile.returncode == 0, by_profile.stderr
    assert "control-test (replay)" in by_profile.stdout


def test_cli_status_watch_streams(host: Host) -> None:
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "garrison.cli.main",
            "status",
            "--socket",
            str(host.socket),
            "--watch",
            "0.2",
            "--json",
        ],
        cwd=REPO,
        env=host.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert watcher.stdout is not None
        lines = [json.loads(watcher.stdout.readline()) for _ in range(3)]
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
    assert watcher.returncode == 0
    assert all(set(line) == {"status", "positions"} for line in lines)
    assert host.call("status")["profile"] == "control-test"


def test_garbage_and_hangups_leave_the_host_serving(host: Host) -> None:
    with ControlClient(host.socket) as client:
        assert client.exchange(b"this is not json\n")["ok"] is False
        bad = client.exchange(b'{"v": 99, "cmd": "status"}\n')
        assert "protocol version" in bad["error"]
        assert client.exchange(b"[1, 2]\n")["ok"] is False
        # The same connection still answers a good request.
        assert client.exchange(request_line("status"))["ok"] is True
    # A client that leaves mid-request, one that sends a line too long, one that says nothing.
    for payload in (b'{"v": 1, "cmd": "sta', b"x" * (MAX_LINE + 10) + b"\n", b""):
        raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        raw.connect(str(host.socket))
        with contextlib.suppress(OSError):
            raw.sendall(payload)
        raw.close()
    assert host.call("status")["profile"] == "control-test"
    garbage = wait_for(
        "the garbage journaled",
        lambda: host.rows(
            "SELECT data FROM events WHERE kind = 'control.command' "
            "AND json_extract(data, '$.command') = 'garbage'"
        ),
        host,
    )
    assert len(garbage) >= 3


def state_is(host: Host, state: str) -> Callable[[], bool]:
    return lambda: host.call("status")["state"] == state


def test_risk_set_within_bounds(host: Host) -> None:
    refused = host.cli("risk", "--socket", str(host.socket), "--set", "5")
    assert refused.returncode == 1
    assert "outside the profile's bounds [0.01, 1]" in refused.stderr
    done = host.cli("risk", "--socket", str(host.socket), "--set", "0.25")
    assert done.returncode == 0, done.stderr
    wait_for("the new risk", lambda: host.call("status")["risk_pct"] == 0.25, host)
    shown = host.cli("risk", "--socket", str(host.socket))
    assert "risk per trade 0.25%" in shown.stdout


def applied_flattens(host: Host) -> list[dict[str, Any]]:
    return [
        json.loads(r["data"])
        for r in host.rows(
            "SELECT data FROM events WHERE kind = 'control.applied' "
            "AND json_extract(data, '$.action') = 'flatten' ORDER BY seq"
        )
    ]


def test_flatten_needs_a_token_and_closes_through_the_chain(host: Host) -> None:
    with pytest.raises(ControlRefusedError, match="no open position in ZZZUSDT"):
        host.call("flatten", {"symbol": "ZZZUSDT"})
    with pytest.raises(ControlRefusedError, match="either a symbol or all"):
        host.call("flatten", {})
    # The replay moves on while we talk: a position may close on its own
    # between two calls, so each attempt takes the positions afresh.
    for _attempt in range(20):
        positions = wait_for("an open position", lambda: host.call("positions"), host)
        symbol = positions[0]["symbol"]
        try:
            with pytest.raises(ControlRefusedError) as made_up:
                host.call("flatten", {"symbol": symbol, "confirm": "made-up"})
            if "no open position" in str(made_up.value):
                continue
            assert "confirmation token unknown" in str(made_up.value)
            offer = host.call("flatten", {"symbol": symbol})
            assert offer["would_close"] == [symbol]
            # A token is for one target and is burnt by any use.
            with pytest.raises(ControlRefusedError, match=r"was for '\w+', not '\*'"):
                host.call("flatten", {"all": True, "confirm": offer["confirm"]})
            with pytest.raises(ControlRefusedError, match="unknown, used or expired"):
                host.call("flatten", {"symbol": symbol, "confirm": offer["confirm"]})
            offer = host.call("flatten", {"symbol": symbol})
            queued = host.call("flatten", {"symbol": symbol, "confirm": offer["confirm"]})
        except ControlRefusedError as exc:
            if "no open position" not in str(exc):
                raise
            continue
        assert queued["queued"] == f"flatten {symbol}"
        done = wait_for("the flatten applied", lambda: applied_flattens(host), host)
        if f"{symbol}: exit approved" in done[-1]["results"]:
            break
    else:
        pytest.fail("no flatten of an open position was approved in 20 attempts")
    exits = wait_for(
        "the operator's exit in the journal",
        lambda: host.rows(
            "SELECT i.approved, i.reduce_only FROM signals s JOIN intents i "
            "ON i.run_id = s.run_id AND i.signal_id = s.id "
            "WHERE s.reason = 'operator flatten' AND s.symbol = ?",
            (symbol,),
        ),
        host,
    )
    assert (1, 1) in [tuple(r) for r in exits]


def test_pause_stops_entries_and_resume_lifts_it(host: Host) -> None:
    done = host.cli("pause", "--socket", str(host.socket), "--reason", "test pause")
    assert done.returncode == 0, done.stderr
    assert "applies at the host's next step" in done.stdout
    wait_for("the pause to apply", state_is(host, "reducing"), host)
    # Exits still pass; the strategy then asks to enter that symbol again,
    # and the trading_state rule refuses: a veto says so in the journal.
    symbol = host.call("positions")[0]["symbol"]
    offer = host.call("flatten", {"symbol": symbol})
    host.call("flatten", {"symbol": symbol, "confirm": offer["confirm"]})
    wait_for(
        "an entry vetoed by the pause",
        lambda: host.rows(
            "SELECT 1 FROM vetoes WHERE stage = 'trading_state' AND reason LIKE '%reducing%'"
        ),
        host,
    )
    done = host.cli("resume", "--socket", str(host.socket))
    assert done.returncode == 0, done.stderr
    wait_for("the resume to apply", state_is(host, "running"), host)


def test_cli_flatten_asks_first(host: Host) -> None:
    for _attempt in range(20):
        symbol = wait_for("an open position", lambda: host.call("positions"), host)[0]["symbol"]
        declined = host.cli("flatten", symbol, "--socket", str(host.socket), stdin="n\n")
        assert declined.returncode == 1
        if "not confirmed: nothing done" in declined.stderr:
            break
        assert "no open position" in declined.stderr  # it closed on its own meanwhile
    else:
        pytest.fail("never asked: the position closed first 20 times")
    usage = host.cli("flatten", "--socket", str(host.socket))
    assert usage.returncode == 2
    assert "name a SYMBOL or give --all" in usage.stderr


def test_halt_then_flatten_all(host: Host) -> None:
    done = host.cli("halt", "--socket", str(host.socket), "--reason", "test halt")
    assert done.returncode == 0, done.stderr
    wait_for("the halt", state_is(host, "halted"), host)
    halted = wait_for(
        "the operator's halt event",
        lambda: host.rows(
            "SELECT data FROM events WHERE kind = 'risk.halted' "
            "AND json_extract(data, '$.stage') = 'operator'"
        ),
        host,
    )
    assert json.loads(halted[0]["data"])["reason"] == "test halt"
    done = host.cli("flatten", "--all", "--socket", str(host.socket), "--yes")
    # Positions may all have closed on their own (exits pass while halted).
    assert done.returncode == 0 or "no open positions" in done.stderr, done.stderr
    # Halted: nothing reopens, so every position ends closed.
    wait_for("every position closed", lambda: host.call("positions") == [], host)
    assert host.call("status")["state"] == "halted"
    # Pausing would loosen the halt: refused; only resume lifts it.
    with pytest.raises(ControlRefusedError, match="would loosen the halt"):
        host.call("pause")


def test_journal_names_every_caller(host: Host) -> None:
    host.call("status")
    rows = wait_for(
        "this process's status command journaled",
        lambda: [
            json.loads(r["data"])
            for r in host.rows(
                "SELECT data FROM events WHERE kind = 'control.command' "
                "AND json_extract(data, '$.pid') = ?",
                (os.getpid(),),
            )
        ],
        host,
    )
    assert all(r["uid"] == os.getuid() for r in rows)
    commands = {
        json.loads(r["data"])["command"]
        for r in host.rows("SELECT data FROM events WHERE kind = 'control.command'")
    }
    assert {"status", "pause", "resume", "halt", "flatten", "risk_set", "garbage"} <= commands
    applied = {
        json.loads(r["data"])["action"]
        for r in host.rows("SELECT data FROM events WHERE kind = 'control.applied'")
    }
    assert {"pause", "resume", "halt", "flatten", "risk_set"} <= applied


def test_subscribe_streams_until_the_client_leaves(host: Host) -> None:
    with ControlClient(host.socket) as client:
        stream = client.subscribe(["status", "equity"], every_s=0.2)
        snapshots = [next(stream) for _ in range(3)]
    assert all(set(s) == {"status", "equity"} for s in snapshots)
    closes = [s["status"]["step_close"] for s in snapshots]
    assert closes == sorted(closes)
    assert closes[-1] > closes[0]  # the replay moved on between snapshots
    with ControlClient(host.socket) as client, pytest.raises(ControlRefusedError, match="topics"):
        next(client.subscribe(["flatten"]))
    # The host serves on after the subscriber left.
    assert host.call("status")["profile"] == "control-test"


def test_no_host_is_a_clear_error(host: Host, tmp_path: Path) -> None:
    gone = host.cli("status", "--socket", str(tmp_path / "none.sock"))
    assert gone.returncode == 3
    assert "no host is running" in gone.stderr


def test_ctrl_c_ends_the_host_and_removes_its_socket(host: Host) -> None:
    host.proc.send_signal(signal.SIGINT)
    assert host.proc.wait(timeout=120) == 130
    assert not host.socket.exists()
