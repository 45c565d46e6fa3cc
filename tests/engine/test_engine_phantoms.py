"""Phantom trades: every entry signal followed to the outcome it would have had."""

from __future__ import annotations

import attrs
import pytest
from garrison.engine.phantoms import PhantomTracker
from garrison_api import ExitReason, Side, Signal

SYMBOL = "BTCUSDT"
T0 = 1_759_276_800_000
BAR = 300_000


def sig(
    side: Side = Side.LONG,
    *,
    entry: float = 100.0,
    stop: float | None = 95.0,
    take_profit: float | None = None,
    from_fill: bool = False,
) -> Signal:
    return Signal(
        symbol=SYMBOL,
        ts=T0,
        side=side,
        entry=entry,
        stop=stop,
        take_profit=take_profit,
        bracket_from_fill=from_fill,
    )


def tracker(max_bars: int = 10, stop_first: bool = True) -> PhantomTracker:
    return PhantomTracker(max_bars=max_bars, stop_first=stop_first)


def test_stop_hit_is_minus_one_r() -> None:
    t = tracker()
    t.open("1", "s", sig())
    assert t.on_bar(SYMBOL, T0 + BAR, 100.0, 101.0, 96.0, 97.0) == []
    ((signal_id, outcome),) = t.on_bar(SYMBOL, T0 + 2 * BAR, 97.0, 98.0, 94.0, 95.5)
    assert signal_id == "1"
    assert (outcome.exit_reason, outcome.r_multiple, outcome.phantom) == (
        ExitReason.STOP,
        -1.0,
        True,
    )
    assert (outcome.closed_ts, outcome.strategy) == (T0 + 2 * BAR, "s")
    assert t.open_list(SYMBOL) == []


def test_entry_is_the_next_open_and_gap_exits_at_the_open() -> None:
    t = tracker()
    t.open("1", "s", sig(Side.SHORT, stop=105.0))
    t.on_bar(SYMBOL, T0 + BAR, 101.0, 102.0, 100.0, 101.0)
    ((_, outcome),) = t.on_bar(SYMBOL, T0 + 2 * BAR, 107.0, 108.0, 106.0, 107.0)
    # entry 101, stop 105 (not re-anchored): risk 4, exit at the gapped open 107.
    assert outcome.r_multiple == pytest.approx(-6.0 / 4.0)


def test_take_profit_and_re_anchoring() -> None:
    t = tracker()
    t.open("1", "s", sig(stop=95.0, take_profit=110.0, from_fill=True))
    # Fills at 102: stop 97, target 112.
    assert t.on_bar(SYMBOL, T0 + BAR, 102.0, 111.0, 97.5, 105.0) == []
    ((_, outcome),) = t.on_bar(SYMBOL, T0 + 2 * BAR, 105.0, 113.0, 104.0, 112.5)
    assert (outcome.exit_reason, outcome.r_multiple) == (ExitReason.TAKE_PROFIT, 2.0)


@pytest.mark.parametrize(
    ("stop_first", "reason"), [(True, ExitReason.STOP), (False, ExitReason.TAKE_PROFIT)]
)
def test_both_touched_follows_the_rule(stop_first: bool, reason: ExitReason) -> None:
    t = tracker(stop_first=stop_first)
    t.open("1", "s", sig(stop=95.0, take_profit=110.0))
    ((_, outcome),) = t.on_bar(SYMBOL, T0 + BAR, 100.0, 111.0, 94.0, 100.0)
    assert outcome.exit_reason is reason


def test_horizon_closes_at_the_close() -> None:
    t = tracker(max_bars=2)
    t.open("1", "s", sig(stop=90.0))
    assert t.on_bar(SYMBOL, T0 + BAR, 100.0, 101.0, 99.0, 100.5) == []
    ((_, outcome),) = t.on_bar(SYMBOL, T0 + 2 * BAR, 100.5, 106.0, 100.0, 105.0)
    assert (outcome.exit_reason, outcome.r_multiple) == (ExitReason.HORIZON, 0.5)


def test_exit_signal_closes_matching_phantoms_after_their_entry() -> None:
    t = tracker()
    t.open("1", "s", sig())
    t.open("2", "other", sig())
    t.open("3", "s", sig(Side.SHORT, stop=105.0))
    # Before any bar nothing has "filled": an exit signal closes nothing.
    assert t.exit_signal(SYMBOL, "s", Side.LONG, 101.0, T0) == []
    t.on_bar(SYMBOL, T0 + BAR, 100.0, 101.0, 99.0, 100.0)
    ((signal_id, outcome),) = t.exit_signal(SYMBOL, "s", Side.LONG, 102.5, T0 + 2 * BAR)
    assert signal_id == "1"
    assert (outcome.exit_reason, outcome.r_multiple) == (ExitReason.SIGNAL, 0.5)
    assert sorted(p.signal_id for p in t.open_list(SYMBOL)) == ["2", "3"]


