"""Where ``garrison plugins install`` puts plugins, and why there.

A workspace's ``uv sync`` removes from its ``.venv`` every distribution its
lock file does not name, so a plugin installed into site-packages with
``uv pip install`` vanishes at the next sync. Plugins installed by Garrison go
into a directory of their own instead, the *plugins directory*, that no
installer manages: ``uv sync`` and ``pip`` leave it alone, and the host reads
its distributions' entry points beside the environment's own when it loads
plugins (appending it to ``sys.path`` only then, so the environment's own
packages always win).

The plugins directory is, in this order:

1. ``$GARRISON_PLUGINS_DIR`` when set;
2. ``<venv>/garrison-plugins`` when Garrison runs from a virtual environment
   (so it belongs to that environment and its Python version);
3. ``~/.local/share/garrison/plugins/pyX.Y`` otherwise (``$XDG_DATA_HOME`` is
   honoured).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

#: Environment variable naming the plugins directory.
PLUGINS_DIR_ENV = "GARRISON_PLUGINS_DIR"

#: Name of the plugins directory inside a virtual environment.
VENV_PLUGINS_DIR = "garrison-plugins"


def plugins_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The plugins directory for the running interpreter (it may not exist yet)."""
    env = os.environ if environ is None else environ
    configured = env.get(PLUGINS_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / VENV_PLUGINS_DIR
    data_home = env.get("XDG_DATA_HOME", "").strip()
    base = Path(data_home) if data_home else Path.home() / ".local" / "share"
    version = f"py{sys.version_info.major}.{sys.version_info.minor}"
    return base / "garrison" / "plugins" / version
