"""One step processor, two drivers: the replay driver and the step driver trade alike.

The step driver (``garrison.engine.driver``) is the path paper and live
trading take: a market feed yields steps, indicators are updated candle by
candle (talipp and our own incremental code), every strategy is called on
every bar, and every step settles. The replay driver reaches the same steps
through its fast paths (vectorised indicators, screens, skipped bars, settling
only when an equity estimate says it could matter). On the bundled real data,
with kill switches that fire, with a warm-up window before ``--from``, and with
a strategy reading 4h context while deciding on 5m, both must journal the
same signals and trades, the same halts and the same equity.
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from garrison.engine.run import RunError, RunResult, replay
from garrison.engine.sources import DataSelection
from garrison.plugins import PluginSet
from garrison.profile.load import load_profile

from .test_engine_api_1_1 import TrendBreakout

H4 = 4 * 3_600_000

DEMO_RISK = ""  # the host's default chain: it halts the demo on its 15 % drawdown limit
TIGHT_RISK = """
[[risk]]
use = "trading_state"
[[risk]]
use = "max_open_positions"
params = { limit = 3 }
[[risk]]
use = "daily_loss_limit"
params = { max_pct = 0.4 }
[[risk]]
use = "max_drawdown"
params = { max_pct = 4.0 }
"""


TURTLE = """
[[strategies]]
use = "turtle"
[strategies.params]
system = 2
entry_period = 96
exit_period = 48
stop_n = 4.0
"""


def profile_text(
    data: str, *, strategies: str = TURTLE, risk: str = "", name: str = "drivers"
) -> str:
    """The demo's account, broker and sizer over ``data`` (a glob), with these strategies."""
    return f"""
[profile]
name = "{name}"
mode = "replay"
exchange = "bybit"
[account]
starting_balance = 10_000.0
leverage = 5.0
[data]
source = "csv"
paths = ["{data}"]
[markets]
snapshot = "bybit_linear"
[broker]
slippage_bps = 2.0
taker_fee = 0.00055
maker_fee = 0.0002
[journal]
path = "journal.sqlite"
{strategies}
[sizer]
use = "fixed_risk"
[sizer.params]
risk_pct = 0.25
fee_rate = 0.00055
max_notional = 1000.0
{risk}
"""


def run_both(
    path: Path, plugins: PluginSet, tmp_path: Path, selection: DataSelection | None = None
) -> tuple[RunResult, RunResult]:
    profile = load_profile(path, plugins.registry)
    results = []
    for driver in ("replay", "steps"):
        results.append(
            asyncio.run(
                replay(
                    profile,
                    plugins,
                    selection=selection,
                    journal_path=tmp_path / f"{driver}.sqlite",
                    any_mode=True,
                    driver=driver,
                )
            )
        )
    return results[0], results[1]


