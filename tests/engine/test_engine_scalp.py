"""garrison-scalp through the host: phantom-only signals, the combos in the plugin's store,
the same decisions from both drivers, and the combos carried from one run to the next.

Runs configs/scalp.toml on the real Binance BTC and ETH 3m files (../shared/data, or
GARRISON_SHARED_DATA), with combo thresholds low enough that a month of data enables some.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from garrison.engine.run import RunResult, replay
from garrison.engine.sources import DataSelection
from garrison.plugins import PluginSet
from garrison.profile.load import load_profile

from .conftest import REPO

SHARED = Path(os.environ.get("GARRISON_SHARED_DATA") or REPO.parent / "shared" / "data")
FILES = SHARED / "candles" / "binance_usdm"
NAMESPACE = "replay/strategy/scalp"
PATHS = {0.0: "phantom", 1.0: "combo", 2.0: "pro_rules"}


@pytest.fixture
def data() -> DataSelection:
    files = [FILES / f"binance_{s}_3m.csv" for s in ("BTCUSDT", "ETHUSDT")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        pytest.skip(f"real candles not found ({', '.join(missing)}); ../shared/data is absent")
    return DataSelection(paths=tuple(str(f) for f in files))


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    text = (REPO / "configs" / "scalp.toml").read_text(encoding="utf-8")
    for old, new in (
        ("combo_min_samples = 20", "combo_min_samples = 8"),
        ("combo_enable_wr_lb = 0.45", "combo_enable_wr_lb = 0.30"),
        ("combo_disable_wr_lb = 0.40", "combo_disable_wr_lb = 0.25"),
    ):
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "scalp.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run(
    profile: Path,
    plugins: PluginSet,
    selection: DataSelection,
    journal: Path,
    driver: str = "replay",
) -> RunResult:
    loaded = load_profile(profile, plugins.registry)
    return asyncio.run(
        replay(
            loaded, plugins, selection=selection, journal_path=journal, any_mode=True, driver=driver
        )
    )


def stored_combos(journal_query: Callable[..., Any], journal: Path) -> dict[str, Any]:
    rows = journal_query(journal, "SELECT key, value FROM kv WHERE namespace = ?", (NAMESPACE,))
    return {row["key"]: json.loads(row["value"]) for row in rows}


def test_signals_paths_and_stored_combos(
    profile: Path,
    plugins: PluginSet,
    data: DataSelection,
    tmp_path: Path,
    journal_query: Callable[..., Any],
) -> None:
    journal = tmp_path / "journal.sqlite"
    result = run(profile, plugins, data, journal)
    rows = journal_query(
        journal, "SELECT execute, features, reason FROM signals WHERE run_id = ?", (result.run_id,)
    )
    paths = Counter(PATHS[json.loads(r["features"])["path"]] for r in rows)
    assert paths["phantom"] > 0
    assert paths["combo"] > 0, "no combo was enabled: the learning loop is broken"
    for row in rows:
        path = PATHS[json.loads(row["features"])["path"]]
        assert bool(row["execute"]) == (path != "phantom"), row["reason"]
    (summary,) = journal_query(
        journal,
        "SELECT data FROM events WHERE kind = 'scalp.summary' AND run_id = ?",
        (result.run_id,),
    )
    counts = json.loads(summary["data"])
    assert {k: counts[k] for k in ("combo", "pro_rules", "phantom")} == {
        k: paths[k] for k in ("combo", "pro_rules", "phantom")
    }
    phantoms = journal_query(
        journal, "SELECT count(*) AS n FROM phantoms WHERE run_id = ?", (result.run_id,)
    )
    assert phantoms[0]["n"] >= paths["phantom"] * 0.9  # a few may still be open at the end
    combos = stored_combos(journal_query, journal)
    index = combos.pop("combos/index")
    assert sorted(combos) == index
    assert all(value["samples"] for value in combos.values())
    enabled = journal_query(
        journal, "SELECT count(*) AS n FROM events WHERE kind = 'scalp.combo_enabled'"
    )
    assert enabled[0]["n"] >= 1


@pytest.mark.slow
def test_replay_and_step_drivers_decide_alike(
    profile: Path, plugins: PluginSet, data: DataSelection, tmp_path: Path
) -> None:
    fast = run(profile, plugins, data, tmp_path / "fast.sqlite")
    steps = run(profile, plugins, data, tmp_path / "steps.sqlite", driver="steps")
    assert fast.trades
    assert steps.trades == fast.trades
    assert steps.stats.signals == fast.stats.signals


def test_combos_carry_over_to_the_next_run(
    profile: Path,
    plugins: PluginSet,
    data: DataSelection,
    tmp_path: Path,
    journal_query: Callable[..., Any],
) -> None:
    first_half = DataSelection(paths=data.paths, end="2025-03-28")
    second_half = DataSelection(paths=data.paths, start="2025-03-28")
    journal = tmp_path / "carried.sqlite"
    run(profile, plugins, first_half, journal)
    after_first = stored_combos(journal_query, journal)
    assert len(after_first) > 1
    run(profile, plugins, second_half, journal)
    after_second = stored_combos(journal_query, journal)

    fresh = tmp_path / "fresh.sqlite"
    run(profile, plugins, second_half, fresh)
    only_second = stored_combos(journal_query, fresh)

    # The second run started from the first one's combos: their samples are still there
    # (those within 30 days) beside its own, which a fresh run of the second half lacks.
    def idents(combos: dict[str, Any]) -> set[str]:
        return {s[3] for key, v in combos.items() if key != "combos/index" for s in v["samples"]}

    # Samples closed in the last 30 days of the second half cannot have aged out.
    recent = 1_742_860_800_000  # 2025-03-25 00:00 UTC
    carried = {
        s[3]
        for key, v in after_first.items()
        if key != "combos/index"
        for s in v["samples"]
        if s[0] >= recent
    }
    assert carried
    assert carried <= idents(after_second)
    assert not carried & idents(only_second)
    assert set(after_first) - {"combos/index"} <= set(after_second)
