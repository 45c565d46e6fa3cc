"""Params from a profile table, registration, the contract kit, and the import rule."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

import cattrs
import pluggy
import pytest
from garrison_api import PROJECT_NAME, Level, Registry, hookspecs
from garrison_api.testing import NotifierContract
from garrison_telegram import TelegramNotifier, TelegramParams, plugin

SOURCE = Path(__file__).resolve().parents[1] / "src" / "garrison_telegram"


class TestTelegramNotifierContract(NotifierContract):
    """The kit's contract, with the notifier pointed at the fake Bot API."""

    url: ClassVar[str] = ""

    @pytest.fixture(autouse=True)
    def _fake_bot_api(self, bot_api: Any, token_env: str) -> None:
        type(self).url = bot_api.url

    @staticmethod
    def make_notifier() -> TelegramNotifier:
        return TelegramNotifier(
            TelegramParams(
                token_env="GARRISON_TEST_TELEGRAM_TOKEN",
                chat_ids=(5005,),
                api_base=TestTelegramNotifierContract.url or "http://127.0.0.1:9",
                poll_timeout_s=1,
            )
        )


def test_params_structure_from_a_profile_table() -> None:
    converter = cattrs.Converter(forbid_extra_keys=True)
    table = {
        "token_env": "TG_TOKEN",
        "chat_ids": [-100123, 42],
        "allowed_users": [42],
        "api_base": "http://127.0.0.1:8081",
        "min_level": "warning",
        "error_per_minute": 3,
        "critical_latch_hours": 12,
    }
    params = converter.structure(table, TelegramParams)
    assert params.chat_ids == (-100123, 42)
    assert params.allowed_users == (42,)
    assert params.min_level is Level.WARNING
    assert params.error_per_minute == 3
    assert params.critical_latch_hours == 12
    assert converter.structure({}, TelegramParams) == TelegramParams()
    with pytest.raises(cattrs.errors.ClassValidationError):
        converter.structure({"token": "123:abc"}, TelegramParams)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token_env": "123456:AAsecret"}, "token_env names the environment variable"),
        ({"chat_ids": "42"}, "chat_ids is a list of Telegram ids"),
        ({"allowed_users": [42, "43"]}, "allowed_users holds whole-number Telegram ids"),
        ({"allowed_users": [True]}, "allowed_users holds whole-number"),
        ({"api_base": "api.telegram.org"}, "api_base must be an http"),
        ({"min_level": "loud"}, "min_level must be one of"),
        ({"error_per_minute": -1}, "error_per_minute must be a whole number >= 0"),
        ({"critical_latch_hours": float("nan")}, "critical_latch_hours must be a number"),
        ({"confirm_ttl_s": 0}, "confirm_ttl_s must be > 0"),
        ({"mute_kinds": "control."}, "mute_kinds is a list of event-kind prefixes"),
    ],
)
def test_bad_params_are_refused_naming_the_key(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TelegramParams(**kwargs)


def test_registers_the_telegram_notifier_through_pluggy() -> None:
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin, name="telegram")
    registry = Registry()
    manager.hook.garrison_register(registry=registry)
    entry = registry.get("notifier", "telegram")
    assert entry is not None
    assert entry.factory is TelegramNotifier
    (point,) = [ep for ep in entry_points(group=PROJECT_NAME) if ep.name == "telegram"]
    assert point.value == "garrison_telegram.plugin"


def test_importing_starts_nothing() -> None:
    script = (
        "import threading\n"
        "before = threading.active_count()\n"
        "import garrison_telegram, garrison_telegram.plugin\n"
        "garrison_telegram.TelegramNotifier()\n"
        "assert threading.active_count() == before\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_imports_garrison_api_never_the_host() -> None:
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
