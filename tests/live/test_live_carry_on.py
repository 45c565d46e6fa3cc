"""Where a live run starts: the newest checkpoint of the profile's runs, never an empty account."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from garrison.journal import Journal
from garrison.live.session import carry_on

T0 = 1_759_276_800_000


def _profile(name: str = "main") -> Any:
    # carry_on reads the profile's name, mode and journal settings only.
    return SimpleNamespace(
        profile=SimpleNamespace(name=name, mode=SimpleNamespace(value="live")),
        journal=SimpleNamespace(synchronous="normal"),
    )


def _run(journal: Journal, status: str, *states: dict[str, Any]) -> str:
    run_id = journal.start_run(profile_name="main", mode="live", profile_toml="", started_ms=T0)
    for i, state in enumerate(states):
        journal.record_checkpoint(T0 + i, state)
    journal.finish_run(status=status, finished_ms=T0, summary={})
    return run_id


def test_an_interrupted_run_with_a_checkpoint_is_resumed_from_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        killed = _run(journal, "interrupted", {"positions": ["BTCUSDT"]})
    found, resumed, state = carry_on(path, _profile())
    assert found is not None
    found.close()
    assert resumed is not None
    assert resumed.id == killed
    assert state == {"positions": ["BTCUSDT"], "run_id": killed}


def test_a_run_killed_before_its_first_checkpoint_hands_on_the_run_before_it(
    tmp_path: Path,
) -> None:
    """The restart must know the positions the earlier run left on the exchange."""
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        earlier = _run(journal, "completed", {"n": 1}, {"positions": ["ADAUSDT"]})
        _run(journal, "interrupted")  # killed before it committed anything
    found, resumed, state = carry_on(path, _profile())
    assert found is not None
    found.close()
    assert resumed is None  # a new run, from the earlier run's account
    assert state == {"positions": ["ADAUSDT"], "run_id": earlier}


def test_a_profile_without_checkpoints_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal.open(path) as journal:
        _run(journal, "interrupted")
    found, resumed, state = carry_on(path, _profile())
    assert found is not None
    found.close()
    assert (resumed, state) == (None, None)
