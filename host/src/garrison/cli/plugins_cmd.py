"""``garrison plugins``: list the installed plugins and what each one offers."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from garrison.plugins import PluginInfo, PluginSet, load_plugins

_STATUS_STYLE = {"ok": "green", "failed": "bold red", "incompatible": "yellow"}


def plugin_as_json(info: PluginInfo) -> dict[str, Any]:
    """One plugin as a JSON-ready object; ``components`` maps kind to names."""
    return {
        "name": info.name,
        "module": info.module,
        "distribution": info.distribution,
        "version": info.version,
        "api_range": info.api_range,
        "status": info.status,
        "error": info.error,
        "components": info.components_by_kind(),
    }


def _components_text(info: PluginInfo) -> str:
    grouped = info.components_by_kind()
    return "\n".join(f"{kind}: {', '.join(names)}" for kind, names in grouped.items()) or "-"


def _table(plugins: PluginSet) -> Table:
    table = Table(title="Garrison plugins", title_justify="left")
    # Short fields stay on one line; the list of components takes the rest.
    table.add_column("Name", no_wrap=True)
    table.add_column("Distribution", overflow="fold")
    table.add_column("Version", no_wrap=True)
    table.add_column("Components", overflow="fold")
    table.add_column("API range", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    for info in plugins.plugins:
        table.add_row(
            Text(info.name, style="bold"),
            Text(info.distribution or "-"),
            Text(info.version or "-"),
            Text(_components_text(info)),
            Text(info.api_range or "-"),
            Text(info.status, style=_STATUS_STYLE[info.status]),
        )
    return table


def _print_problems(plugins: PluginSet, console: Console) -> None:
    for info in plugins.problems:
        console.print(Text.assemble((f"{info.name} ({info.status}): ", "bold"), info.error or ""))


@click.command("plugins")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON list of objects (name, module, distribution, version, api_range, "
    "status, error, components) instead of a table.",
)
def plugins(as_json: bool) -> None:
    """List installed plugins: what each offers, its garrison-api range and status.

    Plugins are the distributions with an entry point in the `garrison` group,
    plus the host's own components (plugin `host`). Each is checked before use:

    \b
      ok            loaded; its components can be named in a profile
      incompatible  its declared garrison-api range excludes the installed
                    API, so it was not imported
      failed        it could not be imported, has a misspelt or invalid
                    hook, or its registration raised

    The reason for every problem is printed under the table (on stderr). The
    exit code is 0 even when some plugin has a problem: the status column
    says so.
    """
    loaded = load_plugins()
    if as_json:
        click.echo(json.dumps([plugin_as_json(info) for info in loaded.plugins], indent=2))
        return
    out = Console()
    if not loaded.plugins:
        out.print("No plugins found in the entry-point group 'garrison'.")
        return
    out.print(_table(loaded))
    _print_problems(loaded, Console(stderr=True))
