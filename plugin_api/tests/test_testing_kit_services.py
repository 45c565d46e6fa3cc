"""MemoryBlobStore and StubServices: what a component's start(services) gets in tests."""

from __future__ import annotations

import hashlib

import pytest
from garrison_api import BlobStore, ComponentServices, Event, Lifecycle
from garrison_api.testing import FakeClock, MemoryBlobStore, MemoryStore, StubServices


def test_blobs_round_trip_with_their_sha256() -> None:
    blobs = MemoryBlobStore()
    digest = blobs.put("model.bin", b"\x00weights")
    assert digest == hashlib.sha256(b"\x00weights").hexdigest()
    assert blobs.get("model.bin") == b"\x00weights"
    assert blobs.sha256("model.bin") == digest
    assert blobs.get("other") is None
    assert blobs.sha256("other") is None
    blobs.put("a.json", b"{}")
    assert blobs.names() == ["a.json", "model.bin"]
    blobs.delete("model.bin")
    blobs.delete("model.bin")  # missing: no error
    assert blobs.names() == ["a.json"]


def test_blobs_copy_what_they_store_and_replace_by_name() -> None:
    blobs = MemoryBlobStore()
    data = bytearray(b"abc")
    blobs.put("x", data)
    data[0] = ord("z")
    assert blobs.get("x") == b"abc"
    second = blobs.put("x", memoryview(b"def"))
    assert blobs.get("x") == b"def"
    assert blobs.sha256("x") == second


def test_blobs_refuse_bad_names_and_data() -> None:
    blobs = MemoryBlobStore()
    with pytest.raises(ValueError, match="blob names are non-empty strings, got ''"):
        blobs.put("", b"x")
    with pytest.raises(TypeError, match="blob 'x': data must be bytes, got str"):
        blobs.put("x", "text")  # type: ignore[arg-type]


def test_services_defaults_and_shared_parts() -> None:
    services = StubServices()
    assert (services.name, services.mode, services.clock.now_ms()) == ("test", "replay", 0)
    assert services.storage.keys() == []
    assert services.blobs.names() == []
    clock, storage, blobs = FakeClock(5), MemoryStore(), MemoryBlobStore()
    events: list[Event] = []
    shared = StubServices(
        "trend", mode="live", clock=clock, storage=storage, blobs=blobs, events=events
    )
    assert (shared.clock, shared.storage, shared.blobs) == (clock, storage, blobs)
    event = Event(ts=5, kind="model.loaded", message="ok")
    shared.emit(event)
    assert events == [event]
    assert shared.events is events
    with pytest.raises(TypeError, match=r"emit\(\) takes a garrison_api\.Event"):
        shared.emit("loaded")  # type: ignore[arg-type]


def test_services_refuse_bad_names_and_modes() -> None:
    with pytest.raises(ValueError, match="mode must be one of replay, paper, live, got 'backtest'"):
        StubServices(mode="backtest")
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        StubServices("")


class SavesItsModel:
    """A component that restores its model in start() and saves it in stop()."""

    def __init__(self) -> None:
        self.services: ComponentServices | None = None
        self.model = b""

    def start(self, services: ComponentServices) -> None:
        self.services = services
        self.model = services.blobs.get("model") or b"fresh"

    def stop(self) -> None:
        assert self.services is not None
        self.services.blobs.put("model", self.model + b"+1")


def test_a_lifecycle_component_keeps_its_model_across_starts() -> None:
    blobs = MemoryBlobStore()
    first = SavesItsModel()
    assert isinstance(first, Lifecycle)
    first.start(StubServices("scorer", blobs=blobs))
    first.stop()
    second = SavesItsModel()
    second.start(StubServices("scorer", blobs=blobs))
    assert second.model == b"fresh+1"


def test_the_stubs_satisfy_the_protocols() -> None:
    def takes(services: ComponentServices, blobs: BlobStore) -> str:
        return services.name + str(blobs.names())

    assert takes(StubServices("x"), MemoryBlobStore()) == "x[]"
