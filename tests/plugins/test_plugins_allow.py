"""Allow-lists: GARRISON_LOAD_PLUGINS in any mode, a live profile's [plugins] allow.

A plugin that is not allowed is listed `not allowed` with the reason and never
imported: the test plugin here writes a file when it is imported, and the file
is the proof.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from garrison.plugins import load_plugins
from garrison.plugins.firstparty import FIRST_PARTY_DISTRIBUTIONS, is_first_party
from garrison.plugins.policy import LOAD_PLUGINS_ENV, LoadPolicy, policy_for_profile

if TYPE_CHECKING:
    from conftest import PluginSite

REPO = Path(__file__).resolve().parents[2]

LIVE_PROFILE = """\
[profile]
name = "live-allow"
mode = "live"
exchange = "bybit"
network = "testnet"

[exchange]
symbols = ["BTCUSDT"]

[credentials]
api_key_env = "GARRISON_TEST_KEY"
api_secret_env = "GARRISON_TEST_SECRET"

[journal]
path = "live.sqlite"
commit = "step"

[[strategies]]
use = "turtle"

[sizer]
use = "fixed_risk"
{plugins}
"""


def marker_source(marker: Path) -> str:
    """A plugin module that leaves a file behind the moment it is imported."""
    return textwrap.dedent(
        f"""\
        from pathlib import Path

        from garrison_api import hookimpl

        Path({str(marker)!r}).write_text("imported")


        @hookimpl
        def garrison_register(registry):
            pass
        """
    )


def live_profile(tmp_path: Path, plugins: str = "") -> Path:
    path = tmp_path / "live.toml"
    path.write_text(LIVE_PROFILE.format(plugins=plugins))
    return path


def test_first_party_is_decided_by_distribution_not_prefix() -> None:
    assert is_first_party("garrison-turtle")
    assert is_first_party("Garrison_Turtle")
    assert is_first_party("garrison")
    assert not is_first_party("garrison-moonshot")
    assert not is_first_party("")


def test_every_distribution_under_plugins_is_first_party() -> None:
    shipped = {
        tomllib.loads(path.read_text())["project"]["name"]
        for path in (REPO / "plugins").glob("*/pyproject.toml")
    }
    missing = sorted(name for name in shipped if not is_first_party(name))
    assert not missing, (
        f"add {missing} to FIRST_PARTY_DISTRIBUTIONS in host/src/garrison/plugins/firstparty.py"
    )
    assert "garrison-turtle" in FIRST_PARTY_DISTRIBUTIONS


def test_environment_list_matches_plugin_or_distribution_names() -> None:
    policy = LoadPolicy.from_environment({LOAD_PLUGINS_ENV: " turtle , garrison-sizers,"})

    assert policy.environment == ("turtle", "garrison-sizers")
    assert policy.refusal("turtle", "garrison-turtle") is None
    assert policy.refusal("sizers", "garrison-sizers") is None
    refusal = policy.refusal("notify-log", "garrison-notify-log")
    assert refusal is not None
    assert LOAD_PLUGINS_ENV in refusal
    assert LoadPolicy.from_environment({}).refusal("anything", "x") is None
    assert LoadPolicy.from_environment({LOAD_PLUGINS_ENV: ""}).refusal("turtle", "t") is not None


def test_live_default_is_first_party_only_and_allow_adds_names() -> None:
    default = LoadPolicy().live("live.toml", None)
    listed = LoadPolicy().live("live.toml", ["moonshot"])

    assert default.refusal("turtle", "garrison-turtle") is None
    moonshot = default.refusal("moonshot", "garrison-moonshot")
    assert moonshot is not None
    assert "first-party" in moonshot
    assert listed.refusal("moonshot", "garrison-moonshot") is None
    assert listed.refusal("turtle", "garrison-turtle") is not None  # the list is the list


@pytest.mark.parametrize(
    ("text", "live", "allow"),
    [
        ('[profile]\nname = "x"\n', False, None),
        ('[profile]\nname = "x"\nmode = "paper"\n', False, None),
        ('[profile]\nname = "x"\nmode = "live"\n', True, None),
        ('[profile]\nname = "x"\nmode = "live"\n[plugins]\nallow = ["a"]\n', True, ("a",)),
        ('[profile]\nmode = "live"\n[plugins]\nallow = "a"\n', True, None),
        ('[profile]\nmode = "typo"\n', True, None),
        ("not toml [", True, None),
    ],
)
def test_policy_for_profile(tmp_path: Path, text: str, live: bool, allow: object) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)

    policy = policy_for_profile(path, environ={})

    assert (policy.live_profile is not None) == live
    assert policy.live_allow == allow


def test_policy_for_a_missing_profile_is_the_strictest(tmp_path: Path) -> None:
    policy = policy_for_profile(tmp_path / "absent.toml", environ={})

    assert policy.live_profile is not None
    assert policy.live_allow is None


def test_a_plugin_not_allowed_is_listed_and_never_imported(
    site: PluginSite, tmp_path: Path
) -> None:
    marker = tmp_path / "imported.txt"
    site.install("garrison_marker", source=marker_source(marker))
    policy = LoadPolicy().live("live.toml", None)

    loaded = load_plugins(builtins=False, entry_points=site.entry_points(), policy=policy)

    (info,) = loaded.plugins
    assert info.status == "not allowed"
    assert info.error is not None
    assert "[plugins] allow" in info.error
    assert not marker.exists()
    assert "garrison_marker" not in sys.modules

    allowed = LoadPolicy().live("live.toml", ["marker"])
    (info,) = load_plugins(builtins=False, entry_points=site.entry_points(), policy=allowed).plugins
    assert info.status == "ok"
    assert marker.read_text() == "imported"


def test_the_host_components_load_whatever_the_list(site: PluginSite) -> None:
    policy = LoadPolicy.from_environment({LOAD_PLUGINS_ENV: ""})

    loaded = load_plugins(entry_points=site.entry_points(), policy=policy)

    assert loaded.get("host") is not None
    assert loaded.get("host").ok  # type: ignore[union-attr]


def check_live(profile: Path, site: PluginSite, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        key: value
        for key, value in os.environ.items()
        if key not in (LOAD_PLUGINS_ENV, "GARRISON_PLUGINS_DIR")
    }
    environ.update(PYTHONPATH=str(site.root), COLUMNS="200", **env)
    return subprocess.run(
        [sys.executable, "-m", "garrison.cli.main", "check", "-q", str(profile)],
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def test_garrison_check_of_a_live_profile_never_imports_a_plugin_it_does_not_allow(
    site: PluginSite, tmp_path: Path
) -> None:
    marker = tmp_path / "imported.txt"
    site.install("garrison_marker", source=marker_source(marker))

    done = check_live(live_profile(tmp_path), site, GARRISON_PLUGINS_DIR=str(tmp_path / "none"))

    assert done.returncode == 0, done.stderr
    assert "plugin marker (not allowed)" in done.stderr
    assert not marker.exists()

    allowed = live_profile(
        tmp_path, '\n[plugins]\nallow = ["garrison-turtle", "sizers", "marker"]\n'
    )
    done = check_live(allowed, site, GARRISON_PLUGINS_DIR=str(tmp_path / "none"))
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "imported"


def test_the_environment_variable_restricts_a_replay_too(site: PluginSite, tmp_path: Path) -> None:
    marker = tmp_path / "imported.txt"
    site.install("garrison_marker", source=marker_source(marker))
    profile = REPO / "configs" / "demo.toml"

    done = check_live(
        profile,
        site,
        GARRISON_LOAD_PLUGINS="turtle,sizers,notify-log",
        GARRISON_PLUGINS_DIR=str(tmp_path / "none"),
    )

    assert done.returncode == 0, done.stderr
    assert "plugin marker (not allowed): not in GARRISON_LOAD_PLUGINS" in done.stderr
    assert not marker.exists()


def test_the_profile_checks_its_allow_list_and_prints_it(tmp_path: Path) -> None:
    from garrison.profile.errors import ProfileError
    from garrison.profile.load import load_profile
    from garrison.profile.render import profile_as_toml

    registry = load_plugins(builtins=True).registry
    bad = live_profile(tmp_path, '\n[plugins]\nallow = ["turtle", " ", "turtle"]\n')
    with pytest.raises(ProfileError) as caught:
        load_profile(bad, registry)
    paths = [problem.path for problem in caught.value.problems]
    assert paths == ["plugins.allow[1]", "plugins.allow[2]"]

    good = live_profile(tmp_path, '\n[plugins]\nallow = ["turtle", "sizers"]\n')
    profile = load_profile(good, registry)
    assert profile.plugins.allow == ("turtle", "sizers")
    assert '[plugins]\nallow = ["turtle", "sizers"]' in profile_as_toml(profile)
    unset = load_profile(live_profile(tmp_path), registry)
    assert unset.plugins.allow is None
    assert "[plugins]" not in profile_as_toml(unset)
