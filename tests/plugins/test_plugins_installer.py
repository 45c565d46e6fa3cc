"""install_plugins / uninstall_plugins with the real installer, from local paths, offline."""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Sequence
from pathlib import Path

import garrison_api
import pytest
from garrison.plugins.installer import (
    InstalledDistribution,
    Installer,
    PluginInstallError,
    find_installer,
    install_plugins,
    uninstall_plugins,
)

from .ecosystem import REPO, UV, needs_uv, offline_env, run, write_plugin

pytestmark = [needs_uv, pytest.mark.slow]


def install(
    specs: list[Path], directory: Path, find_links: Sequence[str] = ()
) -> tuple[InstalledDistribution, ...]:
    return install_plugins(
        [str(spec) for spec in specs],
        directory=directory,
        installer=find_installer("uv"),
        api_version=garrison_api.__version__,
        offline=True,
        find_links=find_links,
    )


def names_in(directory: Path) -> set[str]:
    return {dist.name for dist in importlib.metadata.distributions(path=[str(directory)])}


def test_installs_a_plugin_from_a_path_without_the_environment_packages(tmp_path: Path) -> None:
    source = write_plugin(tmp_path / "src", "alpha")
    plugins = tmp_path / "plugins"

    (done,) = install([source], plugins)

    assert (done.name, done.version, done.plugins, done.dependency) == (
        "garrison-alpha",
        "0.1.0",
        ("alpha",),
        False,
    )
    assert names_in(plugins) == {"garrison-alpha"}  # garrison-api stays the environment's
    assert sorted(p.name for p in plugins.iterdir()) == [
        "garrison_alpha",
        "garrison_alpha-0.1.0.dist-info",
    ]


def test_an_incompatible_plugin_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    good = write_plugin(tmp_path / "src", "alpha")
    future = write_plugin(tmp_path / "src", "future", requires=["garrison-api>=2,<3"])
    plugins = tmp_path / "plugins"

    with pytest.raises(PluginInstallError) as caught:
        install([good, future], plugins)

    text = str(caught.value)
    assert "garrison-api>=2,<3" in text
    assert f"{garrison_api.__version__} is installed" in text
    assert "nothing was installed" in text
    assert names_in(plugins) == set()
    assert [p.name for p in plugins.iterdir()] == []  # no staging left behind


def test_a_distribution_without_a_garrison_entry_point_is_refused(tmp_path: Path) -> None:
    plain = write_plugin(tmp_path / "src", "plain", entry_point=False)

    with pytest.raises(PluginInstallError, match="not a Garrison plugin"):
        install([plain], tmp_path / "plugins")


def test_a_distribution_the_environment_has_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PluginInstallError, match="already part of the environment"):
        install([REPO / "plugins" / "turtle"], tmp_path / "plugins")


def test_reinstalling_replaces_the_earlier_version(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    install([write_plugin(tmp_path / "v1", "alpha", version="0.1.0")], plugins)

    install([write_plugin(tmp_path / "v2", "alpha", version="0.2.0")], plugins)

    versions = [d.version for d in importlib.metadata.distributions(path=[str(plugins)])]
    assert versions == ["0.2.0"]


def test_a_missing_dependency_is_installed_beside_the_plugin(tmp_path: Path) -> None:
    helper = write_plugin(tmp_path / "src", "helper", requires=[], entry_point=False)
    wheels = tmp_path / "wheels"
    assert UV is not None
    run([UV, "build", "--offline", "--wheel", "--out-dir", wheels, helper])
    plugin = write_plugin(
        tmp_path / "src", "needs-helper", requires=["garrison-api>=1.1,<2", "garrison-helper"]
    )
    plugins = tmp_path / "plugins"

    done = install([plugin], plugins, find_links=[str(wheels)])

    assert [(d.name, d.dependency) for d in done] == [
        ("garrison-needs-helper", False),
        ("garrison-helper", True),
    ]
    assert names_in(plugins) == {"garrison-needs-helper", "garrison-helper"}


def test_uninstall_removes_every_file_and_takes_plugin_names(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    install([write_plugin(tmp_path / "src", "alpha")], plugins)
    (plugins / "garrison_alpha" / "__pycache__").mkdir()
    (plugins / "garrison_alpha" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")

    assert uninstall_plugins(["alpha"], directory=plugins) == ("garrison-alpha",)

    assert list(plugins.iterdir()) == []


def test_uninstall_refuses_what_it_did_not_install(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    install([write_plugin(tmp_path / "src", "alpha")], plugins)

    with pytest.raises(PluginInstallError) as caught:
        uninstall_plugins(["alpha", "garrison-turtle", "nope"], directory=plugins)

    assert "garrison-turtle is part of the environment" in str(caught.value)
    assert "nope is not installed" in str(caught.value)
    assert names_in(plugins) == {"garrison-alpha"}  # nothing removed


def test_installer_arguments_for_uv_and_pip(tmp_path: Path) -> None:
    uv = Installer("uv", ("uv", "pip")).install_args(
        tmp_path, deps=False, offline=True, find_links=["w"]
    )
    pip = Installer("pip", ("python", "-m", "pip")).install_args(
        tmp_path, deps=True, offline=True, find_links=[]
    )

    assert uv[:3] == ["install", "--target", str(tmp_path)]
    assert {"--offline", "--no-deps", "--python"} <= set(uv)
    assert uv[-2:] == ["--find-links", "w"]
    assert "--no-index" in pip
    assert "--no-deps" not in pip


def test_pip_installs_a_wheel_the_same_way(tmp_path: Path) -> None:
    # A venv made by the standard library has pip (ensurepip, no network); its pip only
    # writes files into the target, so it can serve this interpreter's plugins directory.
    run([sys.executable, "-m", "venv", tmp_path / "pipenv"], env=offline_env())
    pip = Installer("pip", (str(tmp_path / "pipenv" / "bin" / "python"), "-m", "pip"))
    wheels = tmp_path / "wheels"
    assert UV is not None
    run([UV, "build", "--offline", "--wheel", "--out-dir", wheels, write_plugin(tmp_path, "b")])
    (wheel,) = wheels.glob("*.whl")
    plugins = tmp_path / "plugins"

    (done,) = install_plugins(
        [str(wheel)],
        directory=plugins,
        installer=pip,
        api_version=garrison_api.__version__,
        offline=True,
    )

    assert (done.name, done.plugins) == ("garrison-b", ("b",))
    assert names_in(plugins) == {"garrison-b"}
    assert not (plugins / "bin").exists()
