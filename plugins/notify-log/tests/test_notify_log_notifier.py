"""The log notifier, captured through a loguru sink the test adds (as the host would)."""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import cattrs
import pluggy
import pytest
from garrison_api import PROJECT_NAME, Event, Level, Registry, hookspecs
from garrison_notify_log import LogNotifier, LogParams, plugin
from loguru import logger

SOURCE = Path(__file__).resolve().parents[1] / "src" / "garrison_notify_log"


@pytest.fixture
def records() -> Iterator[list[Any]]:
    captured: list[Any] = []
    sink_id = logger.add(lambda message: captured.append(message.record), level=0)
    yield captured
    logger.remove(sink_id)


def notify(notifier: LogNotifier, *events: Event) -> None:
    async def send() -> None:
        for event in events:
            await notifier.notify(event)

    asyncio.run(send())


def event(kind: str = "trade.closed", level: Level = Level.INFO, **data: Any) -> Event:
    return Event(
        ts=1_758_680_400_000,
        kind=kind,
        message="BTCUSDT long closed +1.2R",
        level=level,
        source="turtle",
        data=data,
    )


def test_writes_one_line_with_the_event_bound(records: list[dict[str, Any]]) -> None:
    notify(LogNotifier(), event(pnl=12.5, symbol="BTCUSDT"))
    (record,) = records
    assert record["message"] == "trade.closed [turtle] BTCUSDT long closed +1.2R"
    assert record["level"].name == "INFO"
    extra = record["extra"]
    assert extra["kind"] == "trade.closed"
    assert extra["source"] == "turtle"
    assert extra["event_ts"] == 1_758_680_400_000
    assert extra["data"] == {"pnl": 12.5, "symbol": "BTCUSDT"}


@pytest.mark.parametrize(
    ("level", "name"),
    [
        (Level.DEBUG, "DEBUG"),
        (Level.INFO, "INFO"),
        (Level.WARNING, "WARNING"),
        (Level.ERROR, "ERROR"),
        (Level.CRITICAL, "CRITICAL"),
    ],
)
def test_levels_map_to_loguru_levels(
    records: list[dict[str, Any]], level: Level, name: str
) -> None:
    notify(LogNotifier(LogParams(min_level=Level.DEBUG)), event(level=level))
    assert [r["level"].name for r in records] == [name]


def test_min_level_filters(records: list[dict[str, Any]]) -> None:
    notifier = LogNotifier(LogParams(min_level="warning"))
    notify(notifier, *(event(level=level) for level in Level))
    assert [r["level"].name for r in records] == ["WARNING", "ERROR", "CRITICAL"]


def test_default_drops_debug(records: list[dict[str, Any]]) -> None:
    notify(LogNotifier(), event(level=Level.DEBUG), event(level=Level.INFO))
    assert len(records) == 1


def test_kinds_are_prefix_filters(records: list[dict[str, Any]]) -> None:
    notifier = LogNotifier(LogParams(kinds=("trade.", "risk.halted")))
    kinds = ["trade.closed", "trade.opened", "risk.halted", "risk.vetoed", "plugin.failed"]
    notify(notifier, *(event(kind) for kind in kinds))
    assert [r["extra"]["kind"] for r in records] == ["trade.closed", "trade.opened", "risk.halted"]


def test_messages_stay_on_one_line_and_are_not_formatted(records: list[dict[str, Any]]) -> None:
    tricky = Event(ts=0, kind="plugin.failed", message="boom {oops}\nsecond line", source="x")
    notify(LogNotifier(), tricky)
    assert records[0]["message"] == "plugin.failed [x] boom {oops} second line"


def test_params_structure_from_a_profile_table() -> None:
    converter = cattrs.Converter(forbid_extra_keys=True)
    params = converter.structure({"min_level": "error", "kinds": ["trade."]}, LogParams)
    assert params == LogParams(min_level=Level.ERROR, kinds=("trade.",))
    assert converter.structure({}, LogParams) == LogParams(Level.INFO, ())
    with pytest.raises(cattrs.errors.ClassValidationError):
        converter.structure({"level": "error"}, LogParams)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_level": "loud"}, "log: min_level must be one of debug, info, warning"),
        ({"kinds": "trade."}, "log: kinds is a list of event-kind prefixes"),
        ({"kinds": ("trade.", "")}, "log: kinds must be non-empty strings"),
        ({"kinds": 3}, "log: kinds is a list of event-kind prefixes"),
    ],
)
def test_bad_params_are_refused_naming_the_key(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LogParams(**kwargs)


def test_importing_the_plugin_adds_no_sink() -> None:
    script = (
        "from loguru import logger\n"
        "before = repr(logger)\n"
        "import garrison_notify_log, garrison_notify_log.plugin\n"
        "assert repr(logger) == before, (before, repr(logger))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_registers_the_log_notifier_through_pluggy() -> None:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin, name="notify-log")
    registry = Registry()
    manager.hook.garrison_register(registry=registry)
    entry = registry.get("notifier", "log")
    assert entry is not None
    assert entry.factory is LogNotifier
    (point,) = [ep for ep in entry_points(group=PROJECT_NAME) if ep.name == "notify-log"]
    assert point.value == "garrison_notify_log.plugin"


def test_imports_only_garrison_api_and_loguru() -> None:
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] != "garrison", f"{path.name} imports {module}"
