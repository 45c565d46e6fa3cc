"""The pieces on their own: stop and target, HTF bars and levels, stored setups."""

from __future__ import annotations

import math

import pytest
from garrison_pullback import PullbackParams
from garrison_pullback.htf import HtfBuilder, htf_levels
from garrison_pullback.levels import bracket, volatility_widening
from garrison_pullback.machine import Setup

P = PullbackParams()
COST = 0.0006 + 0.00055 + 0.0005


@pytest.mark.parametrize(
    ("percentile", "widen"), [(50.0, 0.0), (75.0, 0.0), (75.5, 0.3), (90.0, 0.3), (90.1, 0.5)]
)
def test_the_buffer_widens_30_then_50_percent(percentile: float, widen: float) -> None:
    assert volatility_widening(percentile, P) == widen


def test_long_stop_is_the_lowest_anchor_less_the_widened_buffer() -> None:
    got = bracket(1, 100.0, 96.0, 98.0, 97.0, atr=0.5, atr_percentile=80.0, params=P)
    assert got is not None
    assert got.anchor == "previous_pivot"
    assert got.buffer == pytest.approx(0.65)
    assert got.stop == pytest.approx(96.0 - 0.65)
    assert got.take_profit == pytest.approx(100.0 + 2.5 * (100.0 - 95.35) + 100.0 * COST)


def test_short_stop_is_the_highest_anchor_plus_the_buffer() -> None:
    got = bracket(-1, 100.0, 103.0, 102.0, 104.0, atr=1.0, atr_percentile=95.0, params=P)
    assert got is not None
    assert got.anchor == "pullback_extreme"
    assert got.stop == pytest.approx(105.5)
    assert got.take_profit == pytest.approx(100.0 - 2.5 * 5.5 - 100.0 * COST)


def test_a_stop_closer_than_one_percent_moves_out() -> None:
    got = bracket(1, 100.0, 99.9, 99.8, 99.85, atr=0.01, atr_percentile=10.0, params=P)
    assert got is not None
    assert got.anchor == "min_stop_pct"
    assert got.stop == pytest.approx(99.0)
    assert got.take_profit == pytest.approx(100.0 + 2.5 + 100.0 * COST)


def test_no_pivot_leaves_two_anchors_and_a_negative_stop_none() -> None:
    got = bracket(1, 100.0, 0.0, 98.0, 99.0, atr=0.5, atr_percentile=10.0, params=P)
    assert got is not None
    assert got.anchor == "breakout_level"
    assert bracket(1, 1.0, 0.0, 0.5, 0.6, atr=1.0, atr_percentile=10.0, params=P) is None


HOUR = 3_600_000
QUARTER = 900_000


def test_htf_bars_close_with_their_last_base_bar_or_the_next_bucket() -> None:
    builder = HtfBuilder(HOUR, keep=10)
    for i in range(4):  # 00:00-01:00 in four 15m bars
        builder.push(i * QUARTER, (i + 1) * QUARTER, 10.0 + i, 9.0 - i, 9.5 + i)
    assert builder.bars == ((0, 13.0, 6.0, 12.5),)
    # 01:00-02:00 misses its last bar: it closes when 02:00's first bar arrives.
    for i in range(4, 7):
        builder.push(i * QUARTER, (i + 1) * QUARTER, 20.0, 19.0, 19.5)
    assert len(builder.bars) == 1
    builder.push(8 * QUARTER, 9 * QUARTER, 30.0, 29.0, 29.5)
    assert builder.bars[-1] == (HOUR, 20.0, 19.0, 19.5)
    restored = HtfBuilder(HOUR, keep=10)
    restored.load(builder.dump())
    assert restored.dump() == builder.dump()


def test_htf_levels_are_the_nearest_pivots_around_the_price() -> None:
    highs = [10, 11, 15, 12, 11, 13, 12, 11, 10]
    lows = [9, 8, 9, 7, 9, 10, 6, 9, 10]
    bars = [
        (i * HOUR, float(h), float(lo), float(lo))
        for i, (h, lo) in enumerate(zip(highs, lows, strict=True))
    ]
    view = htf_levels(bars, 12.5, 2, 2, 0.003)
    assert view.resistance == 13.0  # pivot highs 15 and 13: 13 is nearer above 12.5
    assert view.support == 7.0  # pivot lows 7 (bar 3) and 6 (bar 6): 7 is nearer below
    assert view.structure == -1.0  # 15 then 13, 7 then 6: lower high, lower low
    assert htf_levels(bars, 6.5, 2, 2, 0.003).support == 6.0
    view = htf_levels(bars, 20.0, 2, 2, 0.003)
    assert math.isnan(view.resistance)


def test_a_stored_setup_of_the_wrong_shape_is_refused() -> None:
    setup = Setup()
    setup.load({"phase": "broken_up", "level": 101, "direction": 1})
    assert setup.level == 101.0
    assert setup.phase == "broken_up"
    with pytest.raises(ValueError, match="unknown phase"):
        Setup().load({"phase": "flying"})
    with pytest.raises(ValueError, match="'level' must be float"):
        Setup().load({"phase": "neutral", "level": "high"})
