"""Structure one TOML value with the profile converter; turn every failure into a Problem.

cattrs with detailed validation raises nested exception groups whose notes
say which attribute or index failed. Walking them gives, for each failure,
the TOML path of the bad value, so the raw value can be looked up and shown
next to what was expected.
"""

from __future__ import annotations

import enum
import re
import typing
from collections.abc import Iterator
from typing import Any

import attrs
import cattrs
from cattrs.errors import (
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    StructureHandlerNotFoundError,
)

from garrison.profile.describe import describe_type, describe_value
from garrison.profile.errors import PathPart, Problem, did_you_mean, format_path, quoted_list

_MISSING: Any = object()
_LEADING_NAME = re.compile(r"^'?([A-Za-z_][A-Za-z0-9_]*)'?\b")


@attrs.frozen
class _Failure:
    """One leaf exception, where it happened and what type was wanted there."""

    rel: tuple[PathPart, ...]
    exc: BaseException
    type_: Any
    # Set when the failure concerns a whole attrs class (unknown keys, a
    # validator rejecting the assembled instance) rather than one value.
    owner: type | None = None


def structure(
    converter: cattrs.Converter,
    raw: object,
    type_: Any,
    *,
    file: str,
    parts: tuple[PathPart, ...] = (),
) -> tuple[Any, list[Problem]]:
    """``(value, [])`` when ``raw`` structures into ``type_``, else ``(None, problems)``.

    ``parts`` is the TOML path of ``raw`` in the document; problems carry it.
    """
    try:
        return converter.structure(raw, type_), []
    except Exception as exc:
        failures = _walk(exc, (), type_, None)
        return None, [p for f in failures for p in _to_problems(f, raw, file, parts)]


def _walk(
    exc: BaseException, rel: tuple[PathPart, ...], type_: Any, owner: type | None
) -> Iterator[_Failure]:
    if isinstance(exc, ClassValidationError):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            yield from _walk(sub, (*rel, note.name), note.type, None)
        for sub in without:
            yield _Failure(rel, sub, type_, exc.cl)
    elif isinstance(exc, IterableValidationError):
        items, rest = exc.group_exceptions()
        for sub, item in items:
            yield from _walk(sub, (*rel, item.index), item.type, None)
        for sub in rest:
            yield _Failure(rel, sub, type_, None)
    else:
        yield _Failure(rel, exc, type_, owner)


def _lookup(raw: object, rel: tuple[PathPart, ...]) -> Any:
    value = raw
    for part in rel:
        in_array = isinstance(part, int) and isinstance(value, list) and 0 <= part < len(value)
        in_table = isinstance(part, str) and isinstance(value, dict) and part in value
        if not (in_array or in_table):
            return _MISSING
        value = value[part]  # type: ignore[index]
    return value


def _to_problems(
    failure: _Failure, raw: object, file: str, parts: tuple[PathPart, ...]
) -> list[Problem]:
    exc = failure.exc
    path = (*parts, *failure.rel)
    if isinstance(exc, ForbiddenExtraKeysError):
        valid = [a.name for a in attrs.fields(exc.cl) if a.init]
        return [unknown_key_problem(file, path, k, valid) for k in sorted(exc.extra_fields)]
    if failure.owner is not None:
        return [_rejected_problem(failure, raw, file, path)]
    if isinstance(exc, StructureHandlerNotFoundError):
        # A Params field of a type TOML cannot describe: the component's bug, not the profile's.
        expected = "a component whose params the profile loader can build"
        return [Problem(file, format_path(path), expected, str(exc), "report it to its author")]
    found = _lookup(raw, failure.rel)
    if isinstance(exc, KeyError) and found is _MISSING:
        expected = f"{describe_type(failure.type_)} (required)"
        return [Problem(file, format_path(path), expected, "nothing")]
    hint = did_you_mean(found, _choices(failure.type_))
    return [
        Problem(file, format_path(path), describe_type(failure.type_), describe_value(found), hint)
    ]


def unknown_key_problem(
    file: str, path: tuple[PathPart, ...], key: str, valid: list[str]
) -> Problem:
    """An unknown key under ``path``, listing the valid keys and the closest one."""
    expected = f"one of the keys {quoted_list(valid)}" if valid else "no keys here"
    return Problem(
        file, format_path((*path, key)), expected, f"unknown key {key!r}", did_you_mean(key, valid)
    )


def _rejected_problem(
    failure: _Failure, raw: object, file: str, path: tuple[PathPart, ...]
) -> Problem:
    # A validator (or __attrs_post_init__) refused the assembled instance. Its
    # message usually starts with the field's name: point the path at it.
    message = str(failure.exc) or type(failure.exc).__name__
    owner = failure.owner
    assert owner is not None
    names = {a.name for a in attrs.fields(owner)}
    match = _LEADING_NAME.match(message)
    if match and match.group(1) in names:
        field = match.group(1)
        value = _lookup(raw, (*failure.rel, field))
        shown = "the default value" if value is _MISSING else describe_value(value)
        where = format_path((*path, field))
        return Problem(file, where, "a value its validator accepts", f"{shown}: {message}")
    return Problem(file, format_path(path), "values its validator accepts", message)


def _choices(type_: Any) -> list[str]:
    """The valid spellings of an enum-like type, for suggestions."""
    args = typing.get_args(type_)
    if typing.get_origin(type_) is typing.Literal:
        return [a for a in args if isinstance(a, str)]
    if args:
        return [c for a in args for c in _choices(a)]
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        return [str(m.value) for m in type_]
    return []
