"""``garrison doctor``: one report on the environment, the plugins, profiles and journals."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import click
from rich.console import Console
from rich.text import Text

from garrison.doctor import Diagnosis, diagnose

_MARK = {"ok": ("ok", "green"), "note": ("note", "yellow"), "problem": ("PROBLEM", "bold red")}


def _print(diagnosis: Diagnosis, out: Console) -> None:
    for section in diagnosis.sections:
        out.print(Text(section.title, style="bold underline"))
        width = max(len(f.topic) for f in section.findings)
        for finding in section.findings:
            word, style = _MARK[finding.verdict]
            out.print(
                Text.assemble(
                    (f"  {word:<8}", style), f"{finding.topic:<{width}}  ", finding.detail
                ),
                soft_wrap=True,
                highlight=False,
            )
        out.print()
    verdict = "healthy" if diagnosis.healthy else "problems found (marked PROBLEM)"
    out.print(Text(verdict, style="bold green" if diagnosis.healthy else "bold red"))


@click.command("doctor")
@click.argument(
    "profiles", nargs=-1, type=click.Path(dir_okay=False, path_type=Path), metavar="[PROFILE]..."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(profiles: tuple[Path, ...], as_json: bool) -> None:
    """Check the installation and, for each PROFILE, the profile and its journal.

    \b
    environment  Python, garrison and garrison-api versions, the installer
                 plugins are installed with, the plugins directory
    plugins      every plugin: ok (with its components), incompatible,
                 failed or not allowed, with the reason
    PROFILE      checked as `garrison check` does (a live profile with its
                 own allow-list), then its journal: PRAGMA integrity_check,
                 size, schema and runs by status (read-only)

    Touches no exchange and changes nothing. Exit status 0 when nothing is a
    problem ("not allowed" and a journal not made yet are notes), else 1.
    """
    diagnosis = diagnose(profiles)
    if as_json:
        click.echo(json.dumps(attrs.asdict(diagnosis) | {"healthy": diagnosis.healthy}, indent=2))
    else:
        _print(diagnosis, Console())
    if not diagnosis.healthy:
        raise SystemExit(1)
