"""The architecture rules that a refactor could quietly break."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_plugins_import_only_the_api_never_the_host() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "plugins").rglob("*.py"))
        if "garrison" in _imports(path)
    ]
    assert offenders == [], f"plugins must import garrison_api, not garrison: {offenders}"


def test_the_api_does_not_import_the_host() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "plugin_api" / "src").rglob("*.py"))
        if "garrison" in _imports(path)
    ]
    assert offenders == [], f"garrison_api must stand alone: {offenders}"


def test_every_distribution_keeps_py_typed_where_it_promises_types() -> None:
    assert (ROOT / "plugin_api" / "src" / "garrison_api" / "py.typed").exists()


def imported_by(code: str, libraries: tuple[str, ...]) -> list[str]:
    """Which of ``libraries`` a fresh interpreter has imported after running ``code``."""
    loaded = "{m.split('.')[0] for m in sys.modules}"
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted({loaded} & {set(libraries)!r})))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    found: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def test_discovering_the_plugins_imports_no_heavy_library() -> None:
    """Finding every installed plugin must not import what only a started one needs.

    aiogram (with pydantic) cost a live host about 120 MB before the Telegram
    notifier imported it at start instead; onnxruntime, river and xgboost are
    the scorers' to load when a profile uses them.
    """
    code = "from garrison.plugins.manager import load_plugins\nload_plugins()"
    heavy = ("aiogram", "pydantic", "onnxruntime", "river", "xgboost", "textual")
    assert imported_by(code, heavy) == []


def test_a_host_without_redis_never_imports_it() -> None:
    """redis-py is loaded when a profile's ``[redis]`` is set, not by the run's modules."""
    code = "import garrison.engine.run, garrison.cli.main, garrison.control.server"
    assert imported_by(code, ("redis", "textual")) == []