def journaled(journal: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(journal)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


SIGNALS = "SELECT ts, symbol, side, kind, entry, stop FROM signals ORDER BY rowid"
EQUITY = "SELECT ts, balance, equity, open_positions FROM equity ORDER BY rowid"
ORDERS = "SELECT client_order_id, status, price, reason FROM orders ORDER BY rowid"


def assert_alike(fast: RunResult, steps: RunResult) -> None:
    assert steps.stats.strategy_calls >= fast.stats.strategy_calls  # no screens on that path
    assert steps.trades == fast.trades
    assert steps.halts == fast.halts
    assert steps.final_equity == fast.final_equity
    assert steps.final_balance == fast.final_balance
    assert (steps.max_drawdown, steps.max_drawdown_usdt) == (
        fast.max_drawdown,
        fast.max_drawdown_usdt,
    )
    for sql in (SIGNALS, EQUITY, ORDERS):
        assert journaled(steps.journal_path, sql) == journaled(fast.journal_path, sql)


@pytest.mark.parametrize("risk", [DEMO_RISK, TIGHT_RISK], ids=["demo-chain", "tight-limits"])
def test_both_drivers_trade_the_demo_data_alike(
    repo: Path, plugins: PluginSet, tmp_path: Path, risk: str
) -> None:
    data = (repo / "data" / "demo").as_posix() + "/bybit_*_5m.csv.gz"
    path = tmp_path / "profile.toml"
    path.write_text(profile_text(data, risk=risk), encoding="utf-8")
    fast, steps = run_both(path, plugins, tmp_path)
    assert len(fast.trades) > 100
    assert fast.halts  # the kill switches fire in both runs
    assert_alike(fast, steps)


def test_both_drivers_warm_up_before_from_alike(
    repo: Path, plugins: PluginSet, tmp_path: Path
) -> None:
    data = (repo / "data" / "demo").as_posix() + "/bybit_*_5m.csv.gz"
    path = tmp_path / "profile.toml"
    path.write_text(profile_text(data, risk=TIGHT_RISK), encoding="utf-8")
    # Mid-data: Turtle's 96-bar channels must be warm on the first bar of the window.
    window = DataSelection(start="2025-11-01", end="2025-12-01")
    fast, steps = run_both(path, plugins, tmp_path, window)
    assert fast.trades
    assert min(t.entry_ts for t in fast.trades) >= 1_761_955_200_000  # 2025-11-01 UTC
    assert_alike(fast, steps)


def four_hour_file(five_minute: Path, target: Path) -> None:
    """Whole 4h bars of a 5m file (open of the first, extremes, close of the last, volume)."""
    with gzip.open(five_minute, "rt", encoding="utf-8") as f:
        header, *lines = f.read().splitlines()
    bins: dict[int, list[list[float]]] = {}
    for line in lines:
        ts, o, h, lo, c, v = (float(x) for x in line.split(","))
        bins.setdefault(int(ts) // H4 * H4, []).append([ts, o, h, lo, c, v])
    rows = [header]
    for start, bars in sorted(bins.items()):
        if len(bars) != H4 // 300_000:
            continue  # a bar the 5m data does not cover whole
        rows.append(
            f"{start},{bars[0][1]!r},{max(b[2] for b in bars)!r},{min(b[3] for b in bars)!r},"
            f"{bars[-1][4]!r},{sum(b[5] for b in bars)!r}"
        )
    target.write_text("\n".join(rows) + "\n", encoding="utf-8")


CONTEXT_PROFILE = profile_text(
    "data/*", strategies='[[strategies]]\nuse = "trend_breakout"\n', name="drivers-context"
)


def test_both_drivers_trade_a_4h_context_strategy_alike(
    repo: Path, plugins: PluginSet, tmp_path: Path
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for symbol in ("BTCUSDT", "ETHUSDT"):
        five = repo / "data" / "demo" / f"bybit_{symbol}_5m.csv.gz"
        shutil.copy(five, folder / five.name)
        four_hour_file(five, folder / f"bybit_{symbol}_4h.csv")
    plugins.registry.for_plugin("test").add_strategy("trend_breakout", TrendBreakout)
    path = tmp_path / "profile.toml"
    path.write_text(CONTEXT_PROFILE, encoding="utf-8")
    fast, steps = run_both(path, plugins, tmp_path)
    assert len(fast.trades) > 20
    assert {t.symbol for t in fast.trades} == {"BTCUSDT", "ETHUSDT"}
    assert all(t.exit_ts >= t.entry_ts for t in fast.trades)
    assert_alike(fast, steps)


def test_the_step_driver_does_not_resume(repo: Path, plugins: PluginSet, tmp_path: Path) -> None:
    data = (repo / "data" / "demo").as_posix() + "/bybit_BTCUSDT_5m.csv.gz"
    path = tmp_path / "profile.toml"
    path.write_text(profile_text(data), encoding="utf-8")
    profile = load_profile(path, plugins.registry)
    with pytest.raises(RunError, match="replay driver"):
        asyncio.run(replay(profile, plugins, any_mode=True, resume=True, driver="steps"))
    with pytest.raises(RunError, match="'replay' or 'steps'"):
        asyncio.run(replay(profile, plugins, any_mode=True, driver="fast"))
