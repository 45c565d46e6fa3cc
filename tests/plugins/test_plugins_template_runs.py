"""The template's promise: every kind renders, installs and passes its own tests.

The rendered plugins are installed, with garrison-api from this repository,
into a throwaway uv project (offline, from uv's cache) that has no host, and
each one's tests run there with its own pytest. Then `garrison plugins
install` puts them in a temporary plugins directory and the host discovers
each with status ok.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from garrison.plugins.template import KINDS, render_plugin

from .ecosystem import REPO, make_uv_project, needs_uv, offline_env, run

pytestmark = [needs_uv, pytest.mark.slow]


def test_every_kind_renders_installs_and_passes_its_tests(tmp_path: Path) -> None:
    rendered = {
        kind: render_plugin(kind, f"t-{kind.replace('_', '-')}", tmp_path) for kind in KINDS
    }
    project = tmp_path / "check"
    sources = {"garrison-api": REPO / "plugin_api"}
    sources.update({root.name: root for root in rendered.values()})
    # Each with its [test] extra: the pytest its README tells authors to install.
    venv = make_uv_project(project, sources, extras=["test"])
    python = venv / "bin" / "python"
    host = run([python, "-c", "import importlib.util as u; print(u.find_spec('garrison'))"])
    assert host.stdout.strip() == "None"  # the plugins are tested without the host

    for kind, root in rendered.items():
        done = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, check=False)
        assert done.returncode == 0, f"{kind}:\n{done.stdout}\n{done.stderr}"
        assert " passed" in done.stdout

    plugins_dir = tmp_path / "plugins"
    env = offline_env(GARRISON_PLUGINS_DIR=str(plugins_dir))
    garrison = [sys.executable, "-m", "garrison.cli.main"]
    run([*garrison, "plugins", "install", "--offline", *rendered.values()], env=env)
    listed = json.loads(run([*garrison, "plugins", "--json"], env=env).stdout)
    statuses = {entry["name"]: entry for entry in listed if entry["in_plugins_dir"]}
    for kind, root in rendered.items():
        entry = statuses[root.name.removeprefix("garrison-")]
        assert entry["status"] == "ok", entry["error"]
        assert list(entry["components"]) == [kind]
