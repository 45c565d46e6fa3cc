"""The host's own plugin modules: components that ship with Garrison itself.

They go through the same pluggy hooks as third-party plugins, so a profile
refers to a host risk rule exactly as to a plugin's. They are listed here, not
found through entry points, so they are there even when the host runs from a
source checkout that was never installed.
"""

from __future__ import annotations

#: Modules implementing ``garrison_register`` for the host's own components.
BUILTIN_MODULES: tuple[str, ...] = ("garrison.risk.plugin",)

#: The plugin name the host's own components are attributed to.
BUILTIN_PLUGIN = "host"

#: The distribution that ships the built-in modules.
BUILTIN_DISTRIBUTION = "garrison"


def builtin_plugin_name(index: int, module: str) -> str:
    """The plugin name of the ``index``-th built-in module.

    The first is plain ``host``; any further one is told apart by its module
    (pluggy needs one name per registered object).
    """
    return BUILTIN_PLUGIN if index == 0 else f"{BUILTIN_PLUGIN}:{module}"
