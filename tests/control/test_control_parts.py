"""The control channel's parts on their own: peer check, protocol, socket paths, profile table.

Connecting as another user needs root to switch users: when the tests run
as root, a real ``nobody`` process is kept out by the directory's mode and,
with the modes opened up by hand, refused by the peer check. Whoever runs
the tests, the refusal is also tested with a real server told that the
host runs as another uid (so our own, genuine peer credentials are the
foreign ones), and the credential function on a real socket pair.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import tempfile
import textwrap
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any, cast

import pytest
from garrison.control.client import ControlClient, ControlRefusedError, ControlUnavailableError
from garrison.control.host import CommandError, HostControl, subscription
from garrison.control.paths import (
    ControlPathError,
    candidate_socket_paths,
    default_socket_path,
    prepare_directory,
    socket_for,
)
from garrison.control.peer import PeerCredentials, peer_credentials, refusal
from garrison.control.protocol import (
    PROTOCOL_VERSION,
    ProtocolError,
    decode_request,
    decode_response,
    encode,
    request_line,
)
from garrison.control.server import ControlServer
from garrison.engine.step import StepProcessor
from garrison.plugins.manager import load_plugins
from garrison.profile.errors import ProfileError
from garrison.profile.load import parse_profile
from garrison.profile.render import profile_as_toml

# --- peer credentials -----------------------------------------------------------------


def test_peer_credentials_are_the_connecting_process() -> None:
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        assert peer_credentials(left) == PeerCredentials(os.getpid(), os.getuid(), os.getgid())


def test_refusal_names_the_foreign_uid() -> None:
    assert refusal(PeerCredentials(10, 1000, 1000), 1000) is None
    why = refusal(PeerCredentials(10, 1001, 1001), 1000)
    assert why == "uid 1001 is not the host's user (uid 1000): refused"
    # root is another user too, unless the host runs as root.
    assert refusal(PeerCredentials(10, 0, 0), 1000) is not None


# --- protocol -------------------------------------------------------------------------


def test_request_round_trip() -> None:
    request = decode_request(request_line("flatten", {"symbol": "BTCUSDT"}))
    assert (request.cmd, request.args) == ("flatten", {"symbol": "BTCUSDT"})
    assert decode_request(b'{"v": 1, "cmd": "status", "id": 7}').id == 7


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"nope", "not a JSON line"),
        (b"\xff\xfe", "not a JSON line"),
        (b"[1]", "a request is a JSON object, got list"),
        (b'{"cmd": "status"}', "protocol version v=None is not spoken here"),
        (b'{"v": 2, "cmd": "status"}', "protocol version v=2"),
        (b'{"v": 1}', "cmd must be a command name, got None"),
        (b'{"v": 1, "cmd": "status", "args": [1]}', "args must be a JSON object, got list"),
    ],
)
def test_bad_requests_say_what_is_wrong(line: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_request(line)


def test_responses_carry_the_version_and_no_nan() -> None:
    line = encode({"v": PROTOCOL_VERSION, "ok": True, "result": {"x": float("nan")}})
    assert json.loads(line) == {"v": 1, "ok": True, "result": {"x": None}}
    with pytest.raises(ProtocolError, match="speaks control protocol v=3"):
        decode_response(b'{"v": 3, "ok": true}')


def test_subscription_arguments_are_checked() -> None:
    assert subscription({}) == (("status",), 1.0)
    assert subscription({"topics": ["equity", "equity", "logs"], "every_s": 5}) == (
        ("equity", "logs"),
        5.0,
    )
    with pytest.raises(CommandError, match="topics must be a non-empty list"):
        subscription({"topics": ["halt"]})
    with pytest.raises(CommandError, match=r"every_s must be a number of seconds in \[0.2"):
        subscription({"every_s": 0.01})
    with pytest.raises(CommandError, match="every_s"):
        subscription({"every_s": True})


# --- socket paths ---------------------------------------------------------------------


def test_default_socket_paths() -> None:
    assert default_socket_path("demo", {"XDG_RUNTIME_DIR": "/run/user/5"}) == Path(
        "/run/user/5/garrison/demo.sock"
    )
    assert default_socket_path("my bot/1", {}, uid=42) == Path("/tmp/garrison-42/my_bot_1.sock")
    assert candidate_socket_paths("demo", {"XDG_RUNTIME_DIR": "/run/user/5"}, uid=5) == [
        Path("/run/user/5/garrison/demo.sock"),
        Path("/tmp/garrison-5/demo.sock"),
    ]
    path, own = socket_for("demo", "var/ctl.sock", Path("/srv/profiles"))
    assert (path, own) == (Path("/srv/profiles/var/ctl.sock"), False)


def test_default_directory_is_made_owner_only(tmp_path: Path) -> None:
    directory = tmp_path / "garrison"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    prepare_directory(directory / "x.sock", tighten=True)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    fresh = tmp_path / "fresh" / "x.sock"
    prepare_directory(fresh, tighten=False)
    assert stat.S_IMODE(fresh.parent.stat().st_mode) == 0o700


# --- the [control] table ----------------------------------------------------------------

PROFILE = """\
[profile]
name = "ctl"
[data]
paths = ["x.csv"]
[[strategies]]
use = "turtle"
[sizer]
use = "fixed_risk"
"""


def test_control_table_is_checked(tmp_path: Path) -> None:
    registry = load_plugins().registry
    bad = PROFILE + textwrap.dedent(
        """\
        [control]
        risk_pct_min = 2.0
        risk_pct_max = 1.0
        enabled = "yes"
        """
    )
    with pytest.raises(ProfileError) as raised:
        parse_profile(bad, tmp_path / "p.toml", registry)
    text = str(raised.value)
    assert "control.enabled" in text
    out_of_range = PROFILE + "[control]\nrisk_pct_max = 150\n"
    with pytest.raises(ProfileError, match=r"control.risk_pct_max: expected a percent"):
        parse_profile(out_of_range, tmp_path / "p.toml", registry)
    crossed = PROFILE + "[control]\nrisk_pct_min = 2.0\nrisk_pct_max = 1.0\n"
    with pytest.raises(ProfileError, match=r"control.risk_pct_min: expected at most"):
        parse_profile(crossed, tmp_path / "p.toml", registry)
    with pytest.raises(ProfileError, match=r"control.sockets"):
        parse_profile(PROFILE + "[control]\nsockets = 'x'\n", tmp_path / "p.toml", registry)


def test_control_table_round_trips_through_the_journal_copy(tmp_path: Path) -> None:
    registry = load_plugins().registry
    text = PROFILE + "[control]\nsocket = 'run/c.sock'\nrisk_pct_max = 0.5\n"
    profile = parse_profile(text, tmp_path / "p.toml", registry)
    assert profile.control.socket == "run/c.sock"
    again = parse_profile(profile_as_toml(profile), tmp_path / "p.toml", registry)
    assert again.control == profile.control
    plain = parse_profile(PROFILE, tmp_path / "p.toml", registry)
    assert "[control]" not in profile_as_toml(plain)


# --- the server, without an engine ----------------------------------------------------


class FakeControl:
    """Stands in for HostControl: answers ``status``, keeps what was recorded."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, PeerCredentials | None, str]] = []

    def handle(self, cmd: str, args: Mapping[str, Any]) -> Any:
        return {"cmd": cmd}

    def record(
        self, cmd: str, args: Mapping[str, Any], peer: PeerCredentials | None, outcome: str
    ) -> None:
        self.recorded.append((cmd, peer, outcome))


