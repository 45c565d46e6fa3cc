"""The warm-up rule in replays: a window that starts at a date starts warm.

A backtest with ``--from`` loads each series' warm-up bars before the window
(the strategies' ``warmup`` and their indicators' own), as freqtrade loads its
startup candles: the indicators of the window's first bar are those of a run
over all the data, and the strategy is asked about that first bar already.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import attrs
from garrison.engine.run import RunResult
from garrison.engine.sources import DataSelection
from garrison.plugins import PluginSet
from garrison.profile.dates import iso_to_ms
from garrison_api import Candle, Highest, IndicatorSpec, Lowest, Signal, Sma, StrategyContext

Seen = tuple[int, float, float, float, int]


@attrs.frozen
class NoParams:
    """No settings."""


def recorder(seen: list[Seen]) -> type:
    class Recorder:
        Params: ClassVar[type] = NoParams
        warmup = 30
        timeframes = ("5m",)
        indicators: Mapping[str, IndicatorSpec] = {
            "high": Highest("high", 20, offset=1),
            "low": Lowest("low", 30),
            "sma": Sma("close", 25),
        }

        def __init__(self, params: NoParams) -> None:
            self.params = params

        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
            values = ctx.indicators(candle.symbol)
            history = ctx.candles(candle.symbol, "5m", 30)
            seen.append((candle.ts, values["high"], values["low"], values["sma"], len(history)))
            return ()

    return Recorder


def profile(use: str) -> str:
    return (
        '[profile]\nname = "warmup"\nmode = "replay"\n'
        '[data]\nsource = "csv"\npaths = ["unused/*.csv"]\n'
        '[journal]\npath = "journal.sqlite"\n'
        f'[[strategies]]\nuse = "{use}"\n'
        '[sizer]\nuse = "fixed_risk"\n'
    )


def test_a_window_from_a_date_starts_with_warm_indicators(
    bybit_5m: dict[str, Path],
    write_profile: Callable[..., Path],
    plugins: PluginSet,
    run_replay: Callable[..., RunResult],
    tmp_path: Path,
) -> None:
    full: list[Seen] = []
    windowed: list[Seen] = []
    registry = plugins.registry.for_plugin("test")
    registry.add_strategy("full", recorder(full))
    registry.add_strategy("windowed", recorder(windowed))
    btc = (str(bybit_5m["BTCUSDT"]),)
    run_replay(
        write_profile(profile("full"), "full.toml"),
        plugins,
        DataSelection(btc, end="2025-10-03"),
        tmp_path / "full.sqlite",
    )
    run_replay(
        write_profile(profile("windowed"), "windowed.toml"),
        plugins,
        DataSelection(btc, "2025-10-02", "2025-10-03"),
        tmp_path / "windowed.sqlite",
    )
    start = iso_to_ms("2025-10-02")
    assert windowed[0][0] == start  # asked about the window's very first bar
    assert windowed[0][4] == 30  # and able to read its warm-up candles
    assert windowed == [s for s in full if s[0] >= start]
