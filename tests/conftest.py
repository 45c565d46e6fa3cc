"""Fixtures shared by the host's test folders."""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent

#: ``load(name, path)``: a script (a bench, a test module) imported as module ``name``.
ScriptLoader = Callable[[str, Path], ModuleType]


def _load_script(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered, so that its attrs classes' annotations resolve by module name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def script_loader() -> ScriptLoader:
    """Imports a script that is not part of a package (benches, other test modules)."""
    return _load_script


@pytest.fixture(scope="session")
def bench() -> ModuleType:
    """``bench/faults.py``: the live host against the fake exchange, and its fault scenarios."""
    return _load_script("garrison_bench_faults", ROOT / "bench" / "faults.py")


@attrs.frozen
class RedisServer:
    """A real redis-server of the test session, on a free loopback port."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cli(self, *args: str) -> str:
        """A command through redis-cli; its output."""
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return done.stdout.strip()


def free_port() -> int:
    """A TCP port nothing listens on now, on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_redis(work: Path, port: int, *options: str) -> RedisServer:
    """redis-server on ``port`` of 127.0.0.1, storing nothing, up; or a failure.

    ``options`` are more of redis-server's (``--requirepass``, ``PW``...).
    """
    process = subprocess.Popen(
        [
            "redis-server",
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(work),
            *options,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"redis-server exited at start ({process.returncode})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1) as c:
            c.sendall(b"PING\r\n")
            # Up: PONG, or NOAUTH from a server with a password.
            if c.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                return RedisServer(port, process)
        time.sleep(0.05)
    process.kill()
    pytest.fail("redis-server did not answer within 20 s")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the session (skipped, saying why, where none is installed)."""
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip(
            "redis-server and redis-cli are not installed (Debian: apt-get install "
            "redis-server; .ci/run installs it)"
        )
    server = start_redis(tmp_path_factory.mktemp("redis"), free_port())
    try:
        yield server
    finally:
        server.process.kill()
        server.process.wait(timeout=30)


@pytest.fixture
def redis(redis_server: RedisServer) -> RedisServer:
    """The session's redis-server, emptied for this test."""
    redis_server.cli("FLUSHALL")
    return redis_server


@attrs.frozen
class RedisLauncher:
    """Starts redis-servers of a test's own (to stop and start one under a host)."""

    def free_port(self) -> int:
        return free_port()

    def start(self, work: Path, port: int, *options: str) -> RedisServer:
        return start_redis(work, port, *options)


@pytest.fixture
def redis_launcher(redis_server: RedisServer) -> RedisLauncher:
    """Starts more redis-servers (skipped like ``redis_server`` where none is installed)."""
    return RedisLauncher()
