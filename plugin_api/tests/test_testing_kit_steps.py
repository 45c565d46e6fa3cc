"""run_strategy's step semantics with several timeframes, on hand-made candles.

A step is every bar closing at one instant; each symbol's finest timeframe
executes (fills, stops), coarser ones only inform; the step books every
execution bar first, then decides longer timeframes first, then symbols in
order, each series only once ``warmup`` earlier bars of it have closed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
import pytest
from garrison_api import (
    Candle,
    ExitReason,
    IndicatorSpec,
    Side,
    Signal,
    SignalKind,
    Sma,
    StrategyContext,
)
from garrison_api.testing import StubServices, run_strategy, timeframe_ms

M5 = 300_000
M15 = 3 * M5
H4 = 48 * M5


@attrs.frozen
class NoParams:
    pass


def bar(
    i: int,
    o: float = 100.0,
    h: float = 101.0,
    low: float = 99.0,
    c: float = 100.0,
    *,
    symbol: str = "AUSDT",
    timeframe: str = "5m",
) -> Candle:
    """Bar ``i`` of its timeframe (opens at i timeframes after the epoch)."""
    return Candle(symbol, timeframe, i * timeframe_ms(timeframe), o, h, low, c, 1.0)


def flat(count: int, symbol: str = "AUSDT", timeframe: str = "5m") -> list[Candle]:
    return [bar(i, symbol=symbol, timeframe=timeframe) for i in range(count)]


def entry(ts: int, side: Side = Side.LONG, *, stop: float | None = None, **kw: Any) -> Signal:
    return Signal(kw.pop("symbol", "AUSDT"), ts, side, entry=100.0, stop=stop, **kw)


class Recorder:
    """Records every call as (symbol, timeframe, ts, flat?); emits scripted signals.

    The script maps (symbol, timeframe, ts) to signals; ``probe`` is called
    with each candle and the context to let a test look at what it sees.
    """

    Params: ClassVar[type] = NoParams

    def __init__(
        self,
        script: Mapping[tuple[str, str, int], list[Signal]] | None = None,
        *,
        timeframes: tuple[str, ...] = (),
        context: Mapping[str, Mapping[str, IndicatorSpec]] | None = None,
        indicators: Mapping[str, IndicatorSpec] | None = None,
        warmup: int = 0,
        probe: Any = None,
    ) -> None:
        self.script = dict(script or {})
        self.timeframes: tuple[str, ...] = timeframes
        self.indicators: Mapping[str, IndicatorSpec] = dict(indicators or {})
        if context is not None:
            self.context_indicators = context
        self.warmup = warmup
        self.probe = probe
        self.seen: list[tuple[str, str, int, bool]] = []

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        flat_now = ctx.position(candle.symbol) is None
        self.seen.append((candle.symbol, candle.timeframe, candle.ts, flat_now))
        if self.probe is not None:
            self.probe(candle, ctx)
        return self.script.get((candle.symbol, candle.timeframe, candle.ts), [])


# -- execution series ---------------------------------------------------------


def four_hours_with_an_early_wick() -> list[Candle]:
    """60 quiet 5m bars, bar 2 wicking to 90, and the 4h bar over the first 48 of them."""
    five = flat(60)
    five[2] = bar(2, low=90.0)
    return [*five, bar(0, low=90.0, timeframe="4h")]


@pytest.mark.parametrize(
    "strategy",
    [
        lambda script: Recorder(script, timeframes=("5m",), context={"4h": {}}),
        lambda script: Recorder(script),  # decides on 5m and 4h alike
    ],
)
def test_a_4h_bar_that_opened_before_a_5m_entry_cannot_stop_it_out(strategy: Any) -> None:
    script = {("AUSDT", "5m", 5 * M5): [entry(5 * M5, stop=95.0)]}
    result = run_strategy(strategy(script), four_hours_with_an_early_wick())
    # The 4h bar (low 90, closing at bar 48) is context: only 5m bars book the stop.
    assert result.trades == ()
    (position,) = result.open_positions
    assert (position.entry_ts, position.entry_price, position.stop) == (6 * M5, 100.0, 95.0)
    # The same trade as on the 5m candles alone, with the strategy narrowed to 5m.
    five_only = [c for c in four_hours_with_an_early_wick() if c.timeframe == "5m"]
    alone = run_strategy(Recorder(script, timeframes=("5m",)), five_only)
    assert alone.fills == result.fills
    assert alone.open_positions == result.open_positions


def test_stops_are_booked_on_the_execution_series_only() -> None:
    candles = [*flat(60), bar(0, timeframe="4h")]
    candles[20] = bar(20, low=94.0)  # a 5m bar after the entry does stop it out
    script = {("AUSDT", "5m", 5 * M5): [entry(5 * M5, stop=95.0)]}
    (trade,) = run_strategy(Recorder(script), candles).trades
    assert (trade.exit_ts, trade.exit_price, trade.exit_reason) == (20 * M5, 95.0, ExitReason.STOP)


def test_a_decision_on_any_timeframe_fills_at_the_next_execution_open() -> None:
    five = [bar(i, o=100.0 + i) for i in range(12)]  # opens 100, 101, 102...
    fifteen = [bar(i, timeframe="15m") for i in range(4)]
    # 15m bar 0 closes at 3 x 5m: the order fills at the open of 5m bar 3.
    script = {("AUSDT", "15m", 0): [entry(0)], ("AUSDT", "15m", M15): [entry(M15, Side.SHORT)]}
    result = run_strategy(Recorder(script), [*fifteen, *five])
    assert [(f.ts, f.price, f.reason) for f in result.fills] == [(3 * M5, 103.0, "entry")]
    assert [v.reason for v in result.vetoes] == ["position open"]


def test_the_finest_timeframe_executes_even_when_the_strategy_ignores_it() -> None:
    five = [bar(i, o=100.0 + i) for i in range(12)]
    fifteen = [bar(i, timeframe="15m") for i in range(4)]
    strategy = Recorder({("AUSDT", "15m", 0): [entry(0)]}, timeframes=("15m",))
    result = run_strategy(strategy, [*five, *fifteen])
    assert {tf for _, tf, _, _ in strategy.seen} == {"15m"}
    assert [(f.ts, f.price) for f in result.fills] == [(3 * M5, 103.0)]


# -- order within a step ------------------------------------------------------


def test_decisions_go_longer_timeframe_first_then_by_symbol() -> None:
    candles = [
        *flat(6, "BUSDT"),
        *flat(6, "AUSDT"),
        *flat(2, "BUSDT", "15m"),
        *flat(2, "AUSDT", "15m"),
    ]
    strategy = Recorder()
    run_strategy(strategy, candles)
    calls = [(s, tf, ts // M5) for s, tf, ts, _ in strategy.seen]
    assert calls == [
        ("AUSDT", "5m", 0),
        ("BUSDT", "5m", 0),
        ("AUSDT", "5m", 1),
        ("BUSDT", "5m", 1),
        # the step closing at 15 minutes: the 15m bars first
        ("AUSDT", "15m", 0),
        ("BUSDT", "15m", 0),
        ("AUSDT", "5m", 2),
        ("BUSDT", "5m", 2),
        ("AUSDT", "5m", 3),
        ("BUSDT", "5m", 3),
        ("AUSDT", "5m", 4),
        ("BUSDT", "5m", 4),
        ("AUSDT", "15m", 3),
        ("BUSDT", "15m", 3),
        ("AUSDT", "5m", 5),
        ("BUSDT", "5m", 5),
    ]


def test_a_longer_timeframe_decides_first_and_wins_the_symbol() -> None:
    candles = [*flat(6), *flat(2, timeframe="15m")]
    script = {
        ("AUSDT", "15m", 0): [entry(0, reason="15m")],
        ("AUSDT", "5m", 2 * M5): [entry(2 * M5, reason="5m")],
    }
    result = run_strategy(Recorder(script), candles)
    assert [s.reason for s in result.signals] == ["15m", "5m"]
    assert [(v.signal.reason, v.reason) for v in result.vetoes] == [("5m", "entry pending")]


def test_every_symbol_is_booked_before_any_decides() -> None:
    a = flat(4, "AUSDT")
    b = flat(4, "BUSDT")
    b[2] = bar(2, low=90.0, symbol="BUSDT")  # stops BUSDT out in the step closing at 3 bars
    seen: list[tuple[int, bool]] = []

    def probe(candle: Candle, ctx: StrategyContext) -> None:
        if candle.symbol == "AUSDT":
            seen.append((candle.ts // M5, ctx.position("BUSDT") is None))

    script = {("BUSDT", "5m", 0): [entry(0, stop=95.0, symbol="BUSDT")]}
    result = run_strategy(Recorder(script, probe=probe), [*a, *b])
    assert [t.exit_ts for t in result.trades] == [2 * M5]
    # AUSDT sorts first, yet at bar 2 it already sees BUSDT flat again.
    assert seen == [(0, True), (1, False), (2, True), (3, True)]


def test_steps_go_in_close_time_order_across_timeframes() -> None:
    hourly_like = [bar(0, symbol="HUSDT", timeframe="4h")]
    strategy = Recorder()
    run_strategy(strategy, [*hourly_like, *flat(50, "AUSDT")])
    calls = [(s, ts // M5) for s, _, ts, _ in strategy.seen]
    # the 4h bar opened at 0 but closes with 5m bar 47: it is decided in that step
    assert calls.index(("HUSDT", 0)) == calls.index(("AUSDT", 47)) - 1
    assert strategy.seen[calls.index(("HUSDT", 0))][1] == "4h"


# -- warm-up ------------------------------------------------------------------


def test_on_candle_waits_for_warmup_closed_bars_of_each_series() -> None:
    strategy = Recorder(warmup=2)
    run_strategy(strategy, [*flat(12), *flat(4, timeframe="15m")])
    five = [ts // M5 for _, tf, ts, _ in strategy.seen if tf == "5m"]
    fifteen = [ts // M15 for _, tf, ts, _ in strategy.seen if tf == "15m"]
    assert five == list(range(2, 12))
    assert fifteen == [2, 3]


def test_warmup_zero_decides_on_the_first_bar() -> None:
    strategy = Recorder()
    run_strategy(strategy, flat(2))
    assert [ts for _, _, ts, _ in strategy.seen] == [0, M5]


# -- what the strategy reads --------------------------------------------------


def test_context_reads_the_last_closed_bar_of_each_series() -> None:
    five = [bar(i, c=100.0 + i) for i in range(12)]
    fifteen = [bar(i, c=200.0 + i, timeframe="15m") for i in range(4)]
    seen: dict[int, tuple[Any, ...]] = {}

    def probe(candle: Candle, ctx: StrategyContext) -> None:
        last = ctx.candles("AUSDT", "15m", 2)
        seen[candle.ts // M5] = (
            [c.close for c in last],
            ctx.indicators("AUSDT")["sma"],
            ctx.indicators("AUSDT", "15m")["slow"],
            [c.close for c in ctx.candles("AUSDT", "5m", 2)],
        )

    strategy = Recorder(
        timeframes=("5m",),
        indicators={"sma": Sma("close", 2)},
        context={"15m": {"slow": Sma("close", 2)}},
        warmup=2,
        probe=probe,
    )
    run_strategy(strategy, [*five, *fifteen])
    # At 5m bar 2 (closing at 15 minutes) the 15m bar 0 has just closed: it is included.
    assert seen[2][0] == [200.0]
    assert seen[2][1] == pytest.approx(101.5)
    assert seen[2][2] != seen[2][2]  # nan: one 15m bar is not enough for Sma(2)
    assert seen[2][3] == [101.0, 102.0]
    assert seen[4][0] == [200.0]  # 15m bar 1 is still open at 5m bar 4
    assert seen[5] == ([200.0, 201.0], pytest.approx(104.5), pytest.approx(200.5), [104.0, 105.0])


def test_candles_refuses_more_than_warmup_and_unread_series() -> None:
    errors: list[str] = []

    def probe(candle: Candle, ctx: StrategyContext) -> None:
        for call in (
            lambda: ctx.candles("AUSDT", "5m", 4),
            lambda: ctx.candles("AUSDT", "5m", 0),
            lambda: ctx.candles("AUSDT", "1h", 1),
            lambda: ctx.indicators("AUSDT", "1h"),
        ):
            with pytest.raises((ValueError, KeyError)) as info:
                call()
            errors.append(f"{info.type.__name__}: {info.value}")
        assert len(ctx.candles("AUSDT", "5m", 3)) == 3

    strategy = Recorder(timeframes=("5m",), context={"15m": {}}, warmup=3, probe=probe)
    # 1h candles are given, but the strategy does not read them
    run_strategy(strategy, [*flat(4), *flat(1, timeframe="15m"), *flat(1, timeframe="1h")])
    assert errors[0].startswith("ValueError: ctx.candles('AUSDT', '5m', 4): n must be from 1 to 3")
    assert "warmup is 3" in errors[0]
    assert errors[1].startswith("ValueError: ctx.candles('AUSDT', '5m', 0)")
    assert errors[2].startswith("KeyError: ")
    assert "does not read 1h: the strategy decides on 5m" in errors[2]
    assert "reads 15m as context" in errors[2]
    assert errors[3].startswith("KeyError: ")
    assert "ctx.indicators('AUSDT', '1h')" in errors[3]


def test_candles_of_timeframes_nobody_reads_are_ignored() -> None:
    strategy = Recorder(timeframes=("15m",))
    hourly = [bar(0, timeframe="4h")]
    run_strategy(strategy, [*flat(60), *flat(20, timeframe="15m"), *hourly])
    assert {tf for _, tf, _, _ in strategy.seen} == {"15m"}


# -- signals that never trade, lifecycle, bad declarations --------------------


def test_a_phantom_only_signal_is_recorded_never_ordered_and_no_veto() -> None:
    phantom = entry(0, stop=95.0, execute=False, reason="phantom")
    real = entry(0, stop=95.0, reason="real")
    result = run_strategy(Recorder({("AUSDT", "5m", 0): [phantom, real]}), flat(3))
    assert result.signals == (phantom, real)
    assert result.phantom_only == (phantom,)
    assert result.vetoes == ()
    assert [f.reason for f in result.fills] == ["entry"]
    assert result.decided_on == (flat(1)[0], flat(1)[0])


def test_start_and_stop_frame_the_run_even_when_it_fails() -> None:
    calls: list[str] = []

    class Lifecycled(Recorder):
        def start(self, services: StubServices) -> None:
            calls.append(f"start {services.name} {services.mode} {services.clock.now_ms()}")
            services.storage.set("loaded", True)

        def stop(self) -> None:
            calls.append("stop")

    def probe(candle: Candle, ctx: StrategyContext) -> None:
        calls.append(f"candle {ctx.storage.get('loaded')}")
        if candle.ts == M5:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_strategy(Lifecycled(probe=probe), flat(3))
    assert calls == ["start Lifecycled replay 0", "candle True", "candle True", "stop"]


def test_bad_declarations_are_refused_clearly() -> None:
    candles = [*flat(6), *flat(2, timeframe="15m")]
    with pytest.raises(ValueError, match=r"AUSDT: the strategy reads 4h \(context_indicators\)"):
        run_strategy(Recorder(context={"4h": {}}), candles)
    with pytest.raises(ValueError, match="15m is both a decision timeframe"):
        run_strategy(Recorder(timeframes=("15m",), context={"15m": {}}), candles)
    with pytest.raises(ValueError, match="are all context timeframes"):
        run_strategy(Recorder(context={"5m": {}}), flat(3))
    with pytest.raises(ValueError, match=r"context_indicators: timeframe '4 hours'"):
        run_strategy(Recorder(context={"4 hours": {}}), candles)
    with pytest.raises(TypeError, match=r"context_indicators\['4h'\] must be a Mapping"):
        run_strategy(Recorder(context={"4h": [Sma("close", 3)]}), candles)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="warmup must be an int of 0 or more, got -1"):
        run_strategy(Recorder(warmup=-1), candles)
    with pytest.raises(ValueError, match=r"candles: timeframe '5x' is not a bar size"):
        run_strategy(Recorder(), [attrs.evolve(flat(1)[0], timeframe="5x")])


def test_exits_decided_on_a_longer_timeframe_fill_at_the_next_execution_open() -> None:
    five = [bar(i, o=100.0 + i) for i in range(9)]
    fifteen = [bar(i, timeframe="15m") for i in range(3)]
    script = {
        ("AUSDT", "5m", 0): [entry(0)],
        ("AUSDT", "15m", M15): [Signal("AUSDT", M15, Side.LONG, kind=SignalKind.EXIT, entry=100.0)],
    }
    (trade,) = run_strategy(Recorder(script), [*five, *fifteen]).trades
    # entry at 5m bar 1's open; the 15m exit decided at 6 x 5m fills at 5m bar 6's open
    assert (trade.entry_ts, trade.entry_price) == (M5, 101.0)
    assert (trade.exit_ts, trade.exit_price, trade.exit_reason) == (
        6 * M5,
        106.0,
        ExitReason.SIGNAL,
    )
