"""A plugin's key-value namespace in the journal file (``garrison_api.KeyValueStore``).

Values are stored as JSON text and are not per run: a plugin's state carries
over from one run to the next. Every ``set`` and ``delete`` commits at once,
so plugin state is as durable as a committed intent.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from garrison.journal.codec import from_json
from garrison.journal.errors import JournalError
from garrison.journal_writer import to_json


class KvStore:
    """The namespace ``namespace`` of the journal's ``kv`` table."""

    def __init__(self, db: Database, namespace: str) -> None:
        if not isinstance(namespace, str) or not namespace:
            raise JournalError(f"kv namespace must be a non-empty string, got {namespace!r}")
        self._db = db
        self.namespace = namespace

    def _check_key(self, key: object) -> str:
        if not isinstance(key, str) or not key:
            raise JournalError(
                f"kv namespace {self.namespace!r}: key must be a non-empty string, got {key!r}"
            )
        return key

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value of ``key``, or ``default`` when it has none."""
        row = self._db.conn.execute(
            "SELECT value FROM kv WHERE namespace = ? AND key = ?",
            (self.namespace, self._check_key(key)),
        ).fetchone()
        return default if row is None else from_json(row[0])

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (anything JSON can hold) under ``key``, replacing any old value."""
        self._check_key(key)
        try:
            text = to_json(value)
        except (TypeError, ValueError) as exc:
            raise JournalError(
                f"kv namespace {self.namespace!r} key {key!r}: value is not JSON-serialisable: "
                f"{exc}"
            ) from exc
        with self._db.atomic():
            self._db.conn.execute(
                "INSERT INTO kv (namespace, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
                (self.namespace, key, text),
            )

    def delete(self, key: str) -> None:
        """Forget ``key``; deleting a missing key is not an error."""
        self._check_key(key)
        with self._db.atomic():
            self._db.conn.execute(
                "DELETE FROM kv WHERE namespace = ? AND key = ?", (self.namespace, key)
            )

    def keys(self) -> list[str]:
        """Every key of this namespace, sorted."""
        rows = self._db.conn.execute(
            "SELECT key FROM kv WHERE namespace = ? ORDER BY key", (self.namespace,)
        ).fetchall()
        return [row[0] for row in rows]
