"""``garrison doctor``: what is installed, what loads, and whether profiles and journals are sound.

Each check gives :class:`Finding` values (a verdict and one line saying why);
:func:`diagnose` gathers them into one :class:`Diagnosis`. Nothing here
changes anything: journals are opened read-only, no exchange is touched, and
a profile's Redis only gets a PING.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import platform
import shutil
import sqlite3
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import attrs
import garrison_api

from garrison import __version__ as host_version
from garrison.plugins import PluginInfo, load_plugins
from garrison.plugins.location import PLUGINS_DIR_ENV, plugins_dir
from garrison.plugins.policy import LOAD_PLUGINS_ENV, LoadPolicy, policy_for_profile

#: ``ok``: fine; ``note``: worth knowing, not wrong; ``problem``: needs fixing.
Verdict = Literal["ok", "note", "problem"]


@attrs.frozen
class Finding:
    """One line of the report: what was checked, the verdict and the detail."""

    topic: str
    verdict: Verdict
    detail: str


@attrs.frozen
class Section:
    """A titled group of findings (environment, plugins, one profile)."""

    title: str
    findings: tuple[Finding, ...]


@attrs.frozen
class Diagnosis:
    """The whole report; ``healthy`` when no finding is a problem."""

    sections: tuple[Section, ...]

    @property
    def healthy(self) -> bool:
        return all(f.verdict != "problem" for s in self.sections for f in s.findings)


def environment_findings(environ: Mapping[str, str]) -> tuple[Finding, ...]:
    """Python, the host and API versions, the installer and the plugins directory."""
    directory = plugins_dir(environ)
    in_venv = sys.prefix != sys.base_prefix
    uv = shutil.which("uv")
    pip = importlib.util.find_spec("pip") is not None
    installer = f"uv ({uv})" if uv else ("pip" if pip else "none: install uv or pip")
    count = len(list(directory.glob("*.dist-info"))) if directory.is_dir() else 0
    found = [
        Finding("python", "ok", f"{platform.python_version()} at {sys.executable}"),
        Finding(
            "environment",
            "ok" if in_venv else "note",
            sys.prefix if in_venv else f"{sys.prefix} (not a virtual environment)",
        ),
        Finding("garrison", "ok", host_version),
        Finding("garrison-api", "ok", garrison_api.__version__),
        Finding("installer", "ok" if uv or pip else "problem", installer),
        Finding(
            "plugins directory",
            "ok",
            f"{directory} ({count} distribution{'s' if count != 1 else ''}"
            + (f"; from ${PLUGINS_DIR_ENV})" if environ.get(PLUGINS_DIR_ENV) else ")"),
        ),
    ]
    if LOAD_PLUGINS_ENV in environ:
        found.append(
            Finding(
                LOAD_PLUGINS_ENV,
                "note",
                f"set to {environ[LOAD_PLUGINS_ENV]!r}: only those plugins load",
            )
        )
    return tuple(found)


def plugin_finding(info: PluginInfo) -> Finding:
    """One plugin: ok with its components, or its status and the reason."""
    release = f"{info.distribution} {info.version}".strip() or info.module
    if info.ok:
        parts = [f"{kind}: {', '.join(names)}" for kind, names in info.components_by_kind().items()]
        return Finding(info.name, "ok", f"{release}; {'; '.join(parts) or 'no components'}")
    verdict: Verdict = "note" if info.status == "not allowed" else "problem"
    return Finding(info.name, verdict, f"{info.status}: {info.error or ''}")


def journal_findings(path: Path) -> tuple[Finding, ...]:
    """A journal's integrity, size and runs, read-only; a missing one is a note."""
    if not path.exists():
        return (Finding("journal", "note", f"{path} does not exist yet (the first run makes it)"),)
    size = sum(
        p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return (Finding("journal", "problem", f"{path} cannot be opened: {exc}"),)
    try:
        checked = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        runs = dict(conn.execute("SELECT status, COUNT(*) FROM runs GROUP BY status").fetchall())
        (version,) = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        return (Finding("journal", "problem", f"{path} is not a readable Garrison journal: {exc}"),)
    finally:
        conn.close()
    intact = checked == ["ok"]
    counted = ", ".join(f"{n} {status}" for status, n in sorted(runs.items())) or "none"
    return (
        Finding("journal", "ok", f"{path} ({size / 1_048_576:,.1f} MiB, schema v{version})"),
        Finding(
            "integrity_check",
            "ok" if intact else "problem",
            "ok" if intact else "; ".join(checked[:5]),
        ),
        Finding("runs", "ok", counted),
    )


def profile_section(path: Path, environ: Mapping[str, str]) -> Section:
    """A profile checked as `garrison check` would, with its plugins and its journal."""
    from garrison.profile.errors import ProfileError
    from garrison.profile.load import load_profile

    policy = policy_for_profile(path, environ)
    loaded = load_plugins(policy=policy)
    try:
        profile = load_profile(path, loaded.registry)
    except ProfileError as exc:
        problems = tuple(Finding("profile", "problem", str(p)) for p in exc.problems)
        return Section(f"profile {path}", problems)
    info = profile.profile
    found = [Finding("profile", "ok", f"{info.name}: {info.mode.value}, {info.exchange}")]
    if policy.live_profile is not None:
        allow = profile.plugins.allow
        listed = ", ".join(allow) if allow is not None else "first-party plugins only"
        found.append(Finding("live plugins", "ok", listed))
        found.extend(
            plugin_finding(info) for info in loaded.plugins if info.status == "not allowed"
        )
    for key in ("api_key_env", "api_secret_env"):
        name = getattr(profile.credentials, key)
        if name is not None and name not in environ:
            # Only whether it is set: a secret's value is never read here.
            found.append(Finding(key, "note", f"{name} is not set in this environment"))
    if profile.redis.url:
        found.extend(redis_findings(profile.redis.url, profile.redis.password_env, environ))
    found.extend(journal_findings(profile.resolve(profile.journal.path)))
    return Section(f"profile {path}", tuple(found))


def redis_findings(url: str, password_env: str, environ: Mapping[str, str]) -> tuple[Finding, ...]:
    """Whether the Redis a profile publishes to answers (a PING; nothing is written)."""
    from garrison.follow.address import MissingPasswordError, masked, open_client, password_from

    where = masked(url)
    try:
        password = password_from(password_env, environ)
    except MissingPasswordError:
        return (Finding("redis", "problem", f"{password_env} is not set in this environment"),)

    async def ping() -> None:
        client = open_client(url, password)
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        asyncio.run(ping())
    except Exception as exc:
        # A host trades on without Redis; its consoles cannot follow it, though.
        return (
            Finding(
                "redis",
                "problem",
                f"{where} does not answer ({type(exc).__name__}: {exc}); the host would "
                "trade on without publishing",
            ),
        )
    return (Finding("redis", "ok", f"{where} answers; the host publishes there"),)


def diagnose(profiles: Sequence[Path] = (), environ: Mapping[str, str] | None = None) -> Diagnosis:
    """The whole report: environment, plugins, then each profile with its journal."""
    env = os.environ if environ is None else environ
    plugins = load_plugins(policy=LoadPolicy.from_environment(env))
    sections = [
        Section("environment", environment_findings(env)),
        Section(
            "plugins",
            tuple(plugin_finding(info) for info in plugins.plugins)
            or (Finding("plugins", "note", "none found in the entry-point group 'garrison'"),),
        ),
    ]
    sections.extend(profile_section(path, env) for path in profiles)
    return Diagnosis(tuple(sections))
