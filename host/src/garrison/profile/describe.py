"""Plain-words descriptions of expected types and found values, for profile problems."""

from __future__ import annotations

import datetime as dt
import enum
import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

_MAX_SHOWN = 40

_SCALARS = {
    float: ("a finite number", "numbers"),
    int: ("a whole number", "whole numbers"),
    str: ("a string", "strings"),
    bool: ("true or false", "booleans"),
}


def describe_type(type_: Any) -> str:
    """What a value of ``type_`` looks like in TOML: ``a whole number``, ``one of 'a', 'b'``."""
    if type_ in _SCALARS:
        return _SCALARS[type_][0]
    if type_ is Any:
        return "any value"
    origin = typing.get_origin(type_)
    args = typing.get_args(type_)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        options = [describe_type(a) for a in args if a is not type(None)]
        return " or ".join(options)
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        return "one of " + ", ".join(repr(m.value) for m in type_)
    if origin in (list, tuple, Sequence) or type_ in (list, tuple):
        element = args[0] if args else Any
        return f"an array of {_plural(element)}"
    if origin in (dict, Mapping) or type_ is dict:
        return "a table"
    if isinstance(type_, type) and attrs.has(type_):
        return "a table"
    return getattr(type_, "__name__", repr(type_))


def _plural(type_: Any) -> str:
    if type_ in _SCALARS:
        return _SCALARS[type_][1]
    if isinstance(type_, type) and attrs.has(type_):
        return "tables"
    return "values"


def describe_value(value: object) -> str:
    """A found value, shown briefly with its TOML type: ``"abc" (a string)``."""
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a boolean)"
    if isinstance(value, int):
        return f"{value} (a whole number)"
    if isinstance(value, float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return f"{_shorten(json.dumps(value, ensure_ascii=False))} (a string)"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return f"{value.isoformat()} (a TOML date/time)"
    if isinstance(value, list):
        return f"an array of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        if not value:
            return "an empty table"
        return "a table with keys " + _shorten(", ".join(str(k) for k in value))
    return _shorten(repr(value))


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"
