"""Events nobody listens to are journaled from their fields: the rows are the same.

With no notifier and no ``garrison_event`` hook, the pipeline's per-trade
events (position.opened, trade.closed) go to the journal without an Event
being built (``EventBus.emit_fields``). The demo replayed with and without its
log notifier must journal the same event rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from garrison.engine.run import RunResult
from garrison.engine.sources import DataSelection
from garrison.plugins import PluginSet


def event_rows(path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT ts, kind, level, source, message, data FROM events "
            "WHERE kind IN ('position.opened', 'trade.closed') ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()


def test_unheard_events_journal_the_rows_heard_ones_do(
    repo: Path,
    plugins: PluginSet,
    run_replay: Callable[..., RunResult],
    write_profile: Callable[..., Path],
    tmp_path: Path,
) -> None:
    demo = (repo / "configs" / "demo.toml").read_text(encoding="utf-8")
    assert "[[notifiers]]" in demo
    quiet = write_profile(demo[: demo.index("[[notifiers]]")], "quiet.toml")
    selection = DataSelection(paths=(str(repo / "data" / "demo" / "bybit_*_5m.csv.gz"),))

    heard = run_replay(
        repo / "configs" / "demo.toml", plugins, selection=selection, journal=tmp_path / "h.sqlite"
    )
    unheard = run_replay(quiet, plugins, selection=selection, journal=tmp_path / "u.sqlite")

    rows = event_rows(tmp_path / "h.sqlite")
    assert len(rows) == 2 * len(heard.trades) + heard.open_positions
    assert event_rows(tmp_path / "u.sqlite") == rows
    assert unheard.events == heard.events