def test_signals_without_stop_or_entry_are_not_followed() -> None:
    t = tracker()
    t.open("1", "s", sig(stop=None))
    t.open("2", "s", sig(entry=float("nan")))
    assert t.open_list(SYMBOL) == []


def test_drop_forgets_a_phantom_that_became_a_trade() -> None:
    t = tracker()
    t.open("1", "s", sig())
    t.open("2", "s", sig())
    t.drop(SYMBOL, "1")
    assert [p.signal_id for p in t.open_list(SYMBOL)] == ["2"]


def test_other_symbols_do_not_move_a_phantom() -> None:
    t = tracker(max_bars=1)
    t.open("1", "s", sig())
    assert t.on_bar("ETHUSDT", T0 + BAR, 1.0, 1.0, 1.0, 1.0) == []
    assert len(t.open_list(SYMBOL)) == 1


def test_a_signal_horizon_in_time_overrides_the_bar_count() -> None:
    t = tracker(max_bars=100)
    t.bar_ms[SYMBOL] = BAR
    # Filled at the open of bar 1; 2 bars of market time later it resolves at a close.
    t.open("1", "s", attrs.evolve(sig(stop=90.0), horizon_ms=2 * BAR))
    assert t.on_bar(SYMBOL, T0 + BAR, 100.0, 101.0, 99.0, 100.5) == []
    ((_, outcome),) = t.on_bar(SYMBOL, T0 + 2 * BAR, 100.5, 106.0, 100.0, 105.0)
    assert (outcome.exit_reason, outcome.r_multiple) == (ExitReason.HORIZON, 0.5)


def test_outcomes_name_their_signal_score_and_prices() -> None:
    t = tracker()
    t.open("7", "s", sig(stop=90.0), score=0.81)
    ((signal_id, outcome),) = t.on_bar(SYMBOL, T0 + BAR, 100.0, 101.0, 89.0, 95.0)
    assert signal_id == outcome.signal_id == "7"
    assert outcome.score == 0.81
    assert (outcome.entry_price, outcome.exit_price) == (100.0, 90.0)
    assert (outcome.strategy, outcome.phantom, outcome.closed_ts) == ("s", True, T0 + BAR)


# -- excursions (API 1.2) ---------------------------------------------------------------


def test_stop_out_takes_no_favourable_move_of_its_bar() -> None:
    t = tracker()
    t.open("1", "s", sig())
    # Fill at 100, risk 5. Bar 1 reaches 103 (0.6 R up) and 97 (0.6 R down).
    t.on_bar(SYMBOL, T0 + BAR, 100.0, 103.0, 97.0, 98.0)
    # Bar 2 touches 106 too, but the stop (stop first) ends the trade before it.
    ((_, outcome),) = t.on_bar(SYMBOL, T0 + 2 * BAR, 98.0, 106.0, 94.0, 95.0)
    assert outcome.exit_reason is ExitReason.STOP
    assert outcome.mfe_r == pytest.approx(0.6)
    assert outcome.mae_r == pytest.approx(1.0)


def test_take_profit_counts_the_adverse_side_of_its_bar() -> None:
    t = tracker()
    t.open("1", "s", sig(Side.SHORT, stop=105.0, take_profit=90.0))
    t.on_bar(SYMBOL, T0 + BAR, 100.0, 102.0, 99.0, 101.0)
    # Short from 100, risk 5: 104 is 0.8 R against, the target 90 is 2 R in favour.
    ((_, outcome),) = t.on_bar(SYMBOL, T0 + 2 * BAR, 101.0, 104.0, 88.0, 89.0)
    assert outcome.exit_reason is ExitReason.TAKE_PROFIT
    assert outcome.r_multiple == pytest.approx(2.0)
    assert (outcome.mfe_r, outcome.mae_r) == (pytest.approx(2.0), pytest.approx(0.8))


