"""What is wrong with a profile, said so that the operator can fix it in one pass.

Every :class:`Problem` names the file, the TOML path of the offending value
(``strategies[0].params.entry_period``), what was expected there and what was
found, plus a hint such as the closest valid name when there is one.
:class:`ProfileError` carries all problems found, not just the first.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

import attrs

#: A step into a TOML document: a key of a table or an index into an array.
PathPart = str | int

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@attrs.frozen
class Problem:
    """One thing wrong with a profile."""

    file: str
    path: str
    expected: str
    found: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        line = f"{where}: expected {self.expected}; found {self.found}"
        return f"{line}; {self.hint}" if self.hint else line


class ProfileError(Exception):
    """A profile that cannot be used, with every problem found in it."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("a ProfileError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


def format_path(parts: Iterable[PathPart]) -> str:
    """A TOML path as written by people: ``strategies[0].params."odd key"``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
            out = f"{out}.{key}" if out else key
    return out


def is_under(path: str, prefix: str) -> bool:
    """Whether TOML path ``path`` is ``prefix`` or inside it (``a.b[0]`` is under ``a.b``)."""
    return path == prefix or path.startswith((prefix + ".", prefix + "["))


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The valid name ``word`` most likely misspells, if any is close enough."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: object, choices: Iterable[str]) -> str | None:
    """A ``did you mean 'x'?`` hint for a misspelt name, or None."""
    if not isinstance(word, str):
        return None
    match = closest(word, choices)
    return f"did you mean {match!r}?" if match is not None else None


def quoted_list(names: Iterable[str]) -> str:
    """``'a', 'b', 'c'`` for messages."""
    return ", ".join(repr(n) for n in names)
