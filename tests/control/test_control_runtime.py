"""Enable, disable, swap and reload, against a real ``garrison run`` replay.

The host replays two real Bybit 5-minute files with two strategy uses of a
throwaway plugin (in a private ``GARRISON_PLUGINS_DIR``): ``alpha`` trades
BTCUSDT, ``beta`` ETHUSDT, each entering and leaving every few bars and
saying in each signal's reason who it is and with which params. A scorer
gates both. The tests steer it with the CLI and check the journal: whose
signals appear after each change applied (``control.applied`` events carry
the step close the change applied at), which scorer name the scores carry,
and that refused reloads change nothing.

Every test runs twice: against the replay driver (``garrison run``, its
indicators precomputed per strategy) and against the step driver paper and
live trading use (incremental indicators; started through ``replay(...,
driver="steps", control=True)`` since ``garrison run`` replays with the
replay driver), so a swapped-in strategy's indicators are proven on both.
"""

from __future__ import annotations

import contextlib
import json
import os
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
from garrison.control.client import ControlClient, ControlRefusedError

REPO = Path(__file__).resolve().parents[2]
BYBIT_5M = REPO.parent / "shared" / "data" / "candles" / "bybit_linear"
SYMBOLS = ("BTCUSDT", "ETHUSDT")

#: Seconds each strategy sleeps per candle: the run then lasts a few minutes.
SLEEP_S = "0.0005"

PLUGIN = '''\
import math
import time

import attrs
from garrison_api import Event, Score, Side, Signal, SignalKind, Sma, hookimpl


@attrs.frozen
class TickerParams:
    tag: str = "ticker"
    every: int = 40


class Ticker:
    """Enters long every `every` bars when flat, leaves `every` bars later."""

    Params = TickerParams
    timeframes = ("5m",)

    def __init__(self, params=None):
        self.params = params if params is not None else TickerParams()
        self.indicators = {}
        self.warmup = 0
        self._bars = {}
        self._name = "?"
        self._services = None

    def start(self, services):
        self._name = services.name
        self._services = services

    def stop(self):
        self._services.emit(
            Event(ts=self._services.clock.now_ms(), kind="test.stopped", source=self._name,
                  message=f"{self._name} stopped")
        )

    def note(self, ctx, symbol):
        return ""

    def on_candle(self, candle, ctx):
        time.sleep(SLEEP)
        n = self._bars[candle.symbol] = self._bars.get(candle.symbol, 0) + 1
        if n % self.params.every:
            return ()
        note = self.note(ctx, candle.symbol)
        if note is None:
            return ()
        reason = f"{self.params.tag} as {self._name} every={self.params.every}{note}"
        held = ctx.position(candle.symbol)
        if held is not None:
            return (Signal(candle.symbol, candle.ts, held.side, SignalKind.EXIT,
                           entry=candle.close, reason=reason),)
        return (Signal(candle.symbol, candle.ts, Side.LONG, SignalKind.ENTRY,
                       entry=candle.close, stop=candle.close * 0.5, reason=reason),)


@attrs.frozen
class AveragingParams:
    tag: str = "averaging"
    every: int = 40
    period: int = 30


class Averaging(Ticker):
    """A Ticker that reads an indicator no other strategy of the run declares."""

    Params = AveragingParams

    def __init__(self, params=None):
        super().__init__(params if params is not None else AveragingParams())
        self.indicators = {"avg": Sma("close", self.params.period)}
        self.warmup = self.params.period

    def note(self, ctx, symbol):
        avg = ctx.indicators(symbol)["avg"]
        return None if not math.isfinite(avg) else f" avg={avg:.6g}"


@attrs.frozen
class FixedParams:
    value: float = 0.9


class Fixed:
    Params = FixedParams

    def __init__(self, params=None):
        self.params = params if params is not None else FixedParams()

    def score(self, signal, ctx):
        return Score(self.params.value, model="fixed")

    def learn(self, outcome):
        return None


class FixedBatch(Fixed):
    """Fixed with score_batch: swapped in, it makes the host hold each step's signals."""

    def score_batch(self, signals, ctx):
        return [self.score(s, ctx) for s in signals]


class Hourly(Ticker):
    timeframes = ("1h",)


@attrs.frozen
class CrossingParams:
    period: int = 20


class Crossing:
    """Long above its average, out below it: no state but the indicator and the position."""

    Params = CrossingParams
    timeframes = ("5m",)

    def __init__(self, params=None):
        self.params = params if params is not None else CrossingParams()
        self.indicators = {"avg": Sma("close", self.params.period)}
        self.warmup = self.params.period

    def on_candle(self, candle, ctx):
        time.sleep(SLEEP)
        avg = ctx.indicators(candle.symbol)["avg"]
        if not math.isfinite(avg):
            return ()
        held = ctx.position(candle.symbol)
        if held is None and candle.close > avg * 1.003:
            return (Signal(candle.symbol, candle.ts, Side.LONG, SignalKind.ENTRY,
                           entry=candle.close, stop=candle.close * 0.5, reason="cross"),)
        if held is not None and candle.close < avg:
            return (Signal(candle.symbol, candle.ts, Side.LONG, SignalKind.EXIT,
                           entry=candle.close, reason="back"),)
        return ()


@hookimpl
def garrison_register(registry):
    registry.add_strategy("ticker", Ticker)
    registry.add_strategy("averaging", Averaging)
    registry.add_strategy("hourly", Hourly)
    registry.add_strategy("crossing", Crossing)
    registry.add_scorer("fixed", Fixed)
    registry.add_scorer("fixed_too", FixedBatch)
'''


