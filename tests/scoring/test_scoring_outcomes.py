"""Every entry signal resolves to one outcome with its excursions, alike in both drivers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from garrison.engine.run import RunResult
from garrison.plugins import PluginSet

from .helpers import query, turtle_profile

OUTCOMES = (
    "SELECT signal_id, phantom, exit_reason, r_multiple, closed_ts, entry_price, exit_price, "
    "mfe_r, mae_r FROM phantoms WHERE run_id = ? ORDER BY seq"
)


def test_both_drivers_give_every_signal_the_same_outcome(
    demo_glob: str,
    plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Callable[..., RunResult],
    tmp_path: Path,
) -> None:
    profile = write_profile(turtle_profile([demo_glob], ""))
    fast = run_replay(profile, plugins, tmp_path / "fast.sqlite")
    steps = run_replay(profile, plugins, tmp_path / "steps.sqlite", driver="steps")
    assert fast.trades == steps.trades
    rows = [tuple(r) for r in query(fast.journal_path, OUTCOMES, (fast.run_id,))]
    assert rows == [tuple(r) for r in query(steps.journal_path, OUTCOMES, (steps.run_id,))]
    traded = [r for r in rows if r[1] == 0]
    # Every closed trade is its signal's outcome, with the trade's own R.
    assert len(traded) == len(fast.trades)
    assert sorted(r[3] for r in traded) == sorted(t.r_multiple for t in fast.trades)
    # Excursions: never negative, and a winner's R (net of fees, for phantoms too: they
    # pay the broker's slippage and fees) never beats its favourable excursion.
    for signal_id, _phantom, _why, r, _ts, _entry, _exit, mfe, mae in rows:
        assert mfe is not None
        assert mae is not None
        assert min(mfe, mae) >= 0.0
        if r > 0:
            assert mfe >= r - 1e-9, signal_id
    # Every entry signal with a stop that did not run off the end of the data resolved.
    signals = query(
        fast.journal_path,
        "SELECT COUNT(*) FROM signals WHERE run_id = ? AND kind = 'entry'",
        (fast.run_id,),
    )[0][0]
    assert signals - len(rows) <= 10 * len(fast.symbols)
