"""The cattrs converter that turns a profile's TOML tables into attrs classes.

It is strict where cattrs is lenient by default: TOML already has types, so a
string is never silently turned into a number, a number never into a string,
a float never truncated into an int, and a string never split into an array
of characters. Unknown keys are errors, and every error is collected
(detailed validation) so that one pass reports them all.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Mapping, MutableMapping, MutableSequence, Sequence
from typing import Any

import attrs
import cattrs
from cattrs.cols import (
    homogenous_tuple_structure_factory,
    list_structure_factory,
    mapping_structure_factory,
)
from cattrs.gen import make_dict_structure_fn

_StructureHook = Callable[[Any, Any], Any]


class WrongTypeError(TypeError):
    """A TOML value of the wrong type (the caller describes what was expected)."""


def make_converter() -> cattrs.Converter:
    """A new strict converter for profiles (one per load: no shared mutable state)."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    # These also serve subclasses (a str-based enum such as Mode): the value's
    # TOML type is checked here, then the subclass itself builds the value.
    for scalar, hook in _SCALAR_HOOKS.items():
        converter.register_structure_hook(scalar, hook)
    converter.register_structure_hook_factory(_is_array_type, _array_hook_factory)
    converter.register_structure_hook_factory(_is_table_type, _mapping_hook_factory)
    converter.register_structure_hook_factory(_is_attrs_class, _attrs_hook_factory)
    return converter


def _structure_float(value: Any, type_: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WrongTypeError("expected a number")
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return float(value) if type_ is float else type_(value)


def _structure_int(value: Any, type_: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WrongTypeError("expected a whole number")
    return value if type_ is int else type_(value)


def _structure_str(value: Any, type_: Any) -> Any:
    if not isinstance(value, str):
        raise WrongTypeError("expected a string")
    return value if type_ is str else type_(value)


def _structure_bool(value: Any, _type: Any) -> bool:
    if not isinstance(value, bool):
        raise WrongTypeError("expected true or false")
    return value


_SCALAR_HOOKS: dict[type, _StructureHook] = {
    float: _structure_float,
    int: _structure_int,
    str: _structure_str,
    bool: _structure_bool,
}


def _origin(type_: Any) -> Any:
    return typing.get_origin(type_) or type_


def _is_array_type(type_: Any) -> bool:
    origin = _origin(type_)
    if origin in (list, Sequence, MutableSequence):
        return True
    # Only homogeneous tuples (tuple[X, ...]) are arrays; tuple[X, Y] is left to cattrs.
    args = typing.get_args(type_)
    return origin is tuple and (not args or (len(args) == 2 and args[1] is Ellipsis))


def _array_hook_factory(type_: Any, converter: cattrs.Converter) -> _StructureHook:
    origin = _origin(type_)
    mutable = origin in (list, MutableSequence)
    if typing.get_args(type_):
        base = (list_structure_factory if mutable else homogenous_tuple_structure_factory)(
            type_, converter
        )
    else:
        base = (lambda v, _t: list(v)) if mutable else (lambda v, _t: tuple(v))

    def structure_array(value: Any, _type: Any) -> Any:
        if not isinstance(value, list):
            raise WrongTypeError("expected an array")
        return base(value, type_)

    return structure_array


def _is_table_type(type_: Any) -> bool:
    return _origin(type_) in (dict, Mapping, MutableMapping)


def _mapping_hook_factory(type_: Any, converter: cattrs.Converter) -> _StructureHook:
    base = mapping_structure_factory(type_, converter)

    def structure_table(value: Any, _type: Any) -> Any:
        if not isinstance(value, dict):
            raise WrongTypeError("expected a table")
        return base(value, type_)

    return structure_table


def _is_attrs_class(type_: Any) -> bool:
    return isinstance(type_, type) and attrs.has(type_)


def _attrs_hook_factory(type_: Any, converter: cattrs.Converter) -> _StructureHook:
    base = make_dict_structure_fn(type_, converter)

    def structure_attrs(value: Any, _type: Any) -> Any:
        if not isinstance(value, dict):
            raise WrongTypeError("expected a table")
        return base(value, type_)

    return structure_attrs
