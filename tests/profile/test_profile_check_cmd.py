"""``garrison check``: prints the resolved profile and "profile OK", or the problems and exit 2."""

from __future__ import annotations

import tomllib
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from garrison.cli import check_cmd
from garrison_api import Registry


@attrs.frozen
class FakePlugins:
    """What check needs of ``load_plugins()``'s result."""

    registry: Registry
    problems: tuple[object, ...] = ()


@pytest.fixture
def runner(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    # The test registry, plus the host's default risk rules as no-op stand-ins.
    from garrison.risk.defaults import DEFAULT_RISK_CHAIN

    class NoOpRule:
        @attrs.frozen
        class Params:
            pass

    for name in DEFAULT_RISK_CHAIN:
        if registry.get("risk_rule", name) is None:
            registry.add_risk_rule(name, NoOpRule)
    monkeypatch.setattr(check_cmd, "load_plugins", lambda **_: FakePlugins(registry))
    return CliRunner()


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_profile_prints_resolved_toml_and_ok(
    runner: CliRunner, tmp_path: Path, full: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BINANCE_API_KEY", "do-not-print-me")
    monkeypatch.delenv("BINANCE_API_SECRET", raising=False)
    result = runner.invoke(check_cmd.check, [str(write(tmp_path, full))])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.rstrip("\n").splitlines()
    assert lines[-1].startswith("profile OK: bybit-main (paper, binance demo)")
    rendered = tomllib.loads("\n".join(lines[:-1]))
    assert rendered["strategies"][0]["params"]["entry_period"] == 10
    assert 'api_key_env = "BINANCE_API_KEY"  # set in the environment' in result.stdout
    assert "NOT set in the environment" in result.stdout
    assert "do-not-print-me" not in result.output


def test_quiet_prints_only_the_verdict(runner: CliRunner, tmp_path: Path, minimal: str) -> None:
    result = runner.invoke(check_cmd.check, ["--quiet", str(write(tmp_path, minimal))])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("profile OK: t (replay, bybit testnet)")
    assert "[profile]" not in result.stdout


def test_bad_profile_prints_every_problem_and_exits_2(
    runner: CliRunner, tmp_path: Path, minimal: str
) -> None:
    text = minimal.replace('use = "breakout"', 'use = "brekout"') + "\n[account]\nleverage = 0\n"
    path = write(tmp_path, text, "bad.toml")
    result = runner.invoke(check_cmd.check, [str(path)])
    assert result.exit_code == 2
    assert "profile OK" not in result.output
    assert result.stdout == ""
    err = result.stderr
    assert f"{path}: 2 problems" in err
    assert f"{path}: account.leverage: expected a number >= 1; found 0.0 (a number)" in err
    assert f"{path}: strategies[0].use: " in err
    assert "did you mean 'breakout'?" in err


def test_toml_syntax_error_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "[profile\n")
    result = runner.invoke(check_cmd.check, [str(path)])
    assert result.exit_code == 2
    assert f"{path}: line 1, column 9: expected valid TOML" in result.stderr


def test_missing_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(check_cmd.check, [str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_plugin_load_problems_are_warned_about(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, minimal: str
) -> None:
    @attrs.frozen
    class Broken:
        name: str = "garrison-broken"
        status: str = "failed"
        error: str = "ImportError: no module named talib"

    monkeypatch.setattr(
        check_cmd, "load_plugins", lambda **_: FakePlugins(registry, problems=(Broken(),))
    )
    path = write(tmp_path, minimal.replace('use = "breakout"', 'use = "talib_cross"'))
    result = CliRunner().invoke(check_cmd.check, [str(path)])
    assert result.exit_code == 2
    assert "warning: plugin garrison-broken (failed): ImportError" in result.stderr


def test_help_explains_the_command() -> None:
    result = CliRunner().invoke(check_cmd.check, ["--help"])
    assert result.exit_code == 0
    assert "Validate PROFILE" in result.output
    assert "--quiet" in result.output
    assert "Touches no network" in result.output
