"""The simulated broker against hand-made bars: fills, slippage, brackets, triggers, refusals."""

from __future__ import annotations

import math
from typing import Literal

import pytest
from garrison.engine.broker import SimulatedBroker
from garrison.engine.execution import (
    CommittedOrder,
    ExecutionReport,
    ReportKind,
    seal_order,
)
from garrison.profile.model import BrokerConfig
from garrison_api import ExitReason, Market, Order, OrderIntent, OrderType, Side, Signal

SYMBOL = "BTCUSDT"
MARKET = Market(symbol=SYMBOL, tick_size=0.1, lot_step=0.001, min_qty=0.001)
T0 = 1_759_276_800_000
BAR = 300_000
TAKER = 0.001
MAKER = 0.0002


def broker(
    slippage_bps: float = 0.0,
    both_touched: Literal["stop_first", "take_profit_first"] = "stop_first",
) -> SimulatedBroker:
    return SimulatedBroker(
        BrokerConfig(
            slippage_bps=slippage_bps,
            taker_fee=TAKER,
            maker_fee=MAKER,
            both_touched=both_touched,
        )
    )


def order(
    intent_id: str,
    side: Side,
    *,
    qty: float = 2.0,
    reduce_only: bool = False,
    stop: float | None = None,
    take_profit: float | None = None,
    signal: Signal | None = None,
    price: float = 100.0,
) -> CommittedOrder:
    intent = OrderIntent(
        id=intent_id,
        ts=T0,
        symbol=SYMBOL,
        side=side,
        qty=qty,
        price=price,
        market=MARKET,
        reduce_only=reduce_only,
        stop=stop,
        take_profit=take_profit,
        strategy="test",
        signal_id=intent_id,
    )
    placed = Order(
        id=intent_id,
        intent_id=intent_id,
        client_order_id=f"g-{intent_id}",
        ts=T0,
        symbol=SYMBOL,
        side=side,
        reduce_only=reduce_only,
        qty=qty,
        order_type=OrderType.MARKET,
    )
    return seal_order(intent, placed, signal, durable=False)


def bar(b: SimulatedBroker, i: int, open_: float, high: float, low: float) -> list[ExecutionReport]:
    """Reports of the bar, refusals left out (tests of refusals look at them directly)."""
    return [r for r in all_reports(b, i, open_, high, low) if r.kind is not ReportKind.REJECT]


def all_reports(
    b: SimulatedBroker, i: int, open_: float, high: float, low: float
) -> list[ExecutionReport]:
    return b.on_bar(SYMBOL, T0 + i * BAR, open_, high, low)


def opened(
    side: Side,
    *,
    stop: float | None = None,
    take_profit: float | None = None,
    both_touched: Literal["stop_first", "take_profit_first"] = "stop_first",
    slippage_bps: float = 0.0,
) -> SimulatedBroker:
    """A broker holding a position of 2 opened at 100 on bar 1 (a quiet bar)."""
    b = broker(slippage_bps, both_touched)
    b.submit(order("1", side, stop=stop, take_profit=take_profit))
    (entry,) = bar(b, 1, 100.0, 100.0, 100.0)
    assert entry.exit_reason is None
    return b


# --- market entries ------------------------------------------------------------------------


def test_long_entry_fills_at_next_open_plus_slippage() -> None:
    b = broker(slippage_bps=10.0)
    b.submit(order("1", Side.LONG, stop=90.0))
    (ex,) = bar(b, 1, 200.0, 201.0, 199.0)
    fill = ex.fill
    assert fill.price == pytest.approx(200.0 * 1.001, rel=1e-15)
    assert fill.ts == T0 + BAR
    assert (fill.side, fill.reduce_only, fill.qty, fill.reason) == (Side.LONG, False, 2.0, "entry")
    assert fill.fee == pytest.approx(2.0 * 200.2 * TAKER, rel=1e-12)
    assert (ex.exit_reason, ex.stop, ex.take_profit) == (None, 90.0, None)
    assert ex.kind is ReportKind.FILL
    assert ex.order is not None
    assert ex.order.intent.id == "1"


