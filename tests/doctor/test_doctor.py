"""`garrison doctor`: environment, plugins with reasons, profiles and their journals."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import garrison_api
import pytest
from garrison.doctor import Finding, diagnose, journal_findings, plugin_finding
from garrison.journal.journal import Journal
from garrison.plugins import PluginInfo

REPO = Path(__file__).resolve().parents[2]

PROFILE = """\
[profile]
name = "doctor"
mode = "{mode}"

[exchange]
symbols = ["BTCUSDT"]

[credentials]
api_key_env = "GARRISON_DOCTOR_KEY"

[journal]
path = "{journal}"

[[strategies]]
use = "turtle"

[sizer]
use = "fixed_risk"
"""


def doctor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "GARRISON_LOAD_PLUGINS"}
    environ.update(COLUMNS="200", **env)
    return subprocess.run(
        [sys.executable, "-m", "garrison.cli.main", "doctor", *args],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def by_topic(findings: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {f["topic"]: f for f in findings}


def test_plugin_findings_say_why() -> None:
    ok = PluginInfo("t", "m", "garrison-t", "1.0", components=(("strategy", "t"),))
    refused = PluginInfo("f", "m", "garrison-f", "1.0", status="incompatible", error="needs 2")
    hidden = PluginInfo("h", "m", "garrison-h", "1.0", status="not allowed", error="not listed")

    assert plugin_finding(ok) == Finding("t", "ok", "garrison-t 1.0; strategy: t")
    assert plugin_finding(refused) == Finding("f", "problem", "incompatible: needs 2")
    assert plugin_finding(hidden) == Finding("h", "note", "not allowed: not listed")


def test_a_journal_reports_integrity_size_and_runs(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal.open(path).close()

    journal, integrity, runs = journal_findings(path)

    assert journal.verdict == "ok"
    assert "MiB, schema v" in journal.detail
    assert integrity == Finding("integrity_check", "ok", "ok")
    assert runs == Finding("runs", "ok", "none")


def test_a_damaged_journal_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a database" * 100)

    (finding,) = journal_findings(path)

    assert finding.verdict == "problem"
    assert str(path) in finding.detail


def test_a_journal_not_made_yet_is_a_note(tmp_path: Path) -> None:
    (finding,) = journal_findings(tmp_path / "absent.sqlite")

    assert finding.verdict == "note"


def test_report_in_process_with_a_live_profile(tmp_path: Path) -> None:
    profile = tmp_path / "live.toml"
    profile.write_text(PROFILE.format(mode="live", journal="j.sqlite"))
    Journal.open(tmp_path / "j.sqlite").close()

    diagnosis = diagnose([profile], environ={"GARRISON_PLUGINS_DIR": str(tmp_path / "p")})

    titles = [s.title for s in diagnosis.sections]
    assert titles == ["environment", "plugins", f"profile {profile}"]
    environment = {f.topic: f for f in diagnosis.sections[0].findings}
    assert environment["garrison-api"].detail == garrison_api.__version__
    assert str(tmp_path / "p") in environment["plugins directory"].detail
    checked = {f.topic: f for f in diagnosis.sections[2].findings}
    assert checked["live plugins"].detail == "first-party plugins only"
    assert checked["integrity_check"].verdict == "ok"
    assert checked["api_key_env"].verdict == "note"
    assert diagnosis.healthy


def test_cli_json_and_exit_status(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(PROFILE.format(mode="paper", journal="j.sqlite"))
    bad = tmp_path / "bad.toml"
    bad.write_text(PROFILE.format(mode="paper", journal="j.sqlite").replace("turtle", "tortoise"))
    sqlite3.connect(tmp_path / "j.sqlite").close()  # an empty file: not a Garrison journal

    done = doctor("--json", str(good), str(bad), GARRISON_PLUGINS_DIR=str(tmp_path / "p"))

    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["healthy"] is False
    sections = {s["title"]: s["findings"] for s in report["sections"]}
    assert by_topic(sections["plugins"])["turtle"]["verdict"] == "ok"
    assert by_topic(sections[f"profile {good}"])["journal"]["verdict"] == "problem"
    (problem,) = sections[f"profile {bad}"]
    assert "tortoise" in problem["detail"]


@pytest.mark.parametrize("args", [(), ("configs/demo.toml",)])
def test_cli_table(args: tuple[str, ...], tmp_path: Path) -> None:
    done = doctor(*(str(REPO / a) for a in args), GARRISON_PLUGINS_DIR=str(tmp_path / "p"))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "environment" in done.stdout
    assert "turtle" in done.stdout
    assert done.stdout.rstrip().endswith("healthy")


def test_a_profiles_redis_is_pinged_and_its_password_never_shown(
    redis_launcher: object, tmp_path: Path
) -> None:
    launcher: Any = redis_launcher
    guarded = launcher.start(tmp_path, launcher.free_port(), "--requirepass", "doc-secret")
    dead = launcher.free_port()
    profile = tmp_path / "p.toml"
    base = PROFILE.format(mode="paper", journal="j.sqlite")

    def redis_finding(url: str, environ: dict[str, str]) -> Finding:
        profile.write_text(
            base + f'\n[redis]\nurl = "{url}"\npassword_env = "GARRISON_DOCTOR_REDIS_PW"\n'
        )
        diagnosis = diagnose([profile], environ=environ)
        return {f.topic: f for f in diagnosis.sections[2].findings}["redis"]

    try:
        with_pw = {"GARRISON_DOCTOR_REDIS_PW": "doc-secret"}
        answered = redis_finding(guarded.url, with_pw)
        assert answered.verdict == "ok"
        assert f"{guarded.url} answers" in answered.detail
        unset = redis_finding(guarded.url, {})
        assert unset.verdict == "problem"
        assert "GARRISON_DOCTOR_REDIS_PW is not set" in unset.detail
        wrong = redis_finding(guarded.url, {"GARRISON_DOCTOR_REDIS_PW": "not-it"})
        assert wrong.verdict == "problem"
        assert "not-it" not in wrong.detail
        away = redis_finding(f"redis://127.0.0.1:{dead}/0", with_pw)
        assert away.verdict == "problem"
        assert f"redis://127.0.0.1:{dead}/0 does not answer" in away.detail
        assert "would trade on" in away.detail
    finally:
        guarded.process.kill()
        guarded.process.wait(timeout=30)
