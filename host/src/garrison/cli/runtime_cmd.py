"""``garrison strategy enable|disable``, ``swap``, ``reload``: change what a running host runs.

Each talks to a host started by ``garrison run`` over its control socket,
found as ``garrison status`` finds it (``--socket``, ``--profile``, or the
only host serving). The host checks the request at once and applies it at
its next step; ``garrison status`` shows it as waiting until then, and the
journal records both (``control.command`` and ``control.applied``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from garrison.cli.control_cmd import _call, _print, _queued, _resolve, _target


@click.group("strategy")
def strategy() -> None:
    """Enable or disable one of a running host's strategies."""


def _toggle_command(verb: str, doc: str) -> click.Command:
    @click.command(verb, help=doc)
    @click.argument("name")
    @_target
    def command(socket: Path | None, profile: Path | None, as_json: bool, name: str) -> None:
        path = _resolve(socket, profile)
        _print(_call(path, f"strategy_{verb}", {"name": name}), as_json, _queued)

    return command


strategy.add_command(
    _toggle_command(
        "disable",
        "Stop calling strategy NAME (its profile name) from the next step: no new signals. "
        "Its open positions keep their stops and take-profits at the venue; the host keeps "
        "booking them and `garrison flatten` closes them.",
    )
)
strategy.add_command(
    _toggle_command(
        "enable", "Call strategy NAME again from the next step (on the bars it would decide on)."
    )
)


def _params(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--params") from None
    if not isinstance(value, dict):
        raise click.BadParameter(
            f"a JSON object of the plugin's params, got {text}", param_hint="--params"
        )
    return value


@click.command("swap")
@click.argument("kind", type=click.Choice(["strategy", "scorer"]))
@click.argument("use")
@click.argument("plugin")
@click.option(
    "--params",
    metavar="JSON",
    help="The new component's params as a JSON object (e.g. '{\"system\": 2}'); "
    "default: its own defaults. Checked as a profile's params are.",
)
@_target
def swap(
    socket: Path | None,
    profile: Path | None,
    as_json: bool,
    kind: str,
    use: str,
    plugin: str,
    params: str | None,
) -> None:
    """Put installed PLUGIN in the place of the strategy or scorer named USE in the profile.

    It takes over at the next candle: it gets start() with its own storage,
    the old one stop(). Open positions keep their exchange-side stops and
    stay with the use: a swapped-in strategy's exits close them. A scorer's
    scores are journaled under USE/PLUGIN. An unknown plugin is refused with
    the list of installed ones.
    """
    path = _resolve(socket, profile)
    args = {"kind": kind, "use": use, "plugin": plugin, "params": _params(params)}
    _print(_call(path, "swap", args), as_json, _queued)


def _reloaded(result: dict[str, Any]) -> str:
    if not result.get("queued"):
        return f"nothing to do: {result['applies']}"
    return _queued(result)


@click.command("reload")
@_target
def reload(socket: Path | None, profile: Path | None, as_json: bool) -> None:
    """Re-read the profile file the host was started with and apply it at the next step.

    Strategy and scorer params and plugins, strategies' enabled, scorers'
    mode, threshold and strategies, the sizer's and risk rules' params and
    [control] risk bounds change live. A change to anything else (exchange,
    account, mode, symbols, data, journal, engine, notifiers, which uses
    exist) refuses the whole reload, naming each key, as does a profile the
    loader refuses; the host then runs on unchanged.
    """
    path = _resolve(socket, profile)
    _print(_call(path, "reload"), as_json, _reloaded)


COMMANDS = (strategy, swap, reload)
