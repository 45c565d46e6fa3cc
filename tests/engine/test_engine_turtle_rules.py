"""configs/turtle-rules.toml through the host, on the bundled demo data (real Bybit 5m).

The example profile of the 19-rule set (strategy ``turtle_rules`` of garrison-turtle):
it loads, it trades, its screen changes no decision, and the step driver paper and live
trading use (indicators bar by bar, the regime through its own updater, no screens)
makes exactly the trades of the replay driver (whole-series indicators).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from garrison.engine.run import RunResult, replay
from garrison.plugins import PluginSet
from garrison.profile.load import load_profile


def example_profile(repo: Path, tmp_path: Path, *, screen: bool = True) -> Path:
    """configs/turtle-rules.toml on the bundled demo files, with its own journal."""
    text = (repo / "configs" / "turtle-rules.toml").read_text(encoding="utf-8")
    glob = '"../../shared/data/candles/bybit_linear/bybit_*USDT_5m.csv"'
    assert glob in text
    text = text.replace(glob, f'"{repo.as_posix()}/data/demo/bybit_*_5m.csv.gz"')
    text = text.replace('path = "../var/turtle-rules.sqlite"', 'path = "journal.sqlite"')
    if not screen:
        text = text.replace("[[strategies]]", "[engine]\nscreen = false\n\n[[strategies]]")
    path = tmp_path / ("screened.toml" if screen else "unscreened.toml")
    path.write_text(text, encoding="utf-8")
    return path


def run(path: Path, plugins: PluginSet, journal: Path, driver: str = "replay") -> RunResult:
    profile = load_profile(path, plugins.registry)
    return asyncio.run(replay(profile, plugins, journal_path=journal, any_mode=True, driver=driver))


def test_example_profile_selects_turtle_rules_and_trades(
    repo: Path, tmp_path: Path, plugins: PluginSet
) -> None:
    profile = load_profile(example_profile(repo, tmp_path), plugins.registry)
    (use,) = profile.strategies
    assert use.use == "turtle_rules"
    result = run(example_profile(repo, tmp_path), plugins, tmp_path / "a.sqlite")
    assert len(result.trades) > 50
    assert {t.symbol for t in result.trades} == {
        "BTCUSDT",
        "ETHUSDT",
        "SOLUSDT",
        "AVAXUSDT",
        "ADAUSDT",
    }


def test_screen_changes_no_trade(repo: Path, tmp_path: Path, plugins: PluginSet) -> None:
    screened = run(example_profile(repo, tmp_path), plugins, tmp_path / "s.sqlite")
    unscreened = run(example_profile(repo, tmp_path, screen=False), plugins, tmp_path / "u.sqlite")
    assert screened.stats.strategy_calls < unscreened.stats.strategy_calls / 10
    assert screened.trades == unscreened.trades
    assert screened.final_equity == unscreened.final_equity


@pytest.mark.slow
def test_step_driver_trades_like_the_replay_driver(
    repo: Path, tmp_path: Path, plugins: PluginSet
) -> None:
    path = example_profile(repo, tmp_path)
    fast = run(path, plugins, tmp_path / "fast.sqlite")
    steps = run(path, plugins, tmp_path / "steps.sqlite", driver="steps")
    assert len(fast.trades) > 50
    assert steps.trades == fast.trades
