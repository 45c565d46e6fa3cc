"""plugin_api/README.md documents every public name of garrison_api and every Signal field."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import garrison_api
import garrison_api.testing
import pytest
from garrison_api import Signal

README = Path(__file__).resolve().parents[1] / "README.md"


def documented() -> set[str]:
    """Every name written as inline code in the prose: `Name`, `Name(...)`, `Name.attr`.

    Names that appear only in a code example do not count.
    """
    prose = re.sub(r"^```.*?^```", "", README.read_text(encoding="utf-8"), flags=re.S | re.M)
    names: set[str] = set()
    for span in re.findall(r"`([^`\n]+)`", prose):
        names.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span))
    return names


@pytest.mark.parametrize(
    ("module", "names"),
    [
        ("garrison_api", garrison_api.__all__),
        ("garrison_api.testing", garrison_api.testing.__all__),
    ],
)
def test_every_public_name_is_documented(module: str, names: list[str]) -> None:
    missing = sorted(set(names) - documented())
    assert not missing, f"{README} does not document these names of {module}: {missing}"


def signal_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### Signal fields")
    return text[start : text.index("\n## ", start)]


def test_every_signal_field_has_a_row() -> None:
    rows = {
        match.group(1)
        for match in re.finditer(r"^\| `([a-z_]+)` \|", signal_section(), flags=re.MULTILINE)
    }
    fields = {field.name for field in attrs.fields(Signal)}
    assert fields <= rows, f"Signal fields without a row: {sorted(fields - rows)}"


def test_the_exit_side_is_spelled_out() -> None:
    section = signal_section()
    assert "side of the **position**" in section
    assert "an exit with `LONG` sells to close a long" in section
