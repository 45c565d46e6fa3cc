"""The Wilson bound, combo ids and every transition of a combo's state.

Transitions: enable, disable, hysteresis (the band between the two bounds
keeps the state), ageing out of the 30-day window, restart (state restored
from the store), duplicates, and a rewind that forgets a former run's future.
"""

from __future__ import annotations

import pytest
from garrison_api import Side
from garrison_api.testing import MemoryStore
from garrison_scalp import ComboBook, ComboRules, Sample, combo_id, wilson_lower_bound
from garrison_scalp.combos import INDEX_KEY, combo_key

DAY = 86_400_000
RULES = ComboRules(window_ms=30 * DAY, enable_lb=0.45, disable_lb=0.40, min_samples=20, z=1.96)
KEY = combo_key(Side.LONG, "rsi_40-60 macd_bull vwap_<1.0 fib_38-50")


# Published 95 % Wilson score intervals (z = 1.96), lower ends to 4 decimals:
# e.g. 45 of 100 gives [0.3561, 0.5476], 50 of 100 gives [0.4038, 0.5962].
@pytest.mark.parametrize(
    ("wins", "n", "lower"),
    [
        (45, 100, 0.3561),
        (50, 100, 0.4038),
        (81, 100, 0.7222),
        (1, 1, 0.2065),
        (5, 10, 0.2366),
        (10, 10, 0.7225),
        (0, 10, 0.0),
        (9, 20, 0.2582),
    ],
)
def test_wilson_lower_bound_known_values(wins: int, n: int, lower: float) -> None:
    assert wilson_lower_bound(wins, n, 1.96) == pytest.approx(lower, abs=5e-5)


def test_wilson_lower_bound_edges() -> None:
    assert wilson_lower_bound(0, 0, 1.96) == 0.0
    assert wilson_lower_bound(50, 100, 2.576) < wilson_lower_bound(50, 100, 1.96)
    with pytest.raises(ValueError, match="wins"):
        wilson_lower_bound(11, 10, 1.96)


def test_combo_id_bins_the_reference_features() -> None:
    features = {"rsi": 52.0, "macd_hist": 0.4, "vwap_dist_atr": 0.7, "fib": 0.45}
    assert combo_id(features) == "rsi_40-60 macd_bull vwap_<1.0 fib_38-50"
    features = {"rsi": 28.0, "macd_hist": -1.0, "vwap_dist_atr": 1.6, "fib": 0.9}
    assert combo_id(features) == "rsi_<30 macd_bear vwap_>=1.5 fib_78-100"
    features = {"rsi": 65.0, "macd_hist": 0.0, "vwap_dist_atr": 0.2, "fib": float("nan")}
    assert combo_id(features) == "rsi_60-70 macd_flat vwap_<0.5 fib_na"


def feed(book: ComboBook, outcomes: str, start: int = 0, step: int = 60_000) -> int:
    """Record ``W``/``L`` outcomes one minute apart; return the last closing time."""
    ts = start
    for i, mark in enumerate(outcomes):
        ts = start + i * step
        book.record(KEY, Sample(ts, mark == "W", 2.1 if mark == "W" else -1.0, f"s{start}-{i}"))
    return ts


def test_enables_only_with_enough_samples_and_a_high_enough_bound() -> None:
    book = ComboBook(RULES)
    last = feed(book, "W" * 19)
    assert not book.is_enabled(KEY, last)  # 19 wins: one sample short
    last = feed(book, "W", start=last + 60_000)
    assert book.is_enabled(KEY, last)
    stats = book.stats(KEY, last)
    assert (stats.samples, stats.wins) == (20, 20)
    assert stats.ev_r == pytest.approx(2.1)


def test_stays_disabled_below_the_enable_bound() -> None:
    book = ComboBook(RULES)
    last = feed(book, "WL" * 20)  # 20 of 40: lower bound 0.352
    assert book.stats(KEY, last).wr_lb < 0.45
    assert not book.is_enabled(KEY, last)


