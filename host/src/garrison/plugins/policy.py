"""Which discovered plugins may be imported: the allow-lists.

Two lists can restrict loading, and a plugin must pass both:

- ``GARRISON_LOAD_PLUGINS`` (any mode): a comma-separated list of plugin or
  distribution names; when set, only those load (set but empty: none). It is
  how a one-off run or a test leaves every other plugin out, as
  ``DATASETTE_LOAD_PLUGINS`` and ``LLM_LOAD_PLUGINS`` do.
- a live profile's ``[plugins] allow`` (live mode only): the plugins real
  money may run through. Without it, only first-party plugins load
  (:mod:`garrison.plugins.firstparty`).

A plugin that is not allowed is listed with status ``not allowed`` and the
reason, and never imported. The host's own components always load.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs
from packaging.utils import canonicalize_name

from garrison.plugins.firstparty import is_first_party

#: Environment variable restricting which plugins load, in every mode.
LOAD_PLUGINS_ENV = "GARRISON_LOAD_PLUGINS"


def _names(values: Iterable[str]) -> frozenset[str]:
    return frozenset(canonicalize_name(v.strip()) for v in values if v.strip())


def _allows(names: frozenset[str], plugin: str, distribution: str) -> bool:
    return canonicalize_name(plugin) in names or (
        bool(distribution) and canonicalize_name(distribution) in names
    )


@attrs.frozen
class LoadPolicy:
    """The allow-lists one load applies. The default allows everything.

    ``environment``: the names of ``GARRISON_LOAD_PLUGINS`` (None: not set).
    ``live_profile``: the live profile's file when live rules apply, else None;
    ``live_allow``: its ``[plugins] allow`` (None: first-party only).
    """

    environment: tuple[str, ...] | None = None
    live_profile: str | None = None
    live_allow: tuple[str, ...] | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> LoadPolicy:
        """The policy of ``GARRISON_LOAD_PLUGINS`` alone (not live)."""
        env = os.environ if environ is None else environ
        raw = env.get(LOAD_PLUGINS_ENV)
        listed = None if raw is None else tuple(n.strip() for n in raw.split(",") if n.strip())
        return cls(environment=listed)

    def live(self, profile: str, allow: Iterable[str] | None) -> LoadPolicy:
        """This policy with a live profile's allow-list added."""
        return attrs.evolve(
            self, live_profile=profile, live_allow=None if allow is None else tuple(allow)
        )

    def refusal(self, plugin: str, distribution: str) -> str | None:
        """Why plugin ``plugin`` of ``distribution`` may not load, or None if it may."""
        if self.environment is not None and not _allows(
            _names(self.environment), plugin, distribution
        ):
            listed = ",".join(self.environment) or "empty"
            return (
                f"not in {LOAD_PLUGINS_ENV} ({listed}); add {plugin!r} to it or unset it "
                "to load every installed plugin"
            )
        if self.live_profile is None:
            return None
        if self.live_allow is None:
            if is_first_party(distribution):
                return None
            return (
                f"live profile {self.live_profile} has no [plugins] allow list, so only "
                f"first-party plugins load; add {plugin!r} to [plugins] allow to trade with it"
            )
        if _allows(_names(self.live_allow), plugin, distribution):
            return None
        return (
            f"not in [plugins] allow of live profile {self.live_profile}; add {plugin!r} "
            "there to trade with it"
        )


def policy_for_profile(path: Path, environ: Mapping[str, str] | None = None) -> LoadPolicy:
    """The policy for running the profile at ``path``: live rules when its mode is ``live``.

    Only ``[profile] mode`` and ``[plugins] allow`` are read here, before any
    plugin is imported; the full check comes later with the loaded plugins.
    A profile that cannot be read or whose mode or list is malformed gets the
    strictest rules (first-party only): its own check then names the problem.
    """
    policy = LoadPolicy.from_environment(environ)
    file = str(path)
    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return policy.live(file, None)
    info = document.get("profile")
    mode = info.get("mode", "replay") if isinstance(info, dict) else "replay"
    if mode in ("replay", "paper"):
        return policy
    table = document.get("plugins")
    allow = table.get("allow") if isinstance(table, dict) else None
    if mode != "live" or not isinstance(allow, list | None):
        return policy.live(file, None)
    if allow is not None and not all(isinstance(name, str) for name in allow):
        return policy.live(file, None)
    return policy.live(file, allow)
