"""Fixtures of the console's tests: a canned fake host, and a real host replaying real candles.

The real host is the control tests' own (``tests/control/test_control_host.py``:
a ``garrison run`` replay of the five real Bybit 5-minute files with a slow
Turtle that holds its positions), loaded from that file so both suites
steer the same kind of host. It replays more slowly here, so it is still
running when the last console test acts on it. Here it also has a second
throwaway plugin (:data:`SWAPPABLE_PLUGIN`) with a strategy and two
scorers to swap between, and its profile a shadow scorer and a pacer: a
strategy on BTCUSDT alone that never signals and only sleeps, so the replay
stays slow while the console disables the slow Turtle.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
CONTROL_TESTS = HERE.parent / "control" / "test_control_host.py"

#: Seconds the slow strategy sleeps per candle here (the replay then lasts minutes).
SLEEP_S = 0.0003

#: What the console swaps to: the slow Turtle under another plugin name (so the
#: replay stays slow after the swap), and two scorers giving a fixed score.
SWAPPABLE_PLUGIN = """\
import time

import attrs
from garrison_api import Score, hookimpl
from garrison_slowturtle import SlowTurtle


class SlowTurtleToo(SlowTurtle):
    \"\"\"The slow Turtle, installed under another name: what the console swaps to.\"\"\"


@attrs.frozen
class PacerParams:
    sleep_s: float = 0.0


class Pacer:
    \"\"\"Sleeps on every candle and never signals: it sets the replay's pace.\"\"\"

    Params = PacerParams
    timeframes = ("5m",)
    indicators = {}
    warmup = 0

    def __init__(self, params=None):
        self.params = params if params is not None else PacerParams()

    def on_candle(self, candle, ctx):
        time.sleep(self.params.sleep_s)
        return ()


@attrs.frozen
class SteadyParams:
    value: float = 0.7


class Steady:
    Params = SteadyParams

    def __init__(self, params=None):
        self.params = params if params is not None else SteadyParams()

    def score(self, signal, ctx):
        return Score(self.params.value, model=type(self).__name__)

    def learn(self, outcome):
        return None


class SteadyToo(Steady):
    pass


@hookimpl
def garrison_register(registry):
    registry.add_strategy("slow_turtle_too", SlowTurtleToo)
    registry.add_strategy("pacer", Pacer)
    registry.add_scorer("steady", Steady)
    registry.add_scorer("steady_too", SteadyToo)
"""

#: The console host's scorer, a shadow (it never gates, so the trades stay Turtle's), and
#: its pacer (as slow per BTCUSDT candle as the slow Turtle is over all five symbols').
EXTRA_TABLES = f"""
[[scorers]]
use = "steady"
name = "shadow"
mode = "shadow"

[[strategies]]
use = "pacer"
name = "pacer"
symbols = ["BTCUSDT"]
params = {{ sleep_s = {5 * SLEEP_S} }}
"""


def install_swappable_plugin(site: Path) -> None:
    """The second throwaway distribution, beside the slow Turtle's in ``site``."""
    package = site / "garrison_consoleswap"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(SWAPPABLE_PLUGIN)
    info = site / "garrison_consoleswap-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: garrison-consoleswap\nVersion: 0.1.0\n"
        "Requires-Dist: garrison-api>=1,<2\n"
    )
    (info / "entry_points.txt").write_text("[garrison]\nconsoleswap = garrison_consoleswap\n")
    (info / "RECORD").write_text("")


@pytest.fixture(scope="session")
def canned(script_loader: Any) -> ModuleType:
    """The canned answers and the fake host (``tests/console/canned.py``)."""
    return script_loader("garrison_console_canned", HERE / "canned.py")


@pytest.fixture(scope="session")
def control_tests(script_loader: Any) -> ModuleType:
    return script_loader("garrison_console_control_host", CONTROL_TESTS)


@pytest.fixture(scope="module")
def replay_host(
    control_tests: ModuleType, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[object]:
    """A real ``garrison run`` replay serving its control socket (killed at the end)."""
    files = control_tests.real_files()
    work = tmp_path_factory.mktemp("console")
    site = work / "site"
    control_tests.SLEEP_S = SLEEP_S
    control_tests.install_slow_plugin(site)
    install_swappable_plugin(site)
    sock = work / "run" / "ctl.sock"
    journal = work / "journal.sqlite"
    text = control_tests.profile_text(sock, journal, files) + EXTRA_TABLES
    host = control_tests.start_host(work, site, text, sock, journal, "host")
    try:
        yield host
    finally:
        control_tests.stop_host(host)
