"""Keep secrets out of profiles: they are referenced by environment-variable NAME only.

A profile may say ``api_key_env = "BYBIT_API_KEY"``; it may never hold the
key itself. Before anything else reads the document, every value that is, or
may be, a secret is replaced by a placeholder, so no later message, log line
or rendering can echo it. Problems here never show the offending value.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from garrison.profile.errors import PathPart, Problem, format_path

#: What an environment variable name must look like.
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

#: Key names (or key-name endings after ``_``) that announce a secret value.
SECRET_WORDS: tuple[str, ...] = (
    "api_key",
    "apikey",
    "api_secret",
    "secret",
    "secret_key",
    "access_key",
    "private_key",
    "token",
    "password",
    "passphrase",
)

#: What replaces a secret in the working copy of the document.
REDACTED = "<redacted>"

_ENV_SUFFIX = "_env"
_RULE = "secrets are referenced by environment-variable name only"


@attrs.frozen
class Redaction:
    """The document with secrets replaced, what was wrong, and where."""

    document: dict[str, Any]
    problems: tuple[Problem, ...]
    paths: tuple[tuple[PathPart, ...], ...]


def is_env_name(value: object) -> bool:
    """Whether ``value`` is a plausible environment variable NAME (and not a secret)."""
    return isinstance(value, str) and bool(ENV_NAME.match(value)) and not _looks_like_key(value)


def is_secret_key(key: str) -> bool:
    """Whether a key's name says its value is a secret (``api_key``, ``bot_token``...)."""
    k = key.lower()
    if k.endswith(_ENV_SUFFIX):
        return False
    return any(k == w or k.endswith("_" + w) for w in SECRET_WORDS)


def _looks_like_key(value: str) -> bool:
    # Upper-case API keys would pass as names: long, no separators, letters and digits.
    return (
        len(value) >= 20
        and "_" not in value
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )


def redact_secrets(document: dict[str, Any], file: str) -> Redaction:
    """Copy ``document`` with every secret (or would-be secret) replaced by :data:`REDACTED`.

    Flags keys named like secrets anywhere (including component params),
    ``*_env`` keys whose value is not an environment variable name, and any
    ``[credentials]`` value that is not one.
    """
    problems: list[Problem] = []
    paths: list[tuple[PathPart, ...]] = []
    prefix = _env_prefix(document)

    def visit(node: Any, path: tuple[PathPart, ...]) -> Any:
        if isinstance(node, list):
            return [visit(item, (*path, i)) for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            here = (*path, key)
            in_credentials = path == ("credentials",)
            problem = _check(key, value, here, file, prefix, in_credentials=in_credentials)
            if problem is None:
                out[key] = visit(value, here)
            else:
                problems.append(problem)
                paths.append(here)
                out[key] = REDACTED
        return out

    return Redaction(visit(document, ()), tuple(problems), tuple(paths))


def _check(
    key: str,
    value: object,
    path: tuple[PathPart, ...],
    file: str,
    prefix: str,
    *,
    in_credentials: bool,
) -> Problem | None:
    where = format_path(path)
    # Exchange credentials read best as BYBIT_API_KEY; a plugin's secret needs no prefix.
    prefix = prefix if path[0] == "credentials" else ""
    if is_secret_key(key):
        suggestion = f'{key}{_ENV_SUFFIX} = "{prefix}{key.upper()}"'
        return Problem(
            file,
            where,
            "no secret in the profile",
            "an inline secret (value not shown)",
            f"{_RULE}: write {suggestion} and export that variable",
        )
    named_ref = key.lower().endswith(_ENV_SUFFIX)
    if (named_ref or (in_credentials and not isinstance(value, dict))) and not is_env_name(value):
        return Problem(
            file,
            where,
            "the NAME of an environment variable (capitals, digits and '_', like BYBIT_API_KEY)",
            "a value that is not such a name (not shown, in case it is a secret)",
            f'{_RULE} (e.g. api_key_env = "{prefix}API_KEY")',
        )
    return None


def _env_prefix(document: dict[str, Any]) -> str:
    # Suggest names like BYBIT_API_KEY when the profile says which exchange it is for.
    info = document.get("profile")
    exchange = info.get("exchange") if isinstance(info, dict) else None
    if isinstance(exchange, str) and exchange.isalpha():
        return exchange.upper() + "_"
    return "BYBIT_"
