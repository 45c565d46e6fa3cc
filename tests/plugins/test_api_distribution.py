"""garrison-api builds as a wheel and an sdist, each installing and working without the host."""

from __future__ import annotations

import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import garrison_api
import pytest

from .ecosystem import REPO, UV, make_uv_project, needs_uv, run

pytestmark = [needs_uv, pytest.mark.slow]

SMOKE = """\
import importlib.util
import garrison_api
from garrison_api.testing import random_walk, run_strategy
assert importlib.util.find_spec("garrison") is None, "the host must not be installed"
print(garrison_api.__version__, len(random_walk("BTCUSDT", 10, seed=1)))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("dist")
    assert UV is not None
    run([UV, "build", "--offline", "--out-dir", out, REPO / "plugin_api"])
    (wheel,) = out.glob("garrison_api-*.whl")
    (sdist,) = out.glob("garrison_api-*.tar.gz")
    return wheel, sdist


def test_the_wheel_carries_the_package_the_kit_and_the_authors_readme(
    built: tuple[Path, Path],
) -> None:
    wheel, _ = built
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(metadata_name).decode())

    assert "garrison_api/py.typed" in names
    assert "garrison_api/testing/kind_contracts.py" in names
    assert not [n for n in names if n.startswith("garrison/")]
    requires = {line.split(">")[0].split("=")[0] for line in metadata.get_all("Requires-Dist")}
    assert requires == {"attrs", "cattrs", "pluggy", "numpy"}
    assert "## The contract" in metadata.get_payload()
    assert "### Signal fields" in metadata.get_payload()


def test_the_sdist_carries_sources_readme_and_tests(built: tuple[Path, Path]) -> None:
    _, sdist = built
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}

    for expected in ("README.md", "pyproject.toml", "src/garrison_api/__init__.py"):
        assert expected in names
    assert any(name.startswith("tests/") for name in names)


@pytest.mark.parametrize("which", ["wheel", "sdist"])
def test_installs_and_works_on_its_own(
    which: str, built: tuple[Path, Path], tmp_path: Path
) -> None:
    artifact = built[0] if which == "wheel" else built[1]

    venv = make_uv_project(tmp_path / "alone", {"garrison-api": artifact})

    done = run([venv / "bin" / "python", "-c", SMOKE])
    # the built distribution is the workspace's garrison-api, whatever its version
    assert done.stdout.split() == [garrison_api.__version__, "10"]
