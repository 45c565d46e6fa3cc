"""Training an ONNX scorer model from a replay journal, and using it (or refusing it)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from garrison.cli.main import cli
from garrison.engine.run import RunError, RunResult
from garrison.plugins import PluginSet
from garrison.train import labelled_set
from garrison_onnx import ModelError, OnnxParams, OnnxScorer, training

from .helpers import query, turtle_profile

FEATURES = ("close", "lower", "n", "upper")
FROM, TO = "2025-09-01", "2026-01-01"


@pytest.fixture
def replay_journal(
    demo_glob: str,
    plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Callable[..., RunResult],
    tmp_path: Path,
) -> Path:
    """A journal of Turtle over the bundled real Bybit candles, with no scorer at all."""
    journal = tmp_path / "replay.sqlite"
    run_replay(write_profile(turtle_profile([demo_glob], ""), "replay.toml"), plugins, journal)
    return journal


def test_the_labelled_set_is_every_outcome_in_time_order(replay_journal: Path) -> None:
    data = labelled_set(replay_journal, "turtle", 0, 2**62)
    (count,) = query(replay_journal, "SELECT COUNT(*) FROM phantoms")[0]
    assert len(data.y) == count > 1000
    assert data.names == FEATURES
    assert np.all(np.diff(data.ts) >= 0)
    wins = query(replay_journal, "SELECT COUNT(*) FROM phantoms WHERE r_multiple > 0")[0][0]
    assert int(data.y.sum()) == wins


def test_train_exports_a_model_that_agrees_with_xgboost_on_the_held_out_set(
    replay_journal: Path, tmp_path: Path
) -> None:
    out = tmp_path / "models" / "turtle.onnx"
    result = CliRunner().invoke(
        cli,
        [
            "train", "onnx", "--journal", str(replay_journal), "--strategy", "turtle",
            "--from", FROM, "--to", TO, "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "max |onnxruntime - xgboost| on the held-out set" in result.output
    card = json.loads((tmp_path / "models" / "turtle.card.json").read_text())
    assert card["onnx_vs_xgboost_max_abs_diff"] <= 1e-6
    assert card["features"] == list(FEATURES)
    assert card["data"]["holdout_rows"] > 100
    assert card["data"]["first_signal_ms"] < card["data"]["holdout_from_ms"]
    assert set(card["metrics"]["holdout"]) >= {"brier", "log_loss", "roc_auc", "accuracy"}
    scorer = OnnxScorer(OnnxParams(path=str(out), features=FEATURES))
    assert scorer.model.sha256 == card["sha256"]
    assert scorer.model.version == card["version"]

    # The same check, element by element, through the module the command uses.
    data = labelled_set(replay_journal, "turtle", 0, 2**62)
    trained = training.train(
        training.LabelledSet(names=data.names, x=data.x, y=data.y, ts=data.ts),
        training.TrainSettings(),
        strategy="turtle",
        data_range=(0, 2**62),
        source="test",
    )
    assert len(trained.holdout_onnx) == len(trained.holdout_xgb) > 100
    assert np.abs(trained.holdout_onnx - trained.holdout_xgb).max() <= 1e-6
    # Same data, same settings: the same model.
    assert trained.card["version"] == card["version"]


def test_a_model_trained_on_other_features_is_refused(
    replay_journal: Path,
    demo_glob: str,
    plugins: PluginSet,
    write_profile: Callable[..., Path],
    run_replay: Callable[..., RunResult],
    tmp_path: Path,
) -> None:
    out = tmp_path / "narrow.onnx"
    args = ["train", "onnx", "--journal", str(replay_journal), "--strategy", "turtle"]
    args += ["--from", FROM, "--to", TO, "--features", "n,close", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with pytest.raises(ModelError, match=r"it lacks lower, upper"):
        OnnxScorer(OnnxParams(path=str(out), features=FEATURES))
    gate = (
        f'[[scorers]]\nuse = "onnx"\nmode = "gate"\n[scorers.params]\npath = "{out}"\n'
        f"features = {json.dumps(list(FEATURES))}\n"
    )
    profile = write_profile(turtle_profile([demo_glob], gate), "gated.toml")
    with pytest.raises((RunError, ModelError), match=r"does not fit the strategy's features"):
        run_replay(profile, plugins, tmp_path / "gated.sqlite")


def test_without_the_train_extra_scoring_works_and_training_says_what_to_install(
    replay_journal: Path, demo_glob: str, tmp_path: Path
) -> None:
    model = tmp_path / "turtle.onnx"
    args = ["train", "onnx", "--journal", str(replay_journal), "--strategy", "turtle"]
    args += ["--from", FROM, "--to", TO, "--out", str(model)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    gate = (
        f'[[scorers]]\nuse = "onnx"\nmode = "gate"\nthreshold = 0.2\n[scorers.params]\n'
        f'path = "{model}"\n'
    )
    profile = tmp_path / "onnx.toml"
    profile.write_text(turtle_profile([demo_glob], gate) + "\n[journal]\npath = 'j.sqlite'\n")
    # A Python where xgboost and onnxmltools cannot be imported.
    blocked = textwrap.dedent(
        """
        import sys
        sys.modules["xgboost"] = None
        sys.modules["onnxmltools"] = None
        from garrison.cli.main import cli
        cli(sys.argv[1:], prog_name="garrison")
        """
    )
    backtest = subprocess.run(
        [sys.executable, "-c", blocked, "backtest", str(profile), "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert backtest.returncode == 0, backtest.stderr
    assert "xgboost" not in backtest.stderr
    scored = query(tmp_path / "j.sqlite", "SELECT COUNT(*), MIN(model) FROM scores")[0]
    assert scored[0] > 1000
    assert scored[1] == "onnx:turtle.onnx"
    trained = subprocess.run(
        [sys.executable, "-c", blocked, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert trained.returncode == 1
    assert "needs the garrison-onnx[train] extra (xgboost, onnxmltools not installed)" in (
        trained.stderr
    )
    assert "pip install 'garrison-onnx[train]'" in trained.stderr
