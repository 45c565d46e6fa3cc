"""``garrison console``: the Textual console, attached to one running host or several."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

from garrison.cli.control_cmd import _socket_from_profile
from garrison.control.paths import candidate_socket_paths
from garrison.follow.address import MissingPasswordError, masked, password_from, url_problem
from garrison.follow.directory import RedisDirectory, RedisUnreachableError


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
@click.option(
    "--redis",
    "redis_url",
    envvar="GARRISON_REDIS_URL",
    metavar="URL",
    help="Follow every host publishing to this Redis (redis://HOST:PORT/DB), as set in "
    "their profiles' [redis] table. Also read from GARRISON_REDIS_URL.",
)
@click.option(
    "--redis-prefix",
    default="garrison",
    show_default=True,
    help="The key prefix the hosts publish under ([redis] prefix).",
)
@click.option(
    "--redis-password-env",
    metavar="NAME",
    default="",
    help="The environment variable holding Redis's password, if it has one.",
)
def console(
    profiles: tuple[str, ...],
    sockets: tuple[Path, ...],
    every: float,
    redis_url: str | None,
    redis_prefix: str,
    redis_password_env: str,
) -> None:
    """Watch and steer running hosts in a terminal UI.

    Name each host by PROFILE (a profile file, or a profile name: its socket
    at the default place) or --socket PATH; with several, `n` switches host.

    With --redis URL, the console also follows every host that publishes to
    that Redis (hosts whose profile sets [redis] url), those starting later
    too. A host followed through Redis is steered through its control socket
    when it runs on this machine; one on another machine is shown read-only
    (run the console there, over SSH, to act on it).

    The host is unaffected when the console exits or its terminal drops.
    """
    from garrison.console.app import ConsoleApp
    from garrison.console.model import HostTarget

    targets = [HostTarget(*resolve_target(name)) for name in profiles]
    targets += [HostTarget(path.stem, path) for path in sockets]
    directory = None
    if redis_url:
        directory, found = _redis_hosts(redis_url, redis_prefix, redis_password_env)
        targets += [HostTarget(host_id, host_id=host_id) for host_id in found]
    if not targets:
        if redis_url:
            raise click.ClickException(
                f"no host publishes to Redis at {masked(redis_url)} under the prefix "
                f"{redis_prefix!r}: a host publishes when its profile sets [redis] url"
            )
        raise click.UsageError("name a host: garrison console PROFILE, or --socket PATH")
    ConsoleApp(targets, period_s=every, directory=directory).run()


def _redis_hosts(url: str, prefix: str, password_env: str) -> tuple[RedisDirectory, list[str]]:
    """The directory the console follows, and the hosts publishing there now."""
    # The operator's own shell may hold a password in the URL; it is never shown.
    if why := url_problem(url, password_allowed=True):
        raise click.BadParameter(f"{masked(url)}: expected {why}", param_hint="--redis")
    try:
        password = password_from(password_env, os.environ)
    except MissingPasswordError:
        raise click.BadParameter(
            f"{password_env} is not set in the environment", param_hint="--redis-password-env"
        ) from None

    async def listed() -> list[str]:
        probe = RedisDirectory(url, password, prefix=prefix)
        try:
            return await probe.hosts()
        finally:
            await probe.close()

    try:
        found = asyncio.run(listed())
    except RedisUnreachableError as exc:
        raise click.ClickException(str(exc)) from None
    # The app's own loop needs a client of its own: the probe's belonged to asyncio.run's.
    return RedisDirectory(url, password, prefix=prefix), found