def test_a_taken_phantom_only_keeps_extremes_until_its_trade_is_released() -> None:
    t = tracker(max_bars=2)
    t.open("1", "s", sig())
    assert t.take(SYMBOL, "1", T0 + BAR)
    assert not t.take(SYMBOL, "2", T0 + BAR)
    assert t.open_list(SYMBOL) == []
    assert list(t.taken) == [SYMBOL]
    # Past its stop and its horizon, a taken phantom does not resolve: the trade will.
    for high, low in ((101.0, 99.0), (108.0, 93.0), (96.0, 94.0)):
        t.mark(SYMBOL, high, low)
        assert t.on_bar(SYMBOL, T0 + BAR, 100.0, high, low, 95.0) == []
    assert t.exit_signal(SYMBOL, "s", Side.LONG, 95.0, T0 + 3 * BAR) == []
    t.mark("ETHUSDT", 1e9, 0.0)  # another symbol's bar changes nothing
    assert t.open_phantoms() == [t.taken[SYMBOL]]
    shadow = t.release(SYMBOL, "1")
    assert shadow is not None
    assert t.taken == {}
    # The trade filled at 100.5 with the stop at 95 (5.5 of risk) and left at 96.
    mfe, mae = shadow.excursions(100.5, 96.0) or (None, None)
    assert mfe == pytest.approx(7.5 / 5.5)
    assert mae == pytest.approx(7.5 / 5.5)


def test_taken_phantoms_survive_a_restart() -> None:
    t = tracker()
    t.open("1", "s", sig())
    t.open("2", "s", sig(Side.SHORT, stop=105.0))
    t.take(SYMBOL, "1", T0 + BAR)
    t.mark(SYMBOL, 104.0, 97.0)
    saved = t.open_phantoms()
    again = tracker()
    again.restore([attrs.evolve(p) for p in saved])
    assert [p.signal_id for p in again.open_list(SYMBOL)] == ["2"]
    assert (again.taken[SYMBOL].high, again.taken[SYMBOL].low) == (104.0, 97.0)


def test_a_trade_closed_on_its_fill_bar_measures_from_its_entry_and_exit() -> None:
    t = tracker()
    t.open("1", "s", sig(from_fill=True))
    t.take(SYMBOL, "1", T0 + BAR)
    shadow = t.release(SYMBOL, "1")
    assert shadow is not None
    # Filled at 102 (stop re-anchored to 97), stopped at 97 on the same bar.
    assert shadow.excursions(102.0, 97.0) == (0.0, pytest.approx(1.0))


def test_a_driver_holding_the_bars_gives_the_range_when_the_trade_closes() -> None:
    t = tracker()
    seen: list[tuple[str, int]] = []

    def history(symbol: str, since: int) -> tuple[float, float] | None:
        seen.append((symbol, since))
        return (110.0, 96.0)

    t.history = history
    t.open("1", "s", sig())
    t.take(SYMBOL, "1", T0 + BAR)
    shadow = t.release(SYMBOL, "1")
    assert seen == [(SYMBOL, T0 + BAR)]
    assert shadow is not None
    # Filled at 100 with the stop at 95: 10 up is 2 R, 4 down is 0.8 R.
    assert shadow.excursions(100.0, 101.0) == (pytest.approx(2.0), pytest.approx(0.8))


def test_a_phantom_pays_the_brokers_slippage_and_fees() -> None:
    t = PhantomTracker(max_bars=10, slippage_bps=10.0, taker_fee=0.00055, maker_fee=0.0002)
    t.open("1", "s", sig())
    t.on_bar(SYMBOL, T0 + BAR, 100.0, 101.0, 99.0, 100.0)
    ((_, stopped),) = t.on_bar(SYMBOL, T0 + 2 * BAR, 98.0, 98.0, 94.0, 95.0)
    # Entry 100 slipped to 100.1, stop 95 (risk 5.1) slipped to 94.905; taker fee both ways.
    move = (94.905 - 100.1) - 0.00055 * 100.1 - 0.00055 * 94.905
    assert stopped.entry_price == pytest.approx(100.1)
    assert stopped.exit_price == pytest.approx(94.905)
    assert stopped.r_multiple == pytest.approx(move / 5.1)
    # A take-profit is a limit: no slippage, the maker fee.
    t.open("2", "s", sig(take_profit=110.0))
    t.on_bar(SYMBOL, T0 + BAR, 100.0, 101.0, 99.0, 100.0)
    ((_, won),) = t.on_bar(SYMBOL, T0 + 2 * BAR, 101.0, 111.0, 100.5, 110.0)
    assert won.exit_price == 110.0
    assert won.r_multiple == pytest.approx((110.0 - 100.1 - 0.00055 * 100.1 - 0.0002 * 110.0) / 5.1)
