"""`garrison backtest` reports each scorer's calibration and gate precision on held-out time."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from garrison.cli.main import cli

from .helpers import turtle_profile

SCORERS = """
[[scorers]]
use = "river"
mode = "shadow"
threshold = 0.35
"""


def test_backtest_prints_each_scorers_report(demo_glob: str, tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text(turtle_profile([demo_glob], SCORERS), encoding="utf-8")
    journal = tmp_path / "journal.sqlite"
    args = ["backtest", str(profile), "--journal", str(journal), "--no-progress", "--no-cache"]
    result = CliRunner().invoke(cli, [*args, "--holdout-from", "2025-12-01"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # the console wraps long titles
    assert "Scorer river (shadow) on held-out time from 2025-12-01 00:00" in out
    assert "precision of >= threshold vs all" in out
    assert "Calibration of river" in out
    for row in ("all rated", ">= threshold", "< threshold"):
        assert row in out
    # The default held-out window is the run's last 30 %.
    default = CliRunner().invoke(cli, args)
    assert default.exit_code == 0, default.output
    assert "Scorer river (shadow) on held-out time from 2025-11-" in " ".join(
        default.output.split()
    )
    bad = CliRunner().invoke(cli, [*args, "--holdout-from", "someday"])
    assert bad.exit_code == 2
    assert "--holdout-from" in bad.output


def test_backtest_without_scorers_prints_no_scorer_report(demo_glob: str, tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text(turtle_profile([demo_glob], ""), encoding="utf-8")
    args = ["backtest", str(profile), "--journal", str(tmp_path / "j.sqlite"), "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Scorer " not in result.output
