"""The new sizers in replays of Turtle over real Bybit candles, one with the river gate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from garrison.engine.run import RunResult
from garrison.plugins import PluginSet

from .helpers import query, turtle_profile


def test_turtle_n_sizes_each_entry_by_its_n(
    demo_glob: str,
    plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Callable[..., RunResult],
    tmp_path: Path,
) -> None:
    sizer = '[sizer]\nuse = "turtle_n"\n[sizer.params]\nrisk_pct = 0.5\nmax_value = 1000.0\n'
    result = run_replay(write_profile(turtle_profile([demo_glob], "", sizer=sizer)), plugins)
    assert len(result.trades) > 20
    rows = query(
        result.journal_path,
        "SELECT i.qty, i.price, json_extract(s.features, '$.n') AS n FROM intents i "
        "JOIN signals s ON s.run_id = i.run_id AND s.id = i.signal_id "
        "WHERE i.reduce_only = 0 AND i.approved = 1",
    )
    assert rows
    for row in rows:
        value = row["qty"] * row["price"]
        # Either the unit (0.5 % of ~10,000 per N) or the 1000 USDT cap, floored to the lot.
        assert value <= 1000.0 + 1e-6
        assert row["qty"] <= 10_000.0 * 1.2 * 0.005 / row["n"]


def test_score_scaled_risks_more_on_better_scores(
    demo_glob: str,
    plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Callable[..., RunResult],
    tmp_path: Path,
) -> None:
    sizer = (
        '[sizer]\nuse = "score_scaled"\n[sizer.params]\nmin_risk_pct = 0.1\n'
        "max_risk_pct = 0.3\nmin_score = 0.3\nmax_score = 0.7\nmax_notional = 100000.0\n"
    )
    river = (
        '[[scorers]]\nuse = "river"\nmode = "gate"\nthreshold = 0.3\n'
        "[scorers.params]\nmin_outcomes = 50\n"
    )
    result = run_replay(write_profile(turtle_profile([demo_glob], river, sizer=sizer)), plugins)
    assert len(result.trades) > 10
    rows = query(
        result.journal_path,
        "SELECT i.qty, i.price, s.stop, c.value FROM intents i "
        "JOIN signals s ON s.run_id = i.run_id AND s.id = i.signal_id "
        "JOIN scores c ON c.run_id = i.run_id AND c.signal_id = i.signal_id "
        "WHERE i.reduce_only = 0 AND i.approved = 1",
    )
    # Risk per trade (qty x stop distance) over equity follows the score: 0.1 % at 0.3,
    # 0.3 % at 0.7 and above (equity stays near 10,000; fees make it a little less).
    for row in rows:
        risked = row["qty"] * abs(row["price"] - row["stop"]) / 10_000.0 * 100
        t = min(max((row["value"] - 0.3) / 0.4, 0.0), 1.0)
        assert risked <= (0.1 + 0.2 * t) * 1.15
    assert len({round(r["value"], 3) for r in rows}) > 3
