"""`garrison plugins`, in process and end to end in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner
from garrison.cli.main import cli
from garrison.cli.plugins_cmd import plugins

if TYPE_CHECKING:
    # The ``site`` fixture's type; conftest is not importable at run time.
    from conftest import PluginSite

FIRST_PARTY_MODULES = ("garrison_turtle", "garrison_sizers", "garrison_notify_log")


def by_name(listing: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in listing}


def test_json_lists_every_plugin_with_its_fields(site: PluginSite) -> None:
    site.install("garrison_thirdparty", source=site.strategy_source("thirdparty", "tp2"))
    site.install("garrison_future", requires=["garrison-api>=2,<3"])

    result = CliRunner().invoke(plugins, ["--json"])

    assert result.exit_code == 0, result.output
    listing = by_name(json.loads(result.stdout))
    assert listing["thirdparty"] == {
        "name": "thirdparty",
        "module": "garrison_thirdparty",
        "distribution": "garrison-thirdparty",
        "version": "0.1.0",
        "api_range": ">=1,<2",
        "status": "ok",
        "error": None,
        "components": {"strategy": ["thirdparty", "tp2"]},
        "in_plugins_dir": False,
    }
    future = listing["future"]
    assert future["status"] == "incompatible"
    assert future["components"] == {}
    assert ">=2,<3" in future["error"]


def test_table_shows_status_and_errors_go_to_stderr(site: PluginSite) -> None:
    site.install("garrison_thirdparty", source=site.strategy_source("thirdparty", "tp2"))
    site.install("garrison_broken", source="raise ImportError('needs libfoo')\n")

    result = CliRunner(env={"COLUMNS": "200"}).invoke(plugins, [])

    assert result.exit_code == 0, result.output
    row = next(line for line in result.stdout.splitlines() if " thirdparty " in line)
    for cell in ("garrison-thirdparty", "0.1.0", "strategy: thirdparty, tp2", ">=1,<2", "ok"):
        assert cell in row
    broken_row = next(line for line in result.stdout.splitlines() if " broken " in line)
    assert "failed" in broken_row
    assert "needs libfoo" not in result.stdout
    assert "broken (failed): cannot import garrison_broken: ImportError: needs libfoo" in (
        result.stderr
    )


def test_help_explains_the_statuses() -> None:
    result = CliRunner().invoke(plugins, ["--help"])

    assert result.exit_code == 0
    for word in ("incompatible", "failed", "--json", "garrison-api"):
        assert word in result.output


def test_end_to_end_in_a_subprocess(site: PluginSite) -> None:
    site.install("garrison_thirdparty")
    site.install("garrison_future", source="raise SystemExit(3)\n", requires=["garrison-api>=2"])
    if "plugins" in cli.commands:
        command = ["-m", "garrison.cli.main", "plugins", "--json"]
    else:  # not wired into the main group yet
        command = ["-c", "from garrison.cli.plugins_cmd import plugins; plugins(['--json'])"]
    env = {**os.environ, "PYTHONPATH": str(site.root)}

    done = subprocess.run(
        [sys.executable, *command], env=env, capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stderr
    listing = by_name(json.loads(done.stdout))
    assert listing["thirdparty"]["status"] == "ok"
    assert listing["thirdparty"]["components"] == {"strategy": ["thirdparty"]}
    assert listing["future"]["status"] == "incompatible"
    assert listing["host"]["distribution"] == "garrison"


def test_importing_discovery_loads_no_plugin() -> None:
    script = textwrap.dedent(
        f"""\
        import sys
        import garrison.plugins
        import garrison.plugins.manager
        import garrison.cli.plugins_cmd
        loaded = [
            name for name in sys.modules
            if name.startswith({FIRST_PARTY_MODULES!r}) or name == "garrison.risk.plugin"
        ]
        print(loaded)
        """
    )

    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == "[]"
