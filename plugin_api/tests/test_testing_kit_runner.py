"""run_strategy's fill rules, vetoes and checks, with scripted strategies on made-up bars."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import attrs
import pytest
from garrison_api import (
    Candle,
    ExitReason,
    IndicatorSpec,
    Side,
    Signal,
    SignalKind,
    StrategyContext,
)
from garrison_api.testing import run_strategy

STEP = 300_000


@attrs.frozen
class NoParams:
    pass


class Scripted:
    """Emits the signals given for each (symbol, bar index); remembers what it saw."""

    Params: ClassVar[type] = NoParams
    warmup = 0
    indicators: Mapping[str, IndicatorSpec] = {}

    def __init__(
        self,
        script: dict[tuple[str, int], list[Signal]],
        timeframes: tuple[str, ...] = (),
    ) -> None:
        self.script = script
        self.timeframes = timeframes
        self.seen: list[tuple[str, int, bool]] = []

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        self.seen.append((candle.symbol, candle.ts // STEP, ctx.position(candle.symbol) is None))
        return self.script.get((candle.symbol, candle.ts // STEP), [])


def bar(i: int, o: float, h: float, low: float, c: float, symbol: str = "AUSDT") -> Candle:
    return Candle(symbol, "5m", i * STEP, o, h, low, c, 1.0)


def entry(
    i: int,
    side: Side = Side.LONG,
    *,
    at: float = 100.0,
    stop: float | None = None,
    take: float | None = None,
    from_fill: bool = False,
    symbol: str = "AUSDT",
) -> Signal:
    return Signal(
        symbol,
        i * STEP,
        side,
        entry=at,
        stop=stop,
        take_profit=take,
        bracket_from_fill=from_fill,
    )


def exit_(i: int, side: Side = Side.LONG, symbol: str = "AUSDT") -> Signal:
    return Signal(symbol, i * STEP, side, kind=SignalKind.EXIT, entry=100.0)


FLAT = [bar(i, 100.0, 101.0, 99.0, 100.0) for i in range(6)]


def test_market_entry_and_exit_fill_at_the_next_open() -> None:
    candles = [
        bar(0, 100, 101, 99, 100),
        bar(1, 102, 103, 101, 102),
        bar(2, 104, 105, 103, 104),
        bar(3, 106, 107, 105, 106),
    ]
    result = run_strategy(Scripted({("AUSDT", 0): [entry(0)], ("AUSDT", 2): [exit_(2)]}), candles)
    (trade,) = result.trades
    assert (trade.entry_ts, trade.entry_price) == (1 * STEP, 102.0)
    assert (trade.exit_ts, trade.exit_price, trade.exit_reason) == (
        3 * STEP,
        106.0,
        ExitReason.SIGNAL,
    )
    assert trade.pnl == 4.0
    assert trade.qty == 1.0
    assert trade.r_multiple is None  # no stop, no risk to measure against
    assert [(f.ts, f.price, f.reduce_only, f.reason) for f in result.fills] == [
        (1 * STEP, 102.0, False, "entry"),
        (3 * STEP, 106.0, True, "signal"),
    ]
    assert result.signals == (entry(0), exit_(2))


def test_bracket_from_fill_keeps_the_distance_from_the_fill() -> None:
    candles = [*FLAT[:1], bar(1, 110, 111, 108.5, 110), bar(2, 110, 111, 107.9, 110)]
    script = {("AUSDT", 0): [entry(0, at=100.0, stop=98.0, from_fill=True)]}
    (trade,) = run_strategy(Scripted(script), candles).trades
    # fill 110, stop re-anchored at 108: bar 1 (low 108.5) misses, bar 2 (low 107.9) hits
    assert (trade.exit_ts, trade.exit_price, trade.exit_reason) == (
        2 * STEP,
        108.0,
        ExitReason.STOP,
    )
    assert trade.r_multiple == pytest.approx(-1.0)


def test_a_fixed_stop_stays_where_it_was() -> None:
    candles = [*FLAT[:1], bar(1, 110, 111, 97.5, 98)]
    script = {("AUSDT", 0): [entry(0, at=100.0, stop=98.0)]}
    (trade,) = run_strategy(Scripted(script), candles).trades
    assert (trade.exit_ts, trade.exit_price) == (1 * STEP, 98.0)


@pytest.mark.parametrize(
    ("side", "exit_bar", "price", "reason"),
    [
        # long: stop 98, take 104
        (Side.LONG, bar(2, 100, 101, 97, 99), 98.0, ExitReason.STOP),
        (Side.LONG, bar(2, 96, 97, 95, 96), 96.0, ExitReason.STOP),  # gapped below the stop
        (Side.LONG, bar(2, 100, 105, 99, 104), 104.0, ExitReason.TAKE_PROFIT),
        (Side.LONG, bar(2, 106, 107, 105, 106), 106.0, ExitReason.TAKE_PROFIT),  # gapped above
        (Side.LONG, bar(2, 100, 105, 97, 100), 98.0, ExitReason.STOP),  # both: stop first
        # short: stop 102, take 96
        (Side.SHORT, bar(2, 100, 103, 99, 101), 102.0, ExitReason.STOP),
        (Side.SHORT, bar(2, 104, 105, 103, 104), 104.0, ExitReason.STOP),
        (Side.SHORT, bar(2, 100, 101, 95, 96), 96.0, ExitReason.TAKE_PROFIT),
        (Side.SHORT, bar(2, 94, 95, 93, 94), 94.0, ExitReason.TAKE_PROFIT),
        (Side.SHORT, bar(2, 100, 103, 95, 100), 102.0, ExitReason.STOP),
    ],
)
def test_stops_and_take_profits_intrabar_and_on_gaps(
    side: Side, exit_bar: Candle, price: float, reason: ExitReason
) -> None:
    stop, take = (98.0, 104.0) if side is Side.LONG else (102.0, 96.0)
    script = {("AUSDT", 0): [entry(0, side, stop=stop, take=take)]}
    candles = [FLAT[0], bar(1, 100, 101, 99, 100), exit_bar]
    (trade,) = run_strategy(Scripted(script), candles).trades
    assert (trade.exit_ts, trade.exit_price, trade.exit_reason) == (2 * STEP, price, reason)
    assert trade.side is side


def test_stop_rests_on_the_entry_bar() -> None:
    candles = [FLAT[0], bar(1, 100, 101, 97, 99)]
    (trade,) = run_strategy(Scripted({("AUSDT", 0): [entry(0, stop=98.0)]}), candles).trades
    assert (trade.entry_ts, trade.exit_ts, trade.exit_price) == (STEP, STEP, 98.0)


def test_the_strategy_sees_the_stop_out_before_it_decides() -> None:
    candles = [FLAT[0], bar(1, 100, 101, 97, 99), bar(2, 99, 100, 98, 99)]
    script = {("AUSDT", 0): [entry(0, stop=98.0)], ("AUSDT", 1): [entry(1, Side.SHORT)]}
    strategy = Scripted(script)
    result = run_strategy(strategy, candles)
    assert strategy.seen[1] == ("AUSDT", 1, True)  # flat at the close of the stop-out bar
    assert result.vetoes == ()
    (position,) = result.open_positions
    assert (position.side, position.entry_ts) == (Side.SHORT, 2 * STEP)


def test_vetoes_record_what_the_runner_refused() -> None:
    script = {
        ("AUSDT", 0): [entry(0), entry(0, Side.SHORT), exit_(0)],
        ("AUSDT", 2): [entry(2), exit_(2, Side.SHORT), exit_(2), exit_(2)],
    }
    result = run_strategy(Scripted(script), FLAT)
    assert [(v.signal.ts // STEP, v.reason) for v in result.vetoes] == [
        (0, "entry pending"),
        (0, "no position"),
        (2, "position open"),
        (2, "position is long"),
        (2, "exit pending"),
    ]
    assert len(result.signals) == 7
    assert len(result.trades) == 1


def test_an_open_position_at_the_end_is_not_a_trade() -> None:
    result = run_strategy(Scripted({("AUSDT", 0): [entry(0)]}), FLAT)
    assert result.trades == ()
    assert [p.entry_ts for p in result.open_positions] == [STEP]


def test_symbols_merge_by_ts_then_symbol() -> None:
    a = [bar(i, 100, 101, 99, 100, "AUSDT") for i in range(3)]
    b = [bar(i, 100, 101, 99, 100, "BUSDT") for i in range(3)]
    strategy = Scripted({})
    run_strategy(strategy, [*b, *a])
    assert [(s, i) for s, i, _ in strategy.seen] == [
        ("AUSDT", 0),
        ("BUSDT", 0),
        ("AUSDT", 1),
        ("BUSDT", 1),
        ("AUSDT", 2),
        ("BUSDT", 2),
    ]


def test_positions_are_per_symbol() -> None:
    a = [bar(i, 100, 101, 99, 100, "AUSDT") for i in range(3)]
    b = [bar(i, 50, 51, 49, 50, "BUSDT") for i in range(3)]
    script = {
        ("AUSDT", 0): [entry(0)],
        ("BUSDT", 0): [entry(0, Side.SHORT, symbol="BUSDT")],
        ("BUSDT", 1): [exit_(1, Side.SHORT, "BUSDT")],
    }
    result = run_strategy(Scripted(script), [*a, *b])
    (trade,) = result.trades
    assert (trade.symbol, trade.side, trade.entry_price, trade.exit_price) == (
        "BUSDT",
        Side.SHORT,
        50.0,
        50.0,
    )
    assert [p.symbol for p in result.open_positions] == ["AUSDT"]


def test_declared_timeframes_filter_the_feed() -> None:
    hourly = [attrs.evolve(c, timeframe="1h", symbol="HUSDT") for c in FLAT]
    strategy = Scripted({}, timeframes=("1h",))
    run_strategy(strategy, [*FLAT, *hourly])
    assert {s for s, _, _ in strategy.seen} == {"HUSDT"}
    with pytest.raises(ValueError, match=r"wants timeframes \['4h'\] but the candles are \['5m'\]"):
        run_strategy(Scripted({}, timeframes=("4h",)), FLAT)


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match=r"AUSDT: two candles at ts 300000 \(5m\)"):
        run_strategy(Scripted({}), [*FLAT, FLAT[1]])
    with pytest.raises(TypeError, match=r"candles must be garrison_api\.Candle values"):
        run_strategy(Scripted({}), [(0, 1, 2)])  # type: ignore[list-item]


class Returns:
    Params: ClassVar[type] = NoParams
    warmup = 0
    timeframes: tuple[str, ...] = ()
    indicators: Mapping[str, IndicatorSpec] = {}

    def __init__(self, value: object) -> None:
        self.value = value

    def on_candle(self, candle: Candle, ctx: StrategyContext) -> Sequence[Signal]:
        return self.value  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, r"on_candle\(AUSDT 5m @ 0\) must return a Sequence of Signal, got None"),
        ("long", "must return a Sequence of Signal, got 'long'"),
        (["long"], "returned 'long', which is not a garrison_api.Signal"),
        ([Signal("AUSDT", 0, "long")], "with a side or kind that is not the enum"),  # type: ignore[arg-type]
    ],
)
def test_bad_strategy_output_is_refused_naming_the_candle(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        run_strategy(Returns(value), FLAT)


def test_bracket_from_fill_needs_an_entry_price() -> None:
    signal = Signal("AUSDT", 0, Side.LONG, stop=98.0, bracket_from_fill=True)
    with pytest.raises(ValueError, match="asks for bracket_from_fill but has no entry price"):
        run_strategy(Scripted({("AUSDT", 0): [signal]}), FLAT)
