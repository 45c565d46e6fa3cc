"""Comparing value types in tests, where ``nan == nan`` must hold."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any

import attrs

_NAN_KEY = ("nan",)


def canonical(value: Any) -> Any:
    """A hashable, comparable form of ``value`` in which every ``nan`` equals every other.

    attrs instances become ``(class name, fields...)``; mappings become sorted
    item tuples; sequences become tuples. Two values are "the same" in the
    kit's checks when their canonical forms are equal.
    """
    if isinstance(value, float):
        return _NAN_KEY if math.isnan(value) else value
    if isinstance(value, str | int | bool | enum.Enum) or value is None:
        return value
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))
        return (type(value).__name__, *(canonical(getattr(value, f.name)) for f in fields))
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), canonical(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(canonical(v) for v in value)
    return value


def same(a: Any, b: Any) -> bool:
    """``a == b`` with ``nan`` equal to ``nan`` (see :func:`canonical`)."""
    return bool(canonical(a) == canonical(b))
