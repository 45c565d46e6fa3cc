"""Replay throughput: candles per second through the whole pipeline, journal included.

    uv run python bench/replay.py [--profile FILE] [--data FOLDER|GLOB] [--out FILE.json]
                                  [--repeat N]

Runs a profile (default: configs/turtle-system1.toml) over candle files
(default: the five Bybit 5-minute files in ../shared/data, 433,020 candles)
through strategies, sizer, risk chain, simulated broker and a fresh SQLite
journal, then writes JSON with the figures.

With a private parse cache: ``cold`` is a first backtest of the files (CSV
parsing included); then ``--repeat`` warm runs, which find them parsed. The
top-level figures are the fastest warm run (as timeit reports: the run the
machine disturbed least), with the median and every wall time beside it.
``wall_s`` covers loading and validating the candles, computing indicators
and screens, the replay and the journal's commits (until the last batch is
in the file); ``replay_s`` is the pipeline alone. ``unscreened`` is one more
warm run with ``[engine] screen = false``, every strategy called on every
bar. ``step_driver`` is one run through the step driver paper and live
trading use (incremental indicators, no screens, a settle per step), with
whether its trades equal the replay driver's. ``reference_loop_s`` times a
fixed pure-Python loop before and after, so figures from a busy machine can
be told apart from a slower engine.
Peak RSS covers every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import attrs
from garrison.engine.cache import CandleCache
from garrison.engine.run import RunResult, replay
from garrison.engine.sources import DataSelection
from garrison.plugins.manager import load_plugins
from garrison.profile.load import load_profile
from garrison.profile.model import Profile

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROFILE = ROOT / "configs" / "turtle-system1.toml"
DEFAULT_DATA = str(
    ROOT.parent / "shared" / "data" / "candles" / "bybit_linear" / "bybit_*USDT_5m.csv"
)
TARGET_CANDLES_PER_S = 250_000


def _reference_loop() -> float:
    """Best of three timings of a fixed pure-Python loop: how fast the machine is right now."""
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", type=Path, default=DEFAULT_PROFILE, help="profile to replay")
    parser.add_argument("--data", action="append", help="candle CSV folder or glob (repeatable)")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs (default 3)")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results" / "replay.json",
        help="where to write the JSON result",
    )
    args = parser.parse_args(argv)

    plugins = load_plugins()
    profile = load_profile(args.profile, plugins.registry)
    unscreened_profile = attrs.evolve(profile, engine=attrs.evolve(profile.engine, screen=False))
    selection = DataSelection(paths=tuple(args.data or [DEFAULT_DATA]))
    reference = [_reference_loop()]
    with tempfile.TemporaryDirectory() as tmp:
        cache = CandleCache(Path(tmp) / "cache")
        sizes: dict[str, float] = {}

        def timed(name: str, chosen: Profile, driver: str = "replay") -> tuple[RunResult, float]:
            journal = Path(tmp) / f"{name}.sqlite"
            t0 = time.perf_counter()
            result = asyncio.run(
                replay(
                    chosen,
                    plugins,
                    selection=selection,
                    journal_path=journal,
                    any_mode=True,
                    cache=cache,
                    driver=driver,
                )
            )
            wall = time.perf_counter() - t0
            files = list(Path(tmp).glob(f"{name}.sqlite*"))
            sizes[name] = sum(path.stat().st_size for path in files) / 1e6
            for path in files:
                path.unlink()
            return result, wall

        cold, cold_wall_s = timed("cold", profile)
        warm = [timed(f"warm{i}", profile) for i in range(max(1, args.repeat))]
        plain, plain_wall_s = timed("unscreened", unscreened_profile)
        stepped, steps_wall_s = timed("steps", profile, driver="steps")
    reference.append(_reference_loop())
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result, wall_s = min(warm, key=lambda run: run[1])
    walls = sorted(wall for _, wall in warm)
    candles = result.stats.candles
    out = {
        "benchmark": "replay",
        "profile": str(args.profile),
        "data": list(selection.paths),
        "candles": candles,
        "symbols": list(result.symbols),
        "candles_per_s": round(candles / wall_s),
        "wall_s": round(wall_s, 3),
        "load_s": round(result.load_s, 3),
        "replay_s": round(result.replay_s, 3),
        "replay_candles_per_s": round(candles / result.replay_s),
        "warm_runs": len(warm),
        "warm_wall_s": [round(w, 3) for w in walls],
        "candles_per_s_median": round(candles / statistics.median(walls)),
        "trades": len(result.trades),
        "signals": result.stats.signals,
        "strategy_calls": result.stats.strategy_calls,
        "strategy_calls_unscreened": result.stats.strategy_calls_unscreened,
        "commits": result.stats.commits,
        "journal_mb": round(sizes["warm0"], 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "cold": {
            "wall_s": round(cold_wall_s, 3),
            "load_s": round(cold.load_s, 3),
            "candles_per_s": round(candles / cold_wall_s),
        },
        "unscreened": {
            "wall_s": round(plain_wall_s, 3),
            "candles_per_s": round(candles / plain_wall_s),
            "strategy_calls": plain.stats.strategy_calls,
            "trades": len(plain.trades),
        },
        "step_driver": {
            "wall_s": round(steps_wall_s, 3),
            "candles_per_s": round(candles / steps_wall_s),
            "strategy_calls": stepped.stats.strategy_calls,
            "trades": len(stepped.trades),
            "same_trades": stepped.trades == result.trades,
        },
        "reference_loop_s": [round(r, 3) for r in reference],
        "target_candles_per_s": TARGET_CANDLES_PER_S,
        "meets_target": candles / wall_s >= TARGET_CANDLES_PER_S,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
