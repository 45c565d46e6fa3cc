"""Read a profile: TOML text -> checked :class:`~garrison.profile.model.Profile`.

The steps, each collecting problems rather than stopping at the first:
parse the TOML; replace secrets by a placeholder (they never go further);
reject unknown top-level keys; structure each section with the strict
converter and check its values; build every component use from the
registry, structuring its ``params`` into the component's own class. Any
problem at all raises one :class:`ProfileError` listing them all, so nothing
half-checked ever reaches the engine.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cattrs
from garrison_api import Registry

from garrison.profile.checks import (
    check_account,
    check_broker,
    check_control,
    check_data,
    check_engine,
    check_exchange,
    check_journal,
    check_markets,
    check_mode,
    check_plugins,
    check_profile_info,
    check_redis,
    check_redis_needs_control,
)
from garrison.profile.components import ComponentBuilder, StrategyTable, UseTable
from garrison.profile.converter import make_converter
from garrison.profile.dates import toml_datetime_to_iso
from garrison.profile.errors import Problem, ProfileError, format_path, is_under
from garrison.profile.model import (
    AccountConfig,
    BrokerConfig,
    ControlConfig,
    Credentials,
    DataConfig,
    EngineConfig,
    ExchangeConfig,
    JournalConfig,
    MarketsConfig,
    PluginsConfig,
    Profile,
    ProfileInfo,
    RedisConfig,
)
from garrison.profile.secret_refs import redact_secrets
from garrison.profile.structuring import structure, unknown_key_problem

#: Plain sections: TOML key -> class, and the check run on the structured value.
_SECTIONS: dict[str, tuple[type, Callable[[str, Any], list[Problem]]]] = {
    "profile": (ProfileInfo, check_profile_info),
    "account": (AccountConfig, check_account),
    "data": (DataConfig, check_data),
    "markets": (MarketsConfig, check_markets),
    "broker": (BrokerConfig, check_broker),
    "journal": (JournalConfig, check_journal),
    "engine": (EngineConfig, check_engine),
    "credentials": (Credentials, lambda _file, _value: []),
    "exchange": (ExchangeConfig, check_exchange),
    "plugins": (PluginsConfig, check_plugins),
    "control": (ControlConfig, check_control),
    "redis": (RedisConfig, check_redis),
}

#: Every key a profile may have at its top level.
TOP_LEVEL_KEYS: tuple[str, ...] = (
    *_SECTIONS,
    "strategies",
    "scorer",
    "scorers",
    "sizer",
    "risk",
    "notifiers",
)

_TOML_WHERE = re.compile(r"\s*\(at (line (\d+), column (\d+)|end of document)\)\s*$")


def load_profile(
    path: str | Path,
    registry: Registry,
    *,
    default_risk_chain: Sequence[str] | None = None,
) -> Profile:
    """Read and check the profile at ``path``; raise :class:`ProfileError` listing every problem.

    Problems name the file as given in ``path``; the profile's ``source`` is
    the absolute path, so relative paths in it resolve against its directory.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError([Problem(file, "", "a profile file", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise ProfileError(
            [Problem(file, "", "UTF-8 text", f"a byte that is not UTF-8 at offset {exc.start}")]
        ) from None
    except OSError as exc:
        found = exc.strerror or type(exc).__name__
        raise ProfileError([Problem(file, "", "a readable profile file", found)]) from None
    return _parse(text, file, Path(path).resolve(), registry, default_risk_chain)


def parse_profile(
    text: str,
    source: Path,
    registry: Registry,
    *,
    default_risk_chain: Sequence[str] | None = None,
) -> Profile:
    """Check the profile ``text`` as if read from ``source``; raise :class:`ProfileError`.

    ``default_risk_chain`` is the chain used when the profile has no
    ``[[risk]]`` array (default: the host's ``DEFAULT_RISK_CHAIN``).
    """
    return _parse(text, str(source), source, registry, default_risk_chain)


def _parse(
    text: str,
    file: str,
    source: Path,
    registry: Registry,
    default_risk_chain: Sequence[str] | None,
) -> Profile:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError([_syntax_problem(file, exc)]) from None

    redaction = redact_secrets(document, file)
    document = redaction.document
    problems: list[Problem] = []
    for key in document:
        if key not in TOP_LEVEL_KEYS:
            problems.append(unknown_key_problem(file, (), key, list(TOP_LEVEL_KEYS)))

    converter = make_converter()
    _dates_as_strings(document)
    sections, found = _read_sections(converter, document, file)
    problems.extend(found)
    if all(key in sections for key in ("profile", "data", "exchange")):
        problems.extend(
            check_mode(file, sections["profile"], sections["data"], sections["exchange"])
        )
    if all(key in sections for key in ("redis", "control")):
        problems.extend(check_redis_needs_control(file, sections["redis"], sections["control"]))

    builder = ComponentBuilder(registry, converter, file)
    strategies = _strategies(builder, document.get("strategies"), file, problems)
    sizer = _sizer(builder, document.get("sizer"), file, registry, problems)
    scorers = builder.scorers(document, [s.name for s in strategies])
    chain = _host_default_chain() if default_risk_chain is None else tuple(default_risk_chain)
    risk = builder.risk_chain(document.get("risk"), chain)
    notifiers = (
        []
        if "notifiers" not in document
        else builder.array(document["notifiers"], "notifiers", "notifier", UseTable)
    )
    problems.extend(builder.problems)

    problems = _without_echoes(problems, redaction.paths)
    all_problems = [*redaction.problems, *problems]
    if all_problems:
        raise ProfileError(all_problems)
    assert sizer is not None
    return Profile(
        source=source,
        strategies=tuple(strategies),
        sizer=sizer,
        risk=tuple(risk),
        notifiers=tuple(notifiers),
        scorers=tuple(scorers),
        **sections,
    )


def _read_sections(
    converter: cattrs.Converter, document: dict[str, Any], file: str
) -> tuple[dict[str, Any], list[Problem]]:
    """The plain sections that structure and check cleanly, and every problem of all of them."""
    sections: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, (cls, check) in _SECTIONS.items():
        raw = document.get(key)
        if raw is None:
            if key == "profile":
                problems.append(
                    Problem(file, key, 'a [profile] table with name = "..."', "nothing")
                )
                continue
            raw = {}
        value, found = structure(converter, raw, cls, file=file, parts=(key,))
        problems.extend(found)
        if value is not None:
            problems.extend(check(file, value))
            sections[key] = value
        else:
            problems.extend(_check_the_rest(converter, raw, cls, check, file, key, found))
    return sections, problems


def _check_the_rest(
    converter: cattrs.Converter,
    raw: object,
    cls: type,
    check: Callable[[str, Any], list[Problem]],
    file: str,
    key: str,
    found: list[Problem],
) -> list[Problem]:
    """Value checks of a section some of whose keys are broken, on the keys that are not.

    The broken keys are left out, so one bad key does not hide, say, a bad
    date next to it.
    """
    if not isinstance(raw, dict):
        return []
    broken = {p.path for p in found}

    def is_broken(k: str) -> bool:
        return any(is_under(b, format_path((key, k))) for b in broken)

    rest = {k: v for k, v in raw.items() if not is_broken(k)}
    value, again = structure(converter, rest, cls, file=file, parts=(key,))
    if value is None or again:
        return []
    # Only values actually written: a missing one may be needed only because a
    # broken one (say, data.source) fell back to its default.
    written = [format_path((key, k)) for k in rest]
    return [p for p in check(file, value) if any(is_under(p.path, w) for w in written)]


def _strategies(
    builder: ComponentBuilder, raw: object, file: str, problems: list[Problem]
) -> list[Any]:
    if raw is None or raw == []:
        found = "nothing" if raw is None else "an empty array"
        problems.append(
            Problem(
                file,
                "strategies",
                'at least one [[strategies]] table with use = "..."',
                found,
            )
        )
        return []
    return builder.array(raw, "strategies", "strategy", StrategyTable)


def _sizer(
    builder: ComponentBuilder,
    raw: object,
    file: str,
    registry: Registry,
    problems: list[Problem],
) -> Any:
    if raw is None:
        names = registry.names("sizer")
        problems.append(
            Problem(
                file,
                "sizer",
                'a [sizer] table with use = "..."',
                "nothing",
                f"registered sizers: {', '.join(names)}" if names else None,
            )
        )
        return None
    return builder.one(raw, ("sizer",), "sizer", UseTable)


def _host_default_chain() -> tuple[str, ...]:
    # Imported when needed: the risk package pulls in the rules themselves.
    from garrison.risk.defaults import DEFAULT_RISK_CHAIN

    return DEFAULT_RISK_CHAIN


def _dates_as_strings(document: dict[str, Any]) -> None:
    # TOML allows unquoted dates (start = 2024-03-01); the profile keeps ISO strings.
    data = document.get("data")
    if isinstance(data, dict):
        for key in ("start", "end"):
            if key in data:
                data[key] = toml_datetime_to_iso(data[key])


def _syntax_problem(file: str, exc: tomllib.TOMLDecodeError) -> Problem:
    message = str(exc)
    match = _TOML_WHERE.search(message)
    where = "end of document"
    if match:
        message = message[: match.start()]
        if match.group(2):
            where = f"line {match.group(2)}, column {match.group(3)}"
    return Problem(file, where, "valid TOML", f"a syntax error: {message}")


def _without_echoes(
    problems: list[Problem], secret_paths: Sequence[tuple[str | int, ...]]
) -> list[Problem]:
    # A redacted value may trip later checks too; its secret problem says it all.
    flagged = [format_path(p) for p in secret_paths]
    return [p for p in problems if not any(is_under(p.path, f) for f in flagged)]


__all__ = ["TOP_LEVEL_KEYS", "load_profile", "parse_profile"]
