"""``garrison console``: the Textual console, attached to one running host or several."""

from __future__ import annotations

from pathlib import Path

import click

from garrison.cli.control_cmd import _socket_from_profile
from garrison.control.paths import candidate_socket_paths


def resolve_target(name: str) -> tuple[str, Path]:
    """A host named by a profile file (``.toml``) or a profile name: its label and socket."""
    path = Path(name)
    if path.suffix == ".toml":
        if not path.is_file():
            raise click.BadParameter(f"{name}: no such profile file", param_hint="PROFILE")
        return path.stem, _socket_from_profile(path)
    candidates = candidate_socket_paths(name)
    return name, next((p for p in candidates if p.exists()), candidates[0])


@click.command("console")
@click.argument("profiles", nargs=-1, metavar="[PROFILE]...")
@click.option(
    "--socket",
    "sockets",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A host's control socket (repeat for several hosts).",
)
@click.option(
    "--every",
    type=click.FloatRange(0.2, 60),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="How often to ask the host for fresh figures.",
)
def console(profiles: tuple[str, ...], sockets: tuple[Path, ...], every: float) -> None:
    """Watch and steer running hosts in a terminal UI.

    Name each host by PROFILE (a profile file, or a profile name: its socket
    at the default place) or --socket PATH; with several, `n` switches host.
    The host is unaffected when the console exits or its terminal drops.
    """
    from garrison.console.app import ConsoleApp
    from garrison.console.model import HostTarget

    targets = [HostTarget(*resolve_target(name)) for name in profiles]
    targets += [HostTarget(path.stem, path) for path in sockets]
    if not targets:
        raise click.UsageError("name a host: garrison console PROFILE, or --socket PATH")
    ConsoleApp(targets, period_s=every).run()
