"""Replay throughput: candles per second through the whole pipeline, journal included.

    uv run python bench/replay.py [--profile FILE] [--data FOLDER|GLOB] [--out FILE.json]

Runs a profile (default: configs/turtle-system1.toml) over candle files
(default: the five Bybit 5-minute files in ../shared/data, 433,020 candles)
through strategies, sizer, risk chain, simulated broker and a fresh SQLite
journal, then writes JSON with the figures. It runs twice with a private
parse cache: ``cold`` is a first backtest of the files (CSV parsing
included), the top-level figures are the second run, which finds them
parsed. ``wall_s`` covers loading and validating the candles, computing
indicators, the replay and the journal's commits; ``replay_s`` is the
pipeline alone. Peak RSS covers both runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from garrison.engine.cache import CandleCache
from garrison.engine.run import replay
from garrison.engine.sources import DataSelection
from garrison.plugins.manager import load_plugins
from garrison.profile.load import load_profile

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROFILE = ROOT / "configs" / "turtle-system1.toml"
DEFAULT_DATA = str(
    ROOT.parent / "shared" / "data" / "candles" / "bybit_linear" / "bybit_*USDT_5m.csv"
)
TARGET_CANDLES_PER_S = 250_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", type=Path, default=DEFAULT_PROFILE, help="profile to replay")
    parser.add_argument("--data", action="append", help="candle CSV folder or glob (repeatable)")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "bench" / "results" / "replay.json",
        help="where to write the JSON result",
    )
    args = parser.parse_args(argv)

    plugins = load_plugins()
    profile = load_profile(args.profile, plugins.registry)
    selection = DataSelection(paths=tuple(args.data or [DEFAULT_DATA]))
    with tempfile.TemporaryDirectory() as tmp:
        # Two runs with a private parse cache: the first parses the CSVs (a first
        # backtest), the second finds them parsed (every later backtest of the same files).
        cache = CandleCache(Path(tmp) / "cache")
        runs = []
        for name in ("cold", "warm"):
            journal = Path(tmp) / f"{name}.sqlite"
            t0 = time.perf_counter()
            result = asyncio.run(
                replay(
                    profile,
                    plugins,
                    selection=selection,
                    journal_path=journal,
                    any_mode=True,
                    cache=cache,
                )
            )
            runs.append((result, time.perf_counter() - t0))
        journal_mb = sum(p.stat().st_size for p in Path(tmp).glob("warm.sqlite*")) / 1e6
    (cold, cold_wall_s), (result, wall_s) = runs
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
        "trades": len(result.trades),
        "signals": result.stats.signals,
        "commits": result.stats.commits,
        "journal_mb": round(journal_mb, 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "cold": {
            "wall_s": round(cold_wall_s, 3),
            "load_s": round(cold.load_s, 3),
            "candles_per_s": round(candles / cold_wall_s),
        },
        "target_candles_per_s": TARGET_CANDLES_PER_S,
        "meets_target": candles / wall_s >= TARGET_CANDLES_PER_S,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": __import__("os").cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
