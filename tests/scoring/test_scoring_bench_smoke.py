"""``bench/score.py`` at a small size on the bundled demo candles: every figure is there.

The figures are not judged here (speed is the bench's business, on a quiet
machine), only that the bench runs end to end and writes them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "data" / "demo" / "bybit_BTCUSDT_5m.csv.gz")


@pytest.mark.slow
def test_score_bench_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "score.json"
    args = ["--data", DEMO, "--single", "300", "--repeat", "1", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "score.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={"GARRISON_CACHE_DIR": str(tmp_path / "cache"), **_env()},
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())
    for key in (
        "onnx_single_us",
        "onnx_batch256_us",
        "river_per_s",
        "river_scorer_per_s",
        "replay_candles_per_s_river",
        "replay_candles_per_s_onnx",
        "onnx_replay_calls",
        "replay_candles_per_s_none",
        "reference_loop_s",
    ):
        assert key in figures, key
    assert figures["onnx_model"]["max_abs_diff_vs_xgboost"] <= 1e-6
    assert figures["onnx_single_us"] > 0
    assert figures["river_per_s"] > 0


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "GARRISON_CACHE_DIR"}
