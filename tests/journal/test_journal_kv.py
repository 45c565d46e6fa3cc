"""Plugin key-value storage: JSON values per namespace, kept across runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from garrison.journal import Journal, JournalError
from garrison_api import KeyValueStore


def test_get_set_delete_per_namespace(journal: Journal) -> None:
    river = journal.kv("river")
    onnx = journal.kv("onnx")
    assert river.get("weights") is None
    assert river.get("weights", {"w": 0}) == {"w": 0}

    river.set("weights", {"w": [0.5, -1.25], "n": 3, "ok": True, "none": None})
    onnx.set("weights", "other")
    river.set("count", 1)
    river.set("count", 2)  # replaces

    assert river.get("weights") == {"w": [0.5, -1.25], "n": 3, "ok": True, "none": None}
    assert onnx.get("weights") == "other"
    assert river.get("count") == 2
    assert river.keys() == ["count", "weights"]

    river.delete("weights")
    river.delete("weights")  # deleting a missing key is fine
    assert river.get("weights") is None
    assert onnx.get("weights") == "other"


def test_values_are_committed_at_once(journal_path: Path) -> None:
    journal = Journal.open(journal_path)
    journal.kv("p").set("state", [1, 2, 3])
    # A second journal on the same file sees it while the first is still open.
    with Journal.open(journal_path) as other:
        assert other.kv("p").get("state") == [1, 2, 3]
    journal.close()


def test_kv_is_a_key_value_store(journal: Journal) -> None:
    store: KeyValueStore = journal.kv("plugin")  # satisfies the plugin protocol (mypy)
    store.set("k", 1.5)
    assert store.get("k") == 1.5


def test_bad_namespace_key_and_value_are_named(journal: Journal) -> None:
    with pytest.raises(JournalError, match="namespace must be a non-empty string"):
        journal.kv("")
    store = journal.kv("river")
    with pytest.raises(JournalError, match="'river': key must be a non-empty string, got 3"):
        store.set(3, "x")  # type: ignore[arg-type]
    with pytest.raises(JournalError, match="'river' key 'model': value is not JSON-serialisable"):
        store.set("model", object())
    assert store.get("model") is None
