"""Write a checked profile back out as TOML, with every default filled in.

This is what ``garrison check`` prints: the profile as the host will run it,
each component's params included. Secrets never appear (a profile cannot hold
them); keys ending in ``_env`` say whether the variable they name is set.
Reading the output back gives an equal profile.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import cattrs

from garrison.profile.converter import make_converter
from garrison.profile.model import ComponentUse, ControlConfig, Profile, RedisConfig
from garrison.profile.toml_writer import Annotator, table_lines

_ENV_SUFFIX = "_env"


def profile_as_toml(profile: Profile, *, environ: Mapping[str, str] | None = None) -> str:
    """The resolved ``profile`` as TOML text.

    ``environ`` (default: ``os.environ``) is only asked whether the variables
    named by ``*_env`` keys exist; their values are never read.
    """
    env = os.environ if environ is None else environ
    annotate = _env_annotator(env)
    converter = make_converter()
    blocks: list[list[str]] = []

    def section(key: str, value: object) -> None:
        blocks.append(table_lines([key], converter.unstructure(value), annotate=annotate))

    section("profile", profile.profile)
    section("account", profile.account)
    section("data", profile.data)
    section("markets", profile.markets)
    section("broker", profile.broker)
    section("journal", profile.journal)
    section("engine", profile.engine)
    section("credentials", profile.credentials)
    section("exchange", profile.exchange)
    if profile.control != ControlConfig():
        # Nones have no TOML form: only the keys that are set are written.
        table = {k: v for k, v in converter.unstructure(profile.control).items() if v is not None}
        blocks.append(table_lines(["control"], table, annotate=annotate))
    if profile.redis != RedisConfig():
        section("redis", profile.redis)
    if profile.plugins.allow is not None:
        # Written only when set: TOML has no null, and absent means first-party only.
        section("plugins", profile.plugins)
    for strategy in profile.strategies:
        table = _use_table(strategy)
        table["symbols"] = list(strategy.symbols)
        if not strategy.enabled:
            table["enabled"] = False
        blocks.append(_use_lines("strategies", table, converter, strategy, annotate, True))
    for scorer in profile.scorers:
        table = _use_table(scorer.component)
        table["mode"] = scorer.mode
        table["threshold"] = scorer.threshold
        table["strategies"] = list(scorer.strategies)
        blocks.append(_use_lines("scorers", table, converter, scorer.component, annotate, True))
    sizer = _use_table(profile.sizer)
    blocks.append(_use_lines("sizer", sizer, converter, profile.sizer, annotate, False))
    for key, uses in (("risk", profile.risk), ("notifiers", profile.notifiers)):
        for use in uses:
            table = _use_table(use)
            blocks.append(_use_lines(key, table, converter, use, annotate, True))

    header = [
        f"# Resolved profile: {profile.source}",
        "# Every default is filled in; secrets are named by environment variable only.",
    ]
    return "\n\n".join("\n".join(b) for b in [header, *blocks]) + "\n"


def _use_table(use: ComponentUse) -> dict[str, Any]:
    return {"use": use.use, "name": use.name}


def _use_lines(
    key: str,
    table: dict[str, Any],
    converter: cattrs.Converter,
    use: ComponentUse,
    annotate: Annotator,
    array_item: bool,
) -> list[str]:
    lines = table_lines([key], table, array_item=array_item, annotate=annotate)
    # Always written, even when empty, so the reader sees where params go.
    params = converter.unstructure(use.params)
    lines.extend(table_lines([key, "params"], params, annotate=annotate))
    return lines


def _env_annotator(environ: Mapping[str, str]) -> Annotator:
    def annotate(key: str, value: Any) -> str | None:
        if not key.endswith(_ENV_SUFFIX) or not isinstance(value, str):
            return None
        return "set in the environment" if value in environ else "NOT set in the environment"

    return annotate
