"""``garrison fake-exchange`` as a subprocess: it serves, prints what a profile needs, stops."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import REPO, demo_files


def garrison(*args: str) -> list[str]:
    return [sys.executable, "-m", "garrison.cli.main", *args]


def read_until(proc: subprocess.Popen[str], marker: str, timeout: float = 60.0) -> list[str]:
    """Lines of stdout up to and including the first containing ``marker``."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if marker in line:
            return lines
    proc.kill()
    pytest.fail(f"no {marker!r} line from garrison fake-exchange; got {lines}")


@pytest.mark.slow
def test_serves_bybit_on_a_free_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    (btc,) = demo_files("BTCUSDT")
    proc = subprocess.Popen(
        garrison(
            "fake-exchange", "--exchange", "bybit", "--data", btc, "--port", "0", "--speed", "60"
        ),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = read_until(proc, "ws_url =")
        text = "\n".join(lines)
        rest = re.search(r'rest_url = "(http://127\.0\.0\.1:\d+)"', text)
        assert rest is not None, text
        assert re.search(r'ws_url = "ws://127\.0\.0\.1:\d+"', text), text
        for expected in ("[exchange]", "BTCUSDT", "speed 60"):
            assert expected in text
        with urllib.request.urlopen(f"{rest[1]}/v5/market/time", timeout=10) as response:
            body = json.load(response)
        assert body["retCode"] == 0
        assert int(body["result"]["timeSecond"]) > 0
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "fake exchange stopped" in out


def test_a_bad_data_glob_is_refused_with_its_name() -> None:
    result = subprocess.run(
        garrison("fake-exchange", "--exchange", "bybit", "--data", "nowhere/*.csv", "--port", "0"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "no candle file matches" in result.stderr
    assert "nowhere" in result.stderr


def test_help_explains_speed_and_the_control_endpoints() -> None:
    result = subprocess.run(
        garrison("fake-exchange", "--help"), cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "market seconds per wall second" in result.stdout
    for endpoint in ("/_fake/state", "/_fake/faults", "/_fake/advance"):
        assert endpoint in result.stdout