def test_short_entry_receives_less_by_the_slippage() -> None:
    b = broker(slippage_bps=10.0)
    b.submit(order("1", Side.SHORT, stop=210.0))
    (ex,) = bar(b, 1, 200.0, 201.0, 199.0)
    assert ex.fill.price == pytest.approx(200.0 * 0.999, rel=1e-15)
    assert ex.fill.fee == pytest.approx(2.0 * 199.8 * TAKER, rel=1e-12)


def test_order_waits_for_its_own_symbol() -> None:
    b = broker()
    b.submit(order("1", Side.LONG))
    assert b.on_bar("ETHUSDT", T0 + BAR, 10.0, 11.0, 9.0) == []
    assert [p.intent.id for p in b.open_orders()] == ["1"]
    (ex,) = bar(b, 1, 100.0, 100.0, 100.0)
    assert ex.fill.intent_id == "1"
    assert b.open_orders() == []


def test_second_entry_while_holding_is_rejected_with_its_reason() -> None:
    b = opened(Side.LONG, stop=90.0)
    b.submit(order("2", Side.LONG, stop=90.0))
    (refused,) = all_reports(b, 2, 100.0, 100.5, 99.5)
    assert refused.kind is ReportKind.REJECT
    assert refused.fill is None
    assert refused.order is not None
    assert refused.order.intent.id == "2"
    assert "already holds a long position" in refused.reason
    assert b.open_orders() == []


def test_cancel_open_cancels_unfilled_orders_with_a_report_each() -> None:
    b = broker()
    b.submit(order("1", Side.LONG))
    (canceled,) = b.cancel_open(T0 + BAR, "the data ended")
    assert canceled.kind is ReportKind.CANCEL
    assert canceled.order is not None
    assert canceled.order.intent.id == "1"
    assert canceled.reason == "the data ended"
    assert bar(b, 1, 100.0, 100.0, 100.0) == []
    assert b.open_orders() == []


def test_the_broker_takes_committed_orders_only() -> None:
    b = broker()
    committed = order("1", Side.LONG)
    with pytest.raises(TypeError, match="CommittedOrder"):
        b.submit(committed.intent)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="journal commit policy"):
        CommittedOrder(object(), committed.intent, committed.order, None, True)


# --- stops ---------------------------------------------------------------------------------


def test_long_stop_fills_intrabar_at_the_stop() -> None:
    b = opened(Side.LONG, stop=95.0)
    assert bar(b, 2, 100.0, 101.0, 95.01) == []
    (ex,) = bar(b, 3, 99.0, 99.5, 94.0)
    assert ex.exit_reason is ExitReason.STOP
    assert (ex.fill.price, ex.fill.ts, ex.fill.reason) == (95.0, T0 + 3 * BAR, "stop")
    assert (ex.fill.reduce_only, ex.fill.side, ex.fill.qty) == (True, Side.LONG, 2.0)
    assert ex.fill.fee == pytest.approx(2.0 * 95.0 * TAKER, rel=1e-12)
    assert ex.kind is ReportKind.BRACKET
    assert ex.order is None


def test_stop_touched_exactly_fills() -> None:
    b = opened(Side.SHORT, stop=105.0)
    (ex,) = bar(b, 2, 100.0, 105.0, 99.0)
    assert (ex.exit_reason, ex.fill.price) == (ExitReason.STOP, 105.0)


def test_stop_pays_slippage_against_the_trader() -> None:
    b = opened(Side.LONG, stop=95.0, slippage_bps=10.0)
    (ex,) = bar(b, 2, 99.0, 99.5, 94.0)
    assert ex.fill.price == pytest.approx(95.0 * 0.999, rel=1e-15)


@pytest.mark.parametrize(
    ("side", "stop", "open_", "high", "low"),
    [
        pytest.param(Side.LONG, 95.0, 93.0, 94.0, 90.0, id="long-gap-down"),
        pytest.param(Side.SHORT, 105.0, 108.0, 110.0, 107.0, id="short-gap-up"),
    ],
)
def test_gap_through_stop_exits_at_the_open(
    side: Side, stop: float, open_: float, high: float, low: float
) -> None:
    b = opened(side, stop=stop)
    (ex,) = bar(b, 2, open_, high, low)
    assert (ex.exit_reason, ex.fill.price) == (ExitReason.STOP, open_)


