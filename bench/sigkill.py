"""SIGKILL in the order path, then a restart: no duplicate order, unprotected position or lost row.

    uv run python bench/sigkill.py [--exchange bybit|binance] [--times N] [--out FILE.json]

The fake exchange runs here, its clock at ``--speed``; the host runs as a
real ``garrison run`` process on a live profile (Turtle with short
breakouts on three symbols, so it trades every few bars). For each of seven
points of the order path, ``--times`` times:

1. the host is started with the point armed and dies there by SIGKILL —
   ``before_intent``, ``after_intent``, ``after_reply``, ``placing_stop``,
   ``after_stop`` (the stop placed, no checkpoint knows it yet) and
   ``exiting`` through ``GARRISON_CRASH_AT`` (garrison.live.crashpoints);
   ``after_send`` from the exchange's side: the fake kills the host when it
   has booked an order, before it answers; ``anywhere`` (not in the default
   set) at a random instant 2-20 s after the start (seeded, reproducible),
   wherever the host happens to be;
2. the journal's committed rows are noted;
3. the host is started again, unarmed, and runs a few bars (it carries on
   from its last checkpoint: unanswered orders looked up by client id,
   stops checked, the journal reconciled with the exchange);
4. counted: ``duplicates`` (orders the exchange refused as a repeated client
   id, or two orders booked under one id), ``unprotected`` (positions on the
   exchange without a stop once the restarted host has run), ``lost_rows``
   (rows committed before the kill and missing after the restart),
   ``mismatched`` (positions where the journal's last checkpoint and the
   exchange disagree after the restart).

Writes JSON ``{"sigkill": {kills, duplicates, unprotected, lost_rows, ...}}``;
:func:`run_sigkill` is what bench/faults.py and the tests call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from garrison.fakex import FakeExchange, MarketTape, running_fake
from garrison.fakex.account import Fees

ROOT = Path(__file__).resolve().parent.parent
DEMO = [str(p) for p in sorted((ROOT / "data" / "demo").glob("bybit_*_5m.csv.gz"))[:3]]
BAR_MS = 300_000
POINTS = (
    "before_intent",
    "after_intent",
    "after_send",
    "after_reply",
    "placing_stop",
    "after_stop",
    "exiting",
)
#: Not in the default set: a kill at a random instant instead of a named point.
ANYWHERE = "anywhere"
TABLES = ("signals", "intents", "orders", "fills", "positions", "trades", "events", "checkpoints")

PROFILE = """\
[profile]
name = "sigkill"
mode = "live"
exchange = "{exchange}"

[account]
leverage = 10.0

[exchange]
symbols = [{symbols}]
timeframes = ["5m"]
rest_url = "{rest}"
ws_url = "{ws}"
step_wait_s = 1.0
reconcile_s = 2.0
unknown_positions = "flatten"
request_timeout_ms = 3000
quiet_s = 5.0

[credentials]
api_key_env = "SIGKILL_KEY"
api_secret_env = "SIGKILL_SECRET"

[journal]
path = "{journal}"
commit = "step"

[control]
# A socket of the run's own: two benches (or a bench beside a host) never share one.
socket = "{control}"

[[strategies]]
use = "turtle"
[strategies.params]
system = 1
timeframe = "5m"
entry_period = 4
exit_period = 2
stop_n = 1.0

[sizer]
use = "fixed_risk"
[sizer.params]
risk_usd = 50.0
fee_rate = 0.0

[[risk]]
use = "trading_state"
[[risk]]
use = "one_position_per_symbol"
[[risk]]
use = "max_notional"
params = {{ max_usd = 1e9 }}
[[risk]]
use = "exchange_minimums"
"""


def _committed(journal: Path) -> dict[str, set[int]]:
    """Every committed row's rowid, per table (what a reader sees in the file)."""
    if not journal.exists():
        return {}
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return {
            t: {r[0] for r in db.execute(f"SELECT rowid FROM {t}")} for t in TABLES if t in names
        }


def _journal_positions(journal: Path) -> dict[str, tuple[str, float]]:
    """Positions in the journal's last checkpoint: symbol -> (side, qty)."""
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        row = db.execute("SELECT state FROM checkpoints ORDER BY seq DESC LIMIT 1").fetchone()
    if row is None:
        return {}
    state = json.loads(row[0])
    return {
        symbol: (saved["position"]["side"], float(saved["position"]["qty"]))
        for symbol, saved in state["ledger"]["positions"].items()
    }