#: Runs a replay profile through the step driver with the control channel served.
STEPS_LAUNCHER = """\
import asyncio, sys
from garrison.engine.run import replay
from garrison.plugins.manager import load_plugins
from garrison.plugins.policy import policy_for_profile
from garrison.profile.load import load_profile

plugins = load_plugins(policy=policy_for_profile(sys.argv[1]))
profile = load_profile(sys.argv[1], plugins.registry)
asyncio.run(replay(profile, plugins, driver="steps", control=True))
"""


def install_plugin(site: Path) -> None:
    package = site / "garrison_rtest"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(PLUGIN.replace("SLEEP", SLEEP_S))
    info = site / "garrison_rtest-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: garrison-rtest\nVersion: 0.1.0\n"
        "Requires-Dist: garrison-api>=1,<2\n"
    )
    (info / "entry_points.txt").write_text("[garrison]\nrtest = garrison_rtest\n")
    (info / "RECORD").write_text("")


def profile_text(
    socket_path: Path,
    journal: Path,
    files: list[Path],
    *,
    beta_every: int = 40,
    extra: str = "",
    gamma: bool = False,
    risk_pct: float = 0.5,
    max_pct: float = 100.0,
) -> str:
    paths = ", ".join(json.dumps(str(f)) for f in files)
    return textwrap.dedent(
        f"""\
        [profile]
        name = "runtime-test"
        mode = "replay"

        [account]
        starting_balance = 1_000_000_000.0
        leverage = 100.0

        [data]
        source = "csv"
        paths = [{paths}]
        {extra}

        [markets]
        snapshot = "bybit_linear"

        [journal]
        path = "{journal}"

        [engine]
        screen = false

        [control]
        socket = "{socket_path}"

        [[strategies]]
        use = "ticker"
        name = "alpha"
        symbols = ["BTCUSDT"]
        params = {{ tag = "alpha", every = 40 }}

        [[strategies]]
        use = "ticker"
        name = "beta"
        symbols = ["ETHUSDT"]
        params = {{ tag = "beta", every = {beta_every} }}

        [[strategies]]
        use = "ticker"
        name = "gamma"
        symbols = ["BTCUSDT"]
        enabled = {str(gamma).lower()}
        params = {{ tag = "gamma", every = 11 }}

        [[scorers]]
        use = "fixed"
        name = "gate"
        mode = "gate"
        threshold = 0.5

        [sizer]
        use = "fixed_risk"
        [sizer.params]
        risk_pct = {risk_pct}
        fee_rate = 0.0

        [[risk]]
        use = "trading_state"
        [[risk]]
        use = "one_position_per_symbol"
        [[risk]]
        use = "exchange_minimums"
        [[risk]]
        use = "stop_distance"
        params = {{ max_pct = {max_pct} }}
        """
    )


