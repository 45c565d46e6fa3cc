"""A component's named files in the journal file (``garrison_api.BlobStore``).

Blobs are model weights, lookup tables and the like: bytes under a name,
kept across runs (not per run) in the ``blobs`` table with their SHA-256,
size and the wall-clock time they were stored. Every ``put`` and ``delete``
commits at once, like :class:`~garrison.journal.kv.KvStore`, so a stored file
is as durable as a committed intent.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time

from sqlite_utils import Database

from garrison.journal.errors import JournalError


class BlobStore:
    """The namespace ``namespace`` of the journal's ``blobs`` table."""

    def __init__(self, db: Database, namespace: str) -> None:
        if not isinstance(namespace, str) or not namespace:
            raise JournalError(f"blob namespace must be a non-empty string, got {namespace!r}")
        self._db = db
        self.namespace = namespace

    def _check_name(self, name: object) -> str:
        if not isinstance(name, str) or not name:
            raise JournalError(
                f"blob namespace {self.namespace!r}: name must be a non-empty string, got {name!r}"
            )
        return name

    def put(self, name: str, data: bytes) -> str:
        """Store ``data`` under ``name`` (replacing it); return its SHA-256 hex digest."""
        self._check_name(name)
        if not isinstance(data, bytes | bytearray | memoryview):
            raise JournalError(
                f"blob namespace {self.namespace!r} name {name!r}: data must be bytes, "
                f"got {type(data).__name__}"
            )
        stored = bytes(data)  # a copy: changing a bytearray later changes nothing stored
        digest = hashlib.sha256(stored).hexdigest()
        try:
            with self._db.atomic():
                self._db.conn.execute(
                    "INSERT INTO blobs (namespace, name, sha256, data, size, updated_ms) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, name) DO UPDATE SET "
                    "sha256 = excluded.sha256, data = excluded.data, size = excluded.size, "
                    "updated_ms = excluded.updated_ms",
                    (self.namespace, name, digest, stored, len(stored), int(time.time() * 1000)),
                )
        except sqlite3.Error as exc:  # too big for SQLite, disk full
            raise JournalError(
                f"blob namespace {self.namespace!r} name {name!r}: storing {len(stored):,} "
                f"bytes failed: {exc}"
            ) from exc
        return digest

    def get(self, name: str) -> bytes | None:
        """The bytes stored under ``name``, or None."""
        row = self._db.conn.execute(
            "SELECT data FROM blobs WHERE namespace = ? AND name = ?",
            (self.namespace, self._check_name(name)),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def sha256(self, name: str) -> str | None:
        """The SHA-256 hex digest of what is stored under ``name``, or None."""
        row = self._db.conn.execute(
            "SELECT sha256 FROM blobs WHERE namespace = ? AND name = ?",
            (self.namespace, self._check_name(name)),
        ).fetchone()
        return None if row is None else str(row[0])

    def size(self, name: str) -> int | None:
        """How many bytes are stored under ``name``, or None (without reading them)."""
        row = self._db.conn.execute(
            "SELECT size FROM blobs WHERE namespace = ? AND name = ?",
            (self.namespace, self._check_name(name)),
        ).fetchone()
        return None if row is None else int(row[0])

    def delete(self, name: str) -> None:
        """Forget ``name``; deleting a missing name is not an error."""
        self._check_name(name)
        with self._db.atomic():
            self._db.conn.execute(
                "DELETE FROM blobs WHERE namespace = ? AND name = ?", (self.namespace, name)
            )

    def names(self) -> list[str]:
        """Every stored name, sorted."""
        rows = self._db.conn.execute(
            "SELECT name FROM blobs WHERE namespace = ? ORDER BY name", (self.namespace,)
        ).fetchall()
        return [row[0] for row in rows]
