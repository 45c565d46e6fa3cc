"""FakeClock, MemoryStore and timeframe_ms."""

from __future__ import annotations

import pytest
from garrison_api import Clock
from garrison_api.testing import FakeClock, MemoryStore, timeframe_ms


def test_fake_clock_is_a_clock_and_moves_only_when_told() -> None:
    clock = FakeClock(1_000)
    assert isinstance(clock, Clock)
    assert clock.now_ms() == 1_000
    clock.advance(250)
    assert clock.now_ms() == 1_250
    clock.set(5)
    assert clock.now_ms() == 5
    assert repr(clock) == "FakeClock(5)"
    assert FakeClock().now_ms() == 0


def test_fake_clock_refuses_bad_times() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="only advances forwards; got -1 ms"):
        clock.advance(-1)
    with pytest.raises(TypeError, match=r"ms must be an int of epoch milliseconds, got 1\.5"):
        clock.set(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="start_ms must be an int"):
        FakeClock(True)


def test_memory_store_round_trips_json_and_copies() -> None:
    store = MemoryStore()
    value = {"weights": [1.0, 2.0], "n": 3}
    store.set("model", value)
    value["n"] = 4  # changing the caller's object after set changes nothing stored
    assert store.get("model") == {"weights": [1.0, 2.0], "n": 3}
    fetched = store.get("model")
    fetched["n"] = 5
    assert store.get("model")["n"] == 3
    assert store.get("missing", "fallback") == "fallback"
    assert store.keys() == ["model"]
    store.delete("model")
    store.delete("model")
    assert store.get("model") is None


def test_memory_store_refuses_what_the_host_could_not_store() -> None:
    store = MemoryStore()
    with pytest.raises(ValueError, match=r"storage key 'x': value .* is not JSON-serialisable"):
        store.set("x", object())
    with pytest.raises(ValueError, match="storage keys are non-empty strings"):
        store.set("", 1)


@pytest.mark.parametrize(
    ("timeframe", "ms"),
    [("1s", 1_000), ("1m", 60_000), ("5m", 300_000), ("4h", 14_400_000), ("1d", 86_400_000)],
)
def test_timeframe_ms(timeframe: str, ms: int) -> None:
    assert timeframe_ms(timeframe) == ms


@pytest.mark.parametrize("bad", ["", "5", "m5", "0m", "1M", "5 m", "1.5h"])
def test_timeframe_ms_refuses_what_is_not_a_bar_size(bad: str) -> None:
    with pytest.raises(ValueError, match=f"timeframe {bad!r} is not a bar size"):
        timeframe_ms(bad)