@attrs.frozen
class Host:
    proc: subprocess.Popen[bytes]
    socket: Path
    journal: Path
    profile: Path
    files: list[Path]
    env: dict[str, str]
    err: Path

    def call(self, cmd: str, args: dict[str, Any] | None = None) -> Any:
        with ControlClient(self.socket, timeout_s=30.0) as client:
            return client.call(cmd, args)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "garrison.cli.main", *args, "--socket", str(self.socket)],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
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

    def write_profile(self, **kwargs: Any) -> None:
        self.profile.write_text(
            profile_text(self.socket, self.journal, self.files, **kwargs), encoding="utf-8"
        )


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


def applied(host: Host, action: str) -> list[tuple[int, dict[str, Any]]]:
    """(step close, data) of every control.applied event of ``action``, in order."""
    return [
        (int(r["ts"]), json.loads(r["data"]))
        for r in host.rows(
            "SELECT ts, data FROM events WHERE kind = 'control.applied' "
            "AND json_extract(data, '$.action') = ? ORDER BY seq",
            (action,),
        )
    ]


def wait_applied(host: Host, action: str, before: int) -> tuple[int, dict[str, Any]]:
    """The first ``action`` applied after the ``before`` ones already journaled."""
    found = wait_for(
        f"{action} to apply", lambda: applied(host, action)[before:] or None, host, 60.0
    )
    return found[0]  # type: ignore[no-any-return]


def signals(host: Host, strategy: str, since: int) -> list[sqlite3.Row]:
    return host.rows(
        "SELECT id, ts, reason FROM signals WHERE strategy = ? AND ts >= ? ORDER BY ts",
        (strategy, since),
    )


@pytest.fixture(scope="module", params=["replay", "steps"])
def host(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Host]:
    files = [BYBIT_5M / f"bybit_{symbol}_5m.csv" for symbol in SYMBOLS]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        pytest.skip(f"real candles not found ({', '.join(missing)}); ../shared/data is absent")
    work = tmp_path_factory.mktemp("runtime")
    site = work / "site"
    install_plugin(site)
    sock = work / "run" / "ctl.sock"
    journal = work / "journal.sqlite"
    profile = work / "profile.toml"
    profile.write_text(profile_text(sock, journal, files))
    env = {
        **os.environ,
        "GARRISON_PLUGINS_DIR": str(site),
        "GARRISON_CACHE_DIR": str(work / "cache"),
        "COLUMNS": "200",
    }
    err = work / "host.err"
    if request.param == "replay":
        command = ["-m", "garrison.cli.main", "run", str(profile), "--no-progress"]
    else:
        command = ["-c", STEPS_LAUNCHER, str(profile)]
    with (work / "host.out").open("wb") as out, err.open("wb") as err_file:
        proc = subprocess.Popen(
            [sys.executable, *command],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=err_file,
        )
    running = Host(proc, sock, journal, profile, files, env, err)
    try:
        wait_for("the control socket", lambda: sock.exists() and running.call("status"), running)
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)


def test_status_and_plugins_show_the_strategies(host: Host) -> None:
    status = host.call("status")
    assert [(s["name"], s["plugin"], s["enabled"]) for s in status["strategies"]] == [
        ("alpha", "ticker", True),
        ("beta", "ticker", True),
        # enabled = false in the profile: built and started, never called.
        ("gamma", "ticker", False),
    ]
    plugins = host.call("plugins")
    assert [s["name"] for s in plugins["strategies"]] == ["alpha", "beta", "gamma"]
    assert plugins["scorers"][0]["journaled_as"] == "gate"
    helped = host.cli("strategy", "disable", "--help")
    assert helped.returncode == 0
    assert "keep their stops" in helped.stdout
    wait_for("beta signalling", lambda: signals(host, "beta", 0), host)
    assert signals(host, "gamma", 0) == []


