"""Each state transition on a hand-built price path, with the exact signal, stop and target."""

from __future__ import annotations

import pytest
from garrison_api import Candle, Side, Signal, SignalKind
from garrison_api.testing import run_strategy
from garrison_pullback import FEATURE_NAMES, PullbackParams, PullbackStrategy

from .paths import (
    BAR_MS,
    CLOSE_BELOW,
    FILLER_BARS,
    LONG_SIGNAL_PATH,
    REGIME_CHANGE_PATH,
    RISE_TO_RESISTANCE,
    SYMBOL,
    TIMEFRAME,
    atr_and_percentile,
    candles,
    filler,
    mirror,
)

# A short EMA keeps the warm-up at the 100 bars the features read, inside the filler.
PARAMS = PullbackParams(ema_len=20)


def run(
    path: list[Candle], params: PullbackParams = PARAMS
) -> tuple[PullbackStrategy, list[Signal]]:
    strategy = PullbackStrategy(params)
    result = run_strategy(strategy, path)
    return strategy, list(result.signals)


def phases(
    scenario: list[tuple[float, float, float, float]], params: PullbackParams = PARAMS
) -> list[str]:
    """The setup's phase after each scenario bar (each prefix run from scratch)."""
    out = []
    for end in range(1, len(scenario) + 1):
        strategy, _ = run(candles(filler() + scenario[:end]), params)
        out.append(strategy.setup_phase(SYMBOL, TIMEFRAME))
    return out


def expected_bracket(
    path: list[Candle], at: int, direction: int, anchor: float, params: PullbackParams = PARAMS
) -> tuple[float, float]:
    atr, percentile = atr_and_percentile(path, at)
    widen = 0.5 if percentile > 90 else 0.3 if percentile > 75 else 0.0
    entry = path[at].close
    stop = anchor - direction * params.sl_buf_atr * (1 + widen) * atr
    risk = abs(entry - stop)
    cost = params.entry_fee_rate + params.exit_fee_rate + params.slippage_rate
    take_profit = entry + direction * (params.rr * risk + entry * cost)
    return stop, take_profit


def test_the_filler_alone_never_breaks_out() -> None:
    strategy, signals = run(candles(filler()))
    assert signals == []
    assert strategy.setup_phase(SYMBOL, TIMEFRAME) == "neutral"


def test_breakout_pullback_confirmation_in_order() -> None:
    assert phases(LONG_SIGNAL_PATH) == [
        "neutral",
        "neutral",
        "neutral",
        "neutral",
        "neutral",
        "broken_up",  # closes above 101 * 1.003
        "broken_up",  # low 101.4 still above the zone
        "pullback_up",  # low 101.2 in the zone, close above 101; bearish: 0 confirmations
        "pullback_up",  # first bullish candle
        "in_trade",  # second bullish candle: the signal
    ]


def test_long_signal_has_the_exact_stop_and_take_profit() -> None:
    path = candles(filler() + LONG_SIGNAL_PATH)
    _, signals = run(path)
    assert len(signals) == 1
    signal = signals[0]
    at = len(path) - 1
    # The lowest anchor is the previous pivot low: the filler's trough, 99.75.
    stop, take_profit = expected_bracket(path, at, 1, min(99.75, path[FILLER_BARS].low))
    assert signal.symbol == SYMBOL
    assert signal.ts == at * BAR_MS
    assert signal.side is Side.LONG
    assert signal.kind is SignalKind.ENTRY
    assert signal.entry == 102.1
    assert signal.stop == pytest.approx(stop, rel=1e-12)
    assert signal.take_profit == pytest.approx(take_profit, rel=1e-12)
    # The same figures written out: 99.75 less a buffer of 1.5 ATR = 0.5643 (ATR 0.3762 is
    # at its 99th percentile after the quiet filler: widened 50 %), and
    # 102.1 + 2.5 * 2.9143 + 102.1 * 0.00165.
    assert signal.stop == pytest.approx(99.18574113902595, rel=1e-12)
    assert signal.take_profit == pytest.approx(109.5541121524351, rel=1e-12)
    assert not signal.bracket_from_fill
    assert signal.reason == (
        "pullback: higher low above resistance 101 confirmed by 2 candles; stop from previous_pivot"
    )
    # 2.5 R net of the 0.165 % round trip: the gross multiple is a little more.
    risk = signal.entry - signal.stop
    net = (signal.take_profit - signal.entry - signal.entry * 0.00165) / risk
    assert net == pytest.approx(2.5, rel=1e-12)
    assert tuple(signal.features) == FEATURE_NAMES
    assert len(FEATURE_NAMES) == 34
    assert signal.features["pullback_depth"] == pytest.approx((102.0 - 101.2) / (102.0 - 101) * 100)
    assert signal.features["setup_bars"] == 4.0


