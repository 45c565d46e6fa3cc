"""Which plugin distributions are first-party: made and shipped by the Garrison project.

This is the one place that decides it. A live profile without ``[plugins]
allow`` loads these and nothing else. A name prefix cannot decide it: third
parties are invited to publish ``garrison-<name>`` too. So the project lists
its own distributions here, those under ``plugins/`` of the repository and the
ones being written there; ``tests/plugins/test_plugins_firstparty_list.py``
fails when a distribution under ``plugins/`` is missing from the list.
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

#: Every distribution the Garrison project ships plugins in (canonical names).
FIRST_PARTY_DISTRIBUTIONS: frozenset[str] = frozenset(
    {
        "garrison",  # the host's own components (risk rules)
        "garrison-turtle",
        "garrison-sizers",
        "garrison-notify-log",
        "garrison-pullback",
        "garrison-scalp",
        "garrison-river",
        "garrison-onnx",
        "garrison-telegram",
    }
)


def is_first_party(distribution: str) -> bool:
    """Whether ``distribution`` (any spelling: ``Garrison_Turtle``) is the project's own."""
    return bool(distribution) and canonicalize_name(distribution) in FIRST_PARTY_DISTRIBUTIONS
