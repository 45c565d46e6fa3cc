"""The other ``garrison`` commands a user meets first: help, plugins, check."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Garrison = Callable[..., subprocess.CompletedProcess[str]]


def flat(text: str) -> str:
    return " ".join(text.split())


def test_garrison_help_lists_the_commands(garrison: Garrison) -> None:
    proc = garrison("--help")
    assert proc.returncode == 0, proc.stderr
    assert "Usage: garrison" in proc.stdout
    for command in ("run", "backtest", "check", "plugins", "doctor"):
        assert f"\n  {command} " in proc.stdout, proc.stdout
    assert "garrison check configs/demo.toml" in flat(proc.stdout)


def test_backtest_help_explains_every_option(garrison: Garrison) -> None:
    proc = garrison("backtest", "--help")
    assert proc.returncode == 0, proc.stderr
    out = flat(proc.stdout)
    assert "Usage: garrison backtest [OPTIONS] PROFILE" in out
    for option, words in {
        "--from DATE": "First bar to replay",
        "--to DATE": "opening before this",
        "--data FOLDER|GLOB": "instead of the profile's data",
        "--trades-csv FILE": "closed trades",
        "--journal FILE": "instead of the profile's [journal] path",
        "--progress / --no-progress": "progress bar",
        "--cache / --no-cache": "GARRISON_CACHE_DIR",
        "--resume": "last interrupted replay",
        "--driver [replay|steps]": "cross-checks the fast paths",
    }.items():
        assert option in out, f"{option} missing from:\n{proc.stdout}"
        assert words in out, f"{words!r} missing from:\n{proc.stdout}"
    assert out.count("--cache / --no-cache") == 1
    assert proc.stderr == ""


def test_run_help_names_the_journal(garrison: Garrison) -> None:
    proc = garrison("run", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "journal" in proc.stdout
    assert "--from" not in proc.stdout  # run replays the profile's own window


def test_plugins_lists_the_first_party_plugins(garrison: Garrison) -> None:
    table = garrison("plugins")
    assert table.returncode == 0, table.stderr
    for name in ("turtle", "sizers", "notify-log", "river", "onnx", "host"):
        assert name in table.stdout
    listed = garrison("plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["turtle"]["components"] == {"strategy": ["turtle", "turtle_rules"]}
    assert plugins["sizers"]["components"] == {"sizer": ["fixed_risk", "score_scaled", "turtle_n"]}
    assert plugins["notify-log"]["components"] == {"notifier": ["log"]}
    assert plugins["river"]["components"] == {"scorer": ["river"]}
    assert plugins["onnx"]["components"] == {"scorer": ["onnx"]}
    for name in ("turtle", "sizers", "notify-log", "river", "onnx"):
        assert plugins[name]["status"] == "ok"
        assert plugins[name]["distribution"] == f"garrison-{name}"
        assert plugins[name]["api_range"]


def test_check_demo_profile_exits_0_and_prints_it(garrison: Garrison) -> None:
    proc = garrison("check", "configs/demo.toml")
    assert proc.returncode == 0, proc.stderr
    assert 'name = "demo"' in proc.stdout
    assert 'use = "turtle"' in proc.stdout


def test_check_refuses_a_broken_profile(garrison: Garrison, tmp_path: Path) -> None:
    profile = tmp_path / "broken.toml"
    profile.write_text('[profile]\nname = "x"\nmode = "sideways"\n', encoding="utf-8")
    proc = garrison("check", str(profile))
    assert proc.returncode != 0
    message = flat(proc.stderr + proc.stdout)
    assert str(profile) in message
    assert "profile.mode" in message
