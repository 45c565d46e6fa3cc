"""turtle_rules on hand-built price paths: each rule, each regime change, exact signals.

The paths are built bar by bar from four shapes:

- ``zigzag``: closes alternating 100 / 101 with wicks that make equal up and down
  moves, so ADX settles near 4: a range from bar 31 (ADX's first value is at bar 27,
  and 27..31 are five bars below 20); the rules decide from bar 55 (the warm-up).
- ``trend``: bars moving by a fixed step with 0.2 wicks: ADX climbs ~3 a bar, so a
  drop of 1 a bar after the zigzag stays a range until bar 69 and turns bear at bar
  70 (ADX above 25 on bars 68, 69, 70 and the fast EMA below the slow one).
- ``mirror``: a path turned upside down around 100.5 (price p -> 201 - p): the same
  bars, long for short.

Every expected bar below was checked against the indicator values at that bar (the
comments say why it is that bar) and is cross-checked by an independent plain-Python
reading of the rules in ``test_rule_bars_agree_with_a_plain_reading_of_the_rules``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from garrison_api import (
    Adx,
    Atr,
    Bollinger,
    Candle,
    Ema,
    ExitReason,
    Highest,
    Lowest,
    Rsi,
    Side,
    SignalKind,
    Stochastic,
)
from garrison_api.indicators import compute
from garrison_api.testing import check_indicator_parity, random_walk, run_strategy
from garrison_turtle import (
    FEATURE_NAMES,
    REFERENCE_RULES,
    Regime,
    RegimeIndicator,
    RuleSetting,
    TurtleRulesParams,
    TurtleRulesStrategy,
)

STEP = 300_000  # 5m
Row = tuple[float, float, float, float]


def zigzag(n: int) -> list[Row]:
    """Even bars down (101 -> 100), odd bars up (100 -> 101); moves of 0.4 either way."""
    return [(100.0, 101.5, 99.9, 101.0) if i % 2 else (101.0, 101.1, 99.5, 100.0) for i in range(n)]


def trend(n: int, start: float, step: float) -> list[Row]:
    rows = []
    for _ in range(n):
        close = start + step
        rows.append((start, max(start, close) + 0.2, min(start, close) - 0.2, close))
        start = close
    return rows


def mirror(rows: list[Row]) -> list[Row]:
    return [(201 - o, 201 - low, 201 - h, 201 - c) for o, h, low, c in rows]


def candles(rows: list[Row]) -> list[Candle]:
    return [Candle("TESTUSDT", "5m", i * STEP, *row, 1.0) for i, row in enumerate(rows)]


def columns(rows: list[Row]) -> dict[str, np.ndarray]:
    arr = np.array(rows, dtype=np.float64)
    n = arr.shape[0]
    return {
        "ts": np.arange(n, dtype=np.float64) * STEP,
        "open": arr[:, 0],
        "high": arr[:, 1],
        "low": arr[:, 2],
        "close": arr[:, 3],
        "volume": np.ones(n),
    }


def atr_at(rows: list[Row], bar: int) -> float:
    return float(compute(Atr(14), columns(rows))[bar])


PATHS: dict[str, list[Row]] = {
    "zigzag": zigzag(60),
    "drop": zigzag(60) + trend(12, 100.0, -1.0),
    "crash": zigzag(60) + trend(12, 100.0, -3.0),
    "rally_then_crash": zigzag(60) + trend(30, 100.0, 1.0) + trend(8, 130.0, -3.0),
}
PATHS.update({f"mirrored_{name}": mirror(rows) for name, rows in list(PATHS.items())})


def only(name: str, threshold: float = 0.4, **params: Any) -> TurtleRulesParams:
    """Every rule disabled but ``name``; its bias alone is the weighted mean."""
    rules = {r.name: RuleSetting(enabled=r.name == name) for r in REFERENCE_RULES}
    return TurtleRulesParams(rules=rules, activation_threshold=threshold, **params)


# (rule, path, first bar it signals on alone, side).
RULE_BARS = [
    # drop: the stochastic is below 20 (K 4.3, D 5.7) and the close under the lower band
    # with RSI 39.2 from bar 62; RSI goes under 30 at bar 66 (29.6); all in the range.
    ("STOCH_OVERSOLD", "drop", 62, Side.LONG),
    ("BB_OVERSOLD", "drop", 62, Side.LONG),
    ("RSI_OVERSOLD_LONG", "drop", 66, Side.LONG),
    # crash: RSI under 20 at bar 65 (18.8), still a range (bear from 67).
    ("RSI_EXTREME_OVERSOLD", "crash", 65, Side.LONG),
    # drop: breakouts are vetoed in the range although the close is under both channels
    # from bar 60; the bear trend is confirmed at bar 70, where the trend rules count too.
    ("TURTLE_20DAY_BREAKOUT_SHORT", "drop", 70, Side.SHORT),
    ("TURTLE_55DAY_BREAKOUT_SHORT", "drop", 70, Side.SHORT),
    ("DEATH_CROSS", "drop", 70, Side.SHORT),
    ("STRONG_DOWNTREND", "drop", 70, Side.SHORT),
    # zigzag: K (75) above D (58.3) and under 80 on every up bar; 55 is the first decision.
    ("STOCH_BULLISH_CROSS", "zigzag", 55, Side.LONG),
    # rally_then_crash: bull from bar 71; the crash takes RSI to 31.0 at bar 96 with the
    # fast EMA still above the slow one, the close (109) under the middle band and ADX 56.9.
    ("SUPER_BULLISH", "rally_then_crash", 96, Side.LONG),
    ("GOLDEN_CROSS", "rally_then_crash", 71, Side.LONG),
    # The mirror images.
    ("STOCH_OVERBOUGHT", "mirrored_drop", 62, Side.SHORT),
    ("BB_OVERBOUGHT", "mirrored_drop", 62, Side.SHORT),
    ("RSI_OVERBOUGHT_SHORT", "mirrored_drop", 66, Side.SHORT),
    ("RSI_EXTREME_OVERBOUGHT", "mirrored_crash", 65, Side.SHORT),
    ("TURTLE_20DAY_BREAKOUT_LONG", "mirrored_drop", 70, Side.LONG),
    ("TURTLE_55DAY_BREAKOUT_LONG", "mirrored_drop", 70, Side.LONG),
    ("STRONG_UPTREND", "mirrored_drop", 70, Side.LONG),
    ("SUPER_BEARISH", "mirrored_rally_then_crash", 96, Side.SHORT),
]


def test_every_rule_has_a_path() -> None:
    assert {name for name, *_ in RULE_BARS} == {r.name for r in REFERENCE_RULES}


@pytest.mark.parametrize(("name", "path", "bar", "side"), RULE_BARS)
def test_each_rule_alone_signals_at_its_bar_with_its_stop(
    name: str, path: str, bar: int, side: Side
) -> None:
    rows = PATHS[path]
    result = run_strategy(TurtleRulesStrategy(only(name)), candles(rows))
    entry = result.signals[0]
    close = rows[bar][3]
    sign = 1.0 if side is Side.LONG else -1.0
    assert (entry.ts, entry.side, entry.kind) == (bar * STEP, side, SignalKind.ENTRY)
    assert entry.entry == close
    assert entry.stop == close - sign * 2.5 * atr_at(rows, bar)
    assert entry.take_profit is None
    assert entry.bracket_from_fill
    rule = next(r for r in REFERENCE_RULES if r.name == name)
    assert entry.features[rule.feature] == 1.0
    assert entry.features["bias"] == rule.bias
    assert entry.features["active_rules"] == 1.0
    assert name in entry.reason
    # Alone, a rule under the 0.7 threshold never trades with the reference's settings.
    reference = run_strategy(TurtleRulesStrategy(only(name, threshold=0.7)), candles(rows))
    if abs(rule.bias) < 0.7:
        assert reference.signals == ()
    else:
        assert reference.signals[0].ts == bar * STEP


# ---- the regime on these paths ----


def regime_codes(rows: list[Row]) -> list[float]:
    return RegimeIndicator().compute(columns(rows)).tolist()


def transitions(rows: list[Row]) -> list[tuple[int, Regime]]:
    """(bar, regime) where the regime changes, from its first value on."""
    out: list[tuple[int, Regime]] = []
    for bar, code in enumerate(regime_codes(rows)):
        if code != code:
            continue
        if not out or out[-1][1] != Regime(int(code)):
            out.append((bar, Regime(int(code))))
    return out


def test_zigzag_is_unknown_then_a_range_at_the_fifth_quiet_adx_bar() -> None:
    codes = regime_codes(PATHS["zigzag"])
    assert all(c != c for c in codes[:27])  # ADX's first value is at bar 27
    assert transitions(PATHS["zigzag"]) == [(27, Regime.UNKNOWN), (31, Regime.RANGE)]


def test_drop_turns_the_range_into_a_bear_trend_on_its_third_strong_bar() -> None:
    rows = PATHS["drop"]
    assert transitions(rows) == [(27, Regime.UNKNOWN), (31, Regime.RANGE), (70, Regime.BEAR)]
    adx = compute(Adx(14), columns(rows))
    assert adx[67] < 25 < adx[68]  # bars 68, 69, 70 above 25: confirmed at 70


def test_mirrored_drop_is_a_bull_trend_at_the_same_bar() -> None:
    assert transitions(PATHS["mirrored_drop"])[-1] == (70, Regime.BULL)


def test_a_trend_stays_until_another_regime_is_confirmed() -> None:
    # rally, then quiet zigzag: ADX decays from ~70 and the bull regime stays through
    # the bars where ADX is between 20 and 25 or the EMAs disagree, until ADX has been
    # under 20 for five bars.
    rows = (
        zigzag(60)
        + trend(30, 100.0, 1.0)
        + [(r[0] + 29, r[1] + 29, r[2] + 29, r[3] + 29) for r in zigzag(120)]
    )
    changes = transitions(rows)
    assert [regime for _, regime in changes] == [
        Regime.UNKNOWN,
        Regime.RANGE,
        Regime.BULL,
        Regime.RANGE,
    ]
    adx = compute(Adx(14), columns(rows))
    bull_from, range_from = changes[2][0], changes[3][0]
    assert bull_from == 71
    below = [bar for bar in range(bull_from, len(rows)) if adx[bar] < 20]
    # the range starts on the fifth bar in a row with ADX under 20, not before
    assert range_from == below[4]
    assert all(adx[bar] < 20 for bar in range(range_from - 4, range_from + 1))
    assert adx[range_from - 5] >= 20
    codes = regime_codes(rows)
    assert all(codes[bar] == Regime.BULL for bar in range(bull_from, range_from))


def test_regime_change_gives_the_exact_signal_with_every_rule_on() -> None:
    # drop: nothing in the range (the mean-reversion longs never reach 0.7 together);
    # at the bear confirmation the breakouts and trend rules agree: -0.7 exactly.
    rows = PATHS["drop"]
    result = run_strategy(TurtleRulesStrategy(), candles(rows))
    (entry,) = result.signals
    close = rows[70][3]
    assert (entry.ts, entry.side) == (70 * STEP, Side.SHORT)
    assert entry.entry == close == 89.0
    assert entry.stop == close + 2.5 * atr_at(rows, 70)
    assert entry.take_profit is None
    assert entry.features["bias"] == pytest.approx(-0.7)
    assert entry.features["confidence"] == 1.0
    assert entry.features["regime"] == float(Regime.BEAR)
    assert entry.features["regime_bear"] == 1.0
    fired = {r.name for r in REFERENCE_RULES if entry.features[r.feature] == 1.0}
    assert fired == {
        "TURTLE_20DAY_BREAKOUT_SHORT",
        "TURTLE_55DAY_BREAKOUT_SHORT",
        "DEATH_CROSS",
        "STRONG_DOWNTREND",
    }
    assert entry.reason == (
        "turtle rules short: bias -0.700, confidence 1.00, bear (TURTLE_20DAY_BREAKOUT_SHORT, "
        "TURTLE_55DAY_BREAKOUT_SHORT, DEATH_CROSS, STRONG_DOWNTREND)"
    )
    (position,) = result.open_positions
    assert (position.entry_ts, position.entry_price) == (71 * STEP, 89.0)
    assert position.stop == pytest.approx(89.0 + 2.5 * atr_at(rows, 70))


def test_mirrored_regime_change_goes_long() -> None:
    rows = PATHS["mirrored_drop"]
    (entry,) = run_strategy(TurtleRulesStrategy(), candles(rows)).signals
    assert (entry.ts, entry.side, entry.entry) == (70 * STEP, Side.LONG, 112.0)
    assert entry.stop == 112.0 - 2.5 * atr_at(rows, 70)


def test_features_are_the_documented_vector() -> None:
    rows = PATHS["drop"]
    (entry,) = run_strategy(TurtleRulesStrategy(), candles(rows)).signals
    assert tuple(entry.features) == FEATURE_NAMES
    assert all(isinstance(v, float) and v == v for v in entry.features.values())
    cols = columns(rows)
    assert entry.features["rsi"] == compute(Rsi(14), cols)[70]
    assert entry.features["adx"] == compute(Adx(14), cols)[70]
    assert entry.features["ema_fast"] == compute(Ema("close", 20), cols)[70]
    assert entry.features["bb_lower"] == compute(Bollinger(20, 2.0, "lower"), cols)[70]
    assert entry.features["stoch_k"] == compute(Stochastic(14, 1, 3, "k"), cols)[70]
    assert entry.features["low_20"] == compute(Lowest("low", 20, offset=1), cols)[70]
    assert entry.features["high_55"] == compute(Highest("high", 55, offset=1), cols)[70]
    atr_pct = atr_at(rows, 70) / 89.0 * 100
    assert entry.features["atr_pct"] == pytest.approx(atr_pct)
    assert entry.features["vol_regime"] == 2.0  # ATR ~1.4 on a close of 89: above 1.5 %


# ---- the range veto, unknown regime, aggregation options ----


def test_breakouts_are_vetoed_in_a_range_unless_the_profile_lifts_the_veto() -> None:
    rows = PATHS["mirrored_drop"]
    # the close (102) is above the 20-bar high (101.5) from bar 60, in the range
    high_20 = compute(Highest("high", 20, offset=1), columns(rows))
    assert rows[60][3] > high_20[60]
    assert regime_codes(rows)[60] == Regime.RANGE
    vetoed = run_strategy(TurtleRulesStrategy(only("TURTLE_20DAY_BREAKOUT_LONG")), candles(rows))
    assert vetoed.signals[0].ts == 70 * STEP
    lifted = only("TURTLE_20DAY_BREAKOUT_LONG", range_vetoed_kinds=())
    (first, *_) = run_strategy(TurtleRulesStrategy(lifted), candles(rows)).signals
    assert (first.ts, first.side) == (60 * STEP, Side.LONG)
    assert first.features["regime_range"] == 1.0


def test_no_rule_counts_in_the_unknown_regime_unless_given_it() -> None:
    # The zigzag's ADX (~3.7) never goes under a range level of 1: nothing is ever
    # confirmed, the regime stays unknown, and no reference rule counts there.
    never = {"regime_range_adx": 1.0}
    rows = PATHS["zigzag"]
    spec = TurtleRulesStrategy(TurtleRulesParams(**never)).regime_spec
    codes = spec.compute(columns(rows)).tolist()
    assert all(code == Regime.UNKNOWN for code in codes[27:])
    quiet = only("STOCH_BULLISH_CROSS", **never)
    assert run_strategy(TurtleRulesStrategy(quiet), candles(rows)).signals == ()
    anywhere = TurtleRulesParams(
        rules={
            **{r.name: RuleSetting(enabled=False) for r in REFERENCE_RULES},
            "STOCH_BULLISH_CROSS": RuleSetting(regimes=("unknown",)),
        },
        activation_threshold=0.4,
        **never,
    )
    first = run_strategy(TurtleRulesStrategy(anywhere), candles(rows)).signals[0]
    assert (first.ts, first.side) == (55 * STEP, Side.LONG)
    assert first.features["regime_unknown"] == 1.0


def test_clamped_sum_adds_what_the_weighted_mean_averages() -> None:
    # drop, bar 62: STOCH_OVERSOLD (+0.5) and BB_OVERSOLD (+0.6) in the range: mean 0.55,
    # below 0.7; the reference rule engine's clamped sum is 1.0.
    rows = PATHS["drop"]
    summed = run_strategy(
        TurtleRulesStrategy(TurtleRulesParams(aggregation="clamped_sum")), candles(rows)
    )
    first = summed.signals[0]
    assert (first.ts, first.side, first.features["bias"]) == (62 * STEP, Side.LONG, 1.0)
    assert first.features["long_votes"] == 2.0


def test_a_profile_can_reweight_and_rescore_a_rule() -> None:
    # bar 62 again: BB_OVERSOLD scored 0.9 with weight 3: (0.5 + 3 * 0.9) / 4 = 0.8
    rows = PATHS["drop"]
    params = TurtleRulesParams(rules={"BB_OVERSOLD": RuleSetting(bias=0.9, weight=3.0)})
    first = run_strategy(TurtleRulesStrategy(params), candles(rows)).signals[0]
    assert (first.ts, first.side) == (62 * STEP, Side.LONG)
    assert first.features["bias"] == pytest.approx(0.8)
    assert first.stop == rows[62][3] - 2.5 * atr_at(rows, 62)


def test_a_disabled_rule_leaves_the_others_short_of_the_threshold() -> None:
    rows = PATHS["drop"]
    params = TurtleRulesParams(rules={"TURTLE_55DAY_BREAKOUT_SHORT": RuleSetting(enabled=False)})
    # without the 55-bar breakout (-0.9): (-0.7 - 0.5 - 0.7) / 3 = -0.633
    assert run_strategy(TurtleRulesStrategy(params), candles(rows)).signals == ()


# ---- orders: stop, take-profit, exit on the opposite proposal ----


def test_take_profit_in_atr_is_reanchored_on_the_fill() -> None:
    rows = PATHS["mirrored_drop"] + trend(6, 113.0, 1.0)
    result = run_strategy(
        TurtleRulesStrategy(TurtleRulesParams(take_profit_atr=2.0)), candles(rows)
    )
    entry = result.signals[0]
    atr = atr_at(rows, 70)
    assert entry.take_profit == 112.0 + 2.0 * atr
    assert entry.stop == 112.0 - 2.5 * atr
    trade = result.trades[0]
    # filled at bar 71's open (112.0); the take-profit 2 ATR (3.03) above it, 115.03, is
    # touched by bar 73's high (115.2)
    assert (trade.entry_ts, trade.entry_price) == (71 * STEP, 112.0)
    assert trade.exit_reason is ExitReason.TAKE_PROFIT
    assert trade.exit_price == pytest.approx(112.0 + 2.0 * atr)
    assert trade.exit_ts == 73 * STEP


def test_stop_at_2_5_atr_from_the_fill() -> None:
    rows = PATHS["drop"] + trend(6, 88.0, 2.0)
    result = run_strategy(TurtleRulesStrategy(), candles(rows))
    trade = result.trades[0]
    atr = atr_at(rows, 70)
    assert trade.exit_reason is ExitReason.STOP
    assert trade.exit_price == pytest.approx(89.0 + 2.5 * atr)
    assert trade.r_multiple == pytest.approx(-1.0)


def test_opposite_proposal_exits_at_the_next_open() -> None:
    # long at the bull confirmation of the mirrored drop, then a long drop: the rules
    # turn bear and propose a short; with a far stop the long is still open then.
    rows = PATHS["mirrored_drop"] + trend(40, 113.0, -1.0)
    params = TurtleRulesParams(stop_atr=40.0)
    result = run_strategy(TurtleRulesStrategy(params), candles(rows))
    kinds = [(s.kind, s.side) for s in result.signals]
    assert kinds[:2] == [(SignalKind.ENTRY, Side.LONG), (SignalKind.EXIT, Side.LONG)]
    exit_signal = result.signals[1]
    regimes = regime_codes(rows)
    bear_from = next(bar for bar in range(71, len(rows)) if regimes[bar] == Regime.BEAR)
    assert exit_signal.ts == bear_from * STEP
    assert exit_signal.reason.startswith("turtle rules exit long: bias -0.")
    assert tuple(exit_signal.features) == FEATURE_NAMES
    assert exit_signal.features["regime_bear"] == 1.0
    assert exit_signal.features["bias"] <= -0.7
    trade = result.trades[0]
    assert (trade.exit_reason, trade.exit_ts) == (ExitReason.SIGNAL, (bear_from + 1) * STEP)
    assert trade.exit_price == rows[bear_from + 1][0]
    # with exit_on_opposite off the long stays open
    held = run_strategy(
        TurtleRulesStrategy(TurtleRulesParams(stop_atr=40.0, exit_on_opposite=False)),
        candles(rows),
    )
    assert held.trades == ()
    assert [s.kind for s in held.signals] == [SignalKind.ENTRY]


# ---- an independent reading of the rules ----

CONDITIONS = {
    "TURTLE_20DAY_BREAKOUT_LONG": lambda v: v["close"] > v["h20"],
    "TURTLE_20DAY_BREAKOUT_SHORT": lambda v: v["close"] < v["l20"],
    "TURTLE_55DAY_BREAKOUT_LONG": lambda v: v["close"] > v["h55"],
    "TURTLE_55DAY_BREAKOUT_SHORT": lambda v: v["close"] < v["l55"],
    "RSI_OVERSOLD_LONG": lambda v: v["rsi"] < 30,
    "RSI_OVERBOUGHT_SHORT": lambda v: v["rsi"] > 70,
    "RSI_EXTREME_OVERSOLD": lambda v: v["rsi"] < 20,
    "RSI_EXTREME_OVERBOUGHT": lambda v: v["rsi"] > 80,
    "GOLDEN_CROSS": lambda v: v["ef"] > v["es"] and v["adx"] > 25,
    "DEATH_CROSS": lambda v: v["ef"] < v["es"] and v["adx"] > 25,
    "BB_OVERSOLD": lambda v: v["close"] < v["bbl"] and v["rsi"] < 40,
    "BB_OVERBOUGHT": lambda v: v["close"] > v["bbu"] and v["rsi"] > 60,
    "STOCH_OVERSOLD": lambda v: v["k"] < 20 and v["d"] < 20,
    "STOCH_OVERBOUGHT": lambda v: v["k"] > 80 and v["d"] > 80,
    "STOCH_BULLISH_CROSS": lambda v: v["k"] > v["d"] and v["k"] < 80,
    "STRONG_UPTREND": lambda v: v["adx"] > 25 and v["ef"] > v["es"] and v["rsi"] > 50,
    "STRONG_DOWNTREND": lambda v: v["adx"] > 25 and v["ef"] < v["es"] and v["rsi"] < 50,
    "SUPER_BULLISH": lambda v: (
        v["rsi"] < 35 and v["ef"] > v["es"] and v["close"] < v["bbm"] and v["adx"] > 20
    ),
    "SUPER_BEARISH": lambda v: (
        v["rsi"] > 65 and v["ef"] < v["es"] and v["close"] > v["bbm"] and v["adx"] > 20
    ),
}


def plain_regimes(adx: list[float], ef: list[float], es: list[float]) -> list[str]:
    regime, out = "unknown", []
    for t in range(len(adx)):
        last3, last5 = range(t - 2, t + 1), range(t - 4, t + 1)
        if t >= 2 and all(adx[i] > 25 and ef[i] > es[i] for i in last3):
            regime = "bull"
        elif t >= 2 and all(adx[i] > 25 and ef[i] < es[i] for i in last3):
            regime = "bear"
        elif t >= 4 and all(adx[i] < 20 for i in last5):
            regime = "range"
        out.append(regime)
    return out


def plain_first_bar(name: str, rows: list[Row]) -> int | None:
    cols = columns(rows)
    series = {
        "close": cols["close"].tolist(),
        "h20": compute(Highest("high", 20, offset=1), cols).tolist(),
        "l20": compute(Lowest("low", 20, offset=1), cols).tolist(),
        "h55": compute(Highest("high", 55, offset=1), cols).tolist(),
        "l55": compute(Lowest("low", 55, offset=1), cols).tolist(),
        "rsi": compute(Rsi(14), cols).tolist(),
        "adx": compute(Adx(14), cols).tolist(),
        "ef": compute(Ema("close", 20), cols).tolist(),
        "es": compute(Ema("close", 50), cols).tolist(),
        "bbu": compute(Bollinger(20, 2.0, "upper"), cols).tolist(),
        "bbm": compute(Bollinger(20, 2.0, "middle"), cols).tolist(),
        "bbl": compute(Bollinger(20, 2.0, "lower"), cols).tolist(),
        "k": compute(Stochastic(14, 1, 3, "k"), cols).tolist(),
        "d": compute(Stochastic(14, 1, 3, "d"), cols).tolist(),
    }
    regimes = plain_regimes(series["adx"], series["ef"], series["es"])
    rule = next(r for r in REFERENCE_RULES if r.name == name)
    allowed = {regime.label for regime in rule.regimes}
    if rule.kind.value in ("trend", "breakout"):
        allowed.discard("range")
    for t in range(55, len(rows)):
        values = {key: column[t] for key, column in series.items()}
        if regimes[t] in allowed and CONDITIONS[name](values):
            return t
    return None


@pytest.mark.parametrize(("name", "path", "bar", "side"), RULE_BARS)
def test_rule_bars_agree_with_a_plain_reading_of_the_rules(
    name: str, path: str, bar: int, side: Side
) -> None:
    assert plain_first_bar(name, PATHS[path]) == bar


def test_no_entry_whose_stop_or_take_profit_would_not_be_a_price() -> None:
    # mirrored drop: long at bar 70 at 112 with ATR 1.52; a stop 100 ATR below is negative
    rows = PATHS["mirrored_drop"]
    far = run_strategy(TurtleRulesStrategy(TurtleRulesParams(stop_atr=100.0)), candles(rows))
    assert far.signals == ()
    # drop: short at bar 70 at 89 with ATR ~1.4; a take-profit 100 ATR below is negative
    short = TurtleRulesParams(take_profit_atr=100.0)
    assert run_strategy(TurtleRulesStrategy(short), candles(PATHS["drop"])).signals == ()


@pytest.mark.parametrize(
    "spec",
    [
        RegimeIndicator(),
        RegimeIndicator(adx_period=5, ema_fast=3, ema_slow=8, trend_bars=1, range_bars=1),
        RegimeIndicator(adx_period=7, trend_adx=20.0, range_adx=20.0, trend_bars=6),
    ],
)
def test_regime_compute_and_updater_agree_bit_for_bit(spec: RegimeIndicator) -> None:
    # random walks cross every threshold many times; the paths above add the quiet range
    walk = random_walk("WALKUSDT", 3_000, seed=11)
    for bars in (walk, candles(PATHS["rally_then_crash"]), candles(PATHS["mirrored_crash"])):
        report = check_indicator_parity(spec, bars, tolerance=0.0)
        assert report.ok, report.describe()
