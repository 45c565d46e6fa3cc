"""``garrison plugins install`` / ``uninstall``: plugins in the plugins directory.

Installing is done in a staging directory first, so nothing is left installed
unless every named distribution is acceptable:

1. the installer (``uv pip`` where uv is on ``PATH``, else ``python -m pip``)
   puts the named distributions, without their dependencies, into a staging
   directory inside the plugins directory;
2. each must be a Garrison plugin (an entry point in the ``garrison`` group),
   declare a garrison-api range that holds the installed API, and not be a
   distribution the environment itself already has;
3. the requirements the environment and the plugins directory do not already
   satisfy are installed into a second staging directory, and copies of what
   the environment has are dropped (the environment's packages win anyway);
4. only then do the staged files move into the plugins directory, replacing an
   earlier install of the same distributions.

pip cannot uninstall from a ``--target`` directory, so uninstalling removes
the files a distribution's ``RECORD`` lists, and nothing outside the plugins
directory. Dependencies installed with a plugin stay, as with pip.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import attrs
from garrison_api import PROJECT_NAME
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from garrison.plugins.apirange import check_api_range

#: Top-level entries of a ``--target`` install that are not importable code (and
#: dot-files, such as uv's ``.lock``).
_NOT_CODE = frozenset({"bin"})


class PluginInstallError(Exception):
    """An install or uninstall that could not be done; nothing was changed.

    ``problems`` lists every reason, one line each.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@attrs.frozen
class Installer:
    """The command that installs packages: ``uv pip`` or ``python -m pip``."""

    kind: Literal["uv", "pip"]
    command: tuple[str, ...]

    def install_args(
        self, target: Path, *, deps: bool, offline: bool, find_links: Sequence[str]
    ) -> list[str]:
        """Arguments (after ``command``) installing into ``target`` with this tool."""
        args = ["install", "--target", str(target)]
        if self.kind == "uv":
            # The interpreter Garrison runs on decides the wheels' tags.
            args += ["--python", sys.executable]
            if offline:
                args.append("--offline")
        else:
            args += ["--no-warn-script-location", "--disable-pip-version-check"]
            if offline:
                args.append("--no-index")
        if not deps:
            args.append("--no-deps")
        for link in find_links:
            args += ["--find-links", link]
        return args


def find_installer(prefer: Literal["uv", "pip"] | None = None) -> Installer:
    """uv when it is on ``PATH`` (or ``prefer="uv"``), else the running Python's pip.

    Raises:
        PluginInstallError: neither is available (or not the one preferred).
    """
    uv = shutil.which("uv")
    if prefer != "pip" and uv is not None:
        return Installer("uv", (uv, "pip"))
    if prefer == "uv":
        raise PluginInstallError(["uv is not on PATH; install it or use --installer pip"])
    if importlib.util.find_spec("pip") is not None:
        return Installer("pip", (sys.executable, "-m", "pip"))
    if prefer == "pip":
        raise PluginInstallError([f"pip is not installed in {sys.executable}"])
    raise PluginInstallError(
        [
            f"neither uv (on PATH) nor pip (in {sys.executable}) is available to install "
            "plugins; install uv (https://docs.astral.sh/uv/) or pip"
        ]
    )


@attrs.frozen
class InstalledDistribution:
    """One distribution now in the plugins directory, and its Garrison entry points."""

    name: str
    version: str
    plugins: tuple[str, ...]
    dependency: bool = False


def install_plugins(
    specs: Sequence[str],
    *,
    directory: Path,
    installer: Installer,
    api_version: str,
    offline: bool = False,
    find_links: Sequence[str] = (),
) -> tuple[InstalledDistribution, ...]:
    """Install ``specs`` (names, paths, wheels, git URLs) into the plugins ``directory``.

    Returns what was installed, plugins first. Raises
    :class:`PluginInstallError`, leaving ``directory`` as it was, when the
    installer fails or a named distribution is not an acceptable plugin.
    """
    if not specs:
        raise PluginInstallError(["name at least one plugin to install"])
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".staging-") as staging:
        plugins_stage = Path(staging) / "plugins"
        deps_stage = Path(staging) / "deps"
        _run(installer, plugins_stage, specs, deps=False, offline=offline, find_links=find_links)
        staged = _distributions(plugins_stage)
        _refuse_unacceptable(staged, directory, api_version)
        missing = _unsatisfied(staged, [plugins_stage, directory])
        deps: list[importlib.metadata.Distribution] = []
        if missing:
            _run(installer, deps_stage, missing, deps=True, offline=offline, find_links=find_links)
            for dist in _distributions(deps_stage):
                if _in_environment(dist.name, directory) is not None:
                    remove_distribution(deps_stage, dist)
                else:
                    deps.append(dist)
        # Read before the move: a distribution's metadata is read from where it lies.
        described = tuple(
            [_described(dist, dependency=False) for dist in staged]
            + [_described(dist, dependency=True) for dist in deps]
        )
        stages = [plugins_stage] + ([deps_stage] if deps else [])
        _replace(directory, [*staged, *deps], stages)
    return described


