"""``garrison check PROFILE``: validate a profile and print it as the host will run it."""

from __future__ import annotations

from pathlib import Path

import click
from garrison_api import Registry
from rich.console import Console
from rich.syntax import Syntax
from rich.text import Text

from garrison.plugins.manager import load_plugins
from garrison.plugins.policy import policy_for_profile
from garrison.profile.errors import ProfileError
from garrison.profile.load import load_profile
from garrison.profile.model import Profile
from garrison.profile.render import profile_as_toml

#: Exit status when the profile has problems (click uses 2 for usage errors too).
EXIT_PROBLEMS = 2


def check_profile(
    path: Path, registry: Registry, *, out: Console, err: Console, show: bool = True
) -> int:
    """Check the profile at ``path`` against ``registry``; return the exit status.

    Prints the resolved profile (unless ``show`` is false) and ``profile OK``
    to ``out``, or every problem to ``err`` and returns :data:`EXIT_PROBLEMS`.
    """
    try:
        profile = load_profile(path, registry)
    except ProfileError as exc:
        count = len(exc.problems)
        err.print(
            Text(f"{path}: {count} problem{'s' if count != 1 else ''}", style="bold red"),
            soft_wrap=True,
        )
        for problem in exc.problems:
            err.print(Text(str(problem)), soft_wrap=True, highlight=False)
        return EXIT_PROBLEMS
    if show:
        _print_toml(profile_as_toml(profile), out)
    out.print(Text(f"profile OK: {_summary(profile)}", style="bold green"), soft_wrap=True)
    return 0


def _print_toml(text: str, out: Console) -> None:
    if out.is_terminal:
        out.print(Syntax(text, "toml", theme="ansi_dark", word_wrap=True))
    else:
        # Plain text when piped or captured, so the output is valid TOML as is.
        out.print(Text(text.rstrip("\n")), soft_wrap=True, highlight=False)


def _summary(profile: Profile) -> str:
    def count(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    info = profile.profile
    parts = [
        f"{info.name} ({info.mode.value}, {info.exchange} {info.network})",
        count(len(profile.strategies), "strategy", "strategies"),
        f"sizer {profile.sizer.name}",
        count(len(profile.risk), "risk rule", "risk rules"),
        count(len(profile.notifiers), "notifier", "notifiers"),
    ]
    for scorer in profile.scorers:
        parts.append(f"scorer {scorer.component.name} ({scorer.mode})")
    return ", ".join(parts)


@click.command("check")
@click.argument("profile", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Print only the verdict (or the problems), not the resolved profile.",
)
@click.pass_context
def check(ctx: click.Context, profile: Path, quiet: bool) -> None:
    """Validate PROFILE and print it as the host will run it.

    Loads the installed plugins (for a live profile only those its
    [plugins] allow names, first-party ones by default; GARRISON_LOAD_PLUGINS
    restricts any mode), then checks everything in the profile:
    TOML syntax, unknown or misspelt keys (with the closest valid name),
    value types and ranges, dates and timeframes, and that every `use =`
    names an installed component whose params are valid. Every problem is
    reported, each with its file, TOML path, what was expected and what was
    found. Secrets are never printed: a profile names environment variables
    (`api_key_env = "BYBIT_API_KEY"`) and check only says whether they are set.

    Touches no network and no exchange. Exit status: 0 when the profile is
    OK, 2 when it has problems.

    \b
    Example:
      garrison check configs/demo.toml
    """
    out = Console()
    err = Console(stderr=True)
    plugins = load_plugins(policy=policy_for_profile(profile))
    for info in plugins.problems:
        # A plugin that failed to load explains a "not registered" problem below.
        err.print(
            Text(f"warning: plugin {info.name} ({info.status}): {info.error or ''}"),
            soft_wrap=True,
            highlight=False,
        )
    ctx.exit(check_profile(profile, plugins.registry, out=out, err=err, show=not quiet))
