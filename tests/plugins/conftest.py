"""Throwaway plugin distributions, installed into a temporary directory on sys.path.

Each distribution is laid out as an installer would leave it in site-packages:
a package directory and a ``<name>-<version>.dist-info`` folder with METADATA,
entry_points.txt and RECORD, so importlib.metadata finds it like any other.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

API_RANGE_OK = "garrison-api>=1,<2"


def strategy_plugin_source(*names: str) -> str:
    """A plugin module whose ``garrison_register`` offers one strategy per name."""
    adds = "\n".join(f"    registry.add_strategy({name!r}, ThirdPartyStrategy)" for name in names)
    return (
        textwrap.dedent(
            """\
        import attrs
        from garrison_api import hookimpl


        class ThirdPartyStrategy:
            @attrs.frozen
            class Params:
                length: int = 20

            warmup = 20
            timeframes = ("1h",)
            indicators = {}

            def __init__(self, params):
                self.params = params

            def on_candle(self, candle, ctx):
                return ()


        @hookimpl
        def garrison_register(registry):
        """
        )
        + (adds or "    pass")
        + "\n"
    )


class PluginSite:
    """A directory playing site-packages, into which tests install plugin distributions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: list[str] = []

    #: The default plugin source, for tests that vary the component names.
    strategy_source = staticmethod(strategy_plugin_source)

    def install(
        self,
        module: str = "garrison_thirdparty",
        *,
        source: str | None = None,
        distribution: str | None = None,
        version: str = "0.1.0",
        entry_point: str | None = None,
        requires: Sequence[str] = (API_RANGE_OK,),
    ) -> str:
        """Install a plugin distribution; return its entry-point (plugin) name.

        Defaults: distribution ``module`` with ``_`` as ``-``, entry point named
        after the module without its ``garrison_`` prefix, one strategy of that
        name.
        """
        distribution = distribution or module.replace("_", "-")
        entry_point = entry_point or module.removeprefix("garrison_")
        if source is None:
            source = strategy_plugin_source(entry_point)
        package = self.root / module
        package.mkdir()
        (package / "__init__.py").write_text(source)
        info = self.root / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        metadata = [
            "Metadata-Version: 2.1",
            f"Name: {distribution}",
            f"Version: {version}",
            *(f"Requires-Dist: {line}" for line in requires),
        ]
        (info / "METADATA").write_text("\n".join(metadata) + "\n")
        (info / "entry_points.txt").write_text(f"[garrison]\n{entry_point} = {module}\n")
        files = [f"{module}/__init__.py"]
        files += [f"{info.name}/{name}" for name in ("METADATA", "entry_points.txt", "RECORD")]
        (info / "RECORD").write_text("".join(f"{path},,\n" for path in files))
        self.modules.append(module)
        importlib.invalidate_caches()
        return entry_point

    def add_module(self, module: str, source: str) -> None:
        """A plain importable module with no distribution metadata (like the host's own)."""
        (self.root / f"{module}.py").write_text(source)
        self.modules.append(module)
        importlib.invalidate_caches()

    def entry_points(self) -> list[importlib.metadata.EntryPoint]:
        """The ``garrison`` entry points of the distributions installed here only."""
        found: list[importlib.metadata.EntryPoint] = []
        for dist in importlib.metadata.distributions(path=[str(self.root)]):
            found.extend(dist.entry_points.select(group="garrison"))
        return found

    def forget_modules(self) -> None:
        for module in self.modules:
            for name in [n for n in sys.modules if n == module or n.startswith(f"{module}.")]:
                del sys.modules[name]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    """A fresh plugin site on sys.path; its modules are unloaded afterwards."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    plugin_site = PluginSite(root)
    yield plugin_site
    plugin_site.forget_modules()
