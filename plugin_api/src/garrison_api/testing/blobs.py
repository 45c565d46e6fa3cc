"""An in-memory stand-in for a component's blob store (model weights, tables)."""

from __future__ import annotations

import hashlib


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"blob names are non-empty strings, got {name!r}")
    return name


class MemoryBlobStore:
    """A :class:`garrison_api.BlobStore` kept in a dict.

    ``put`` copies the bytes (changing a ``bytearray`` afterwards changes
    nothing stored) and returns their SHA-256 hex digest, as the host's store does.

    >>> blobs = MemoryBlobStore()
    >>> blobs.put("model.bin", b"weights") == blobs.sha256("model.bin")
    True
    """

    def __init__(self) -> None:
        self._items: dict[str, tuple[bytes, str]] = {}

    def put(self, name: str, data: bytes | bytearray | memoryview) -> str:
        """Store ``data`` under ``name`` (replacing it); return its SHA-256 hex digest."""
        _check_name(name)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"blob {name!r}: data must be bytes, got {type(data).__name__}")
        stored = bytes(data)
        digest = hashlib.sha256(stored).hexdigest()
        self._items[name] = (stored, digest)
        return digest

    def get(self, name: str) -> bytes | None:
        """The bytes stored under ``name``, or None."""
        item = self._items.get(name)
        return None if item is None else item[0]

    def sha256(self, name: str) -> str | None:
        """The SHA-256 hex digest of what is stored under ``name``, or None."""
        item = self._items.get(name)
        return None if item is None else item[1]

    def delete(self, name: str) -> None:
        """Forget ``name``; deleting a missing name is not an error."""
        self._items.pop(name, None)

    def names(self) -> list[str]:
        """Every stored name, sorted."""
        return sorted(self._items)