def test_disable_stops_one_strategy_while_the_other_trades_and_enable_restores(
    host: Host,
) -> None:
    wait_for("both strategies signalling", lambda: signals(host, "alpha", 0), host)
    wait_for("beta signalling", lambda: signals(host, "beta", 0), host)
    refused = host.cli("strategy", "disable", "delta")
    assert refused.returncode == 1
    assert "no strategy use named 'delta'; this host runs: alpha, beta, gamma" in refused.stderr

    done = host.cli("strategy", "disable", "alpha")
    assert done.returncode == 0, done.stderr
    assert "strategy disable alpha: accepted" in done.stdout
    at, data = wait_applied(host, "strategy_disable", 0)
    assert data["strategy"] == "alpha"
    assert [s["enabled"] for s in host.call("status")["strategies"]] == [False, True, False]
    shown = host.cli("status")
    assert "strategies: alpha (ticker, disabled), beta (ticker), gamma (ticker, disabled)" in (
        shown.stdout
    )
    # Beta goes on signalling well past the change; alpha never again.
    wait_for("beta's signals after the disable", lambda: len(signals(host, "beta", at)) >= 3, host)
    assert signals(host, "alpha", at) == []

    done = host.cli("strategy", "enable", "alpha")
    assert done.returncode == 0, done.stderr
    back, _data = wait_applied(host, "strategy_enable", 0)
    wait_for("alpha's signals after the enable", lambda: signals(host, "alpha", back), host)
    assert signals(host, "alpha", at) == signals(host, "alpha", back)
    assert [s["enabled"] for s in host.call("status")["strategies"]] == [True, True, False]
    journaled = host.rows(
        "SELECT json_extract(data, '$.command') AS c, json_extract(data, '$.uid') AS uid "
        "FROM events WHERE kind = 'control.command' "
        "AND json_extract(data, '$.command') LIKE 'strategy_%'"
    )
    assert {r["c"] for r in journaled} == {"strategy_enable", "strategy_disable"}
    assert all(r["uid"] == os.getuid() for r in journaled)


def test_swap_to_an_unknown_plugin_is_refused_with_the_installed_ones(host: Host) -> None:
    refused = host.cli("swap", "strategy", "alpha", "no_such_thing")
    assert refused.returncode == 1
    assert "no strategy plugin named 'no_such_thing' is installed" in refused.stderr
    assert "averaging" in refused.stderr
    assert "ticker" in refused.stderr
    with pytest.raises(ControlRefusedError, match="installed scorer plugins: fixed, fixed_too"):
        host.call("swap", {"kind": "scorer", "use": "gate", "plugin": "averaging"})
    with pytest.raises(ControlRefusedError, match=r"params\.valu"):
        host.call(
            "swap", {"kind": "scorer", "use": "gate", "plugin": "fixed_too", "params": {"valu": 1}}
        )
    with pytest.raises(ControlRefusedError, match=r"params\.value: expected"):
        host.call(
            "swap",
            {"kind": "scorer", "use": "gate", "plugin": "fixed_too", "params": {"value": "x"}},
        )
    # A strategy deciding on a timeframe the run has no data for cannot decide here.
    with pytest.raises(ControlRefusedError, match="decide on none of this run's series"):
        host.call("swap", {"kind": "strategy", "use": "alpha", "plugin": "hourly"})
    assert applied(host, "swap") == []


def test_swap_scorer_changes_the_journaled_scorer(host: Host) -> None:
    done = host.cli("swap", "scorer", "gate", "fixed_too", "--params", '{"value": 0.8}')
    assert done.returncode == 0, done.stderr
    at, data = wait_applied(host, "swap", 0)
    assert data["kind"] == "scorer"

    def scored_since() -> list[sqlite3.Row]:
        return host.rows(
            "SELECT c.scorer, c.value FROM scores c JOIN signals s "
            "ON s.run_id = c.run_id AND s.id = c.signal_id WHERE s.ts >= ?",
            (at,),
        )

    later = wait_for(
        "scores after the swap", lambda: len(scored_since()) >= 3 and scored_since(), host
    )
    assert {(r["scorer"], r["value"]) for r in later} == {("gate/fixed_too", 0.8)}
    assert host.call("plugins")["scorers"][0]["journaled_as"] == "gate/fixed_too"
    names = [c["name"] for c in host.call("plugins")["components"]]
    assert "gate/fixed_too" in names
    assert "gate" not in names


