"""Component blob stores: named bytes with their SHA-256, per namespace, kept across runs."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from garrison.journal import Journal, JournalError
from garrison_api import BlobStore
from garrison_api.testing.blobs import MemoryBlobStore


def test_put_get_sha256_delete_names(journal: Journal) -> None:
    store = journal.blobs("replay/scorer/river")
    other = journal.blobs("live/scorer/river")
    weights = bytes(range(256)) * 1000
    assert store.get("model.bin") is None
    assert store.sha256("model.bin") is None
    assert store.names() == []

    digest = store.put("model.bin", weights)
    assert digest == hashlib.sha256(weights).hexdigest()
    assert store.get("model.bin") == weights
    assert store.sha256("model.bin") == digest
    assert store.size("model.bin") == len(weights)
    store.put("table.json", b"{}")
    assert store.names() == ["model.bin", "table.json"]
    assert other.names() == []  # namespaces are apart

    replaced = store.put("model.bin", b"v2")
    assert replaced == hashlib.sha256(b"v2").hexdigest()
    assert store.get("model.bin") == b"v2"
    store.delete("model.bin")
    store.delete("model.bin")  # a missing name is not an error
    assert store.get("model.bin") is None
    assert store.names() == ["table.json"]


def test_empty_bytes_and_bytes_like_values(journal: Journal) -> None:
    store = journal.blobs("ns")
    assert store.put("empty", b"") == hashlib.sha256(b"").hexdigest()
    assert store.get("empty") == b""
    data = bytearray(b"weights")
    store.put("copy", data)
    data[0] = 0  # changing it afterwards changes nothing stored
    assert store.get("copy") == b"weights"
    store.put("view", memoryview(b"abc"))
    assert store.get("view") == b"abc"


def test_same_answers_as_the_test_kit_store(journal: Journal) -> None:
    # A plugin tested with the kit's MemoryBlobStore meets the same behaviour here.
    stores: list[BlobStore] = [journal.blobs("ns"), MemoryBlobStore()]
    answers = []
    for store in stores:
        digests = [store.put("b", b"1"), store.put("a", b"22"), store.put("b", b"333")]
        store.delete("missing")
        answers.append((digests, store.names(), store.get("b"), store.sha256("a")))
    assert answers[0] == answers[1]


def test_puts_are_committed_at_once(journal_path: Path) -> None:
    with Journal.open(journal_path) as journal:
        journal.blobs("ns").put("model.bin", b"\x00\x01\xff")
        with sqlite3.connect(journal_path) as other:  # another connection sees it at once
            row = other.execute(
                "SELECT data, size, sha256, updated_ms FROM blobs WHERE namespace = 'ns'"
            ).fetchone()
    assert row[0] == b"\x00\x01\xff"
    assert row[1] == 3
    assert row[2] == hashlib.sha256(b"\x00\x01\xff").hexdigest()
    assert row[3] > 1_700_000_000_000
    with Journal.open(journal_path) as journal:
        assert journal.blobs("ns").get("model.bin") == b"\x00\x01\xff"


def test_blobs_survive_retention_and_other_runs(journal: Journal) -> None:
    journal.start_run(profile_name="p", mode="replay", profile_toml="", started_ms=0)
    journal.blobs("ns").put("m", b"x")
    journal.finish_run(status="completed", finished_ms=1, summary={})
    journal.retention(0, now_ms=10**13)
    assert journal.blobs("ns").get("m") == b"x"


def test_bad_namespace_name_and_data_are_named(journal: Journal) -> None:
    with pytest.raises(JournalError, match="blob namespace must be a non-empty string"):
        journal.blobs("")
    store = journal.blobs("river")
    with pytest.raises(JournalError, match="'river': name must be a non-empty string, got 3"):
        store.put(3, b"x")  # type: ignore[arg-type]
    with pytest.raises(JournalError, match="'river' name 'm': data must be bytes, got str"):
        store.put("m", "text")  # type: ignore[arg-type]
    with pytest.raises(JournalError, match="name must be a non-empty string, got ''"):
        store.get("")
    assert store.names() == []