class Inbox:
    """The processor's inbox, served by the engine loop's turns alone."""

    def __init__(self) -> None:
        from collections import deque

        self.inbox: deque[tuple[Any, Future[Any]]] = deque()

    serve_inbox = StepProcessor.serve_inbox
    take_inbox_items = StepProcessor.take_inbox_items


async def _serve(path: Path, uid: int, talk: Any) -> FakeControl:
    control = FakeControl()
    server = ControlServer(
        path, cast(HostControl, control), cast(StepProcessor, Inbox()), uid=uid, tighten=True
    )
    await server.start()
    try:
        await asyncio.get_running_loop().run_in_executor(None, talk)
    finally:
        await server.close()
    return control


def test_server_socket_is_0600_in_0700_and_removed_at_close(tmp_path: Path) -> None:
    path = tmp_path / "run" / "c.sock"
    seen: dict[str, int] = {}

    def talk() -> None:
        seen["sock"] = stat.S_IMODE(path.lstat().st_mode)
        seen["dir"] = stat.S_IMODE(path.parent.stat().st_mode)
        with ControlClient(path) as client:
            assert client.call("status") == {"cmd": "status"}

    control = asyncio.run(_serve(path, os.getuid(), talk))
    assert seen == {"sock": 0o600, "dir": 0o700}
    assert not path.exists()
    assert control.recorded == [
        ("status", PeerCredentials(os.getpid(), os.getuid(), os.getgid()), "ok")
    ]