def uninstall_plugins(names: Sequence[str], *, directory: Path) -> tuple[str, ...]:
    """Remove the distributions ``names`` (or the distributions of plugins so named).

    Returns the distributions removed. Raises :class:`PluginInstallError`,
    removing nothing, when a name is not installed in ``directory``.
    """
    if not names:
        raise PluginInstallError(["name at least one plugin to uninstall"])
    installed = _distributions(directory) if directory.is_dir() else []
    chosen: list[importlib.metadata.Distribution] = []
    problems: list[str] = []
    for name in names:
        dist = _find(installed, name)
        if dist is None:
            problems.append(_not_installed(name, directory))
        elif all(dist.name != other.name for other in chosen):
            chosen.append(dist)
    if problems:
        raise PluginInstallError(problems)
    removed = tuple(dist.name for dist in chosen)
    for dist in chosen:
        remove_distribution(directory, dist)
    return removed


def remove_distribution(root: Path, dist: importlib.metadata.Distribution) -> None:
    """Delete ``dist``'s files (its ``RECORD``) under ``root``, then directories left empty."""
    base = root.resolve()
    touched: set[Path] = set()
    for file in dist.files or ():
        path = (base / file).resolve()
        if not path.is_relative_to(base) or path == base:
            continue  # A RECORD entry outside the directory (a script in ../bin): not ours.
        if path.is_file() or path.is_symlink():
            path.unlink()
        touched.add(path.parent)
    info = _info_dir(dist)
    if info is not None and info.exists():
        shutil.rmtree(info)
    for folder in sorted(touched, key=lambda p: len(p.parts), reverse=True):
        _prune(folder, base)


def _prune(folder: Path, base: Path) -> None:
    """Remove ``folder`` and its parents up to ``base`` while only bytecode caches remain."""
    while folder != base and folder.is_relative_to(base) and folder.is_dir():
        cache = folder / "__pycache__"
        only_bytecode = cache.is_dir() and all(p.suffix == ".pyc" for p in cache.iterdir())
        if only_bytecode and all(entry == cache for entry in folder.iterdir()):
            shutil.rmtree(cache)
        if any(folder.iterdir()):
            return
        folder.rmdir()
        folder = folder.parent


def _run(
    installer: Installer,
    target: Path,
    requirements: Iterable[str],
    *,
    deps: bool,
    offline: bool,
    find_links: Sequence[str],
) -> None:
    args = installer.install_args(target, deps=deps, offline=offline, find_links=find_links)
    command = [*installer.command, *args, *requirements]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip()).splitlines()[-15:]
        raise PluginInstallError(
            [f"{installer.kind} could not install {' '.join(requirements)}:", *output]
        )


def _distributions(path: Path) -> list[importlib.metadata.Distribution]:
    if not path.is_dir():
        return []
    return sorted(
        importlib.metadata.distributions(path=[str(path)]), key=lambda d: canonicalize_name(d.name)
    )


def _info_dir(dist: importlib.metadata.Distribution) -> Path | None:
    # PathDistribution keeps its .dist-info folder; read_text alone cannot tell where.
    located = getattr(dist, "_path", None)
    return Path(located) if located is not None else None


def _plugin_names(dist: importlib.metadata.Distribution) -> tuple[str, ...]:
    return tuple(sorted(ep.name for ep in dist.entry_points.select(group=PROJECT_NAME)))


def _in_environment(name: str, directory: Path) -> importlib.metadata.Distribution | None:
    """The environment's own distribution ``name`` (not one in the plugins directory)."""
    wanted = canonicalize_name(name)
    base = directory.resolve()
    for dist in importlib.metadata.distributions():
        if canonicalize_name(dist.name) != wanted:
            continue
        info = _info_dir(dist)
        if info is None or not info.resolve().is_relative_to(base):
            return dist
    return None