def test_stop_rests_from_the_entry_bar_on() -> None:
    b = broker()
    b.submit(order("1", Side.LONG, stop=97.0))
    entry, stop = bar(b, 1, 100.0, 100.5, 96.0)
    assert (entry.exit_reason, stop.exit_reason) == (None, ExitReason.STOP)
    assert (entry.fill.price, stop.fill.price) == (100.0, 97.0)


# --- take-profits --------------------------------------------------------------------------


def test_long_take_profit_fills_at_its_price_with_maker_fee() -> None:
    b = opened(Side.LONG, stop=90.0, take_profit=110.0, slippage_bps=10.0)
    (ex,) = bar(b, 2, 105.0, 111.0, 104.0)
    assert (ex.exit_reason, ex.fill.price, ex.fill.reason) == (
        ExitReason.TAKE_PROFIT,
        110.0,
        "take_profit",
    )
    assert ex.fill.fee == pytest.approx(2.0 * 110.0 * MAKER, rel=1e-12)


@pytest.mark.parametrize(
    ("side", "target", "open_", "high", "low"),
    [
        pytest.param(Side.LONG, 110.0, 112.0, 113.0, 111.0, id="long-gap-up"),
        pytest.param(Side.SHORT, 90.0, 88.0, 89.0, 87.0, id="short-gap-down"),
    ],
)
def test_take_profit_takes_the_better_open(
    side: Side, target: float, open_: float, high: float, low: float
) -> None:
    stop = 80.0 if side is Side.LONG else 120.0
    b = opened(side, stop=stop, take_profit=target)
    (ex,) = bar(b, 2, open_, high, low)
    assert (ex.exit_reason, ex.fill.price) == (ExitReason.TAKE_PROFIT, open_)


def test_short_take_profit_fills_at_its_price() -> None:
    b = opened(Side.SHORT, stop=110.0, take_profit=90.0)
    (ex,) = bar(b, 2, 95.0, 96.0, 89.0)
    assert (ex.exit_reason, ex.fill.price) == (ExitReason.TAKE_PROFIT, 90.0)


@pytest.mark.parametrize(
    ("rule", "reason", "price"),
    [
        ("stop_first", ExitReason.STOP, 95.0),
        ("take_profit_first", ExitReason.TAKE_PROFIT, 110.0),
    ],
)
def test_bar_touching_both_follows_the_configured_rule(
    rule: Literal["stop_first", "take_profit_first"], reason: ExitReason, price: float
) -> None:
    b = opened(Side.LONG, stop=95.0, take_profit=110.0, both_touched=rule)
    (ex,) = bar(b, 2, 100.0, 111.0, 94.0)
    assert (ex.exit_reason, ex.fill.price) == (reason, price)


def test_default_broker_config_is_stop_first() -> None:
    assert BrokerConfig().both_touched == "stop_first"


# --- brackets re-anchored on the fill ------------------------------------------------------


def signal(side: Side, entry: float, stop: float, take_profit: float, from_fill: bool) -> Signal:
    return Signal(
        symbol=SYMBOL,
        ts=T0,
        side=side,
        entry=entry,
        stop=stop,
        take_profit=take_profit,
        bracket_from_fill=from_fill,
    )


@pytest.mark.parametrize(
    ("side", "from_fill", "stop", "target"),
    [
        pytest.param(Side.LONG, True, 98.0, 110.0, id="long-from-fill"),
        pytest.param(Side.LONG, False, 96.0, 108.0, id="long-absolute"),
        pytest.param(Side.SHORT, True, 106.0, 94.0, id="short-from-fill"),
        pytest.param(Side.SHORT, False, 104.0, 92.0, id="short-absolute"),
    ],
)
def test_bracket_from_fill_keeps_the_distance(
    side: Side, from_fill: bool, stop: float, target: float
) -> None:
    if side is Side.LONG:
        sig = signal(side, 100.0, 96.0, 108.0, from_fill)
    else:
        sig = signal(side, 100.0, 104.0, 92.0, from_fill)
    b = broker()
    b.submit(order("1", side, stop=sig.stop, take_profit=sig.take_profit, signal=sig))
    (ex,) = bar(b, 1, 102.0, 102.0, 102.0)  # fills 2 above the signal's reference price
    assert (ex.stop, ex.take_profit) == (stop, target)
    low, high = (stop, target) if side is Side.LONG else (target, stop)
    assert b.trigger(SYMBOL) == [low, high]


