"""The plugin life cycle as an operator lives it, end to end, in a throwaway uv project.

The project stands for a Garrison workspace (the host, the API and two
first-party plugins, editable, synced by uv). A plugin rendered by `garrison
plugins new` is installed with `garrison plugins install PATH`, discovered,
traded in a replay, survives the project's own `uv sync`, and is removed with
`uninstall`; a plugin made for garrison-api 2 is refused and left uninstalled.
Everything is built from local paths with uv offline.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .ecosystem import REPO, UV, make_uv_project, needs_uv, offline_env, run, uv_sync, write_plugin

pytestmark = [needs_uv, pytest.mark.slow]

PROFILE = """\
[profile]
name = "lifecycle"
mode = "replay"
exchange = "bybit"

[data]
source = "csv"
paths = ["{data}/bybit_*_5m.csv.gz"]

[journal]
path = "{journal}"

[[strategies]]
use = "throwaway"

[sizer]
use = "fixed_risk"
"""


def listing(garrison: Path) -> dict[str, dict[str, Any]]:
    done = run([garrison, "plugins", "--json"], env=offline_env())
    return {entry["name"]: entry for entry in json.loads(done.stdout)}


def test_install_discover_run_resync_uninstall_and_refuse(tmp_path: Path) -> None:
    venv = make_uv_project(
        tmp_path / "workspace",
        {
            "garrison": REPO / "host",
            "garrison-api": REPO / "plugin_api",
            "garrison-sizers": REPO / "plugins" / "sizers",
            "garrison-notify-log": REPO / "plugins" / "notify-log",
        },
        editable=True,
    )
    garrison = venv / "bin" / "garrison"
    env = offline_env()
    run([garrison, "plugins", "new", "strategy", "throwaway", "--dir", tmp_path], env=env)
    source = tmp_path / "garrison-throwaway"

    installed = run([garrison, "plugins", "install", "--offline", source], env=env)

    assert "installed garrison-throwaway 0.1.0 (plugin throwaway)" in installed.stdout
    assert (venv / "garrison-plugins" / "garrison_throwaway").is_dir()
    found = listing(garrison)["throwaway"]
    assert found["status"] == "ok", found["error"]
    assert found["in_plugins_dir"] is True
    assert found["api_range"] == ">=1.1,<2"
    assert found["components"] == {"strategy": ["throwaway"]}

    journal = tmp_path / "lifecycle.sqlite"
    profile = tmp_path / "lifecycle.toml"
    profile.write_text(PROFILE.format(data=REPO / "data" / "demo", journal=journal))
    run([garrison, "run", profile, "--no-progress", "--no-cache"], env=env)
    with sqlite3.connect(journal) as db:
        (signals,) = db.execute(
            "select count(*) from signals where strategy = 'throwaway'"
        ).fetchone()
    assert signals > 0

    # The control: a plugin put into site-packages directly is listed until the sync.
    naive = write_plugin(tmp_path / "src", "naive")
    run([UV, "pip", "install", "--offline", "--python", venv / "bin" / "python", naive], env=env)
    assert "naive" in listing(garrison)

    uv_sync(tmp_path / "workspace")  # removes from .venv whatever its lock does not name

    after_sync = listing(garrison)
    assert "naive" not in after_sync
    assert after_sync["throwaway"]["status"] == "ok"

    future = write_plugin(tmp_path / "src", "future", requires=["garrison-api>=2,<3"])
    refused = run([garrison, "plugins", "install", "--offline", future], env=env, check=False)
    assert refused.returncode == 2
    assert "refused" in refused.stderr
    assert "garrison-api>=2,<3" in refused.stderr
    assert "future" not in listing(garrison)
    assert not list((venv / "garrison-plugins").glob("garrison_future*"))

    removed = run([garrison, "plugins", "uninstall", "throwaway"], env=env)

    assert "uninstalled garrison-throwaway" in removed.stdout
    assert "throwaway" not in listing(garrison)
    assert list((venv / "garrison-plugins").iterdir()) == []