def _exchange_positions(fake: FakeExchange) -> dict[str, tuple[str, float]]:
    return {p.symbol: (p.side, p.size) for p in fake.account.positions() if p.size}


def _unprotected(fake: FakeExchange) -> list[str]:
    account = fake.account
    bad = []
    for p in account.positions():
        if not p.size:
            continue
        stops = [
            o
            for o in account.open_orders(p.symbol)
            if o.stop_kind == "stop_loss" or o.kind == "stop_market"
        ]
        if not stops and not p.stop_loss:
            bad.append(f"{p.symbol} {p.side} {p.size:g}")
    return bad


def _keep_evidence(keep: Path, label: str, journal: Path, fake: FakeExchange) -> None:
    """Copy the journal and the fake's orders and positions under ``keep/label``."""
    target = keep / label
    target.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{journal}{suffix}")
        if source.exists():
            shutil.copy2(source, target / source.name)
    account = fake.account
    dump = {
        "now_ms": fake.now_ms(),
        "positions": [repr(p) for p in account.positions()],
        "orders": [repr(o) for o in account.orders()],
        "refused_duplicates": list(account.refused_duplicates),
    }
    (target / "exchange.json").write_text(json.dumps(dump, indent=1), encoding="utf-8")


async def _host(
    profile: Path, env: dict[str, str], until_ms: int | None, on_start: Callable[[int], None]
) -> asyncio.subprocess.Process:
    args = [sys.executable, "-m", "garrison.cli.main", "run", str(profile), "--no-progress"]
    if until_ms is not None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(until_ms / 1000))
        args += ["--until", stamp]
    process = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    on_start(process.pid)
    return process