def test_disables_when_the_bound_falls_below_the_disable_bound() -> None:
    book = ComboBook(RULES)
    last = feed(book, "W" * 30)
    assert book.is_enabled(KEY, last)
    last = feed(book, "L" * 20, start=last + 60_000)  # 30 of 50: bound 0.462
    assert book.is_enabled(KEY, last)
    last = feed(book, "L" * 10, start=last + 60_000)  # 30 of 60: bound 0.375
    assert book.stats(KEY, last).wr_lb < 0.40
    assert not book.is_enabled(KEY, last)


def test_hysteresis_keeps_the_state_between_the_two_bounds() -> None:
    # 35 of 70 wins: lower bound 0.3849; 37 of 70: 0.4126; 39 of 70: 0.4406 (all z = 1.96).
    assert 0.40 < wilson_lower_bound(37, 70, 1.96) < 0.45
    enabled = ComboBook(RULES)
    last = feed(enabled, "W" * 37)
    assert enabled.is_enabled(KEY, last)
    last = feed(enabled, "L" * 33, start=last + 60_000)  # now 37 of 70, inside the band
    assert enabled.is_enabled(KEY, last), "an enabled combo stays enabled inside the band"

    disabled = ComboBook(RULES)
    last = feed(disabled, "L" * 33 + "W" * 37)  # the same 37 of 70, never above 0.45
    assert not disabled.is_enabled(KEY, last), "a disabled combo stays disabled inside the band"


def test_samples_age_out_of_the_rolling_window() -> None:
    book = ComboBook(RULES)
    last = feed(book, "W" * 25)
    assert book.is_enabled(KEY, last)
    later = last + 30 * DAY  # every sample is now older than 30 days
    assert not book.is_enabled(KEY, later)
    assert book.stats(KEY, later).samples == 0


def test_restart_restores_the_state_from_the_store() -> None:
    store = MemoryStore()
    book = ComboBook(RULES, store)
    last = feed(book, "W" * 25)
    assert book.is_enabled(KEY, last)
    assert store.get(INDEX_KEY) == [KEY]

    restarted = ComboBook(RULES, store)
    assert restarted.keys() == [KEY]
    assert restarted.is_enabled(KEY, last)
    assert restarted.stats(KEY, last) == book.stats(KEY, last)
    # And it carries on from there: the next outcomes count with the old ones.
    last = feed(restarted, "L" * 40, start=last + 60_000)
    assert not restarted.is_enabled(KEY, last)
    assert not ComboBook(RULES, store).is_enabled(KEY, last)


def test_a_sample_is_counted_once() -> None:
    book = ComboBook(RULES)
    sample = Sample(0, True, 2.1, "BTCUSDT|0|long")
    assert book.record(KEY, sample) is not None
    assert book.record(KEY, sample) is None
    assert book.stats(KEY, 0).samples == 1


def test_forget_after_drops_the_future_and_rebuilds_the_flags() -> None:
    store = MemoryStore()
    book = ComboBook(RULES, store)
    last = feed(book, "L" * 10 + "W" * 30)
    assert book.is_enabled(KEY, last)
    # A new run over the same store starts before the wins were recorded.
    rerun = ComboBook(RULES, store)
    assert rerun.forget_after(9 * 60_000) == 30
    assert not rerun.is_enabled(KEY, 9 * 60_000)
    assert rerun.stats(KEY, 9 * 60_000).samples == 10
    assert not ComboBook(RULES, store).is_enabled(KEY, 9 * 60_000)


def test_sides_are_kept_apart() -> None:
    book = ComboBook(RULES)
    last = feed(book, "W" * 25)
    short = combo_key(Side.SHORT, "rsi_40-60 macd_bull vwap_<1.0 fib_38-50")
    assert book.is_enabled(KEY, last)
    assert not book.is_enabled(short, last)


def test_unreadable_stored_state_is_refused_by_name() -> None:
    store = MemoryStore()
    store.set(INDEX_KEY, [KEY])
    store.set(KEY, {"enabled": True, "samples": [[1, True]]})
    with pytest.raises(ValueError, match="stored combo"):
        ComboBook(RULES, store)
