"""A small TOML writer for the plain data a profile unstructures to.

Enough for profiles: strings, booleans, numbers, dates, arrays, nested
tables and arrays of tables. ``None`` has no TOML form; such keys are written
as a comment so the reader sees the setting exists and is unset.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

#: Gives a trailing comment for a ``key = value`` line, or None.
Annotator = Callable[[str, Any], str | None]


def toml_key(key: str) -> str:
    """A key, quoted only when it must be."""
    return key if _BARE_KEY.match(key) else _string(key)


def toml_value(value: Any) -> str:
    """A value as inline TOML; raises TypeError naming a value TOML cannot hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{toml_key(str(k))} = {toml_value(v)}" for k, v in value.items() if v is not None
        )
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} ({type(value).__name__}) as TOML")


def _string(text: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; TOML also bans DEL.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def table_lines(
    header: Sequence[str],
    table: Mapping[str, Any],
    *,
    array_item: bool = False,
    annotate: Annotator | None = None,
) -> list[str]:
    """Lines of one table: its header, its ``key = value`` lines, then its sub-tables.

    ``header`` is the table's dotted key path; ``array_item`` writes it as an
    ``[[array]]`` element. Non-empty nested mappings become ``[header.key]``
    sub-tables; everything else is written inline.
    """
    name = ".".join(toml_key(h) for h in header)
    lines = [f"[[{name}]]" if array_item else f"[{name}]"]
    subtables: list[tuple[str, Mapping[str, Any]]] = []
    for key, value in table.items():
        if value is None:
            lines.append(f"# {toml_key(key)} = (not set)")
        elif isinstance(value, Mapping) and value:
            subtables.append((key, value))
        else:
            line = f"{toml_key(key)} = {toml_value(value)}"
            note = annotate(key, value) if annotate else None
            lines.append(f"{line}  # {note}" if note else line)
    if len(lines) == 1 and subtables and not array_item:
        lines = []  # a table holding only sub-tables needs no header of its own
    for key, value in subtables:
        lines.extend(table_lines([*header, key], value, annotate=annotate))
    return lines
