"""Plugin discovery: entry points of the ``garrison`` group, checked and loaded through pluggy.

Importing this package loads no plugin; call :func:`load_plugins`.
"""

from garrison.plugins.manager import PluginInfo, PluginSet, PluginStatus, load_plugins

__all__ = ["PluginInfo", "PluginSet", "PluginStatus", "load_plugins"]
