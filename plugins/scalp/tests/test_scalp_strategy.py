"""The execution gate end to end: which path a signal takes, what it carries, what it learns."""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import pytest
from garrison_api import Candle, ExitReason, Outcome, Position, Side, Signal
from garrison_api.testing import MemoryStore, StubServices
from garrison_scalp import ScalpParams, ScalpStrategy

T = 1_741_706_100_000  # a 3m bar's open time
INDICATORS = {
    "rsi": 50.0,
    "macd_hist": 0.01,
    "bb_width": 0.012,
    "atr": 0.5,
    "vwap": 99.6,
    "vol_sma": 50.0,
    "ema_fast": 99.8,
    "ema_slow": 99.5,
    "swing_high": 101.0,
    "swing_low": 98.0,
    "or_high": float("nan"),
    "or_low": float("nan"),
    "prev_close": 99.5,
    "trend_fast": 100.1,
    "trend_slow": 100.0,
}
CANDLE = Candle("BTCUSDT", "3m", T, open=99.5, high=100.2, low=99.0, close=100.0, volume=100.0)


class Ctx:
    """Just what the strategy reads: indicator values, positions, storage."""

    def __init__(self, values: Mapping[str, float], position: Position | None = None) -> None:
        self.values = dict(values)
        self._position = position
        self.storage = MemoryStore()

    def indicators(self, symbol: str, timeframe: str | None = None) -> Mapping[str, float]:
        return self.values

    def position(self, symbol: str) -> Position | None:
        return self._position


def decide(strategy: ScalpStrategy, ctx: Ctx | None = None, candle: Candle = CANDLE) -> Signal:
    (signal,) = strategy.on_candle(candle, ctx or Ctx(INDICATORS))  # type: ignore[arg-type]
    return signal


def outcome(signal: Signal, won: bool, closed_ts: int, phantom: bool = True) -> Outcome:
    return Outcome(
        signal=signal,
        strategy="scalp",
        r_multiple=2.1 if won else -1.0,
        exit_reason=ExitReason.TAKE_PROFIT if won else ExitReason.STOP,
        closed_ts=closed_ts,
        phantom=phantom,
    )


def teach(strategy: ScalpStrategy, signal: Signal, wins: int, losses: int = 0) -> int:
    """Feed outcomes of copies of ``signal`` (one per 3m bar); return the last closing time."""
    ts = signal.ts
    for i in range(wins + losses):
        ts = signal.ts + (i + 1) * 180_000
        copy = attrs.evolve(signal, ts=signal.ts - (i + 1) * 180_000)
        strategy.on_outcome(outcome(copy, won=i < wins, closed_ts=ts))
    return ts


def test_pro_rules_path_trades_with_the_setup_stop_and_a_2_1_r_target() -> None:
    signal = decide(ScalpStrategy())
    assert signal.execute
    assert signal.features["path"] == 2.0
    assert "via pro rules" in signal.reason
    assert signal.stop == pytest.approx(99.0 - 0.2 * 0.5)
    risk = signal.entry - signal.stop  # type: ignore[operator]
    assert signal.take_profit == pytest.approx(signal.entry + 2.1 * risk)
    assert signal.bracket_from_fill
    assert signal.reason.startswith(
        "scalp vwap_bounce long [rsi_40-60 macd_bull vwap_<1.0 fib_23-38]"
    )


def test_a_failed_gate_still_emits_a_phantom_only_signal_naming_the_rules() -> None:
    values = {**INDICATORS, "trend_fast": 99.0, "rsi": 65.0}
    signal = decide(ScalpStrategy(), Ctx(values))
    assert not signal.execute
    assert signal.features["path"] == 0.0
    assert "pro rules failed (mtf, rsi)" in signal.reason


def test_execution_level_hard_gates_refuse_on_both_paths() -> None:
    quiet = CANDLE.__class__(**{**attrs.asdict(CANDLE), "volume": 60.0})  # ratio 1.2
    signal = decide(ScalpStrategy(), candle=quiet)
    assert not signal.execute
    assert "hard gates failed (exec_volume)" in signal.reason


def test_an_enabled_combo_trades_where_pro_rules_would_refuse() -> None:
    strategy = ScalpStrategy()
    failing = {**INDICATORS, "trend_fast": 99.0}  # mtf fails the pro rules
    first = decide(strategy, Ctx(failing))
    assert not first.execute
    last = teach(strategy, first, wins=20)
    later = attrs.evolve(CANDLE, ts=last)
    signal = decide(strategy, Ctx(failing), candle=later)
    assert signal.execute
    assert signal.features["path"] == 1.0
    assert "via combo" in signal.reason
    assert signal.features["combo_wr_lb"] > 0.8
    # ... but not past the execution-level hard gates.
    quiet = attrs.evolve(later, volume=60.0)
    assert not decide(strategy, Ctx(failing), candle=quiet).execute


def test_a_losing_combo_is_not_enabled_and_pro_rules_decide() -> None:
    strategy = ScalpStrategy()
    first = decide(strategy)
    last = teach(strategy, first, wins=5, losses=25)
    signal = decide(strategy, candle=attrs.evolve(CANDLE, ts=last))
    assert signal.features["path"] == 2.0


def test_a_held_symbol_gets_phantom_only_signals() -> None:
    held = Position("BTCUSDT", Side.LONG, 1.0, 99.0, T - 180_000)
    signal = decide(ScalpStrategy(), Ctx(INDICATORS, position=held))
    assert not signal.execute
    assert "position open" in signal.reason


def test_switching_paths_off() -> None:
    strategy = ScalpStrategy(ScalpParams(pro_rules_enabled=False))
    assert not decide(strategy).execute
    strategy = ScalpStrategy(ScalpParams(combos_enabled=False))
    failing = {**INDICATORS, "trend_fast": 99.0}
    last = teach(strategy, decide(strategy, Ctx(failing)), wins=25)
    assert not decide(strategy, Ctx(failing), candle=attrs.evolve(CANDLE, ts=last)).execute


def test_combo_state_survives_a_restart_through_the_store() -> None:
    store = MemoryStore()
    first = ScalpStrategy()
    services = StubServices("scalp", storage=store)
    first.start(services)
    failing = {**INDICATORS, "trend_fast": 99.0}
    last = teach(first, decide(first, Ctx(failing)), wins=20)
    assert [e.kind for e in services.events] == ["scalp.combo_enabled"]
    first.stop()
    assert services.events[-1].kind == "scalp.summary"

    again = ScalpStrategy()
    again.start(StubServices("scalp", storage=store))
    signal = decide(again, Ctx(failing), candle=attrs.evolve(CANDLE, ts=last))
    assert signal.features["path"] == 1.0


def test_outcomes_of_other_signals_are_ignored() -> None:
    strategy = ScalpStrategy()
    foreign = Signal("BTCUSDT", T, Side.LONG, entry=100.0, stop=99.0)
    strategy.on_outcome(outcome(foreign, won=True, closed_ts=T))
    assert strategy.combos.keys() == []


def test_nothing_before_the_indicators_are_warm() -> None:
    assert ScalpStrategy().on_candle(CANDLE, Ctx({**INDICATORS, "atr": float("nan")})) == ()  # type: ignore[arg-type]