# --- exits by market order -----------------------------------------------------------------


def test_exit_order_closes_at_next_open_with_slippage() -> None:
    b = opened(Side.LONG, stop=90.0, slippage_bps=10.0)
    b.submit(order("2", Side.LONG, reduce_only=True))
    (ex,) = bar(b, 2, 104.0, 105.0, 103.0)
    assert ex.exit_reason is ExitReason.SIGNAL
    assert ex.fill.price == pytest.approx(104.0 * 0.999, rel=1e-15)
    assert (ex.fill.qty, ex.fill.reduce_only, ex.fill.reason) == (2.0, True, "signal")
    assert ex.fill.intent_id == "2"
    assert bar(b, 3, 80.0, 81.0, 70.0) == []  # the stop went with the position


def test_exit_fills_before_the_stop_of_the_same_bar() -> None:
    b = opened(Side.SHORT, stop=110.0)
    b.submit(order("2", Side.SHORT, reduce_only=True))
    (ex,) = bar(b, 2, 105.0, 120.0, 104.0)
    assert (ex.exit_reason, ex.fill.price) == (ExitReason.SIGNAL, 105.0)


def test_exit_after_a_stop_closed_the_position_is_rejected() -> None:
    b = opened(Side.LONG, stop=95.0)
    (stop,) = bar(b, 2, 99.0, 99.0, 94.0)
    assert stop.exit_reason is ExitReason.STOP
    b.submit(order("2", Side.LONG, reduce_only=True))
    (refused,) = all_reports(b, 3, 96.0, 97.0, 95.5)
    assert refused.kind is ReportKind.REJECT
    assert refused.reason.startswith("nothing to close")
    assert b.open_orders() == []
    assert b.resting(SYMBOL) is None


def test_exit_for_the_other_side_is_rejected() -> None:
    b = opened(Side.LONG, stop=95.0)
    b.submit(order("2", Side.SHORT, reduce_only=True))
    (refused,) = all_reports(b, 2, 100.0, 100.5, 99.5)
    assert refused.kind is ReportKind.REJECT
    assert "holds a long position" in refused.reason


def test_exit_then_entry_in_one_bar_reverses() -> None:
    b = opened(Side.LONG, stop=95.0)
    b.submit(order("2", Side.LONG, reduce_only=True))
    b.submit(order("3", Side.SHORT, stop=110.0))
    out, back_in = bar(b, 2, 101.0, 101.5, 100.5)
    assert (out.exit_reason, out.fill.side) == (ExitReason.SIGNAL, Side.LONG)
    assert (back_in.exit_reason, back_in.fill.side, back_in.stop) == (None, Side.SHORT, 110.0)


# --- trigger levels ------------------------------------------------------------------------


def test_trigger_levels_follow_orders_and_positions() -> None:
    b = broker()
    levels = b.trigger(SYMBOL)
    assert levels == [-math.inf, math.inf]
    b.submit(order("1", Side.LONG, stop=95.0, take_profit=110.0))
    # A pending market order fills on any bar: every bar must reach the broker.
    assert levels == [math.inf, -math.inf]
    bar(b, 1, 100.0, 100.0, 100.0)
    assert levels == [95.0, 110.0]
    assert b.trigger(SYMBOL) is levels  # the same list, updated in place
    bar(b, 2, 100.0, 111.0, 99.0)
    assert levels == [-math.inf, math.inf]
    assert b.resting(SYMBOL) is None


def test_trigger_levels_of_a_short_without_target() -> None:
    b = opened(Side.SHORT, stop=105.0)
    assert b.trigger(SYMBOL) == [-math.inf, 105.0]


def test_trigger_levels_of_a_long_without_brackets() -> None:
    b = opened(Side.LONG)
    assert b.trigger(SYMBOL) == [-math.inf, math.inf]
    assert b.resting(SYMBOL) is not None  # still holding, even if no bar can close it


def test_bars_inside_the_trigger_levels_change_nothing() -> None:
    b = opened(Side.LONG, stop=95.0, take_profit=110.0)
    low, high = b.trigger(SYMBOL)
    for i, (o, h, lo) in enumerate([(100.0, 109.9, 95.1), (96.0, 100.0, 95.5)], start=2):
        assert lo > low
        assert h < high
        assert bar(b, i, o, h, lo) == []
