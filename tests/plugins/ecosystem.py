"""Helpers for the tests that build and install real plugin distributions, offline.

Every install here reads local paths and uv's cache only (``--offline``), and goes
into temporary directories or a throwaway uv project: never into the worktree's
own ``.venv``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UV = shutil.which("uv")

needs_uv = pytest.mark.skipif(UV is None, reason="uv is not on PATH (CI installs it)")


def offline_env(**extra: str) -> dict[str, str]:
    """Our environment without a virtualenv of its own, offline, never downloading Python."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "GARRISON_LOAD_PLUGINS")
    }
    env.update(UV_PYTHON_DOWNLOADS="never", UV_OFFLINE="1", COLUMNS="200", **extra)
    return env


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 300.0,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=dict(env) if env is not None else offline_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, command))} exited {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return done


def write_plugin(
    parent: Path,
    name: str,
    *,
    version: str = "0.1.0",
    requires: Sequence[str] = ("garrison-api>=1.1,<2",),
    body: str = "",
    entry_point: bool = True,
) -> Path:
    """A minimal plugin distribution ``garrison-<name>`` (hatchling, src layout) to build."""
    package = f"garrison_{name.replace('-', '_')}"
    root = parent / f"garrison-{name}"
    (root / "src" / package).mkdir(parents=True)
    deps = ", ".join(f'"{r}"' for r in requires)
    entry = f'\n[project.entry-points.garrison]\n{name} = "{package}"\n' if entry_point else ""
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [project]
            name = "garrison-{name}"
            version = "{version}"
            requires-python = ">=3.11"
            dependencies = [{deps}]
            """
        )
        + entry
        + textwrap.dedent(
            """
            [build-system]
            requires = ["hatchling>=1.24"]
            build-backend = "hatchling.build"
            """
        )
    )
    source = body or textwrap.dedent(
        f"""\
        from garrison_api import hookimpl


        @hookimpl
        def garrison_register(registry):
            registry.add_strategy({name.replace("-", "_")!r}, object)
        """
    )
    (root / "src" / package / "__init__.py").write_text(source)
    return root


def make_uv_project(
    root: Path,
    sources: Mapping[str, Path],
    *,
    editable: bool = False,
    extras: Sequence[str] = (),
) -> Path:
    """A throwaway uv project depending on ``sources`` (distribution -> path); synced.

    Returns its ``.venv``. It stands for a Garrison workspace: ``uv sync`` owns
    its environment exactly as it owns the real one. ``extras`` are asked of
    every source (``test`` for their pytest).
    """
    root.mkdir(parents=True, exist_ok=True)
    wanted = f"[{','.join(extras)}]" if extras else ""
    deps = ", ".join(f'"{name}{wanted if name != "garrison-api" else ""}"' for name in sources)
    lines = [
        "[project]",
        'name = "throwaway-workspace"',
        'version = "0"',
        'requires-python = ">=3.11"',
        f"dependencies = [{deps}]",
        "",
        "[tool.uv]",
        "package = false",
        "",
        "[tool.uv.sources]",
    ]
    flag = ", editable = true" if editable else ""
    lines += [f'{name} = {{ path = "{path}"{flag} }}' for name, path in sources.items()]
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n")
    uv_sync(root)
    return root / ".venv"


def uv_sync(root: Path) -> None:
    assert UV is not None
    run([UV, "sync", "--offline", "--python", sys.executable], cwd=root)


def strip_site(names: Sequence[str]) -> None:
    """Forget modules a test imported from a temporary directory."""
    for name in [n for n in sys.modules if any(n == m or n.startswith(f"{m}.") for m in names)]:
        del sys.modules[name]
