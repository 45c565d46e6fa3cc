"""Replays of Turtle over real Bybit candles with the river scorer are reproducible."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from garrison.engine.run import RunResult
from garrison.plugins import PluginSet
from garrison_river import decode

from .helpers import query, turtle_profile

RIVER_GATE = """
[[scorers]]
use = "river"
mode = "gate"
threshold = 0.5
[scorers.params]
min_outcomes = 50
"""

NAMESPACE = "replay/scorer/river"


def _fingerprint(journal: Path, result: RunResult) -> dict[str, object]:
    run = result.run_id
    scores = query(
        journal,
        "SELECT signal_id, value, model, model_version, model_hash, passed FROM scores "
        "WHERE run_id = ? ORDER BY seq",
        (run,),
    )
    outcomes = query(
        journal,
        "SELECT signal_id, r_multiple, exit_reason, phantom, score, mfe_r, mae_r "
        "FROM phantoms WHERE run_id = ? ORDER BY seq",
        (run,),
    )
    (state,) = query(
        journal,
        "SELECT sha256, data FROM blobs WHERE namespace = ? AND name = 'model'",
        (NAMESPACE,),
    )
    return {
        "scores": [tuple(r) for r in scores],
        "outcomes": [tuple(r) for r in outcomes],
        "trades": [
            (t.symbol, t.entry_ts, t.entry_price, t.exit_ts, t.exit_price, t.pnl)
            for t in result.trades
        ],
        "state_sha": state["sha256"],
        "state": bytes(state["data"]),
    }


def _twice(
    paths: list[str],
    plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Callable[..., RunResult],
    tmp_path: Path,
) -> tuple[dict[str, object], dict[str, object]]:
    profile = write_profile(turtle_profile(paths, RIVER_GATE))
    journal = tmp_path / "journal.sqlite"
    # Twice into one journal: the second replay must not start from the first one's model.
    first = _fingerprint(journal, run_replay(profile, plugins, journal))
    second = _fingerprint(journal, run_replay(profile, plugins, journal))
    return first, second


def _check(first: dict[str, object], second: dict[str, object]) -> None:
    scores = first["scores"]
    outcomes = first["outcomes"]
    assert isinstance(scores, list)
    assert isinstance(outcomes, list)
    assert first["trades"], "the replay traded nothing: the test would prove little"
    assert len(outcomes) > 50, "too few outcomes to leave the prior"
    models = {row[2] for row in scores}
    assert models == {"prior", "river:logreg"}
    assert any(row[5] == 0 for row in scores), "the gate never refused: it proves little"
    assert first == second
    # The saved state learned every outcome the journal holds, traded and phantom.
    saved = decode(first["state"], "state")  # type: ignore[arg-type]
    assert saved.learned == len(outcomes)
    assert {row[3] for row in outcomes} == {0, 1}
    # Every score names the model state it came from.
    assert all(row[3].startswith("v") and len(row[4]) == 64 for row in scores)


def test_river_replay_of_the_bundled_bybit_files_is_deterministic(
    demo_glob: str,
    plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Callable[..., RunResult],
    tmp_path: Path,
) -> None:
    _check(*_twice([demo_glob], plugins, write_profile, run_replay, tmp_path))


@pytest.mark.slow
def test_river_replay_of_the_full_bybit_files_is_deterministic(
    shared_5m: list[Path],
    plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Callable[..., RunResult],
    tmp_path: Path,
) -> None:
    paths = [str(p) for p in shared_5m]
    _check(*_twice(paths, plugins, write_profile, run_replay, tmp_path))
