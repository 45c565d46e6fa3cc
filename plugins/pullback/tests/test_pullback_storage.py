"""Setups survive a restart through the strategy's storage, and end when the trade does."""

from __future__ import annotations

from garrison_api import Candle, ExitReason, Outcome, Position, Side, Signal
from garrison_api.testing import MemoryStore, StubContext, StubServices, same
from garrison_pullback import PullbackParams, PullbackStrategy

from .paths import LONG_SIGNAL_PATH, SYMBOL, TIMEFRAME, candles, filler

PARAMS = PullbackParams(ema_len=20)
PATH = candles(filler() + LONG_SIGNAL_PATH)
PULLBACK_AT = len(PATH) - 3  # the bar that enters the zone


def started(store: MemoryStore, mode: str, params: PullbackParams = PARAMS) -> PullbackStrategy:
    strategy = PullbackStrategy(params)
    strategy.start(StubServices("pullback", mode=mode, storage=store))
    return strategy


def drive(strategy: PullbackStrategy, ctx: StubContext, bars: list[Candle]) -> list[Signal]:
    out: list[Signal] = []
    for candle in bars:
        ctx.push(candle)
        if ctx.bars_seen(candle.symbol, candle.timeframe) > strategy.warmup:
            out.extend(strategy.on_candle(candle, ctx))
    return out


def uninterrupted() -> list[Signal]:
    strategy = PullbackStrategy(PARAMS)
    return drive(strategy, StubContext.for_strategy(strategy), PATH)


def test_a_live_setup_survives_a_kill() -> None:
    store = MemoryStore()
    first = started(store, "live")
    ctx = StubContext.for_strategy(first)
    assert drive(first, ctx, PATH[: PULLBACK_AT + 1]) == []
    assert first.setup_phase(SYMBOL, TIMEFRAME) == "pullback_up"
    # Killed: no stop(). Each change was saved as it happened.
    second = started(store, "live")
    signals = drive(second, ctx, PATH[PULLBACK_AT + 1 :])
    assert same(signals, uninterrupted())
    assert len(signals) == 1
    assert ctx.events == []


def test_a_replay_saves_at_stop_and_the_next_run_carries_on() -> None:
    store = MemoryStore()
    first = started(store, "replay")
    ctx = StubContext.for_strategy(first)
    drive(first, ctx, PATH[: PULLBACK_AT + 1])
    assert store.get("books") is None  # nothing written while replaying
    assert store.get("seen") is None
    first.stop()
    assert store.get("books") == [f"book/{SYMBOL}/{TIMEFRAME}"]
    assert store.get("seen") == {TIMEFRAME: PATH[PULLBACK_AT].ts}
    second = started(store, "replay")
    assert same(drive(second, ctx, PATH[PULLBACK_AT + 1 :]), uninterrupted())


def test_a_saved_setup_is_not_used_after_a_gap() -> None:
    store = MemoryStore()
    first = started(store, "live")
    ctx = StubContext.for_strategy(first)
    drive(first, ctx, PATH[: PULLBACK_AT + 1])
    second = started(store, "live")
    # One bar is missing: the saved setup does not describe the market any more.
    signals = drive(second, ctx, PATH[PULLBACK_AT + 2 :])
    assert signals == []
    assert [e.kind for e in ctx.events] == ["pullback.state_discarded"]
    assert "does not follow it" in ctx.events[0].message
    assert "15m" in ctx.events[0].message
    # Started afresh: the bar it sees closes above the 101 zone, a new breakout.
    assert second.setup_phase(SYMBOL, TIMEFRAME) == "broken_up"


def test_the_outcome_of_its_signal_frees_the_symbol() -> None:
    strategy = PullbackStrategy(PARAMS)
    ctx = StubContext.for_strategy(strategy)
    (signal,) = drive(strategy, ctx, PATH)
    assert strategy.setup_phase(SYMBOL, TIMEFRAME) == "in_trade"
    other = Signal(SYMBOL, signal.ts - 1, Side.LONG, entry=1.0, stop=0.5)
    strategy.on_outcome(Outcome(other, "pullback", -1.0, ExitReason.STOP, signal.ts, True))
    assert strategy.setup_phase(SYMBOL, TIMEFRAME) == "in_trade"  # not its signal
    strategy.on_outcome(Outcome(signal, "pullback", -1.0, ExitReason.STOP, signal.ts, True))
    assert strategy.setup_phase(SYMBOL, TIMEFRAME) == "neutral"


def test_a_closed_position_frees_the_symbol() -> None:
    strategy = PullbackStrategy(PARAMS)
    ctx = StubContext.for_strategy(strategy)
    (signal,) = drive(strategy, ctx, PATH)
    quiet = candles(filler(count=len(PATH) + 4))[len(PATH) :]
    held = Position(SYMBOL, Side.LONG, 1.0, signal.entry, quiet[0].ts, stop=signal.stop)
    ctx.set_position(SYMBOL, held)
    drive(strategy, ctx, quiet[:2])
    assert strategy.setup_phase(SYMBOL, TIMEFRAME) == "in_trade"
    ctx.set_position(SYMBOL, None)
    drive(strategy, ctx, quiet[2:3])
    assert strategy.setup_phase(SYMBOL, TIMEFRAME) == "neutral"


def test_a_signal_that_never_filled_frees_the_symbol_at_the_next_bar() -> None:
    strategy = PullbackStrategy(PARAMS)
    ctx = StubContext.for_strategy(strategy)
    drive(strategy, ctx, PATH)
    assert strategy.setup_phase(SYMBOL, TIMEFRAME) == "in_trade"
    quiet = candles(filler(count=len(PATH) + 1))[len(PATH) :]
    drive(strategy, ctx, quiet)  # still flat one bar later: vetoed, gated, or stopped out
    assert strategy.setup_phase(SYMBOL, TIMEFRAME) == "neutral"


def test_a_live_setup_saved_bars_ago_is_still_current() -> None:
    # The setup changes at the breakout and is saved then; the bars after it change
    # nothing, yet a restart right after them must find it current.
    store = MemoryStore()
    first = started(store, "live")
    ctx = StubContext.for_strategy(first)
    breakout_at = PULLBACK_AT - 2
    drive(first, ctx, PATH[: breakout_at + 2])  # the breakout bar and one quiet bar
    assert first.setup_phase(SYMBOL, TIMEFRAME) == "broken_up"
    second = started(store, "live")
    assert same(drive(second, ctx, PATH[breakout_at + 2 :]), uninterrupted())
    assert ctx.events == []


def test_a_second_backtest_does_not_inherit_the_first_ones_setups() -> None:
    store = MemoryStore()
    first = started(store, "replay")
    ctx = StubContext.for_strategy(first)
    drive(first, ctx, PATH[: PULLBACK_AT + 1])
    first.stop()
    again = started(store, "replay")
    fresh = StubContext.for_strategy(again)
    assert same(drive(again, fresh, PATH), uninterrupted())
    assert [e.kind for e in fresh.events] == ["pullback.state_discarded"]
