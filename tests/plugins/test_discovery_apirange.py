"""Reading and checking a distribution's declared garrison-api range."""

from __future__ import annotations

import pytest
from garrison.plugins.apirange import check_api_range, declared_api_range, format_range
from packaging.specifiers import SpecifierSet


def check(requires: list[str] | None, api_version: str = "1.0.0") -> tuple[str, str | None]:
    result = check_api_range(
        plugin="demo",
        distribution="garrison-demo",
        version="0.3.0",
        requires=requires,
        api_version=api_version,
    )
    return result.declared, result.problem


@pytest.mark.parametrize(
    ("api_version", "compatible"),
    [
        ("1.0.0", True),
        ("1.7.2", True),
        ("1.1.0rc1", True),
        ("0.9.0", False),
        ("2.0.0", False),
        ("2.0.0.dev1", False),
    ],
)
def test_installed_api_is_checked_against_the_range(api_version: str, compatible: bool) -> None:
    declared, problem = check(["attrs>=23", "garrison-api<2,>=1"], api_version)

    assert declared == ">=1,<2"
    assert (problem is None) is compatible


def test_excluded_api_names_plugin_distribution_range_and_installed_version() -> None:
    _, problem = check(["garrison-api>=2,<3"], "1.0.0")

    assert problem == (
        "plugin 'demo' (distribution garrison-demo 0.3.0) requires garrison-api>=2,<3, "
        "but garrison-api 1.0.0 is installed; install a release of garrison-demo made for "
        "garrison-api 1.x"
    )


def test_missing_requirement_suggests_a_range_for_the_installed_major() -> None:
    declared, problem = check(None, "3.2.0")

    assert declared == ""
    assert problem is not None
    assert "declares no garrison-api requirement; add e.g. garrison-api>=3,<4" in problem


def test_name_is_matched_after_normalisation() -> None:
    assert check(["Garrison_API>=1,<2"]) == (">=1,<2", None)


def test_requirements_with_true_markers_are_combined() -> None:
    requires = [
        'garrison-api>=1; python_version >= "3"',
        "garrison-api<1.5",
        'garrison-api<1.2; extra == "x"',
    ]

    assert declared_api_range(requires) == SpecifierSet(">=1,<1.5")


def test_unreadable_requirement_is_reported_with_the_line() -> None:
    _, problem = check(["garrison-api >>> 1"])

    assert problem is not None
    assert "'garrison-api >>> 1'" in problem
    assert "garrison-demo" in problem


def test_format_range_puts_lower_bounds_first() -> None:
    assert format_range(SpecifierSet("<2,!=1.3.0,>=1.1")) == ">=1.1,<2,!=1.3.0"