def _kill_quietly(pid: int) -> None:
    # The host may have ended by itself already.
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def _wait(process: asyncio.subprocess.Process, timeout_s: float) -> int | None:
    try:
        await asyncio.wait_for(process.wait(), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    return process.returncode


async def run_sigkill(
    *,
    exchange: str = "bybit",
    times: int = 20,
    points: tuple[str, ...] = POINTS,
    speed: float = 300.0,
    work_dir: Path,
    restart_bars: int = 15,
    crash_timeout_s: float = 60.0,
    keep: Path | None = None,
    seed: int = 1,
) -> dict[str, Any]:
    """Kill and restart the host ``times`` times at each of ``points``; the figures.

    With ``keep``, each restart that ends with a difference leaves a copy of
    the journal and the exchange's orders and positions there.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    journal = work_dir / "sigkill.sqlite"
    tape = MarketTape.from_paths(DEMO, exchange=None)
    tape.exchange = exchange
    figures: dict[str, Any] = {
        "kills": 0,
        "duplicates": 0,
        "unprotected": 0,
        "lost_rows": 0,
        "mismatched": 0,
        "not_reached": 0,
        "restarts_failed": 0,
        "by_point": {},
        "details": [],
    }
    async with running_fake(
        exchange,
        tape,
        history=200,
        balance=1_000_000.0,
        fees=Fees(taker=0.0, maker=0.0),
        api_key="sigkill-key",
        secret="sigkill-secret",
    ) as fake:
        profile = work_dir / "sigkill.toml"
        names = ", ".join(f'"{s}"' for s in tape.symbols())
        profile.write_text(
            PROFILE.format(
                exchange=exchange,
                symbols=names,
                rest=fake.rest_url,
                ws=fake.ws_url,
                journal=journal,
                control=work_dir / "ctl" / "host.sock",
            ),
            encoding="utf-8",
        )
        base_env = {
            **os.environ,
            "SIGKILL_KEY": "sigkill-key",
            "SIGKILL_SECRET": "sigkill-secret",
            "CI": "true",
        }
        base_env.pop("GARRISON_CRASH_AT", None)
        fake.run(speed)
        chance = random.Random(seed)
        started = time.perf_counter()
        for point in points:
            counts = {"kills": 0, "not_reached": 0}
            for _ in range(times):
                pid: list[int] = []
                env = dict(base_env)
                if point == "after_send":

                    def kill_on_booking(pid: list[int] = pid) -> None:
                        if pid:
                            os.kill(pid[0], signal.SIGKILL)
                            fake.after_booking = None

                    fake.after_booking = kill_on_booking
                elif point == ANYWHERE:
                    pass  # killed from here once started, below
                else:
                    env["GARRISON_CRASH_AT"] = f"{point}:1"
                refused_before = len(fake.account.refused_duplicates)
                host = await _host(profile, env, None, pid.append)
                if point == ANYWHERE:
                    delay = chance.uniform(2.0, 20.0)
                    asyncio.get_running_loop().call_later(delay, _kill_quietly, host.pid)
                code = await _wait(host, crash_timeout_s)
                fake.after_booking = None
                if code != -signal.SIGKILL:
                    counts["not_reached"] += 1
                    figures["not_reached"] += 1
                    figures["details"].append(f"{point}: host ended with {code}, not SIGKILL")
                    continue
                counts["kills"] += 1
                figures["kills"] += 1
                rows = _committed(journal)
                # The market stops where the restarted host stops, so what the journal
                # holds at its end can be compared with a standing exchange.
                await fake.pause()
                now = fake.now_ms()
                until = now - now % BAR_MS + restart_bars * BAR_MS
                fake.run(speed, until_ms=until)
                restart = await _host(profile, dict(base_env), until, lambda _pid: None)
                code = await _wait(restart, crash_timeout_s + restart_bars)
                if code != 0:
                    figures["restarts_failed"] += 1
                    err = b""
                    if restart.stderr is not None:
                        err = await restart.stderr.read()
                    figures["details"].append(
                        f"{point}: restart ended with {code}: {err.decode()[-400:]}"
                    )
                after = _committed(journal)
                lost = sum(len(seqs - after.get(t, set())) for t, seqs in rows.items())
                figures["lost_rows"] += lost
                ids = [o.client_id for o in fake.account.orders() if o.client_id]
                doubled = len(ids) - len(set(ids))
                refused = len(fake.account.refused_duplicates) - refused_before
                figures["duplicates"] += doubled + refused
                bad = _unprotected(fake)
                figures["unprotected"] += len(bad)
                mine, theirs = _journal_positions(journal), _exchange_positions(fake)
                if mine != theirs:
                    figures["mismatched"] += 1
                    figures["details"].append(f"{point}: journal {mine} exchange {theirs}")
                if bad or lost or doubled or refused:
                    figures["details"].append(
                        f"{point}: unprotected {bad}, lost {lost}, doubled {doubled}, "
                        f"refused {refused}"
                    )
                if keep is not None and (bad or lost or doubled or refused or mine != theirs):
                    _keep_evidence(keep, f"{point}-{counts['kills']:02d}", journal, fake)
                await fake.pause()
                fake.run(speed)
            figures["by_point"][point] = counts
        figures["wall_s"] = round(time.perf_counter() - started, 1)
        figures["orders_on_exchange"] = len(fake.account.orders())
    figures["details"] = figures["details"][:40]
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--exchange", choices=["bybit", "binance"], default="bybit")
    parser.add_argument("--times", type=int, default=20, help="kills per point (20)")
    parser.add_argument("--speed", type=float, default=300.0, help="market s per wall s")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sigkill.json")
    parser.add_argument(
        "--points",
        nargs="+",
        choices=[*POINTS, ANYWHERE],
        default=list(POINTS),
        help=f"kill points (the seven named ones; {ANYWHERE!r}: a random instant)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the 'anywhere' instants")
    parser.add_argument(
        "--keep", type=Path, help="copy the journal and exchange state of each difference here"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="garrison-sigkill-") as tmp:
        figures = asyncio.run(
            run_sigkill(
                exchange=args.exchange,
                times=args.times,
                speed=args.speed,
                work_dir=Path(tmp),
                points=tuple(args.points),
                keep=args.keep,
                seed=args.seed,
            )
        )
    out = {"sigkill": figures, "exchange": args.exchange, "times": args.times}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in figures.items() if k != "details"}, indent=1))
    ok = not (figures["duplicates"] or figures["unprotected"] or figures["lost_rows"])
    return 0 if ok and figures["kills"] else 1


if __name__ == "__main__":
    sys.exit(main())
