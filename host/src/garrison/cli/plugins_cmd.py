"""``garrison plugins``: list, install, uninstall and start plugins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import garrison_api
from rich.console import Console
from rich.table import Table
from rich.text import Text

from garrison.plugins import PluginInfo, PluginSet, load_plugins
from garrison.plugins.location import PLUGINS_DIR_ENV, plugins_dir
from garrison.plugins.policy import LOAD_PLUGINS_ENV, LoadPolicy, policy_for_profile

_STATUS_STYLE = {
    "ok": "green",
    "failed": "bold red",
    "incompatible": "yellow",
    "not allowed": "magenta",
}


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
        "in_plugins_dir": info.in_plugins_dir,
    }


def _components_text(info: PluginInfo) -> str:
    grouped = info.components_by_kind()
    return "\n".join(f"{kind}: {', '.join(names)}" for kind, names in grouped.items()) or "-"


def plugins_table(infos: tuple[PluginInfo, ...], title: str = "Garrison plugins") -> Table:
    """The plugins as a table: name, distribution, version, components, API range, status."""
    table = Table(title=title, title_justify="left")
    # Short fields stay on one line; the list of components takes the rest.
    table.add_column("Name", no_wrap=True)
    table.add_column("Distribution", overflow="fold")
    table.add_column("Version", no_wrap=True)
    table.add_column("Components", overflow="fold")
    table.add_column("API range", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    for info in infos:
        table.add_row(
            Text(info.name + (" *" if info.in_plugins_dir else ""), style="bold"),
            Text(info.distribution or "-"),
            Text(info.version or "-"),
            Text(_components_text(info)),
            Text(info.api_range or "-"),
            Text(info.status, style=_STATUS_STYLE[info.status]),
        )
    return table


def _print_problems(infos: tuple[PluginInfo, ...], console: Console) -> None:
    for info in infos:
        if not info.ok:
            console.print(
                Text.assemble((f"{info.name} ({info.status}): ", "bold"), info.error or ""),
                soft_wrap=True,
            )


def _show(loaded: PluginSet, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([plugin_as_json(info) for info in loaded.plugins], indent=2))
        return
    out = Console()
    if not loaded.plugins:
        out.print("No plugins found in the entry-point group 'garrison'.")
        return
    out.print(plugins_table(loaded.plugins))
    if any(info.in_plugins_dir for info in loaded.plugins):
        out.print(f"* installed with `garrison plugins install` into {plugins_dir()}")
    _print_problems(loaded.plugins, Console(stderr=True))


_JSON_OPTION = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON list of objects (name, module, distribution, version, api_range, "
    "status, error, components, in_plugins_dir) instead of a table.",
)
_PROFILE_OPTION = click.option(
    "--profile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply this profile's allow-list: for a live profile, what it would load.",
)


def _list(as_json: bool, profile: Path | None) -> None:
    policy = LoadPolicy.from_environment() if profile is None else policy_for_profile(profile)
    _show(load_plugins(policy=policy), as_json)


@click.group("plugins", invoke_without_command=True)
@_JSON_OPTION
@_PROFILE_OPTION
@click.pass_context
def plugins(ctx: click.Context, as_json: bool, profile: Path | None) -> None:
    """List installed plugins (the default), install, uninstall or start one.

    Plugins are the distributions with an entry point in the `garrison` group,
    plus the host's own components (plugin `host`). Each is checked before use:

    \b
      ok            loaded; its components can be named in a profile
      incompatible  its declared garrison-api range excludes the installed
                    API, so it was not imported
      failed        it could not be imported, has a misspelt or invalid
                    hook, or its registration raised
      not allowed   left out by an allow-list, never imported: the
                    GARRISON_LOAD_PLUGINS variable, or a live profile's
                    [plugins] allow (first-party plugins only by default)

    The reason for every problem is printed under the table (on stderr). The
    exit code is 0 even when some plugin has a problem: the status column
    says so.
    """
    if ctx.invoked_subcommand is None:
        _list(as_json, profile)


@plugins.command("list")
@_JSON_OPTION
@_PROFILE_OPTION
def list_plugins(as_json: bool, profile: Path | None) -> None:
    """List installed plugins (what `garrison plugins` alone does)."""
    _list(as_json, profile)


@plugins.command("install")
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option(
    "--offline",
    is_flag=True,
    help="Use no package index: uv's --offline (its cache only), pip's --no-index.",
)
@click.option(
    "--find-links",
    multiple=True,
    metavar="DIR|URL",
    help="Also look for wheels and sdists here (repeatable).",
)
@click.option(
    "--installer",
    type=click.Choice(["uv", "pip"]),
    default=None,
    help="Install with this tool (default: uv when it is on PATH, else pip).",
)
def install(
    specs: tuple[str, ...], offline: bool, find_links: tuple[str, ...], installer: str | None
) -> None:
    """Install plugins: PyPI names, local paths, wheels or git URLs.

    They go into the plugins directory of the environment `garrison` runs from
    (`<venv>/garrison-plugins`, or $GARRISON_PLUGINS_DIR), not into its
    site-packages: a workspace's `uv sync` removes whatever its lock file
    does not name from site-packages, but leaves that directory alone. The
    host reads the plugins directory whenever it loads plugins.

    A distribution that is not a Garrison plugin, whose garrison-api range
    excludes the installed API, or that the environment already has is
    refused, and then nothing is installed. Afterwards the installed plugins
    are loaded and listed. Exit status: 0 when every one loads, 1 when one is
    installed but fails to load, 2 when the install was refused or failed.

    \b
    Examples:
      garrison plugins install garrison-pullback
      garrison plugins install ./my-plugin
      garrison plugins install git+https://example.org/me/garrison-mine.git
    """
    from garrison.plugins.installer import (
        PluginInstallError,
        find_installer,
        install_plugins,
    )

    err = Console(stderr=True)
    directory = plugins_dir()
    try:
        tool = find_installer("uv" if installer == "uv" else "pip" if installer else None)
        done = install_plugins(
            specs,
            directory=directory,
            installer=tool,
            api_version=garrison_api.__version__,
            offline=offline,
            find_links=find_links,
        )
    except PluginInstallError as exc:
        for line in exc.problems:
            err.print(Text(line), soft_wrap=True, highlight=False)
        raise SystemExit(2) from None
    out = Console()
    for dist in done:
        role = "dependency" if dist.dependency else "plugin " + ", ".join(dist.plugins)
        out.print(f"installed {dist.name} {dist.version} ({role}) into {directory}")
    names = {plugin for dist in done for plugin in dist.plugins}
    loaded = load_plugins()
    mine = tuple(info for info in loaded.plugins if info.name in names)
    out.print(plugins_table(mine, title="Installed plugins"))
    _print_problems(mine, err)
    if any(info.status == "not allowed" for info in mine):
        err.print(f"note: {LOAD_PLUGINS_ENV} leaves some of them out of this process")
    if any(info.status in ("failed", "incompatible") for info in mine):
        raise SystemExit(1)


@plugins.command("uninstall")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
def uninstall(names: tuple[str, ...]) -> None:
    """Remove plugins installed with `garrison plugins install`.

    NAME is a distribution (garrison-mine) or a plugin name (mine). Plugins
    the environment itself has (a workspace member, say) are not touched:
    remove those with the tool that installed them. Dependencies installed
    with a plugin stay.
    """
    from garrison.plugins.installer import PluginInstallError, uninstall_plugins

    try:
        removed = uninstall_plugins(names, directory=plugins_dir())
    except PluginInstallError as exc:
        err = Console(stderr=True)
        for line in exc.problems:
            err.print(Text(line), soft_wrap=True, highlight=False)
        raise SystemExit(2) from None
    for name in removed:
        click.echo(f"uninstalled {name}")


@plugins.command("new")
@click.argument("kind", metavar="KIND")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default=True,
    help="Create the distribution's folder in this directory.",
)
def new(kind: str, name: str, parent: Path) -> None:
    """Start a plugin: render a distribution `garrison-NAME` offering one KIND.

    KIND is strategy, scorer, sizer, risk-rule or notifier. The folder holds a
    pyproject.toml (the `garrison` entry point, `garrison-api>=1.1,<2`), the
    Params and the component (a working example to replace with yours), the
    hook module, tests inheriting the test kit's contract tests, a README, a
    CHANGELOG and a GitHub Actions workflow. Then:

    \b
      cd garrison-NAME && pip install -e '.[test]' && pytest
      garrison plugins install .
    """
    from garrison.plugins.template import TemplateError, render_plugin

    try:
        target = render_plugin(kind, name, parent)
    except TemplateError as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(f"created {target}")
    click.echo(f"next: cd {target} && pip install -e '.[test]' && pytest")
    click.echo(f"then: garrison plugins install {target}")


__all__ = ["PLUGINS_DIR_ENV", "plugin_as_json", "plugins", "plugins_table"]
