"""``bench/burst.py`` at a small size: 30 symbols, 2 bursts, every signal becomes an order.

The bench's own core (the fake exchange in its own process, the host live
against it, the stamps) on the bundled demo candles; the figures are not
judged here (speed is the bench's business), only that they are there and
that each burst's signalled symbols all got their create-order request.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "data" / "demo" / "bybit_*_5m.csv.gz")


def load_bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "garrison_bench_burst", ROOT / "bench" / "burst.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered so that its attrs classes' annotations resolve (the profile structures them).
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_small_burst_sends_an_order_for_every_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_bench(monkeypatch)
    options = bench.BurstOptions(
        symbols=30, bursts=2, every=5, history=200, data=(DEMO,), pause_s=0.2
    )
    out = asyncio.run(bench.run_burst(options, tmp_path))
    json.dumps(out)  # JSON-ready as it is
    for key in (
        "symbols",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "peak_rss_mb",
        "orders",
        "bursts",
        "wall_s",
        "warmup_s",
        "target_p99_ms",
        "target_rss_mb",
        "meets_p99_target",
        "meets_rss_target",
        "pass",
    ):
        assert key in out, key
    assert out["symbols"] == 30
    assert out["bursts"] == 2
    # Symbol i signals at bar k when (i + k) % 5 == 0: 6 of the 30 at each burst.
    assert out["signals"] == 12
    assert out["orders"] == out["signals"]
    assert out["missing_orders"] == 0, out["missing_examples"]
    for burst in out["per_burst"]:
        assert burst["closed_messages"] == 30
        assert burst["orders"] == burst["signals"] == 6
    assert 0 < out["p50_ms"] <= out["p99_ms"] <= out["max_ms"]
    assert out["fake"]["orders_incl_stops"] >= out["orders"]
    assert out["feed"]["incomplete_steps"] == 0
    assert out["peak_rss_mb"] > 0