def _refuse_unacceptable(
    staged: Sequence[importlib.metadata.Distribution], directory: Path, api_version: str
) -> None:
    problems: list[str] = []
    for dist in staged:
        plugins = _plugin_names(dist)
        if not plugins:
            problems.append(
                f"{dist.name} {dist.version} is not a Garrison plugin: it has no entry point "
                f"in the {PROJECT_NAME!r} group ([project.entry-points.{PROJECT_NAME}])"
            )
            continue
        check = check_api_range(
            plugin=plugins[0],
            distribution=dist.name,
            version=dist.version,
            requires=dist.requires,
            api_version=api_version,
        )
        if check.problem is not None:
            problems.append(f"refused: {check.problem}")
        own = _in_environment(dist.name, directory)
        if own is not None:
            problems.append(
                f"{dist.name} is already part of the environment ({own.version}, installed "
                "by its own installer, e.g. the workspace's uv sync); change it there, not "
                "with garrison plugins install"
            )
    if problems:
        raise PluginInstallError([*problems, "nothing was installed"])


def _unsatisfied(
    staged: Sequence[importlib.metadata.Distribution], directories: Sequence[Path]
) -> list[str]:
    """The requirements of ``staged`` that neither the environment nor ``directories`` meet."""
    have: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        have.setdefault(canonicalize_name(dist.name), dist.version)
    for folder in directories:
        for dist in _distributions(folder):
            have.setdefault(canonicalize_name(dist.name), dist.version)
    missing: list[str] = []
    for dist in staged:
        for line in dist.requires or ():
            try:
                requirement = Requirement(line)
            except InvalidRequirement as exc:
                raise PluginInstallError(
                    [f"{dist.name} has an invalid requirement {line!r}: {exc}"]
                ) from None
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            version = have.get(canonicalize_name(requirement.name))
            if version is None or not requirement.specifier.contains(version, prereleases=True):
                missing.append(str(requirement))
    return sorted(set(missing))


def _replace(
    directory: Path,
    incoming: Sequence[importlib.metadata.Distribution],
    stages: Sequence[Path],
) -> None:
    """Move the staged files into ``directory``, removing earlier installs of the same names."""
    current = _distributions(directory)
    names = {canonicalize_name(dist.name) for dist in incoming}
    replaced = [dist for dist in current if canonicalize_name(dist.name) in names]
    # Top-level names the replaced installs own: the new files may take them.
    owned = {Path(str(file)).parts[0] for dist in replaced for file in dist.files or ()}
    entries = [
        entry
        for stage in stages
        for entry in sorted(stage.iterdir())
        if entry.name not in _NOT_CODE and not entry.name.startswith(".")
    ]
    clashes = [
        entry.name
        for entry in entries
        if (directory / entry.name).exists() and entry.name not in owned
    ]
    if clashes:
        raise PluginInstallError(
            [
                f"{', '.join(clashes)} already exist in {directory} and belong to another "
                "plugin; uninstall it first",
                "nothing was installed",
            ]
        )
    for dist in replaced:
        remove_distribution(directory, dist)
    for entry in entries:
        shutil.move(str(entry), str(directory / entry.name))


def _find(
    installed: Sequence[importlib.metadata.Distribution], name: str
) -> importlib.metadata.Distribution | None:
    wanted = canonicalize_name(name)
    for dist in installed:
        if canonicalize_name(dist.name) == wanted:
            return dist
    for dist in installed:
        if any(canonicalize_name(plugin) == wanted for plugin in _plugin_names(dist)):
            return dist
    return None


def _not_installed(name: str, directory: Path) -> str:
    own = _in_environment(name, directory)
    if own is not None:
        return (
            f"{own.name} is part of the environment, not installed by garrison plugins "
            "install; remove it with the installer that put it there (for the workspace: "
            "its pyproject.toml, then uv sync)"
        )
    return f"{name} is not installed in {directory}"


def _described(dist: importlib.metadata.Distribution, *, dependency: bool) -> InstalledDistribution:
    return InstalledDistribution(
        name=dist.name, version=dist.version, plugins=_plugin_names(dist), dependency=dependency
    )