def test_swap_strategy_changes_who_signals(host: Host) -> None:
    done = host.cli(
        "swap", "strategy", "alpha", "averaging", "--params", '{"tag": "swapped", "every": 7}'
    )
    assert done.returncode == 0, done.stderr
    at, data = wait_applied(host, "swap", 1)
    assert data == {**data, "kind": "strategy", "use": "alpha", "plugin": "averaging"}
    later = wait_for("alpha's new signals", lambda: signals(host, "alpha", at), host)
    # The new component decides under the use's name, with its own storage
    # name, and its indicator (which nothing else in the run reads) is warm.
    assert all(r["reason"].startswith("swapped as alpha/averaging every=7 avg=") for r in later)
    assert all(
        r["reason"].startswith("alpha as alpha every=40")
        for r in signals(host, "alpha", 0)
        if r["ts"] < at - 300_000
    )
    stopped = host.rows("SELECT source, ts FROM events WHERE kind = 'test.stopped'")
    assert [(r["source"], r["ts"]) for r in stopped] == [("alpha", at)]
    status = host.call("status")["strategies"]
    assert status[0] == {
        "name": "alpha",
        "plugin": "averaging",
        "enabled": True,
        "quarantined": False,
    }


def test_reload_applies_a_changed_param(host: Host) -> None:
    # Edited: beta's `every`, gamma enabled, the sizer's risk and a risk rule's
    # limit. Alpha, swapped by the operator and left alone in the file, stays swapped.
    host.write_profile(beta_every=5, gamma=True, risk_pct=0.4, max_pct=90.0)
    done = host.cli("reload")
    assert done.returncode == 0, done.stderr
    at, data = wait_applied(host, "reload", 0)
    assert data["changes"] == (
        "strategy beta -> ticker; strategy gamma enabled; sizer params; risk rules stop_distance"
    )
    strategies = host.call("status")["strategies"]
    assert [(s["plugin"], s["enabled"]) for s in strategies] == [
        ("averaging", True),
        ("ticker", True),
        ("ticker", True),
    ]
    later = wait_for("beta's signals after the reload", lambda: signals(host, "beta", at), host)
    assert all(" every=5" in r["reason"] for r in later)
    wait_for("gamma's first signals", lambda: signals(host, "gamma", at), host)
    assert signals(host, "gamma", 0) == signals(host, "gamma", at)
    risk = host.call("risk")
    assert risk["risk_pct"] == 0.4
    rules = {r["stage"]: r["params"] for r in risk["rules"]}
    assert rules["stop_distance"]["max_pct"] == 90.0
    nothing = host.cli("reload")
    assert nothing.returncode == 0, nothing.stderr
    assert "nothing to do" in nothing.stdout


def test_reload_refused_on_a_changed_symbol_list_changes_nothing(host: Host) -> None:
    before = host.call("status")["strategies"]
    host.write_profile(
        beta_every=99, gamma=True, risk_pct=0.4, max_pct=90.0, extra='symbols = ["BTCUSDT"]'
    )
    refused = host.cli("reload")
    assert refused.returncode == 1
    assert "cannot change while the host runs: data.symbols" in refused.stderr
    assert "was not reloaded (the running profile is unchanged)" in refused.stderr
    # Every key at fault is named, those that could change live are not applied.
    text = host.profile.read_text()
    host.profile.write_text(
        text.replace("leverage = 100.0", "leverage = 50.0").replace(
            'symbols = ["ETHUSDT"]', 'symbols = ["ETHUSDT", "BTCUSDT"]'
        )
    )
    refused = host.cli("reload")
    assert refused.returncode == 1
    assert (
        "these cannot change while the host runs: account.leverage; data.symbols; "
        "strategies.beta.symbols"
    ) in refused.stderr
    host.write_profile(beta_every=5, gamma=True, risk_pct=0.4, max_pct=90.0)
    assert host.call("status")["strategies"] == before
    assert len(applied(host, "reload")) == 1
    time.sleep(0.5)
    assert all(
        " every=5" in r["reason"] for r in signals(host, "beta", applied(host, "reload")[0][0])
    )


def test_reload_of_a_malformed_profile_names_the_key(host: Host) -> None:
    text = host.profile.read_text()
    host.profile.write_text(text.replace("risk_pct = 0.4", 'risk_pct = "lots"'))
    refused = host.cli("reload")
    assert refused.returncode == 1
    assert "sizer.params.risk_pct" in refused.stderr
    assert "'lots'" in refused.stderr or '"lots"' in refused.stderr
    host.profile.write_text(text + "\n[[strategies]\n")
    broken = host.cli("reload")
    assert broken.returncode == 1
    assert "was not reloaded" in broken.stderr
    host.profile.write_text(text)
    assert len(applied(host, "reload")) == 1
    assert host.call("risk")["risk_pct"] == 0.4


