"""Fixtures of the console's tests: a canned fake host, and a real host replaying real candles.

The real host is the control tests' own (``tests/control/test_control_host.py``:
a ``garrison run`` replay of the five real Bybit 5-minute files with a slow
Turtle that holds its positions), loaded from that file so both suites
steer the same kind of host. It replays more slowly here, so it is still
running when the last console test acts on it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).resolve().parent
CONTROL_TESTS = HERE.parent / "control" / "test_control_host.py"

#: Seconds the slow strategy sleeps per candle here (the replay then lasts minutes).
SLEEP_S = 0.0003


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def canned() -> ModuleType:
    """The canned answers and the fake host (``tests/console/canned.py``)."""
    return _load("garrison_console_canned", HERE / "canned.py")


@pytest.fixture(scope="session")
def control_tests() -> ModuleType:
    return _load("garrison_console_control_host", CONTROL_TESTS)


@pytest.fixture(scope="module")
def replay_host(
    control_tests: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    """A real ``garrison run`` replay serving its control socket (killed at the end)."""
    files = [control_tests.BYBIT_5M / f"bybit_{s}_5m.csv" for s in control_tests.SYMBOLS]
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        pytest.skip(f"real candles not found ({', '.join(missing)}); ../shared/data is absent")
    work = tmp_path_factory.mktemp("console")
    site = work / "site"
    control_tests.SLEEP_S = SLEEP_S
    control_tests.install_slow_plugin(site)
    sock = work / "run" / "ctl.sock"
    journal = work / "journal.sqlite"
    profile = work / "profile.toml"
    profile.write_text(control_tests.profile_text(sock, journal, files))
    env = {
        **os.environ,
        "GARRISON_PLUGINS_DIR": str(site),
        "GARRISON_CACHE_DIR": str(work / "cache"),
        "COLUMNS": "200",
    }
    err = work / "host.err"
    with (work / "host.out").open("wb") as out, err.open("wb") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "garrison.cli.main", "run", str(profile), "--no-progress"],
            cwd=control_tests.REPO,
            env=env,
            stdout=out,
            stderr=err_file,
        )
    host = control_tests.Host(proc, sock, journal, profile, env, err)
    try:
        control_tests.wait_for(
            "the control socket", lambda: sock.exists() and host.call("status"), host
        )
        yield host
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)
