"""load_plugins against real plugin distributions installed into a temporary site."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
import textwrap
from typing import TYPE_CHECKING

import garrison_api
import pytest
from garrison import __version__ as host_version
from garrison.plugins import PluginInfo, PluginSet, builtin, load_plugins

if TYPE_CHECKING:
    # The ``site`` fixture's type; conftest is not importable at run time.
    from conftest import PluginSite

RAISES_AT_IMPORT = "raise RuntimeError('this module must never be imported')\n"

MISSPELT_HOOK = textwrap.dedent(
    """\
    from garrison_api import hookimpl


    @hookimpl
    def garrison_regster(registry):
        pass
    """
)

WRONG_SIGNATURE = textwrap.dedent(
    """\
    from garrison_api import hookimpl


    @hookimpl
    def garrison_register(registry, exchange):
        pass
    """
)

LISTENER = textwrap.dedent(
    """\
    from garrison_api import hookimpl


    @hookimpl
    def garrison_startup(profile, mode):
        return "listener"
    """
)

BROKEN_LISTENER = textwrap.dedent(
    """\
    from garrison_api import hookimpl


    @hookimpl
    def garrison_startup(profile, mode):
        return "broken"


    @hookimpl
    def garrison_register(registry):
        raise ValueError("no config")
    """
)


def listed(loaded: PluginSet, name: str) -> PluginInfo:
    info = loaded.get(name)
    assert info is not None, f"{name!r} not among {loaded.plugins}"
    return info


def test_installed_plugin_is_discovered_with_its_components(site: PluginSite) -> None:
    site.install("garrison_thirdparty", source=site.strategy_source("tp2", "thirdparty"))

    loaded = load_plugins(builtins=False)

    info = listed(loaded, "thirdparty")
    assert info.status == "ok", info.error
    assert info.error is None
    assert info.module == "garrison_thirdparty"
    assert info.distribution == "garrison-thirdparty"
    assert info.version == "0.1.0"
    assert info.api_range == ">=1,<2"
    assert info.components == (("strategy", "thirdparty"), ("strategy", "tp2"))
    entry = loaded.registry.get("strategy", "thirdparty")
    assert entry is not None
    assert entry.plugin == "thirdparty"
    assert entry.factory is sys.modules["garrison_thirdparty"].ThirdPartyStrategy
    assert info in loaded.ok


def test_incompatible_api_range_is_refused_without_import(site: PluginSite) -> None:
    site.install("garrison_future", source=RAISES_AT_IMPORT, requires=["garrison-api>=2,<3"])

    loaded = load_plugins(builtins=False, entry_points=site.entry_points())

    (info,) = loaded.plugins
    assert info.status == "incompatible"
    assert info.api_range == ">=2,<3"
    assert info.error is not None
    for expected in ("'future'", "garrison-future 0.1.0", ">=2,<3", garrison_api.__version__):
        assert expected in info.error
    assert "garrison_future" not in sys.modules
    assert loaded.problems == (info,)
    assert len(loaded.registry) == 0


@pytest.mark.parametrize(
    "requires",
    [
        pytest.param([], id="nothing"),
        pytest.param(["attrs>=23"], id="other-deps-only"),
        pytest.param(['garrison-api>=1,<2; extra == "dev"'], id="only-under-an-extra"),
    ],
)
def test_plugin_without_api_requirement_is_refused(site: PluginSite, requires: list[str]) -> None:
    site.install("garrison_vague", source=RAISES_AT_IMPORT, requires=requires)

    (info,) = load_plugins(builtins=False, entry_points=site.entry_points()).plugins

    assert info.status == "incompatible"
    assert info.api_range == ""
    assert info.error is not None
    assert "'vague'" in info.error
    assert "declares no garrison-api requirement; add e.g. garrison-api>=1,<2" in info.error
    assert "garrison_vague" not in sys.modules


def test_unbounded_api_requirement_is_refused(site: PluginSite) -> None:
    site.install("garrison_unbounded", source=RAISES_AT_IMPORT, requires=["garrison-api"])

    (info,) = load_plugins(builtins=False, entry_points=site.entry_points()).plugins

    assert info.status == "incompatible"
    assert info.error is not None
    assert "without a version range" in info.error


def test_marker_true_for_this_python_counts(site: PluginSite) -> None:
    site.install("garrison_marked", requires=['garrison-api>=1,<2; python_version >= "3.8"'])

    (info,) = load_plugins(builtins=False, entry_points=site.entry_points()).plugins

    assert info.status == "ok", info.error


def test_import_error_fails_that_plugin_only(site: PluginSite) -> None:
    site.install("garrison_broken", source="raise ImportError('needs libfoo, not installed')\n")
    site.install("garrison_fine")

    loaded = load_plugins(builtins=False, entry_points=site.entry_points())

    broken, fine = listed(loaded, "broken"), listed(loaded, "fine")
    assert broken.status == "failed"
    assert broken.error == "cannot import garrison_broken: ImportError: needs libfoo, not installed"
    assert broken.components == ()
    assert fine.status == "ok"
    assert loaded.registry.names("strategy") == ["fine"]


def test_misspelt_hook_fails_naming_plugin_and_hook(site: PluginSite) -> None:
    # "aaa" loads first, so a plugin checked after it proves it was taken out again.
    site.install("garrison_aaa", source=MISSPELT_HOOK)
    site.install("garrison_zzz")

    loaded = load_plugins(builtins=False, entry_points=site.entry_points())

    bad = listed(loaded, "aaa")
    assert bad.status == "failed"
    assert bad.error is not None
    assert "'aaa'" in bad.error
    assert "'garrison_regster'" in bad.error
    assert "did you mean 'garrison_register'" in bad.error
    assert loaded.manager.get_plugin("aaa") is None
    assert listed(loaded, "zzz").status == "ok"
    loaded.manager.check_pending()


def test_hook_signature_mismatch_fails(site: PluginSite) -> None:
    site.install("garrison_wrongsig", source=WRONG_SIGNATURE)

    loaded = load_plugins(builtins=False, entry_points=site.entry_points())

    (info,) = loaded.plugins
    assert info.status == "failed"
    assert info.error is not None
    assert "invalid hook implementation in garrison_wrongsig" in info.error
    assert "exchange" in info.error
    assert loaded.manager.get_plugin("wrongsig") is None


def test_registration_error_leaves_no_half_registered_components(site: PluginSite) -> None:
    # Registers one component, then fails: that component must not survive.
    site.install(
        "garrison_half", source=site.strategy_source("half") + "    raise RuntimeError('boom')\n"
    )
    site.install("garrison_whole")

    loaded = load_plugins(builtins=False, entry_points=site.entry_points())

    half = listed(loaded, "half")
    assert half.status == "failed"
    assert half.error == "garrison_register in garrison_half raised RuntimeError: boom"
    assert half.components == ()
    assert loaded.registry.get("strategy", "half") is None
    assert loaded.registry.names("strategy") == ["whole"]
    assert loaded.manager.get_plugin("half") is None


def test_duplicate_component_across_plugins_fails_the_second(site: PluginSite) -> None:
    site.install("garrison_alpha", source=site.strategy_source("shared"))
    site.install("garrison_beta", source=site.strategy_source("beta_only", "shared"))

    loaded = load_plugins(builtins=False, entry_points=site.entry_points())

    alpha, beta = listed(loaded, "alpha"), listed(loaded, "beta")
    assert alpha.status == "ok"
    assert beta.status == "failed"
    assert beta.error == (
        "DuplicateComponentError: strategy 'shared' is registered twice: by alpha and by beta"
    )
    assert loaded.registry.names("strategy") == ["shared"]
    entry = loaded.registry.get("strategy", "shared")
    assert entry is not None
    assert entry.plugin == "alpha"
    assert loaded.manager.get_plugin("beta") is None


def test_hook_relay_reaches_only_plugins_that_loaded(site: PluginSite) -> None:
    site.install("garrison_broken", source=BROKEN_LISTENER)
    site.install("garrison_listener", source=LISTENER)

    loaded = load_plugins(builtins=False, entry_points=site.entry_points())

    listener = listed(loaded, "listener")
    assert listener.status == "ok"
    assert listener.components == ()
    assert loaded.hook.garrison_startup(profile="demo", mode="replay") == ["listener"]


def test_two_plugins_with_one_name_fail_the_second(site: PluginSite) -> None:
    site.install("garrison_clash_a", distribution="garrison-clash-a", entry_point="clash")
    site.install(
        "garrison_clash_b",
        distribution="garrison-clash-b",
        entry_point="clash",
        source=RAISES_AT_IMPORT,
    )

    loaded = load_plugins(builtins=False, entry_points=site.entry_points())

    first, second = loaded.plugins
    assert (first.distribution, first.status) == ("garrison-clash-a", "ok")
    assert (second.distribution, second.status) == ("garrison-clash-b", "failed")
    assert second.error is not None
    assert "plugin name 'clash'" in second.error
    assert "garrison-clash-a" in second.error
    assert "garrison_clash_b" not in sys.modules


def test_entry_point_without_distribution_is_refused(site: PluginSite) -> None:
    site.add_module("garrison_loose", RAISES_AT_IMPORT)
    loose = importlib.metadata.EntryPoint(name="loose", value="garrison_loose", group="garrison")

    (info,) = load_plugins(builtins=False, entry_points=[loose]).plugins

    assert info.status == "incompatible"
    assert info.error is not None
    assert "no distribution metadata" in info.error
    assert "garrison_loose" not in sys.modules


def test_entry_points_of_other_groups_are_ignored(site: PluginSite) -> None:
    site.install("garrison_thirdparty")

    assert load_plugins(builtins=False, group="not-garrison").plugins == ()
    eps = site.entry_points()
    assert load_plugins(builtins=False, group="other", entry_points=eps).plugins == ()


def test_builtin_modules_load_as_plugin_host(
    site: PluginSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.add_module("garrison_fakehost", site.strategy_source("house"))
    site.install("garrison_copycat", source=site.strategy_source("house"))
    monkeypatch.setattr(builtin, "BUILTIN_MODULES", ("garrison_fakehost",))

    loaded = load_plugins(entry_points=site.entry_points())

    host, copycat = loaded.plugins
    assert (host.name, host.distribution, host.version) == ("host", "garrison", host_version)
    assert host.module == "garrison_fakehost"
    assert host.status == "ok"
    assert host.components == (("strategy", "house"),)
    entry = loaded.registry.get("strategy", "house")
    assert entry is not None
    assert entry.plugin == "host"
    assert copycat.status == "failed"
    assert copycat.error is not None
    assert "by host and by copycat" in copycat.error


def test_builtin_that_cannot_be_imported_fails_like_a_plugin(
    site: PluginSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.install("garrison_thirdparty")
    monkeypatch.setattr(builtin, "BUILTIN_MODULES", ("garrison_no_such_builtin",))

    loaded = load_plugins(entry_points=site.entry_points())

    host = listed(loaded, "host")
    assert host.status == "failed"
    assert host.error is not None
    assert host.error.startswith("cannot import garrison_no_such_builtin: ModuleNotFoundError")
    assert listed(loaded, "thirdparty").status == "ok"


def test_real_builtins_are_listed_as_host() -> None:
    if importlib.util.find_spec(builtin.BUILTIN_MODULES[0]) is None:
        pytest.skip(f"{builtin.BUILTIN_MODULES[0]} is not written yet")

    loaded = load_plugins(entry_points=[])

    (host,) = loaded.plugins
    assert host.name == "host"
    assert host.status == "ok", host.error
    assert host.components
    assert all(entry.plugin == "host" for entry in loaded.registry)