def test_short_signal_is_the_mirror_image() -> None:
    path = candles(mirror(filler() + LONG_SIGNAL_PATH))
    strategy, signals = run(path)
    assert len(signals) == 1
    signal = signals[0]
    at = len(path) - 1
    stop, take_profit = expected_bracket(path, at, -1, max(100.25, path[FILLER_BARS].high))
    assert signal.side is Side.SHORT
    assert signal.entry == pytest.approx(200 - 102.1)
    assert signal.stop == pytest.approx(stop, rel=1e-12)
    assert signal.take_profit == pytest.approx(take_profit, rel=1e-12)
    assert signal.reason.startswith("pullback: lower high below support 99 confirmed by 2 candles")
    assert strategy.setup_phase(SYMBOL, TIMEFRAME) == "in_trade"


def test_a_close_back_through_the_level_invalidates() -> None:
    scenario = [*RISE_TO_RESISTANCE, LONG_SIGNAL_PATH[5], LONG_SIGNAL_PATH[6], CLOSE_BELOW]
    assert phases(scenario)[-2:] == ["broken_up", "neutral"]
    scenario = [*LONG_SIGNAL_PATH[:8], CLOSE_BELOW]
    assert phases(scenario)[-2:] == ["pullback_up", "neutral"]
    _, signals = run(candles(filler() + scenario + [LONG_SIGNAL_PATH[8], LONG_SIGNAL_PATH[9]]))
    assert signals == []


def test_a_lower_low_restarts_the_count() -> None:
    deeper = (101.3, 101.75, 101.1, 101.6)  # a lower low than 101.2: count 0, then 1 (bullish)
    scenario = [*LONG_SIGNAL_PATH[:9], deeper]
    assert phases(scenario)[-1] == "pullback_up"
    path = candles([*filler(), *scenario, LONG_SIGNAL_PATH[9]])
    _, signals = run(path)
    assert len(signals) == 1
    assert signals[0].ts == (len(path) - 1) * BAR_MS


def test_a_downtrend_structure_ends_a_long_setup() -> None:
    got = phases(REGIME_CHANGE_PATH)
    assert got[-5:] == ["pullback_up", "pullback_up", "pullback_up", "pullback_up", "neutral"]
    # Without the structure filter the same path keeps the setup.
    unfiltered = PullbackParams(ema_len=20, structure_filter=False)
    assert phases(REGIME_CHANGE_PATH, unfiltered)[-1] == "pullback_up"


def test_one_confirmation_candle_when_asked() -> None:
    params = PullbackParams(ema_len=20, confirmation_candles=1)
    path = candles(filler() + LONG_SIGNAL_PATH[:9])
    _, signals = run(path, params)
    assert [s.ts for s in signals] == [(len(path) - 1) * BAR_MS]


def test_a_higher_timeframe_resistance_too_close_blocks_the_signal() -> None:
    # A 103 spike in the 4h bar 12:00-16:00 of the filler: an HTF pivot high 0.9 above the
    # entry, less than 1 R of room.
    spiked = candles(filler(spike_at=50) + LONG_SIGNAL_PATH)
    strategy, signals = run(spiked)
    assert signals == []
    assert strategy.setup_phase(SYMBOL, TIMEFRAME) == "neutral"
    # With the room rule off, the same path signals.
    _, signals = run(spiked, PullbackParams(ema_len=20, htf_min_room_r=0.0))
    assert len(signals) == 1
    assert signals[0].features["near_major_resistance"] == 1.0
    assert signals[0].features["htf_resistance_distance_pct"] == pytest.approx(
        (103.0 - 102.1) / 102.1 * 100
    )


def test_the_ema_filter_refuses_a_breakout_below_the_ema() -> None:
    # The first 60 bars 10 higher (before the strategy's first call at bar 100): a 100-bar
    # EMA is still near 103.6 at the breakout (101.5).
    high_start = [(o + 10, h + 10, lo + 10, c + 10) for (o, h, lo, c) in filler()[:60]]
    path = candles(high_start + filler()[60:] + LONG_SIGNAL_PATH)
    strategy, signals = run(path, PullbackParams(ema_len=100, use_ema=True))
    assert signals == []
    assert strategy.setup_phase(SYMBOL, TIMEFRAME) == "neutral"
    _, signals = run(path, PullbackParams(ema_len=100, use_ema=False))
    assert len(signals) == 1