def test_server_refuses_a_peer_of_another_uid(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    host_uid = os.getuid() + 1  # the host "runs as" someone else: we are the foreigner

    def talk() -> None:
        with ControlClient(path) as client, pytest.raises(ControlRefusedError, match="refused"):
            client.call("status")

    control = asyncio.run(_serve(path, host_uid, talk))
    ((cmd, peer, outcome),) = control.recorded
    assert cmd == "connect"
    assert peer is not None
    assert peer.uid == os.getuid()
    assert outcome == f"uid {os.getuid()} is not the host's user (uid {host_uid}): refused"


def test_server_refuses_to_take_over_a_live_socket(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"

    def second() -> None:
        other = ControlServer(
            path, cast(HostControl, FakeControl()), cast(StepProcessor, Inbox()), tighten=False
        )
        with pytest.raises(ControlPathError, match="another host is already serving"):
            asyncio.run(other.start())

    asyncio.run(_serve(path, os.getuid(), second))


def test_stale_socket_is_replaced_and_no_host_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: a host that died
    with pytest.raises(ControlUnavailableError, match="nothing listens"), ControlClient(path):
        pass

    def talk() -> None:
        with ControlClient(path) as client:
            assert client.call("status") == {"cmd": "status"}

    asyncio.run(_serve(path, os.getuid(), talk))
    with pytest.raises(ControlUnavailableError, match="no host is running"), ControlClient(path):
        pass


def test_a_path_too_long_for_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ("d" * 120) / "c.sock"
    server = ControlServer(path, cast(HostControl, FakeControl()), cast(StepProcessor, Inbox()))
    with pytest.raises(ControlPathError, match="a Unix socket path may have at most 107"):
        asyncio.run(server.start())


# --- another user, for real (when the tests run as root) -----------------------------

#: Connects as whoever runs it; prints EACCES, or the host's first answer line.
FOREIGN_CLIENT = """\
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES")
    sys.exit(0)
s.sendall(b'{"v": 1, "cmd": "status"}\\n')
print(s.makefile("rb").readline().decode().strip())
"""

NOBODY = 65534
SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.mark.skipif(os.getuid() != 0, reason="switching to another user needs root")
@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no /usr/bin/python3 for the other user")
def test_another_user_is_kept_out_by_the_mode_and_refused_by_the_peer_check() -> None:
    outer = Path(tempfile.mkdtemp(prefix="garrison-xuser-"))
    try:
        os.chmod(outer, 0o755)  # the other user may reach the socket's directory
        path = outer / "run" / "c.sock"
        answers: list[str] = []

        def as_nobody() -> str:
            done = subprocess.run(
                [str(SYSTEM_PYTHON), "-c", FOREIGN_CLIENT, str(path)],
                user=NOBODY,
                group=NOBODY,
                extra_groups=[],
                capture_output=True,
                text=True,
                timeout=30,
                cwd="/",
                env={"PATH": "/usr/bin:/bin"},
            )
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        def talk() -> None:
            # As made: the 0700 directory keeps the other user from the socket.
            answers.append(as_nobody())
            # Opened up by hand (a misconfiguration): the peer check still refuses.
            os.chmod(path.parent, 0o755)
            os.chmod(path, 0o666)
            answers.append(as_nobody())

        control = asyncio.run(_serve(path, os.getuid(), talk))
    finally:
        shutil.rmtree(outer, ignore_errors=True)
    assert answers[0] == "EACCES"
    refused = json.loads(answers[1])
    assert refused["ok"] is False
    assert refused["error"] == f"uid {NOBODY} is not the host's user (uid 0): refused"
    ((cmd, peer, outcome),) = control.recorded
    assert cmd == "connect"
    assert peer is not None
    assert (peer.uid, peer.gid) == (NOBODY, NOBODY)
    assert outcome.endswith("refused")


# --- the CLI without a host ---------------------------------------------------------------


def test_cli_names_where_it_looked_when_no_host_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner
    from garrison.cli.main import cli

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg"))
    profile = tmp_path / "p.toml"
    profile.write_text('[profile]\nname = "nobody-runs-this-1f3a"\n')
    runner = CliRunner()
    done = runner.invoke(cli, ["status", "--profile", str(profile)])
    assert done.exit_code == 3
    assert f"{tmp_path}/xdg/garrison/nobody-runs-this-1f3a.sock" in done.output
    assert "no host is running" in done.output
    done = runner.invoke(cli, ["halt", "--socket", str(tmp_path / "x.sock"), "--json"])
    assert done.exit_code == 3
    both = runner.invoke(
        cli, ["status", "--socket", str(tmp_path / "x.sock"), "--profile", str(profile)]
    )
    assert both.exit_code == 2
    assert "give --socket or --profile, not both" in both.output
    profile.write_text("[profile]\n")
    done = runner.invoke(cli, ["status", "--profile", str(profile)])
    assert done.exit_code == 1
    assert "profile.name: expected a name" in done.output


# --- two replays of one profile -------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


def test_a_replay_whose_socket_is_taken_runs_without_control(tmp_path: Path) -> None:
    from garrison.engine.run import replay

    path = tmp_path / "c.sock"
    demo = REPO / "configs" / "demo.toml"
    plugins = load_plugins()
    text = demo.read_text(encoding="utf-8") + f'\n[control]\nsocket = "{path}"\n'
    profile = parse_profile(text, demo, plugins.registry)
    journal = tmp_path / "j.sqlite"
    results: list[Any] = []

    def second_replay() -> None:
        results.append(asyncio.run(replay(profile, plugins, journal_path=journal, control=True)))

    # A host (stand-in) serves the socket while the replay starts.
    asyncio.run(_serve(path, os.getuid(), second_replay))
    (result,) = results
    assert result.stats.candles > 0
    with sqlite3.connect(journal) as db:
        kinds = [r[0] for r in db.execute("SELECT kind FROM events WHERE source = 'control'")]
        (message,) = [
            r[0]
            for r in db.execute("SELECT message FROM events WHERE kind = 'control.unavailable'")
        ]
    assert kinds == ["control.unavailable"]
    assert "another host is already serving" in message
