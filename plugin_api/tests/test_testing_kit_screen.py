"""check_screen passes an honest screen and catches unsound, peeking and malformed ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest
from garrison_api import (
    Atr,
    Candle,
    Columns,
    Highest,
    IndicatorSpec,
    Lowest,
    ScreenedStrategy,
    Side,
    Signal,
    SignalKind,
    StrategyContext,
)
from garrison_api.testing import (
    check_screen,
    random_walk,
    run_strategy,
    screen_of,
    series_columns,
)


@attrs.frozen
class NoParams:
    pass


CANDLES = random_walk("AUSDT", 900, 1) + random_walk("BUSDT", 900, 2)


class Channel:
    """Enters on a 20-bar breakout when flat, exits on a 10-bar one; an honest screen."""

    Params: ClassVar[type] = NoParams
    warmup = 20
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {
        "hi20": Highest("high", 20, offset=1),
        "lo20": Lowest("low", 20, offset=1),
        "hi10": Highest("high", 10, offset=1),
        "lo10": Lowest("low", 10, offset=1),
        "atr": Atr(20),
    }

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        v = ctx.indicators(candle.symbol)
        held = ctx.position(candle.symbol)
        close = candle.close
        if held is None:
            if close > v["hi20"]:
                stop = close - 2 * v["atr"]
                return (Signal(candle.symbol, candle.ts, Side.LONG, entry=close, stop=stop),)
            return ()
        if held.side is Side.LONG and close < v["lo10"]:
            return (Signal(candle.symbol, candle.ts, Side.LONG, SignalKind.EXIT, entry=close),)
        if held.side is Side.SHORT and close > v["hi10"]:
            return (Signal(candle.symbol, candle.ts, Side.SHORT, SignalKind.EXIT, entry=close),)
        return ()

    def screen(self, columns: Columns) -> Any:
        close = columns["close"]
        return (close > columns["hi20"]) | (close < columns["lo10"]) | (close > columns["hi10"])


class ForgetsExits(Channel):
    """Unsound: screens in entries only, so exits of a held position are screened out."""

    def screen(self, columns: Columns) -> Any:
        return columns["close"] > columns["hi20"]


class Peeks(Channel):
    """Not causal: flags a bar when the NEXT close breaks out (and everything else)."""

    def screen(self, columns: Columns) -> Any:
        close = columns["close"]
        ahead = np.roll(close, -1) > close * 1.002
        return super().screen(columns) | ahead


class WrongShape(Channel):
    def screen(self, columns: Columns) -> Any:
        return np.ones(5, dtype=np.bool_)


def test_the_protocol_recognises_a_screened_strategy() -> None:
    assert isinstance(Channel(), ScreenedStrategy)


def test_an_honest_screen_passes_and_skips_most_bars() -> None:
    report = check_screen(Channel, CANDLES)
    assert report.ok, report.describe()
    assert report.bars == len(CANDLES)
    assert 0 < report.flagged < report.bars / 2
    assert report.describe().endswith("sound, causal and same decisions")


def test_run_strategy_with_the_screen_decides_the_same() -> None:
    plain = run_strategy(Channel(), CANDLES)
    screened = run_strategy(Channel(), CANDLES, screen=True)
    assert plain.signals == screened.signals
    assert plain.trades == screened.trades
    assert len(plain.trades) > 5


def test_an_unsound_screen_is_caught_with_the_bar_it_hid() -> None:
    report = check_screen(ForgetsExits, CANDLES)
    assert not report.ok
    assert any("always long" in p and "is screened out" in p for p in report.problems)
    assert any("other trades with the screen" in p for p in report.problems)
    assert "problem(s)" in report.describe()


def test_a_screen_reading_later_bars_is_caught() -> None:
    report = check_screen(Peeks, CANDLES, cutoffs=4)
    assert not report.ok
    assert any("reads later bars" in p for p in report.problems)


def test_a_malformed_screen_or_none_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"WrongShape.screen returned bool of shape \(5,\)"):
        check_screen(WrongShape, CANDLES)

    class Unscreened:
        Params: ClassVar[type] = NoParams
        warmup = 0
        timeframes: tuple[str, ...] = ()
        indicators: Mapping[str, IndicatorSpec] = {}

        def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
            return ()

    with pytest.raises(ValueError, match="Unscreened declares no screen"):
        check_screen(Unscreened, CANDLES)
    with pytest.raises(ValueError, match="declares no screen"):
        run_strategy(Unscreened(), CANDLES, screen=True)
    with pytest.raises(ValueError, match="check_screen needs candles"):
        check_screen(Channel, [])


def test_series_columns_are_what_a_host_hands_the_screen() -> None:
    a = [c for c in CANDLES if c.symbol == "AUSDT"]
    columns = series_columns(a, Channel())
    assert set(columns) == {"ts", "open", "high", "low", "close", "volume", *Channel.indicators}
    assert columns["ts"].tolist() == [float(c.ts) for c in a]
    assert columns["close"].tolist() == [c.close for c in a]
    assert np.isnan(columns["hi20"][19])
    assert columns["hi20"][20] == max(c.high for c in a[:20])
    assert screen_of(Channel(), a).shape == (len(a),)
