"""An in-memory stand-in for a plugin's key-value namespace in the host's storage."""

from __future__ import annotations

import json
from typing import Any


class MemoryStore:
    """A :class:`garrison_api.KeyValueStore` kept in a dict.

    Values go through JSON on the way in and out, as they do in the host's
    storage: a value that the host could not store fails here too, and
    changing a value after ``set`` does not change what is stored.
    """

    def __init__(self) -> None:
        self._items: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default``."""
        raw = self._items.get(key)
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable) under ``key``."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"storage keys are non-empty strings, got {key!r}")
        try:
            self._items[key] = json.dumps(value, allow_nan=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"storage key {key!r}: value {value!r} is not JSON-serialisable ({exc})"
            ) from exc

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error if it is absent)."""
        self._items.pop(key, None)

    def keys(self) -> list[str]:
        """Stored keys, sorted (for assertions in tests)."""
        return sorted(self._items)
