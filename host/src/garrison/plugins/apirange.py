"""Which garrison-api versions a plugin distribution says it works with.

A plugin declares the contract it was written against as an ordinary
dependency (``garrison-api>=1,<2``). The host reads that declaration from the
distribution's ``Requires-Dist`` metadata and refuses the plugin, before
importing it, when the installed ``garrison_api.__version__`` falls outside it.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

#: The distribution that carries the plugin contract.
API_DISTRIBUTION = "garrison-api"

# Lower bounds read first: ">=1,<2" rather than packaging's "<2,>=1".
_OPERATOR_ORDER = {"===": 0, "==": 0, "~=": 1, ">=": 2, ">": 3, "<": 4, "<=": 5, "!=": 6}


@attrs.frozen
class ApiRangeCheck:
    """The outcome of checking one distribution's declared garrison-api range.

    ``declared`` is the range as text (``">=1,<2"``), or ``""`` when the
    distribution declares none. ``problem`` says why the plugin is refused,
    or is None when the installed API is inside the range.
    """

    declared: str
    problem: str | None

    @property
    def compatible(self) -> bool:
        return self.problem is None


def format_range(specifier: SpecifierSet) -> str:
    """A specifier set as text, lower bounds first (``">=1,<2"``)."""

    def order(spec: Specifier) -> tuple[int, str]:
        return (_OPERATOR_ORDER.get(spec.operator, 9), spec.version)

    return ",".join(str(spec) for spec in sorted(specifier, key=order))


def declared_api_range(requires: Iterable[str] | None) -> SpecifierSet | None:
    """The garrison-api range among ``Requires-Dist`` lines, or None if none applies.

    Requirements whose environment marker is false here (an optional extra, an
    other Python version) are ignored; several applicable ones are combined.

    Raises:
        ValueError: a ``Requires-Dist`` line is not a valid requirement.
    """
    found: SpecifierSet | None = None
    for line in requires or ():
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise ValueError(f"invalid Requires-Dist entry {line!r}: {exc}") from exc
        if canonicalize_name(requirement.name) != API_DISTRIBUTION:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        found = requirement.specifier if found is None else found & requirement.specifier
    return found


def _who(plugin: str, distribution: str, version: str) -> str:
    if not distribution:
        return f"plugin {plugin!r} (no distribution metadata)"
    release = f"{distribution} {version}" if version else distribution
    return f"plugin {plugin!r} (distribution {release})"


def _example_range(api_version: Version) -> str:
    major = api_version.major
    return f"{API_DISTRIBUTION}>={major},<{major + 1}"


def check_api_range(
    *,
    plugin: str,
    distribution: str,
    version: str,
    requires: Iterable[str] | None,
    api_version: str,
) -> ApiRangeCheck:
    """Check a plugin distribution's declared garrison-api range against ``api_version``.

    ``requires`` are the distribution's ``Requires-Dist`` lines (None when it
    has no metadata). Prereleases of the API count as inside a range that
    covers their release.
    """
    try:
        installed = Version(api_version)
    except InvalidVersion as exc:
        raise ValueError(f"installed garrison-api version {api_version!r} is invalid") from exc
    who = _who(plugin, distribution, version)
    try:
        specifier = declared_api_range(requires)
    except ValueError as exc:
        return ApiRangeCheck(declared="", problem=f"{who} has unreadable metadata: {exc}")
    if specifier is None:
        return ApiRangeCheck(
            declared="",
            problem=(
                f"{who} declares no {API_DISTRIBUTION} requirement; "
                f"add e.g. {_example_range(installed)} to its dependencies"
            ),
        )
    declared = format_range(specifier)
    if not declared:
        return ApiRangeCheck(
            declared="",
            problem=(
                f"{who} requires {API_DISTRIBUTION} without a version range; "
                f"declare e.g. {_example_range(installed)}"
            ),
        )
    if not specifier.contains(installed, prereleases=True):
        return ApiRangeCheck(
            declared=declared,
            problem=(
                f"{who} requires {API_DISTRIBUTION}{declared}, but {API_DISTRIBUTION} "
                f"{api_version} is installed; install a release of {distribution} "
                f"made for {API_DISTRIBUTION} {installed.major}.x"
            ),
        )
    return ApiRangeCheck(declared=declared, problem=None)
