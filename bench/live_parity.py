"""Live equals replay: Turtle System 1 as a backtest and live against the fake exchange.

    uv run python bench/live_parity.py --data GLOB [--exchange bybit|binance]
                                       [--symbols BTCUSDT,ETHUSDT,...] [--bars N]
                                       [--speed FACTOR] --out FILE.json

Runs configs/turtle-system1.toml (no fees, no slippage, limits that never
bind) once as a backtest of ``--bars`` bars and once in ``mode = "live"``
against ``garrison fake-exchange``'s engine replaying the same candles
``--speed`` times faster than real time, with real ccxt / ccxt.pro clients,
websockets, REST orders and exchange-side stops
(:func:`garrison.fakex.parity.live_parity`). Writes JSON with
``replay_trades``, ``live_trades``, ``identical`` (trades equal in symbol,
side, quantity, entry and exit bar and reason, prices equal to the tick),
``wall_s`` and the rest of the comparison; exits 1 when they differ.

The default window is two days of 5-minute bars (576) after the warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from garrison.fakex.parity import live_parity
from garrison.plugins.manager import load_plugins
from garrison.profile.load import load_profile

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "configs" / "turtle-system1.toml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", action="append", required=True, help="candle CSV glob")
    parser.add_argument("--exchange", choices=["bybit", "binance"], default="bybit")
    parser.add_argument("--symbols", default="", help="comma-separated (default: all found)")
    parser.add_argument("--bars", type=int, default=576, help="bars in the window (576)")
    parser.add_argument("--skip", type=int, default=0, help="bars to skip after warm-up")
    parser.add_argument("--speed", type=float, default=600.0, help="market s per wall s")
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    args = parser.parse_args(argv)
    plugins = load_plugins()
    profile = load_profile(PROFILE, plugins.registry)
    symbols = tuple(s for s in args.symbols.split(",") if s)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="garrison-parity-") as tmp:
        result = asyncio.run(
            live_parity(
                profile,
                plugins,
                args.data,
                exchange=args.exchange,
                work_dir=Path(tmp),
                symbols=symbols,
                bars=args.bars,
                skip=args.skip,
                speed=args.speed,
            )
        )
    out = {
        "bench": "live_parity",
        "exchange": args.exchange,
        "data": args.data,
        "profile": str(PROFILE.relative_to(ROOT)),
        **result.as_json(),
        "equal": result.identical == result.replay_trades == result.live_trades,
        "started": started,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(
        f"{args.exchange}: replay {result.replay_trades} trades, live {result.live_trades}, "
        f"identical {result.identical}; {result.wall_s:.1f}s wall -> {args.out}"
    )
    return 0 if out["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
