"""`garrison plugins new KIND NAME`: what it renders, for every kind."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from garrison.cli.plugins_cmd import plugins
from garrison.plugins.template import KINDS, TemplateError, render_plugin

FILES = (
    "pyproject.toml",
    "README.md",
    "CHANGELOG.md",
    ".github/workflows/ci.yml",
    "src/garrison_my_thing/__init__.py",
    "src/garrison_my_thing/params.py",
    "src/garrison_my_thing/plugin.py",
    "src/garrison_my_thing/py.typed",
    "tests/test_plugin.py",
)

CONTRACTS = {
    "strategy": "StrategyContract",
    "scorer": "ScorerContract",
    "sizer": "SizerContract",
    "risk_rule": "RiskRuleContract",
    "notifier": "NotifierContract",
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("kind", KINDS)
def test_renders_a_complete_distribution(kind: str, tmp_path: Path) -> None:
    root = render_plugin(kind, "my-thing", tmp_path)

    assert root == tmp_path / "garrison-my-thing"
    for name in (*FILES, f"src/garrison_my_thing/{kind}.py", f"tests/test_{kind}_contract.py"):
        assert (root / name).is_file(), name
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == "garrison-my-thing"
    assert project["dependencies"] == ["garrison-api>=1.1,<2"]
    assert project["entry-points"]["garrison"] == {"my-thing": "garrison_my_thing.plugin"}
    contract = (root / f"tests/test_{kind}_contract.py").read_text()
    assert f"({CONTRACTS[kind]})" in contract
    for source in root.rglob("*.py"):
        compile(source.read_text(), str(source), "exec")
        # A plugin imports garrison_api, never the host.
        assert "garrison" not in imported_roots(source), source
    assert "$" not in (root / "README.md").read_text()


@pytest.mark.parametrize("kind", KINDS)
def test_rendered_code_is_lint_clean(kind: str, tmp_path: Path) -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    root = render_plugin(kind, "my-thing", tmp_path)

    for command in ([ruff, "check", "--no-cache", "."], [ruff, "format", "--check", "."]):
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def test_names_are_derived_and_checked(tmp_path: Path) -> None:
    root = render_plugin("risk-rule", "garrison-Max_Size", tmp_path)

    assert root.name == "garrison-max-size"
    plugin = (root / "src/garrison_max_size/plugin.py").read_text()
    assert 'registry.add_risk_rule("max_size", MaxSize)' in plugin
    with pytest.raises(TemplateError, match="unknown kind 'broker'"):
        render_plugin("broker", "x", tmp_path)
    with pytest.raises(TemplateError, match="lowercase letters"):
        render_plugin("strategy", "9lives", tmp_path)
    with pytest.raises(TemplateError, match="already exists"):
        render_plugin("strategy", "max-size", tmp_path)


def test_cli_new_reports_the_folder_and_refuses_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()

    made = runner.invoke(plugins, ["new", "notifier", "pager", "--dir", str(tmp_path)])
    bad = runner.invoke(plugins, ["new", "oracle", "pager", "--dir", str(tmp_path)])

    assert made.exit_code == 0, made.output
    assert f"created {tmp_path / 'garrison-pager'}" in made.output
    assert bad.exit_code == 2
    assert "unknown kind 'oracle'" in bad.output