def test_candles_answer_for_the_swapped_in_strategies_series(host: Host) -> None:
    # Alpha (BTCUSDT) was swapped by the operator, beta (ETHUSDT, read by no
    # other strategy) by the reload: the console's charts read the candles of
    # the strategies deciding now, and those candles move on with the run.
    swapped = applied(host, "reload")[0][0]
    assert [s["plugin"] for s in host.call("status")["strategies"]][:2] == ["averaging", "ticker"]
    for symbol in SYMBOLS:
        answer = host.call("candles", {"symbol": symbol, "n": 5})
        assert answer["symbol"] == symbol
        assert answer["symbols"] == list(SYMBOLS)
        assert answer["timeframes"] == ["5m"]
        first = answer["candles"][-1][0]
        assert first >= swapped
        wait_for(
            f"{symbol}'s candles to move on",
            lambda s=symbol, f=first: (
                host.call("candles", {"symbol": s, "n": 1})["candles"][-1][0] > f
            ),
            host,
        )


PARITY_PROFILE = """\
[profile]
name = "parity-{driver}"
mode = "replay"

[account]
starting_balance = 1_000_000_000.0
leverage = 100.0

[data]
source = "csv"
paths = [{path}]
# About 20,000 candles: long enough to swap in the middle of, short enough to run twice.
end = "2025-12-01"

[markets]
snapshot = "bybit_linear"

[journal]
path = "{journal}"

[control]
socket = "{socket}"

[[strategies]]
use = "crossing"
name = "cross"
params = {{ period = 24 }}

[sizer]
use = "fixed_risk"
[sizer.params]
risk_pct = 0.5
fee_rate = 0.0
"""


def _signal_rows(journal: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(
            "SELECT strategy, symbol, ts, side, kind, reason FROM signals ORDER BY ts, id"
        ).fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("driver", ["replay", "steps"])
def test_a_strategy_swapped_for_itself_decides_as_if_never_swapped(
    driver: str, tmp_path: Path
) -> None:
    """A stateless strategy swapped mid-run for a fresh instance of itself: the same signals.

    Proves the swapped-in strategy gets its indicators (exact here: a simple
    average needs no more candles than each series holds) and is called on
    exactly the bars the old one would have been, in both drivers.
    """
    data = BYBIT_5M / "bybit_ETHUSDT_5m.csv"
    if not data.is_file():
        pytest.skip(f"real candles not found ({data}); ../shared/data is absent")
    site = tmp_path / "site"
    install_plugin(site)
    env = {**os.environ, "GARRISON_PLUGINS_DIR": str(site), "COLUMNS": "200"}
    env["GARRISON_CACHE_DIR"] = str(tmp_path / "cache")

    def write(name: str) -> tuple[Path, Path, Path]:
        journal, sock = tmp_path / f"{name}.sqlite", tmp_path / name / "ctl.sock"
        profile = tmp_path / f"{name}.toml"
        profile.write_text(
            PARITY_PROFILE.format(
                driver=name, path=json.dumps(str(data)), journal=journal, socket=sock
            )
        )
        return profile, journal, sock

    reference, reference_journal, _ = write("reference")
    done = subprocess.run(
        [sys.executable, "-m", "garrison.cli.main", "backtest", str(reference), "--no-progress"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    expected = _signal_rows(reference_journal)
    assert len(expected) > 20

    profile, journal, sock = write("swapped")
    if driver == "replay":
        command = ["-m", "garrison.cli.main", "run", str(profile), "--no-progress"]
    else:
        command = ["-c", STEPS_LAUNCHER, str(profile)]
    err = tmp_path / "swapped.err"
    with err.open("wb") as err_file:
        proc = subprocess.Popen(
            [sys.executable, *command],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err_file,
        )
    try:
        host = Host(proc, sock, journal, profile, [data], env, err)
        wait_for("signals before the swap", lambda: len(_signal_rows(journal)) >= 3, host)
        swapped = host.cli("swap", "strategy", "cross", "crossing", "--params", '{"period": 24}')
        assert swapped.returncode == 0, swapped.stderr
        at, _data = wait_applied(host, "swap", 0)
        assert proc.wait(timeout=600) == 0, err.read_text()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    got = _signal_rows(journal)
    # The swap applied mid-run: signals on both sides of it.
    assert any(row[2] < at for row in got)
    assert any(row[2] >= at for row in got)
    assert got == expected
